import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeBlock, encodeCompactBlock, hashHeader } from "../../src/codec/index.js";
import { NodeKey } from "../../src/crypto/index.js";
import { Executor, readAccount, type StateReader } from "../../src/execution/index.js";
import { encodeConfigEntry, systemConfigKey } from "../../src/execution/stateLayout.js";
import type { LevelLedger } from "../../src/ledger/index.js";
import type { Transaction } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import { certify, type ExtraDeps, fetchFrom, makeGenesis, nativeTx, openChainIn } from "./helpers.js";

const transfer = nativeTx;

describe("Chain", () => {
  let dir: string;
  const open: LevelLedger[] = [];
  const sealer = NodeKey.generate();

  async function openChain(sub: string, genesis = makeGenesis(sealer), extra: ExtraDeps = {}) {
    return openChainIn(dir, open, sub, genesis, extra);
  }

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-chain-"));
  });
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("builds, verifies on another node, and commits identical blocks", async () => {
    const a = await openChain("a");
    const b = await openChain("b", makeGenesis(sealer), { fetchTxs: fetchFrom(a.chain) });
    expect(a.chain.head().hash).toEqual(b.chain.head().hash);
    const built = await a.chain.buildBlock(
      [transfer(new Uint8Array([1]), 100), transfer(new Uint8Array([2]), 100)],
      {
        proposer: sealer.nodeId,
        view: 0,
        nowMs: Date.now(),
      },
    );
    expect(built.block.transactions).toHaveLength(2);
    const payload = a.chain.encodeProposal(built.block);
    await b.chain.verifyBlock(payload, built.hash, { nowMs: Date.now() });
    const cert = certify(sealer, 1, 0, built.hash);
    expect(a.chain.checkCertificate(cert, built.hash)).toEqual({ ok: true });
    await a.chain.commit(built.hash, cert);
    await b.chain.commit(built.hash, cert);
    expect(await b.chain.commit(built.hash, cert)).toBeNull(); // a second commit of a height is a no-op
    expect(a.chain.head()).toEqual(b.chain.head());
    expect((await readAccount(b.ledger, new Uint8Array(20).fill(7))).balance).toBe(10n);
  });

  it("refuses a proposal whose state root differs from local execution", async () => {
    const a = await openChain("a");
    const built = await a.chain.buildBlock([transfer(new Uint8Array([3]), 100)], {
      proposer: sealer.nodeId,
      view: 0,
      nowMs: Date.now(),
    });
    const forged = {
      ...built.block,
      header: { ...built.block.header, stateRoot: new Uint8Array(32).fill(9) },
    };
    const b = await openChain("b", makeGenesis(sealer), { fetchTxs: fetchFrom(a.chain) });
    await expect(
      b.chain.verifyBlock(encodeCompactBlock(forged), hashHeader(forged.header), { nowMs: Date.now() }),
    ).rejects.toMatchObject({
      code: "CHAIN_ROOT_MISMATCH",
    });
  });

  it("refuses a proposal that does not extend the head or comes from a non-sealer", async () => {
    const a = await openChain("a");
    const stranger = NodeKey.generate();
    const built = await a.chain.buildBlock([transfer(new Uint8Array([4]), 100)], {
      proposer: stranger.nodeId,
      view: 0,
      nowMs: Date.now(),
    });
    const b = await openChain("b", makeGenesis(sealer), { fetchTxs: fetchFrom(a.chain) });
    await expect(
      b.chain.verifyBlock(a.chain.encodeProposal(built.block), built.hash, { nowMs: Date.now() }),
    ).rejects.toMatchObject({ code: "CHAIN_BAD_PROPOSER" });
  });

  it("rejects a certificate signed by a non-validator", async () => {
    const a = await openChain("a");
    const built = await a.chain.buildBlock([transfer(new Uint8Array([5]), 100)], {
      proposer: sealer.nodeId,
      view: 0,
      nowMs: Date.now(),
    });
    const stranger = NodeKey.generate();
    const check = a.chain.checkCertificate(certify(stranger, 1, 0, built.hash), built.hash);
    expect(check).toEqual({
      ok: false,
      reason: "NOT_VALIDATOR",
      signer: bytesToHex(stranger.nodeId).slice(2),
    });
  });

  it("checkCertificate: a sealer's certificate passes for its block only (another hash is MALFORMED)", async () => {
    const a = await openChain("a");
    const built = await a.chain.buildBlock([transfer(new Uint8Array([6]), 100)], {
      proposer: sealer.nodeId,
      view: 0,
      nowMs: Date.now(),
    });
    const cert = certify(sealer, 1, 0, built.hash);
    expect(a.chain.checkCertificate(cert, built.hash)).toEqual({ ok: true });
    expect(a.chain.checkCertificate(cert, new Uint8Array(32).fill(1))).toEqual({
      ok: false,
      reason: "MALFORMED",
    });
  });

  it("verifyBlock refuses each header field that does not fit the head, by its code", async () => {
    const a = await openChain("a");
    const nowMs = Date.now();
    const built = await a.chain.buildBlock([transfer(new Uint8Array([7]), 100)], {
      proposer: sealer.nodeId,
      view: 0,
      nowMs,
    });
    const h = built.block.header;
    const genesisTs = (await a.ledger.getHeader(0))!.timestampMs;
    const verify = (header: typeof h, expected = hashHeader(header), at = nowMs) =>
      a.chain.verifyBlock(a.chain.encodeProposal({ ...built.block, header }), expected, { nowMs: at });
    const cases: [string, typeof h, string, RegExp][] = [
      ["height", { ...h, number: 2 }, "CHAIN_BAD_HEIGHT", /does not follow its parent 0/],
      [
        "parent",
        { ...h, parentHash: new Uint8Array(32).fill(1) },
        "CHAIN_UNKNOWN_PARENT",
        /has parent 0x0101.*: not the block committed at height 0 \(0x/,
      ],
      ["chain id", { ...h, chainId: 1n }, "CHAIN_BAD_PARENT", /another chain or group/],
      ["group", { ...h, groupId: "group9" }, "CHAIN_BAD_PARENT", /another chain or group/],
      [
        "timestamp = parent's",
        { ...h, timestampMs: genesisTs },
        "CHAIN_BAD_TIMESTAMP",
        new RegExp(`out of range: not after its parent's \\(${genesisTs}\\)`),
      ],
      [
        "timestamp past the drift",
        { ...h, timestampMs: nowMs + 15_001 },
        "CHAIN_BAD_TIMESTAMP",
        /out of range: 15001 ms ahead of this node's clock \(at most 15000\): the proposer's clock or this node's is wrong/,
      ],
      [
        "state root",
        { ...h, stateRoot: new Uint8Array(32).fill(2) },
        "CHAIN_ROOT_MISMATCH",
        /: stateRoot differ/,
      ],
      ["tx root", { ...h, txRoot: new Uint8Array(32).fill(2) }, "CHAIN_ROOT_MISMATCH", /: txRoot differ/],
      [
        "receipt root",
        { ...h, receiptRoot: new Uint8Array(32).fill(2) },
        "CHAIN_ROOT_MISMATCH",
        /: receiptRoot differ/,
      ],
      ["gas used", { ...h, gasUsed: h.gasUsed + 1n }, "CHAIN_ROOT_MISMATCH", /: gasUsed differ/],
    ];
    for (const [name, header, code, message] of cases) {
      await expect(verify(header), name).rejects.toMatchObject({
        code,
        message: expect.stringMatching(message),
      });
    }
    await expect(verify(h, new Uint8Array(32).fill(3))).rejects.toMatchObject({
      code: "CHAIN_ROOT_MISMATCH",
    });
    // the bounds themselves pass: one ms after the parent, and exactly at the drift limit
    await expect(verify({ ...h, timestampMs: genesisTs + 1 })).resolves.toMatchObject({
      header: { number: 1 },
    });
    await expect(verify({ ...h, timestampMs: nowMs + 15_000 })).resolves.toMatchObject({
      header: { number: 1 },
    });
  });

  it("a replica resolves pooled txs locally and fetches only the missing ones; commit works from the compact payload", async () => {
    const a = await openChain("a");
    const txs = [1, 2, 3, 4].map((n) => transfer(new Uint8Array([10, n]), 100));
    const built = await a.chain.buildBlock(txs, { proposer: sealer.nodeId, view: 0, nowMs: Date.now() });
    expect(built.block.transactions).toHaveLength(4);
    const payload = a.chain.encodeProposal(built.block);
    // No raw tx bytes in the proposal: header + 52 bytes per tx (hash + sender) + framing.
    expect(payload.length).toBeLessThan(encodeBlock(built.block).length);
    expect(payload.length).toBeLessThan(400 + 4 * 60);

    // b has txs 0 and 2 in its pool, lacks 1 and 3.
    const pool = new Map(
      [txs[0], txs[2]].map((t) => [bytesToHex((t as Transaction).hash), t as Transaction]),
    );
    const asked: string[][] = [];
    const b = await openChain("b", makeGenesis(sealer), {
      poolTx: (h) => pool.get(bytesToHex(h)),
      fetchTxs: fetchFrom(a.chain, asked),
    });
    const verified = await b.chain.verifyBlock(payload, built.hash, { nowMs: Date.now() });
    expect(asked).toEqual([
      [bytesToHex((txs[1] as Transaction).hash), bytesToHex((txs[3] as Transaction).hash)],
    ]);
    expect(verified.transactions.map((t) => bytesToHex(t.hash))).toEqual(txs.map((t) => bytesToHex(t.hash)));

    // c lacks all txs and cannot fetch: invalid for now.
    const c = await openChain("c", makeGenesis(sealer), { fetchTxs: async () => [] });
    await expect(b.chain.verifyBlock(payload, built.hash, { nowMs: Date.now() })).resolves.toMatchObject({
      header: { number: built.block.header.number },
    });
    await expect(c.chain.verifyBlock(payload, built.hash, { nowMs: Date.now() })).rejects.toMatchObject({
      code: "CHAIN_MISSING_TXS",
    });
    // garbage and unrelated txs from a peer are ignored (still missing, no crash)
    const d = await openChain("d", makeGenesis(sealer), {
      fetchTxs: async () => [new Uint8Array([0x7c, 1, 2, 3]), transfer(new Uint8Array([99]), 100).raw],
    });
    await expect(d.chain.verifyBlock(payload, built.hash, { nowMs: Date.now() })).rejects.toMatchObject({
      code: "CHAIN_MISSING_TXS",
    });

    // Consensus commit on a node that never executed the block: from the compact payload (fetching again).
    const cert = certify(sealer, 1, 0, built.hash);
    const e = await openChain("e", makeGenesis(sealer), { fetchTxs: fetchFrom(a.chain) });
    const committed = await e.chain.commit(built.hash, cert, payload, { compact: true });
    expect(committed?.block.transactions).toHaveLength(4);
    // Sync commit with the FULL block bytes still works.
    const f = await openChain("f");
    expect(await f.chain.commit(built.hash, cert, encodeBlock(built.block))).not.toBeNull();
    await a.chain.commit(built.hash, cert);
    await b.chain.commit(built.hash, cert);
    expect(e.chain.head()).toEqual(a.chain.head());
    expect(f.chain.head()).toEqual(a.chain.head());
    expect(b.chain.head()).toEqual(a.chain.head());
  });

  it("rejects a proposal whose listed sender does not match the fetched (or pooled) tx", async () => {
    const a = await openChain("a");
    const txs = [transfer(new Uint8Array([20]), 100), transfer(new Uint8Array([21]), 100)];
    const built = await a.chain.buildBlock(txs, { proposer: sealer.nodeId, view: 0, nowMs: Date.now() });
    const lying = {
      header: built.block.header,
      transactions: built.block.transactions.map((t, i) => ({
        hash: t.hash,
        sender: i === 1 ? new Uint8Array(20).fill(0xee) : t.sender,
      })),
    };
    const payload = encodeCompactBlock(lying);
    const fetched = await openChain("b", makeGenesis(sealer), { fetchTxs: fetchFrom(a.chain) });
    await expect(fetched.chain.verifyBlock(payload, built.hash, { nowMs: Date.now() })).rejects.toMatchObject(
      {
        code: "CHAIN_ROOT_MISMATCH",
        message: expect.stringContaining("lists sender"),
      },
    );
    const pooled = new Map(txs.map((t) => [bytesToHex(t.hash), t]));
    const c = await openChain("c", makeGenesis(sealer), { poolTx: (h) => pooled.get(bytesToHex(h)) });
    await expect(c.chain.verifyBlock(payload, built.hash, { nowMs: Date.now() })).rejects.toMatchObject({
      code: "CHAIN_ROOT_MISMATCH",
    });
    // The honest proposal verifies on the same node.
    await expect(
      c.chain.verifyBlock(a.chain.encodeProposal(built.block), built.hash, { nowMs: Date.now() }),
    ).resolves.toMatchObject({ header: { number: built.block.header.number } });
    // Garbage payloads are typed codec errors.
    await expect(
      c.chain.verifyBlock(new Uint8Array([0xff, 0xff]), built.hash, { nowMs: 0 }),
    ).rejects.toMatchObject({
      name: "CodecError",
    });
  });

  it("refuses a proposal over block_gas_limit (a tx whose gas limit exceeds what is left), logging the proposer's misbehaviour", async () => {
    const base = makeGenesis(sealer);
    const genesis = {
      ...base,
      systemConfig: { ...base.systemConfig, tx_gas_limit: "100000", block_gas_limit: "100000" },
    };
    // A dishonest leader: its executor reads a larger block_gas_limit than the chain's (nothing else differs).
    class LooseExecutor extends Executor {
      override executeBlock(...[state, ...rest]: Parameters<Executor["executeBlock"]>) {
        const loose: StateReader = {
          getState: async (key) =>
            Buffer.from(key).toString("hex") === systemConfigKey("block_gas_limit")
              ? encodeConfigEntry({ value: "1000000", enableNumber: 0, prevValue: null, prevEnableNumber: 0 })
              : state.getState(key),
        };
        return super.executeBlock(loose, ...rest);
      }
    }
    const leader = await openChain("leader", genesis, {
      executor: new LooseExecutor({}, { logger: silentLogger() }),
    });
    const warnings: Record<string, unknown>[] = [];
    const logger = silentLogger();
    logger.warn = (obj: object, msg?: string) => warnings.push({ ...obj, msg });
    const replica = await openChain("replica", genesis, { fetchTxs: fetchFrom(leader.chain), logger });
    // Transfers use 21000 each and ask for 60000: after two, 58000 of the real 100000 is left, too little for a third.
    const txs = [1, 2, 3].map((i) => transfer(new Uint8Array([i]), 100, { gasLimit: 60_000n }));
    const built = await leader.chain.buildBlock(txs, { proposer: sealer.nodeId, view: 3, nowMs: Date.now() });
    expect(built.block.transactions).toHaveLength(3);
    const err = await replica.chain
      .verifyBlock(leader.chain.encodeProposal(built.block), built.hash, { nowMs: Date.now() })
      .catch((e) => e);
    expect(err).toMatchObject({
      code: "EXEC_INVALID_BLOCK",
      meta: { code: "BLOCK_GAS_LIMIT_REACHED", txIndex: 2 },
    });
    expect(warnings).toEqual([
      expect.objectContaining({
        msg: "proposer misbehaviour evidence: block over block_gas_limit",
        proposer: bytesToHex(sealer.nodeId),
        height: 1,
        view: 3,
        txIndex: 2,
        reason: expect.stringMatching(/42000 of block_gas_limit 100000 used already/),
      }),
    ]);
    // The honest leader packs only what fits.
    const honest = await openChain("honest", genesis);
    const packed = await honest.chain.buildBlock(txs, {
      proposer: sealer.nodeId,
      view: 0,
      nowMs: Date.now(),
    });
    expect(packed.block.transactions).toHaveLength(2);
  });

  it("refuses to start on a data directory created with another genesis", async () => {
    const first = await openChain("a");
    await first.ledger.close();
    open.splice(0);
    await expect(openChain("a", makeGenesis(sealer, 1_800_000_000_000))).rejects.toMatchObject({
      code: "CHAIN_GENESIS_MISMATCH",
      message: expect.stringContaining("use the genesis this data was created with"),
    });
  });
});
