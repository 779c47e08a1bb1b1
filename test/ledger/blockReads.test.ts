import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Level } from "level";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { encodeBlock, encodeHeader, hashHeader } from "../../src/codec/index.js";
import { generatePrivateKey } from "../../src/crypto/index.js";
import { BlockReads } from "../../src/ledger/blockReads.js";
import { Bucket, bytesKey, numberKey } from "../../src/ledger/buckets.js";
import { LedgerError, LevelLedger } from "../../src/ledger/index.js";
import { encodeHashList, encodeTxIndexRecord, type HeadRecord } from "../../src/ledger/records.js";
import type { LedgerStore } from "../../src/ledger/store.js";
import { bytesToHex } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import { buildCommit, CHAIN_ID, GROUP_ID, nativeTx } from "./helpers.js";

let dir: string;
const open: LevelLedger[] = [];
async function openLedger(opts: { blockCacheTxsMax?: number } = {}): Promise<LevelLedger> {
  const ledger = await LevelLedger.open(
    { dataDir: dir, chainId: CHAIN_ID, groupId: GROUP_ID, ...opts },
    { logger: silentLogger() },
  );
  open.push(ledger);
  return ledger;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "consort-blockreads-"));
});
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
  await rm(dir, { recursive: true, force: true });
});

describe("LevelLedger: stored bytes of recent blocks", () => {
  it("serves a just-committed block's bytes from memory, the same bytes as stored", async () => {
    const ledger = await openLedger();
    const key = generatePrivateKey();
    const commits = [buildCommit(0, null, [])];
    await ledger.commitBlock(commits[0]!);
    for (let n = 1; n <= 3; n++) {
      commits.push(buildCommit(n, ledger.head()!.hash, [nativeTx(key), nativeTx(key)]));
      await ledger.commitBlock(commits[n]!);
    }
    const store = (ledger as unknown as { store: { get: () => unknown } }).store;
    const get = vi.spyOn(store, "get");
    const live = await Promise.all([0, 1, 2, 3].map((n) => ledger.getBlockBytes(n)));
    expect(get).not.toHaveBeenCalled();
    expect(live).toEqual(commits.map((c) => encodeBlock(c.block)));

    await ledger.close();
    const reopened = await openLedger();
    for (let n = 0; n <= 3; n++) expect(await reopened.getBlockBytes(n)).toEqual(live[n]);
    expect(await reopened.getBlockBytes(4)).toBeNull();
  });

  it("serves a just-committed block's receipts from memory, equal to the stored ones", async () => {
    const ledger = await openLedger();
    const key = generatePrivateKey();
    await ledger.commitBlock(buildCommit(0, null, []));
    const commit = buildCommit(1, ledger.head()!.hash, [nativeTx(key), nativeTx(key), nativeTx(key)]);
    await ledger.commitBlock(commit);
    const store = (ledger as unknown as { store: { get: () => unknown; getMany: () => unknown } }).store;
    const reads = [vi.spyOn(store, "get"), vi.spyOn(store, "getMany")];
    const live = await ledger.getBlockReceipts(1);
    live.pop(); // a caller's copy: the cached list stays whole
    const lookups = await Promise.all(commit.block.transactions.map((tx) => ledger.getReceipt(tx.hash)));
    expect(reads[1]).not.toHaveBeenCalled(); // (get: the tx index only)
    expect(await ledger.getBlockReceipts(1)).toEqual(commit.receipts);

    await ledger.close();
    const reopened = await openLedger();
    expect(await reopened.getBlockReceipts(1)).toEqual(commit.receipts);
    for (const [i, tx] of commit.block.transactions.entries()) {
      expect(await reopened.getReceipt(tx.hash)).toEqual(lookups[i]);
    }
  });
});

describe("BlockReads: what it shows, what it keeps in memory, what it refuses", () => {
  const storeOf = (ledger: LevelLedger) => (ledger as unknown as { store: LedgerStore }).store;
  /** Blocks 0..count, two native txs each from block 1 on. */
  const commitChain = async (ledger: LevelLedger, count: number) => {
    const key = generatePrivateKey();
    const commits = [buildCommit(0, null, [])];
    await ledger.commitBlock(commits[0]!);
    for (let n = 1; n <= count; n++) {
      commits.push(buildCommit(n, ledger.head()!.hash, [nativeTx(key), nativeTx(key)]));
      await ledger.commitBlock(commits[n]!);
    }
    return commits;
  };
  /** Writes `puts` straight into the closed ledger's LevelDB (a damaged disk). */
  const damage = async (puts: [Uint8Array, Uint8Array][]) => {
    const raw = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
    await raw.open();
    for (const [k, v] of puts) await raw.put(k, v);
    await raw.close();
  };

  it("shows nothing above the head it is given, by number, hash or tx hash", async () => {
    const ledger = await openLedger();
    const commits = await commitChain(ledger, 2);
    const [b1, b2] = [commits[1]!.block, commits[2]!.block];
    const hash1 = hashHeader(b1.header);
    const hash2 = hashHeader(b2.header);
    // The batch of block 2 landed, the head in memory still says 1 (as during a commit).
    let head: HeadRecord | null = { number: 1, hash: hash1, txCount: 2, failedTxCount: 0 };
    const reads = new BlockReads(storeOf(ledger), { headerCacheSize: 16, blockCacheTxsMax: 100 }, () => head);
    const tx1 = b1.transactions[0]!.hash;
    const tx2 = b2.transactions[0]!.hash;
    expect(await reads.getBlock(2)).toBeNull();
    expect(await reads.getBlock(hash2, { withTransactions: false })).toBeNull();
    expect(await reads.getBlockNumber(hash2)).toBeNull();
    expect(await reads.getBlockHash(2)).toBeNull();
    expect(await reads.getHeader(2)).toBeNull();
    expect(await reads.getBlockBytes(2)).toBeNull();
    expect(await reads.getBlockReceipts(2)).toEqual([]);
    expect(await reads.getTransaction(tx2)).toBeNull();
    expect(await reads.getReceipt(tx2)).toBeNull();
    expect(await reads.getTxProof(tx2)).toBeNull();
    expect(await reads.getReceiptProof(tx2)).toBeNull();
    // At and below the head: all there.
    expect(await reads.getBlockNumber(hash1)).toBe(1);
    expect(await reads.getBlockHash(1)).toEqual(hash1);
    expect((await reads.getBlock(1))!.txHashes).toEqual(b1.transactions.map((t) => t.hash));
    expect((await reads.getTransaction(tx1))!.blockNumber).toBe(1);
    expect((await reads.getReceiptProof(tx1))!.blockNumber).toBe(1);
    // The head moves: block 2 appears (the hash → number cache did not pin the earlier answer).
    head = { number: 2, hash: hash2, txCount: 4, failedTxCount: 0 };
    expect(await reads.getBlockNumber(hash2)).toBe(2);
    expect((await reads.getTransaction(tx2))!.blockNumber).toBe(2);
    // No head (an empty ledger), and refs that are no heights or no hashes.
    head = null;
    expect(await reads.getBlock(0)).toBeNull();
    expect(await reads.getBlockNumber(hash1)).toBeNull();
    expect(await reads.getTransaction(tx1)).toBeNull();
    head = { number: 2, hash: hash2, txCount: 4, failedTxCount: 0 };
    for (const ref of [-1, 1.5, Number.NaN, 3]) expect(await reads.getHeader(ref)).toBeNull();
    expect(await reads.getBlockNumber(hash2.subarray(0, 31))).toBeNull();
    expect(await reads.getBlockNumber(bytesToHex(hash2) as unknown as Uint8Array)).toBeNull();
    expect(await reads.getTransaction(tx2.subarray(0, 31))).toBeNull();
  });

  it("keeps recent blocks and receipts within blockCacheTxsMax (a block weighs its txs + 1), reads older ones from disk", async () => {
    // Room for one block of two txs (weight 3): block 2 pushes block 1 out.
    const ledger = await openLedger({ blockCacheTxsMax: 3 });
    const commits = await commitChain(ledger, 2);
    const store = storeOf(ledger);
    const get = vi.spyOn(store, "get");
    const getMany = vi.spyOn(store, "getMany");
    const diskReads = () => get.mock.calls.length + getMany.mock.calls.length;

    expect((await ledger.getBlock(2))!.transactions).toEqual(commits[2]!.block.transactions);
    expect(await ledger.getBlock(2, { withTransactions: false })).toMatchObject({
      txHashes: commits[2]!.block.transactions.map((t) => t.hash),
    });
    expect(await ledger.getBlockReceipts(2)).toEqual(commits[2]!.receipts);
    expect(diskReads()).toBe(0);

    expect((await ledger.getBlock(1))!.transactions.map((t) => t.hash)).toEqual(
      commits[1]!.block.transactions.map((t) => t.hash),
    );
    expect(await ledger.getBlockReceipts(1)).toEqual(commits[1]!.receipts);
    const afterBlock1 = diskReads();
    expect(afterBlock1).toBeGreaterThan(0);
    // Block 1 read from disk is kept (and now pushes block 2 out).
    await ledger.getBlock(1);
    expect(diskReads()).toBe(afterBlock1);
    await ledger.getBlock(2);
    expect(diskReads()).toBeGreaterThan(afterBlock1);
  });

  it("refuses stored blocks that contradict their key or their index as LEDGER_CORRUPT", async () => {
    const ledger = await openLedger();
    const commits = await commitChain(ledger, 3);
    await ledger.close();
    const [b1, b2, b3] = [commits[1]!.block, commits[2]!.block, commits[3]!.block];
    const tx2 = b2.transactions[0]!;
    const tx3 = b3.transactions[1]!;
    await damage([
      // Block 2's header slot holds block 1's header.
      [numberKey(Bucket.header, 2), encodeHeader(b1.header)],
      // Block 1's body slot holds block 2; block 2's body has no certificate.
      [numberKey(Bucket.body, 1), encodeBlock(b2)],
      [numberKey(Bucket.body, 2), encodeBlock({ ...b2, certificate: null })],
      // Block 3's tx list lost its second tx; tx2's index record carries another tx's bytes.
      [numberKey(Bucket.txHashes, 3), encodeHashList([b3.transactions[0]!.hash])],
      [
        bytesKey(Bucket.txIndex, tx2.hash),
        encodeTxIndexRecord({ number: 2, index: 0, sender: tx2.sender, raw: b1.transactions[0]!.raw }),
      ],
    ]);
    const reopened = await openLedger();
    const corrupt = async (p: Promise<unknown>, message: string) => {
      const err = await p.then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(LedgerError);
      expect((err as LedgerError).code).toBe("LEDGER_CORRUPT");
      expect((err as LedgerError).message).toContain(message);
    };
    await corrupt(reopened.getHeader(2), "stored header has number 1");
    await corrupt(reopened.getBlock(1), "stored block has number 2");
    await corrupt(reopened.getBlock(2), "stored block has no certificate");
    await corrupt(reopened.getTxProof(tx3.hash), "block 3 has no such tx at 1");
    await corrupt(reopened.getReceiptProof(tx3.hash), "block 3 has no tx at 1");
    await corrupt(reopened.getTransaction(tx2.hash), "stored transaction has another hash");
    // What is intact still reads.
    expect((await reopened.getTransaction(b3.transactions[0]!.hash))!.index).toBe(0);
    expect((await reopened.getBlock(1, { withTransactions: false }))!.header.number).toBe(1);
  });
});
