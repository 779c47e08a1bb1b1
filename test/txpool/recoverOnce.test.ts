import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Chain } from "../../src/chain/index.js";
import { TxResolver } from "../../src/chain/txResolver.js";
import { decodeTransaction, encodeBlock, encodeNativeTx, SenderCache } from "../../src/codec/index.js";
import type { GenesisConfig } from "../../src/config/index.js";
import {
  keccak256,
  NodeKey,
  privateKeyToAddress,
  RecoveryThreads,
  secp256k1RecoveryCount,
} from "../../src/crypto/index.js";
import { Executor } from "../../src/execution/index.js";
import { LevelLedger } from "../../src/ledger/index.js";
import type { Hash, NodeId, Transaction } from "../../src/types/index.js";
import { silentLogger } from "../../src/util/logger.js";
import { CHAIN_ID, GROUP_ID, makePool, signEth, wallet } from "./helpers.js";

/**
 * Each signature is recovered once per node whatever path its tx arrives by (issue 14): a peer batch, a late gossip
 * copy of a committed tx, a proposal's fetched txs, a full block. Counted with the crypto module's recovery counter.
 */

const SENDER_KEY = keccak256(new TextEncoder().encode("recover once sender"));

function genesis(sealer: NodeKey): GenesisConfig {
  const funded = privateKeyToAddress(SENDER_KEY);
  return {
    chainId: CHAIN_ID,
    groupId: GROUP_ID,
    timestampMs: 1_700_000_000_000,
    sealers: [{ nodeId: sealer.nodeId, weight: 1 }],
    observers: [],
    committee: { governors: [{ address: funded, weight: 1 }] },
    alloc: [{ address: funded, balance: 10n ** 20n }],
    systemConfig: {
      tx_count_limit: "1000",
      tx_gas_limit: "2000000",
      block_gas_limit: "20000000",
      consensus_leader_period: "1",
      min_gas_price: "0",
    },
  };
}

function nativeTransfers(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) =>
    encodeNativeTx(
      {
        chainId: CHAIN_ID,
        groupId: GROUP_ID,
        nonce: new Uint8Array([7, i]),
        blockLimit: 100,
        to: new Uint8Array(20).fill(9),
        value: 0n, // the test pools' state holds no balances
        input: new Uint8Array(0),
        gasLimit: 21_000n,
        gasPrice: 0n,
      },
      SENDER_KEY,
    ),
  );
}

function recoveriesDuring<T>(f: () => Promise<T>): Promise<{ result: T; recoveries: number }> {
  const before = secp256k1RecoveryCount();
  return f().then((result) => ({ result, recoveries: secp256k1RecoveryCount() - before }));
}

describe("a tx is recovered once per node", () => {
  it("a peer batch recovers each tx once; the same batch after its commit recovers nothing", async () => {
    const senders = new SenderCache();
    const { pool, state } = makePool({}, { senders });
    const raws = await Promise.all([0, 1, 2, 3, 4].map((i) => signEth(wallet(i))));
    const first = await recoveriesDuring(() => pool.addBatch(raws, { origin: "peer" }));
    expect(first.result.every((r) => r.ok)).toBe(true);
    expect(first.recoveries).toBe(5);

    const txs = first.result.map((r) => (r.ok ? r.tx : null)).filter((t): t is Transaction => t !== null);
    pool.onBlockCommitted(txs, 11);
    for (const tx of txs) state.nonces.set(`0x${Buffer.from(tx.sender).toString("hex")}`, 1n);
    // Late gossip copies of the committed txs: no longer pooled, so decoded again, but not recovered again.
    const late = await recoveriesDuring(() => pool.addBatch(raws, { origin: "peer" }));
    expect(late.result.map((r) => (r.ok ? "ok" : (r.error as { code?: string }).code))).toEqual(
      Array(5).fill("TXPOOL_NONCE_TOO_LOW"),
    );
    expect(late.recoveries).toBe(0);
  });

  it("without a shared cache the late copies are recovered again (what the cache saves)", async () => {
    const { pool, state } = makePool();
    const raws = await Promise.all([0, 1].map((i) => signEth(wallet(i))));
    const added = await pool.addBatch(raws, { origin: "peer" });
    const txs = added.map((r) => (r.ok ? r.tx : null)).filter((t): t is Transaction => t !== null);
    pool.onBlockCommitted(txs, 11);
    for (const tx of txs) state.nonces.set(`0x${Buffer.from(tx.sender).toString("hex")}`, 1n);
    expect((await recoveriesDuring(() => pool.addBatch(raws, { origin: "peer" }))).recoveries).toBe(2);
  });

  describe("proposals", () => {
    let dir: string;
    const ledgers: LevelLedger[] = [];
    const sealer = NodeKey.generate();

    async function openChain(
      sub: string,
      extra: { senders?: SenderCache; fetchTxs?: FetchTxs; recoverer?: () => RecoveryThreads } = {},
    ) {
      const ledger = await LevelLedger.open(
        { dataDir: path.join(dir, sub), chainId: CHAIN_ID, groupId: GROUP_ID },
        { logger: silentLogger() },
      );
      ledgers.push(ledger);
      const chain = new Chain(genesis(sealer), {
        ledger,
        executor: new Executor({}, { logger: silentLogger() }),
        logger: silentLogger(),
        ...extra,
      });
      await chain.init();
      return chain;
    }

    type FetchTxs = (hashes: Hash[], proposer: NodeId) => Promise<Uint8Array[]>;
    const serveFrom =
      (raws: Uint8Array[]): FetchTxs =>
      async () =>
        raws;

    beforeEach(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), "consort-recover-once-"));
    });
    afterEach(async () => {
      for (const l of ledgers.splice(0)) await l.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("a replica recovers a proposal's fetched txs once; their gossip copies arriving later are not recovered", async () => {
      const raws = nativeTransfers(4);
      const leader = await openChain("leader");
      const txs = raws.map((raw) => decodeTransaction(raw, { chainId: CHAIN_ID }));
      const built = await leader.buildBlock(txs, { proposer: sealer.nodeId, view: 0, nowMs: Date.now() });
      expect(built.block.transactions).toHaveLength(4);
      const payload = leader.encodeProposal(built.block);

      const senders = new SenderCache();
      const replica = await openChain("replica", { senders, fetchTxs: serveFrom(raws) });
      const verified = await recoveriesDuring(() =>
        replica.verifyBlock(payload, built.hash, { nowMs: Date.now() }),
      );
      expect(verified.result.transactions).toHaveLength(4);
      expect(verified.recoveries).toBe(4);

      const { pool } = makePool({}, { senders });
      const gossip = await recoveriesDuring(() => pool.addBatch(raws, { origin: "peer" }));
      expect(gossip.result.every((r) => r.ok)).toBe(true);
      expect(gossip.recoveries).toBe(0);
    });

    it("a proposal's fetched txs and a full block's are recovered on the recovery threads, not the event loop", async () => {
      const raws = nativeTransfers(6);
      const leader = await openChain("leader");
      const txs = raws.map((raw) => decodeTransaction(raw, { chainId: CHAIN_ID }));
      const built = await leader.buildBlock(txs, { proposer: sealer.nodeId, view: 0, nowMs: Date.now() });
      const threads = new RecoveryThreads({ threads: 1 });
      try {
        const replica = await openChain("replica", { fetchTxs: serveFrom(raws), recoverer: () => threads });
        const verified = await replica.verifyBlock(leader.encodeProposal(built.block), built.hash, {
          nowMs: Date.now(),
        });
        expect(verified.transactions.map((t) => t.sender)).toEqual(txs.map((t) => t.sender));
        // One batch for the six (they are decoded together), none recovered inline.
        expect(threads.stats()).toMatchObject({ inThreads: 6, inline: 0, batches: 1 });

        const resolver = new TxResolver({
          chainId: CHAIN_ID,
          ledger: replica.ledger,
          logger: silentLogger(),
          executedTx: () => undefined,
          recoverer: () => threads,
        });
        const full = await resolver.decodeFull(encodeBlock(built.block));
        expect(full.transactions.map((t) => t.sender)).toEqual(txs.map((t) => t.sender));
        expect(threads.stats()).toMatchObject({ inThreads: 12, inline: 0, batches: 2 });
      } finally {
        await threads.close();
      }
    });

    it("a replica whose pool holds the txs recovers nothing for the proposal nor for the full block", async () => {
      const raws = nativeTransfers(3);
      const leader = await openChain("leader");
      const txs = raws.map((raw) => decodeTransaction(raw, { chainId: CHAIN_ID }));
      const built = await leader.buildBlock(txs, { proposer: sealer.nodeId, view: 0, nowMs: Date.now() });

      const senders = new SenderCache();
      const { pool } = makePool({}, { senders });
      const admitted = await recoveriesDuring(() => pool.addBatch(raws, { origin: "peer" }));
      expect(admitted.recoveries).toBe(3);
      const replica = await openChain("replica", { senders, fetchTxs: serveFrom([]) });
      const ledger = ledgers[ledgers.length - 1] as LevelLedger;
      const withPool = new Chain(genesis(sealer), {
        ledger,
        executor: new Executor({}, { logger: silentLogger() }),
        logger: silentLogger(),
        poolTx: (h) => pool.get(h),
        senders,
      });
      await withPool.init();
      const proposal = await recoveriesDuring(() =>
        withPool.verifyBlock(leader.encodeProposal(built.block), built.hash, { nowMs: Date.now() }),
      );
      expect(proposal.result.transactions).toHaveLength(3);
      expect(proposal.recoveries).toBe(0);
      // A full block (the sync path) of txs this node recovered already, no pool to ask: the cache answers.
      const resolver = new TxResolver({
        chainId: CHAIN_ID,
        ledger: replica.ledger,
        logger: silentLogger(),
        executedTx: () => undefined,
        senders,
      });
      const full = await recoveriesDuring(() => resolver.decodeFull(encodeBlock(built.block)));
      expect(full.result.transactions.map((t) => t.sender)).toEqual(txs.map((t) => t.sender));
      expect(full.recoveries).toBe(0);
    });
  });
});
