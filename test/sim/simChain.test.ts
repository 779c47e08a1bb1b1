/**
 * The simulator's chain, alone: what the real driver asks of it, including what pipelined PBFT will ask (build
 * and verify height h+1 on an executed, uncommitted block h), and the checks a commit goes through.
 */
import { describe, expect, it } from "vitest";
import { toHex } from "../../src/consensus/index.js";
import type { CommitCertificate, Hash, Transaction, ValidatorInfo } from "../../src/types/index.js";
import { decodeToyBlock, encodeToyBlock, toyBlockHash } from "./block.js";
import { type ChainEntry, SafetyChecker } from "./checker.js";
import { type ChainWorld, SimChain, SimPool } from "./simChain.js";
import { KeyRegistry, sha256 } from "./simCrypto.js";

const GENESIS: ChainEntry = { hash: new Uint8Array(32), payload: new Uint8Array(0), certificate: null };
const tx = { hash: new Uint8Array(32) } as unknown as Transaction;
const opts = { proposer: new Uint8Array(32), view: 0, nowMs: 0 };
const newSet: ValidatorInfo[] = [{ nodeId: new Uint8Array(32).fill(9), weight: 1 }];

function world(over: Partial<ChainWorld> = {}): ChainWorld & { chain: ChainEntry[] } {
  const chain = [GENESIS];
  return {
    index: 0,
    chain,
    byz: null,
    leaderPeriod: 1,
    // The answer comes on a later turn, as in the simulator (never in the same synchronous step).
    later: (_delay, produce) => Promise.resolve().then(produce),
    int: () => 7,
    validatorsAt: () => [],
    validatorChangeAt: (h) => (h === 2 ? newSet : undefined),
    commit: (entry, height) => {
      if (height < chain.length) return "known";
      chain.push(entry);
      return "applied";
    },
    ...over,
  };
}

const certAt = (height: number, blockHash: Hash): CommitCertificate => ({
  height,
  view: 0,
  blockHash,
  signatures: [],
});

async function build(chain: SimChain, parentHash?: Hash) {
  const built = await chain.buildBlock([tx], { ...opts, parentHash });
  return { ...built, payload: chain.encodeProposal(built.block) };
}

describe("SimChain", () => {
  it("builds h+1 on an executed, uncommitted h, and a replica verifies it there", async () => {
    const leader = new SimChain(world());
    const b1 = await build(leader);
    const b2 = await build(leader, b1.hash);
    expect(decodeToyBlock(b1.payload)).toMatchObject({ height: 1, valid: true });
    expect(decodeToyBlock(b2.payload)?.height).toBe(2);
    expect(toHex(decodeToyBlock(b2.payload)!.parentHash)).toBe(toHex(b1.hash));
    expect(leader.height()).toBe(0); // nothing committed: block 1 is only executed

    const replica = new SimChain(world());
    // Block 2's parent is unknown until the replica executed block 1.
    await expect(replica.verifyBlock(b2.payload, b2.hash, { nowMs: 0 })).rejects.toThrow("does not extend");
    await replica.verifyBlock(b1.payload, b1.hash, { nowMs: 0 });
    await replica.verifyBlock(b2.payload, b2.hash, { nowMs: 0 });
    expect(await replica.nextValidators(b2.hash)).toEqual(newSet);
    expect(await replica.nextValidators(b1.hash)).toBeUndefined();
  });

  it("refuses an unknown parent, a wrong hash, a height that does not follow, another parent, an invalid block", async () => {
    const chain = new SimChain(world());
    await expect(chain.buildBlock([tx], { ...opts, parentHash: sha256(Uint8Array.of(1)) })).rejects.toThrow(
      "parent block is unknown",
    );
    const b1 = await build(new SimChain(world()));
    await expect(chain.verifyBlock(b1.payload, sha256(b1.payload.subarray(1)), { nowMs: 0 })).rejects.toThrow(
      "hash mismatch",
    );
    const skip = encodeToyBlock({ height: 2, parentHash: GENESIS.hash, proposer: 1, nonce: 1, valid: true });
    await expect(chain.verifyBlock(skip, toyBlockHash(skip), { nowMs: 0 })).rejects.toThrow(
      "does not extend",
    );
    // Valid on the genesis head, but consensus asked for execution on another parent.
    const elsewhere = { nowMs: 0, parentHash: sha256(Uint8Array.of(2)) };
    await expect(chain.verifyBlock(b1.payload, b1.hash, elsewhere)).rejects.toThrow("extends another parent");
    const bad = await build(new SimChain(world({ byz: "invalidBlock" })));
    await expect(chain.verifyBlock(bad.payload, bad.hash, { nowMs: 0 })).rejects.toThrow("invalid block");
  });

  it("commits on the head, answers null for a height sync applied first, forgets executed blocks below", async () => {
    const w = world();
    const chain = new SimChain(w);
    const b1 = await build(chain);
    const b2 = await build(chain, b1.hash);
    expect(await chain.commit(b1.hash, certAt(1, b1.hash), b1.payload, { compact: true })).not.toBeNull();
    expect(chain.head()).toEqual({ number: 1, hash: b1.hash });
    expect(await chain.commit(b1.hash, certAt(1, b1.hash), b1.payload, { compact: true })).toBeNull();
    expect(w.chain).toHaveLength(2);
    // Block 2 now builds on the head; block 1 is no longer "executed" (it is the head).
    expect(await chain.nextValidators(b1.hash)).toBeUndefined();
    expect(await chain.nextValidators(b2.hash)).toEqual(newSet);
  });

  it("a crashed node's commit never lands and never answers", async () => {
    const chain = new SimChain(world({ commit: () => "down" }));
    const b1 = await build(chain);
    let answered = false;
    void chain.commit(b1.hash, certAt(1, b1.hash), b1.payload, { compact: true }).then(() => {
      answered = true;
    });
    await new Promise((r) => setImmediate(r));
    expect(answered).toBe(false);
    expect(chain.height()).toBe(0);
  });
});

describe("SafetyChecker on commits", () => {
  const keys = new KeyRegistry("fast");
  const crypto = { sign: () => new Uint8Array(32), verify: keys.verify.bind(keys), hash: sha256 };
  const node = (byz: string | null = null) => ({
    index: 0,
    nodeId: new Uint8Array(32),
    byz,
    chain: [GENESIS],
  });

  it("flags a block that does not extend the head, a wrong height, an invalid block; ignores Byzantine nodes", () => {
    const checker = new SafetyChecker(
      { now: 5 },
      () => newSet,
      () => {},
    );
    const orphan = encodeToyBlock({
      height: 1,
      parentHash: sha256(Uint8Array.of(1)),
      proposer: 1,
      nonce: 1,
      valid: true,
    });
    const invalid = encodeToyBlock({
      height: 1,
      parentHash: GENESIS.hash,
      proposer: 1,
      nonce: 2,
      valid: false,
    });
    const entry = (payload: Uint8Array): ChainEntry => ({
      hash: toyBlockHash(payload),
      payload,
      certificate: certAt(1, toyBlockHash(payload)),
    });
    checker.applyBlock(node(), entry(orphan), 1, crypto, "commit");
    checker.applyBlock(node(), entry(invalid), 1, crypto, "commit");
    checker.applyBlock(node(), entry(invalid), 2, crypto, "commit");
    checker.applyBlock(node("silent"), entry(orphan), 1, crypto, "commit");
    const found = checker.safetyViolations.join("\n");
    expect(found).toContain("node0 commit h=1: the block does not extend its head");
    expect(found).toContain("node0 commit h=1: not a valid block of that height");
    expect(found).toContain("node0 commit h=2 but its chain is at 0");
    expect(found).toContain("with a bad certificate");
    // The two blocks at height 1 differ: the fork is reported too.
    expect(found).toContain("h=1: node0 commit");
    expect(checker.safetyViolations.every((v) => v.startsWith("t=5 "))).toBe(true);
  });
});

describe("SimPool", () => {
  it("never runs dry and hands out a fresh transaction per seal", () => {
    const pool = new SimPool(3);
    expect(pool.hasWork()).toBe(true);
    const [a] = pool.seal(10);
    const [b] = pool.seal(10);
    expect(Buffer.from(a!.hash).equals(Buffer.from(b!.hash))).toBe(false);
  });
});
