import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { getCreateAddress } from "ethers";
import { encodeFunctionData } from "viem";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Chain } from "../../src/chain/index.js";
import { encodeBlock, encodeCompactBlock, hashHeader } from "../../src/codec/index.js";
import { NodeKey, privateKeyToAddress } from "../../src/crypto/index.js";
import { Executor, governance, readAccount, readStorage } from "../../src/execution/index.js";
import type { LevelLedger } from "../../src/ledger/index.js";
import { TxPool } from "../../src/txpool/index.js";
import type { Block, BlockHeader, Hash, Transaction } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import {
  ADMIN_KEY,
  certify,
  type ExtraDeps,
  ethTx,
  fetchFrom,
  makeGenesis,
  nativeTx,
  openChainIn,
} from "./helpers.js";

const ADMIN = privateKeyToAddress(ADMIN_KEY);
const RECIPIENT = new Uint8Array(20).fill(7);

/** Init code that stores BLOCKHASH(NUMBER - 1) in slot 0 of the created contract and deploys no code. */
const STORE_PARENT_HASH = new Uint8Array([0x60, 0x01, 0x43, 0x03, 0x40, 0x60, 0x00, 0x55, 0x00]);

/** Counts block executions: a commit that reuses an execution adds none. */
class CountingExecutor extends Executor {
  blocks = 0;
  /** While set, executions wait for it (to commit something in the middle of one). */
  gate: Promise<void> | null = null;

  /** Holds the executions that start from now on (to commit something in the middle of one) until `open()`. */
  hold(): () => void {
    let open = (): void => {};
    this.gate = new Promise((resolve) => {
      open = resolve;
    });
    return () => {
      this.gate = null;
      open();
    };
  }

  constructor() {
    super({}, { logger: silentLogger() });
  }

  override async executeBlock(...args: Parameters<Executor["executeBlock"]>) {
    this.blocks++;
    if (this.gate) await this.gate;
    return super.executeBlock(...args);
  }
}

/** A dishonest leader: its executor skips the native-nonce replay check against earlier blocks. */
class NoReplayCheckExecutor extends Executor {
  constructor() {
    super({}, { logger: silentLogger() });
  }

  override executeBlock(...[state, ctx, ...rest]: Parameters<Executor["executeBlock"]>) {
    return super.executeBlock(state, { ...ctx, nativeNoncesSeen: undefined }, ...rest);
  }
}

function nonce(...bytes: number[]): Uint8Array {
  return new Uint8Array(bytes);
}

function hashes(txs: { hash: Hash }[]): string[] {
  return txs.map((t) => bytesToHex(t.hash));
}

describe("Chain on an executed, uncommitted parent (pipelined PBFT)", () => {
  let dir: string;
  const open: LevelLedger[] = [];
  const sealer = NodeKey.generate();
  const genesis = makeGenesis(sealer);

  function openChain(sub: string, extra: ExtraDeps = {}) {
    return openChainIn(dir, open, sub, genesis, extra);
  }

  /** Builds on `parentHash` (the head when omitted) as the test sealer. */
  function build(chain: Chain, txs: Transaction[], parentHash?: Hash, view = 0) {
    return chain.buildBlock(txs, { proposer: sealer.nodeId, view, nowMs: Date.now(), parentHash });
  }

  function verify(chain: Chain, source: Chain, block: { block: Block; hash: Hash }) {
    return chain.verifyBlock(source.encodeProposal(block.block), block.hash, { nowMs: Date.now() });
  }

  function commit(chain: Chain, block: { block: Block; hash: Hash }, payload?: Uint8Array) {
    const cert = certify(sealer, block.block.header.number, block.block.header.view, block.hash);
    return chain.commit(block.hash, cert, payload, { compact: true });
  }

  /** A leader and a replica that fetches txs from it and counts (and can hold) its executions. */
  async function leaderAndReplica() {
    const leader = await openChain("leader");
    const replicaExec = new CountingExecutor();
    const replica = await openChain("replica", { executor: replicaExec, fetchTxs: fetchFrom(leader.chain) });
    return { leader, replica, replicaExec };
  }

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-chainpipe-"));
  });
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("builds h+1 on an uncommitted h, a replica verifies both before either commits, and the commits reuse those executions and equal executing one block after the other", async () => {
    const leaderExec = new CountingExecutor();
    const replicaExec = new CountingExecutor();
    const leader = await openChain("leader", { executor: leaderExec });
    const replica = await openChain("replica", {
      executor: replicaExec,
      fetchTxs: fetchFrom(leader.chain),
    });
    const sequential = await openChain("sequential", { fetchTxs: fetchFrom(leader.chain) });

    // The admin's account nonce 0 in h, 1 in h+1; h+1 stores BLOCKHASH(h) in a new contract.
    const h = await build(leader.chain, [
      await ethTx({ nonce: 0, to: RECIPIENT, value: 3n }),
      nativeTx(nonce(1), 100),
    ]);
    const h1 = await build(
      leader.chain,
      [await ethTx({ nonce: 1, to: null, data: STORE_PARENT_HASH }), nativeTx(nonce(2), 100)],
      h.hash,
    );
    expect(h1.executed.rejected).toEqual([]);
    expect(h1.block.transactions).toHaveLength(2);
    expect(h1.block.header).toMatchObject({ number: 2, parentHash: h.hash });
    expect(h1.block.header.timestampMs).toBeGreaterThan(h.block.header.timestampMs);

    await verify(replica.chain, leader.chain, h);
    await verify(replica.chain, leader.chain, h1); // the replica's head is still genesis
    expect(replica.chain.height()).toBe(0);
    expect(replicaExec.blocks).toBe(2);

    // The reference: each block verified on the committed state of its parent.
    await verify(sequential.chain, leader.chain, h);
    await commit(sequential.chain, h);
    await verify(sequential.chain, leader.chain, h1);
    await commit(sequential.chain, h1);

    for (const node of [leader, replica]) {
      await commit(node.chain, h);
      await commit(node.chain, h1); // no payload: only the cached execution can commit it
    }
    expect(leaderExec.blocks).toBe(2);
    expect(replicaExec.blocks).toBe(2);

    const contract = hexToBytes(getCreateAddress({ from: bytesToHex(ADMIN), nonce: 1 }));
    for (const node of [leader, replica, sequential]) {
      expect(node.chain.head()).toEqual({ number: 2, hash: h1.hash });
      expect(await node.ledger.getBlockReceipts(1)).toEqual(await sequential.ledger.getBlockReceipts(1));
      expect(await node.ledger.getBlockReceipts(2)).toEqual(await sequential.ledger.getBlockReceipts(2));
      expect((await readAccount(node.ledger, RECIPIENT)).balance).toBe(13n);
      expect((await readAccount(node.ledger, ADMIN)).nonce).toBe(2n);
      expect(await readStorage(node.ledger, contract, new Uint8Array(32))).toEqual(h.hash);
    }
  });

  it("two blocks deep: h+2 on h+1 on h, all verified before any commits; each commit keeps the rest", async () => {
    const leader = await openChain("leader");
    const replica = await openChain("replica", { fetchTxs: fetchFrom(leader.chain) });
    const h = await build(leader.chain, [await ethTx({ nonce: 0, to: RECIPIENT, value: 1n })]);
    const h1 = await build(leader.chain, [await ethTx({ nonce: 1, to: RECIPIENT, value: 2n })], h.hash);
    const h2 = await build(leader.chain, [await ethTx({ nonce: 2, to: RECIPIENT, value: 4n })], h1.hash);
    expect(h2.block.transactions).toHaveLength(1);
    for (const block of [h, h1, h2]) await verify(replica.chain, leader.chain, block);
    for (const node of [leader, replica]) {
      for (const block of [h, h1, h2]) expect(await commit(node.chain, block)).not.toBeNull();
      expect(node.chain.head()).toEqual({ number: 3, hash: h2.hash });
      expect((await readAccount(node.ledger, RECIPIENT)).balance).toBe(7n);
    }
  });

  it("a real pool seals a sender's nonce n into h and n+1 into h+1 while h is in flight; both execute", async () => {
    const leader = await openChain("leader");
    const pool = new TxPool(
      { chainId: genesis.chainId, groupId: genesis.groupId },
      {
        state: {
          getAccountNonce: async (a) => (await readAccount(leader.ledger, a)).nonce,
          getBalance: async (a) => (await readAccount(leader.ledger, a)).balance,
        },
        chain: {
          height: () => leader.chain.height(),
          hasNativeNonce: (n) => leader.ledger.hasNativeNonce(n),
        },
        txGasLimit: () => leader.chain.systemConfig().txGasLimit,
        logger: silentLogger(),
      },
    );
    leader.chain.onCommit((c) => pool.onBlockCommitted(c.block.transactions, c.block.header.number));
    for (const n of [0, 1, 2]) await pool.add((await ethTx({ nonce: n, to: RECIPIENT, value: 1n })).raw);

    const h = await build(leader.chain, pool.seal(1));
    const h1 = await build(leader.chain, pool.seal(10), h.hash);
    expect(h.block.transactions.map((t) => t.nonce)).toEqual([0n]);
    expect(h1.block.transactions.map((t) => t.nonce)).toEqual([1n, 2n]);
    expect(h1.executed.rejected).toEqual([]);
    await commit(leader.chain, h);
    expect(pool.stats()).toMatchObject({ count: 2, inFlight: 2 }); // h+1's txs wait for their block
    expect(pool.seal(10)).toEqual([]);
    await commit(leader.chain, h1);
    expect(pool.size()).toBe(0);
    expect((await readAccount(leader.ledger, RECIPIENT)).balance).toBe(3n);
    await pool.close();
  });

  it("a native nonce used in h may not be reused in h+1 (and blockLimit counts from h): the leader leaves it out, a replica refuses it", async () => {
    const honest = await openChain("honest");
    const h = await build(honest.chain, [nativeTx(nonce(9), 100)]);
    const again = nativeTx(nonce(9), 101); // another tx (another blockLimit), the same nonce
    const expiring = nativeTx(nonce(11), 1); // valid in block 1 (on the head), expired on parent 1
    const h1 = await build(honest.chain, [again, nativeTx(nonce(10), 100), expiring], h.hash);
    expect(h1.block.transactions).toHaveLength(1);
    expect(h1.executed.rejected).toEqual([
      expect.objectContaining({ tx: again, code: "NATIVE_NONCE_REUSED", retryable: false }),
      expect.objectContaining({ tx: expiring, code: "BLOCK_LIMIT_EXPIRED" }),
    ]);

    const dishonest = await openChain("dishonest", { executor: new NoReplayCheckExecutor() });
    const dh = await build(dishonest.chain, [nativeTx(nonce(9), 100)]);
    const dh1 = await build(dishonest.chain, [again], dh.hash);
    expect(dh1.block.transactions).toHaveLength(1);
    const replica = await openChain("replica", { fetchTxs: fetchFrom(dishonest.chain) });
    await verify(replica.chain, dishonest.chain, dh);
    await expect(verify(replica.chain, dishonest.chain, dh1)).rejects.toMatchObject({
      code: "EXEC_INVALID_BLOCK",
      meta: { code: "NATIVE_NONCE_REUSED" },
    });
  });

  it("a tx of h repeated in h+1: left out by the leader (not rejected), refused by a replica", async () => {
    const leader = await openChain("leader");
    const inH = nativeTx(nonce(20), 100);
    const h = await build(leader.chain, [inH]);
    const fresh = nativeTx(nonce(21), 100);
    const h1 = await build(leader.chain, [inH, fresh], h.hash);
    expect(hashes(h1.block.transactions)).toEqual(hashes([fresh]));
    expect(h1.executed.rejected).toEqual([]); // not dropped from the pool: it is in flight in h

    const replica = await openChain("replica", { fetchTxs: fetchFrom(leader.chain) });
    await verify(replica.chain, leader.chain, h);
    const repeating = encodeCompactBlock({
      header: h1.block.header,
      transactions: [inH, fresh].map((t) => ({ hash: t.hash, sender: t.sender })),
    });
    await expect(replica.chain.verifyBlock(repeating, h1.hash, { nowMs: Date.now() })).rejects.toMatchObject({
      code: "CHAIN_DUPLICATE_TX",
      meta: { txHash: bytesToHex(inH.hash) },
    });
    await expect(verify(replica.chain, leader.chain, h1)).resolves.toMatchObject({ header: { number: 2 } });
  });

  it("h replaced by h': h+1 is refused on verify and on commit, and the cache drops it", async () => {
    const leader = await openChain("leader");
    const replica = await openChain("replica", { fetchTxs: fetchFrom(leader.chain) });
    const h = await build(leader.chain, [nativeTx(nonce(30), 100)], undefined, 0);
    const hPrime = await build(leader.chain, [nativeTx(nonce(31), 100)], undefined, 1);
    const h1 = await build(leader.chain, [nativeTx(nonce(32), 100)], h.hash, 0);
    for (const block of [h, hPrime, h1]) await verify(replica.chain, leader.chain, block);
    // Consensus names the parent it executes on: h+1 on h' is refused, even though h+1 is cached (on h).
    const h1Payload = leader.chain.encodeProposal(h1.block);
    await expect(
      replica.chain.verifyBlock(h1Payload, h1.hash, { nowMs: Date.now(), parentHash: hPrime.hash }),
    ).rejects.toMatchObject({
      code: "CHAIN_BAD_PARENT",
      message: expect.stringContaining("not the expected"),
    });
    await expect(
      replica.chain.verifyBlock(h1Payload, h1.hash, { nowMs: Date.now(), parentHash: h.hash }),
    ).resolves.toMatchObject({ header: { number: 2 } });

    // Out of order: h+1 cannot commit before its parent.
    await expect(commit(replica.chain, h1)).rejects.toMatchObject({
      code: "CHAIN_PARENT_NOT_HEAD",
      message: expect.stringContaining("is executed here but not committed"),
    });
    expect(replica.chain.height()).toBe(0);

    for (const node of [leader, replica]) await commit(node.chain, hPrime);
    const payload = leader.chain.encodeProposal(h1.block);
    const replaced = {
      code: "CHAIN_UNKNOWN_PARENT",
      message: expect.stringContaining("not the block committed at height 1"),
    };
    // Refused, not answered from the cache: the commit of h' dropped h and h+1.
    await expect(verify(replica.chain, leader.chain, h1)).rejects.toMatchObject(replaced);
    await expect(commit(replica.chain, h1, payload)).rejects.toMatchObject(replaced);
    await expect(commit(replica.chain, h1)).rejects.toMatchObject({ code: "CHAIN_NOT_EXECUTED" });
    await expect(build(leader.chain, [], h.hash)).rejects.toMatchObject({ code: "CHAIN_UNKNOWN_PARENT" });
    expect(replica.chain.head()).toEqual({ number: 1, hash: hPrime.hash });
    // A block on h' still builds, verifies and commits.
    const next = await build(leader.chain, [nativeTx(nonce(33), 100)]);
    await verify(replica.chain, leader.chain, next);
    expect(await commit(replica.chain, next)).not.toBeNull();
  });

  it("h+1 arriving while h still executes waits for h, then executes on it", async () => {
    const { leader, replica, replicaExec } = await leaderAndReplica();
    const h = await build(leader.chain, [nativeTx(nonce(70), 100)]);
    const h1 = await build(leader.chain, [nativeTx(nonce(71), 100)], h.hash);

    const open = replicaExec.hold();
    const verifyingH = verify(replica.chain, leader.chain, h);
    while (replicaExec.blocks === 0) await new Promise((resolve) => setImmediate(resolve));
    let h1Settled = false;
    const verifyingH1 = verify(replica.chain, leader.chain, h1).finally(() => {
      h1Settled = true;
    });
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(h1Settled).toBe(false); // not refused for want of a parent: waiting for it
    expect(replicaExec.blocks).toBe(1);
    open();
    await expect(verifyingH).resolves.toMatchObject({ header: { number: 1 } });
    await expect(verifyingH1).resolves.toMatchObject({ header: { number: 2 } });
    expect(replicaExec.blocks).toBe(2);
  });

  it("sync commits h while consensus executes h: one execution serves both, and both succeed", async () => {
    const { leader, replica, replicaExec } = await leaderAndReplica();
    const txs = Array.from({ length: 20 }, (_, i) => nativeTx(nonce(90, i), 100));
    const h = await build(leader.chain, txs);

    const open = replicaExec.hold();
    const verifying = verify(replica.chain, leader.chain, h); // consensus: the compact proposal
    while (replicaExec.blocks === 0) await new Promise((resolve) => setImmediate(resolve));
    // Sync fetched the same block in full, with its certificate: it must not execute it again beside consensus
    // (before: a second execution, whose commit moved the head under the first, which then found its own
    // native nonces used and rejected a valid block).
    const cert = certify(sealer, 1, h.block.header.view, h.hash);
    const syncing = replica.chain.commit(h.hash, cert, encodeBlock(h.block), { compact: false });
    for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(replicaExec.blocks).toBe(1);
    open();
    await expect(verifying).resolves.toMatchObject({ header: { number: 1 } });
    await expect(syncing).resolves.toMatchObject({ hash: h.hash });
    expect(replicaExec.blocks).toBe(1);
    expect(replica.chain.height()).toBe(1);
  });

  it("h' committed while h+1 executes on h: the stale execution is refused and not cached", async () => {
    const { leader, replica, replicaExec } = await leaderAndReplica();
    const h = await build(leader.chain, [nativeTx(nonce(40), 100)], undefined, 0);
    const hPrime = await build(leader.chain, [nativeTx(nonce(41), 100)], undefined, 1);
    const h1 = await build(leader.chain, [nativeTx(nonce(42), 100)], h.hash);
    await verify(replica.chain, leader.chain, h);
    await verify(replica.chain, leader.chain, hPrime);

    const open = replicaExec.hold();
    const executions = replicaExec.blocks;
    const verifying = verify(replica.chain, leader.chain, h1);
    while (replicaExec.blocks === executions) await new Promise((resolve) => setImmediate(resolve));
    await commit(replica.chain, hPrime); // cached: no execution, not held by the gate
    open();
    await expect(verifying).rejects.toMatchObject({ code: "CHAIN_UNKNOWN_PARENT" });
    await expect(verify(replica.chain, leader.chain, h1)).rejects.toMatchObject({
      code: "CHAIN_UNKNOWN_PARENT",
    });
  });

  it("a parent that changes the validator set or the system config is not pipelineable", async () => {
    const leader = await openChain("leader");
    const replica = await openChain("replica", { fetchTxs: fetchFrom(leader.chain) });
    const observer = bytesToHex(NodeKey.generate().nodeId);
    const proposal = (data: `0x${string}`, n: number) =>
      nativeTx(nonce(50, n), 100, {
        to: governance.COMMITTEE_ADDRESS,
        value: 0n,
        input: hexToBytes(data),
        gasLimit: 1_000_000n,
      });
    const addObserver = encodeFunctionData({
      abi: governance.COMMITTEE_ABI,
      functionName: "createAddObserverProposal",
      args: [observer, 0n],
    });
    const setConfig = encodeFunctionData({
      abi: governance.COMMITTEE_ABI,
      functionName: "createSetSysConfigProposal",
      args: ["tx_count_limit", "500", 0n],
    });
    const nodes = await build(leader.chain, [proposal(addObserver, 1)], undefined, 0);
    const config = await build(leader.chain, [proposal(setConfig, 2)], undefined, 1);
    expect(nodes.executed).toMatchObject({ validatorsChanged: true, configChanged: false });
    expect(config.executed).toMatchObject({ validatorsChanged: false, configChanged: true });

    for (const parent of [nodes, config]) {
      await expect(build(leader.chain, [nativeTx(nonce(51), 100)], parent.hash)).rejects.toMatchObject({
        code: "CHAIN_PARENT_NOT_PIPELINEABLE",
        meta: { parentNumber: 1 },
      });
      await verify(replica.chain, leader.chain, parent);
      const child: BlockHeader = {
        ...parent.block.header,
        number: 2,
        parentHash: parent.hash,
        timestampMs: parent.block.header.timestampMs + 1,
      };
      await expect(
        replica.chain.verifyBlock(
          encodeCompactBlock({ header: child, transactions: [] }),
          hashHeader(child),
          {
            nowMs: Date.now(),
          },
        ),
      ).rejects.toMatchObject({ code: "CHAIN_PARENT_NOT_PIPELINEABLE" });
    }
    // After its commit the next block builds on the head as ever.
    await commit(leader.chain, config);
    expect(leader.chain.systemConfig().txCountLimit).toBe(500);
    await expect(build(leader.chain, [nativeTx(nonce(52), 100)])).resolves.toMatchObject({
      block: { header: { number: 2 } },
    });
  });

  it("the native nonce window of h+1 ends at its parent h, on a node that committed h and on one that did not", async () => {
    const window = { ledger: { nativeNonceWindowBlocks: 2 } };
    const leader = await openChain("leader", window);
    const committedFirst = await openChain("committed", { ...window, fetchTxs: fetchFrom(leader.chain) });
    // Block 1 uses nonce A, block 2 nonce B; both commit. With a window of 2 blocks, block 4's window is 2..3: A
    // may be used again in block 4, B may not. The leader builds block 4 on an uncommitted block 3, when its
    // ledger window (1..2) still holds A.
    const b1 = await build(leader.chain, [nativeTx(nonce(60), 100)]);
    await commit(leader.chain, b1);
    const b2 = await build(leader.chain, [nativeTx(nonce(61), 100)]);
    await commit(leader.chain, b2);
    for (const b of [b1, b2]) {
      await verify(committedFirst.chain, leader.chain, b);
      await commit(committedFirst.chain, b);
    }
    const b3 = await build(leader.chain, [nativeTx(nonce(62), 100)]);
    const reuseA = nativeTx(nonce(60), 102);
    const reuseB = nativeTx(nonce(61), 102);
    const b4 = await build(leader.chain, [reuseA, reuseB], b3.hash);
    expect(hashes(b4.block.transactions)).toEqual(hashes([reuseA]));
    expect(b4.executed.rejected).toEqual([expect.objectContaining({ code: "NATIVE_NONCE_REUSED" })]);

    // A replica that commits block 3 before verifying block 4 agrees.
    await verify(committedFirst.chain, leader.chain, b3);
    await commit(committedFirst.chain, b3);
    await expect(verify(committedFirst.chain, leader.chain, b4)).resolves.toMatchObject({
      header: { number: 4 },
    });
  });
});
