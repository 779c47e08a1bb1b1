import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import { Level } from "level";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeBlock, decodeTransaction, hashHeader } from "../../src/codec/index.js";
import { generatePrivateKey, verifyMerkleProof } from "../../src/crypto/index.js";
import { Bucket, bytesKey, HEAD_KEY, numberKey } from "../../src/ledger/buckets.js";
import {
  type CommitInput,
  LedgerError,
  LevelLedger,
  NATIVE_NONCE_WINDOW_BLOCKS,
  receiptLeaf,
} from "../../src/ledger/index.js";
import type { Transaction } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import { buildCommit, CHAIN_ID, GROUP_ID, nativeTx, txCountOf } from "./helpers.js";
import { verifyChain } from "./verify.js";

const logger = silentLogger();
let dir: string;
const open: LevelLedger[] = [];

async function openLedger(
  opts: {
    chainId?: bigint;
    groupId?: string;
    blockCacheTxsMax?: number;
    nativeNonceWindowBlocks?: number;
    nativeNonceMemoryEntriesMax?: number;
  } = {},
): Promise<LevelLedger> {
  const ledger = await LevelLedger.open(
    { dataDir: dir, chainId: opts.chainId ?? CHAIN_ID, groupId: opts.groupId ?? GROUP_ID, ...opts },
    { logger },
  );
  open.push(ledger);
  return ledger;
}

async function expectLedgerError(p: Promise<unknown>, code: string): Promise<LedgerError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LedgerError);
  expect((err as LedgerError).code).toBe(code);
  return err as LedgerError;
}

/** Ethereum transactions signed by ethers (legacy EIP-155 and EIP-1559), decoded by our codec. */
async function ethersTxs(): Promise<Transaction[]> {
  const wallet = Wallet.createRandom();
  const to = Wallet.createRandom().address;
  const legacy = await wallet.signTransaction({
    type: 0,
    chainId: CHAIN_ID,
    nonce: 0,
    to,
    gasLimit: 21_000,
    gasPrice: 1,
  });
  const feeMarket = await wallet.signTransaction({
    type: 2,
    chainId: CHAIN_ID,
    nonce: 1,
    to,
    gasLimit: 21_000,
    maxFeePerGas: 2,
    maxPriorityFeePerGas: 1,
    value: 5,
  });
  return [legacy, feeMarket].map((raw) => decodeTransaction(hexToBytes(raw), { chainId: CHAIN_ID }));
}

/** Commits blocks 0..lastNumber of the deterministic chain (block 3 also carries two ethers-signed txs). */
async function writeChain(ledger: LevelLedger, lastNumber: number): Promise<Map<number, Transaction[]>> {
  const written = new Map<number, Transaction[]>();
  const key = generatePrivateKey();
  const extra = await ethersTxs();
  const start = (ledger.head()?.number ?? -1) + 1;
  for (let n = start; n <= lastNumber; n++) {
    let txs = Array.from({ length: txCountOf(n) }, () => nativeTx(key));
    if (n === 3) txs = [...txs.slice(0, txs.length - 2), ...extra];
    await ledger.commitBlock(buildCommit(n, ledger.head()?.hash ?? null, txs));
    written.set(n, txs);
  }
  return written;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "consort-ledger-"));
});

afterEach(async () => {
  for (const ledger of open.splice(0)) await ledger.close();
  await rm(dir, { recursive: true, force: true });
});

describe("LevelLedger: write and read back", () => {
  it("stores blocks, transactions, receipts, state and proofs, and keeps them across a reopen", async () => {
    const ledger = await openLedger();
    expect(ledger.head()).toBeNull();
    expect(ledger.height()).toBe(-1);
    expect(await ledger.getBlock(0)).toBeNull();
    const written = await writeChain(ledger, 12);
    expect(ledger.height()).toBe(12);
    expect(ledger.genesisHash()).toEqual(await ledger.getBlockHash(0));

    await verifyChain(ledger, { proofs: "all" });
    // The ethers-signed transactions went through the same paths.
    const block3 = written.get(3)!;
    for (const tx of block3.slice(-2)) {
      const found = await ledger.getTransaction(tx.hash);
      expect(found!.tx.type).toBe(tx.type);
      expect(found!.tx.sender).toEqual(tx.sender);
    }

    // Block reads: with and without transactions, stored bytes.
    const full = await ledger.getBlock(5);
    const summary = await ledger.getBlock(5, { withTransactions: false });
    expect(summary).not.toHaveProperty("transactions");
    expect(summary!.txHashes).toEqual(written.get(5)!.map((tx) => tx.hash));
    expect(summary!.certificate).toEqual(full!.certificate);
    const bytes = await ledger.getBlockBytes(full!.hash);
    const decoded = decodeBlock(bytes!, { trustSenders: false });
    expect(decoded.transactions.map((tx) => tx.hash)).toEqual(summary!.txHashes);
    expect(hashHeader(decoded.header)).toEqual(full!.hash);

    // Unknown references.
    expect(await ledger.getHeader(13)).toBeNull();
    expect(await ledger.getHeader(-1)).toBeNull();
    expect(await ledger.getHeader(1.5)).toBeNull();
    expect(await ledger.getHeader(new Uint8Array(32))).toBeNull();
    expect(await ledger.getHeader(new Uint8Array(5))).toBeNull();
    expect(await ledger.getTransaction(new Uint8Array(32))).toBeNull();
    expect(await ledger.getReceipt(new Uint8Array(32))).toBeNull();
    expect(await ledger.getTxProof(new Uint8Array(32))).toBeNull();
    expect(await ledger.getBlockReceipts(99)).toEqual([]);

    const txCount = ledger.totalTransactionCount();
    const head = ledger.head();
    await ledger.close();
    await ledger.close(); // idempotent
    await expectLedgerError(ledger.getHeader(1), "LEDGER_CLOSED");

    // Reopen with the smallest block cache so reads decode from disk (tx index records, not cached blocks).
    const reopened = await openLedger({ blockCacheTxsMax: 1 });
    expect(reopened.head()).toEqual(head);
    expect(reopened.totalTransactionCount()).toBe(txCount);
    await verifyChain(reopened, { proofs: "all" });
    const again = await writeChain(reopened, 14);
    expect(again.size).toBe(2);
    await verifyChain(reopened, { proofs: "head" });
  });

  it("gives proofs that fail when tampered with", async () => {
    const ledger = await openLedger();
    const written = await writeChain(ledger, 5);
    const txs = written.get(5)!; // 4 transactions
    const header = (await ledger.getHeader(5))!;
    const receipts = await ledger.getBlockReceipts(5);
    const txProof = (await ledger.getTxProof(txs[1]!.hash))!;
    const receiptProof = (await ledger.getReceiptProof(txs[1]!.hash))!;
    expect(txProof.index).toBe(1);
    expect(txProof.blockNumber).toBe(5);
    expect(verifyMerkleProof(header.txRoot, txs[1]!.hash, txProof.proof)).toBe(true);
    expect(verifyMerkleProof(header.receiptRoot, receiptLeaf(receipts[1]!), receiptProof.proof)).toBe(true);

    // Another leaf, another index, a flipped sibling, the other root: all fail.
    expect(verifyMerkleProof(header.txRoot, txs[2]!.hash, txProof.proof)).toBe(false);
    expect(verifyMerkleProof(header.txRoot, txs[1]!.hash, { ...txProof.proof, index: 2 })).toBe(false);
    const sibling = hexToBytes(txProof.proof.siblings[0]!);
    sibling[0]! ^= 1;
    const tampered = {
      ...txProof.proof,
      siblings: [bytesToHex(sibling), ...txProof.proof.siblings.slice(1)],
    };
    expect(verifyMerkleProof(header.txRoot, txs[1]!.hash, tampered)).toBe(false);
    expect(verifyMerkleProof(header.receiptRoot, txs[1]!.hash, txProof.proof)).toBe(false);
    const changed = { ...receipts[1]!, gasUsed: receipts[1]!.gasUsed + 1n };
    expect(verifyMerkleProof(header.receiptRoot, receiptLeaf(changed), receiptProof.proof)).toBe(false);
    // A proof survives JSON (the RPC sends it as is).
    const viaJson = JSON.parse(JSON.stringify(txProof.proof));
    expect(verifyMerkleProof(header.txRoot, txs[1]!.hash, viaJson)).toBe(true);
  });

  it("serializes concurrent commits in call order", async () => {
    const ledger = await openLedger();
    await writeChain(ledger, 1);
    const key = generatePrivateKey();
    const c2 = buildCommit(2, ledger.head()!.hash, [nativeTx(key), nativeTx(key)]);
    const c3 = buildCommit(3, c2.block.certificate!.blockHash, [nativeTx(key), nativeTx(key), nativeTx(key)]);
    await Promise.all([ledger.commitBlock(c2), ledger.commitBlock(c3)]);
    expect(ledger.height()).toBe(3);
    expect(ledger.totalTransactionCount()).toBe(txCountOf(1) + 5);
  });
});

describe("LevelLedger: close", () => {
  it("lets commits called before close() finish and refuses later calls", async () => {
    const ledger = await openLedger();
    await writeChain(ledger, 1);
    const key = generatePrivateKey();
    const c2 = buildCommit(2, ledger.head()!.hash, [nativeTx(key)]);
    const c3 = buildCommit(3, c2.block.certificate!.blockHash, [nativeTx(key)]);
    const first = ledger.commitBlock(c2);
    const second = ledger.commitBlock(c3);
    const closed = ledger.close();
    const c4 = buildCommit(4, c3.block.certificate!.blockHash, [nativeTx(key)]);
    await expectLedgerError(ledger.commitBlock(c4), "LEDGER_CLOSED");
    await Promise.all([first, second, closed]);
    await expectLedgerError(ledger.getBlockNumber(c2.block.certificate!.blockHash), "LEDGER_CLOSED");
    await expectLedgerError(ledger.getState(new Uint8Array(1)), "LEDGER_CLOSED");
    const reopened = await openLedger();
    expect(reopened.height()).toBe(3);
  });
});

describe("LevelLedger: commit checks", () => {
  it("refuses wrong height, parent, certificate, receipts, roots and chain, and changes nothing", async () => {
    const ledger = await openLedger();
    await writeChain(ledger, 2);
    const head = ledger.head()!;
    const key = generatePrivateKey();
    const txs = [nativeTx(key), nativeTx(key)];
    const good = buildCommit(3, head.hash, txs);

    await expectLedgerError(ledger.commitBlock(buildCommit(4, head.hash, txs)), "LEDGER_NOT_NEXT_BLOCK");
    await expectLedgerError(ledger.commitBlock(buildCommit(2, head.hash, txs)), "LEDGER_NOT_NEXT_BLOCK");
    await expectLedgerError(
      ledger.commitBlock(buildCommit(3, new Uint8Array(32), txs)),
      "LEDGER_PARENT_MISMATCH",
    );

    const invalid: [string, CommitInput][] = [
      ["no certificate", { ...good, block: { ...good.block, certificate: null } }],
      [
        "certificate for another hash",
        {
          ...good,
          block: { ...good.block, certificate: { ...good.block.certificate!, blockHash: head.hash } },
        },
      ],
      [
        "certificate for another height",
        { ...good, block: { ...good.block, certificate: { ...good.block.certificate!, height: 4 } } },
      ],
      ["missing receipt", { ...good, receipts: good.receipts.slice(1) }],
      ["receipts swapped", { ...good, receipts: [good.receipts[1]!, good.receipts[0]!] }],
    ];
    // Header changes need a matching certificate, or the certificate check fires first.
    const withHeader = (patch: Partial<CommitInput["block"]["header"]>): CommitInput => {
      const header = { ...good.block.header, ...patch };
      const certificate = { ...good.block.certificate!, blockHash: hashHeader(header) };
      return { ...good, block: { ...good.block, header, certificate } };
    };
    invalid.push(["wrong txRoot", withHeader({ txRoot: new Uint8Array(32) })]);
    invalid.push(["wrong receiptRoot", withHeader({ receiptRoot: new Uint8Array(32) })]);
    invalid.push(["other chain", withHeader({ chainId: CHAIN_ID + 1n })]);
    invalid.push(["other group", withHeader({ groupId: "group1" })]);
    const dup = buildCommit(3, head.hash, [txs[0]!, txs[0]!]);
    invalid.push(["duplicate tx", dup]);
    // What the operator reads: the reason of each refusal (meta.reason is the message's tail).
    const reasons: Record<string, RegExp> = {
      "no certificate": /^no commit certificate$/,
      "certificate for another hash": /^certificate is for block 0x[0-9a-f]{64}, not 0x[0-9a-f]{64}$/,
      "certificate for another height": /^certificate is for height 4$/,
      "missing receipt": /^1 receipts for 2 transactions$/,
      "receipts swapped": /^receipt 0 is not for transaction 0x[0-9a-f]{64}$/,
      "wrong txRoot": /^header txRoot does not match the transactions$/,
      "wrong receiptRoot": /^header receiptRoot does not match the receipts$/,
      "other chain":
        /^block is for chain id \d+ group "group0", the ledger holds chain id \d+ group "group0"$/,
      "other group":
        /^block is for chain id \d+ group "group1", the ledger holds chain id \d+ group "group0"$/,
      "duplicate tx": /^transaction 0x[0-9a-f]{64} appears twice$/,
    };
    for (const [what, input] of invalid) {
      const err = await expectLedgerError(ledger.commitBlock(input), "LEDGER_INVALID_COMMIT");
      expect(err.message, what).toMatch(/cannot commit block 3: /);
      expect(err.meta, what).toMatchObject({ number: 3 });
      expect(String(err.meta?.reason), what).toMatch(reasons[what]!);
    }
    expect(ledger.head()).toEqual(head);
    expect(await ledger.getTransaction(txs[0]!.hash)).toBeNull();
    await ledger.commitBlock(good);
    expect(ledger.height()).toBe(3);
    expect((await ledger.getTransaction(txs[0]!.hash))!.blockNumber).toBe(3);
  });

  it("refuses a non-genesis first block on an empty store", async () => {
    const ledger = await openLedger();
    const err = await expectLedgerError(
      ledger.commitBlock(buildCommit(1, null, [])),
      "LEDGER_NOT_NEXT_BLOCK",
    );
    expect(err.message).toBe(
      "cannot commit block 1: the ledger head is empty (no genesis), the next block must be 0",
    );
    expect(err.meta).toEqual({ number: 1, expected: 0 });
    await ledger.close();
    await expectLedgerError(ledger.commitBlock(buildCommit(0, null, [])), "LEDGER_CLOSED");
  });
});

describe("LevelLedger: native nonce index", () => {
  // Memory bound 2: the window outgrows memory at block 3 and the answers come from LevelDB, the same ones.
  it.each([
    ["the window in memory", undefined],
    ["a memory bound of 2 nonces", 2],
  ])(
    "answers for the last `window` blocks and prunes older entries, also after a window change (%s)",
    async (_, memoryMax) => {
      const window = 10;
      const bound = memoryMax === undefined ? {} : { nativeNonceMemoryEntriesMax: memoryMax };
      let ledger = await openLedger({ nativeNonceWindowBlocks: window, ...bound });
      const key = generatePrivateKey();
      const nonceOf = (n: number) => new TextEncoder().encode(`nonce-${n}`);
      const unseen = new TextEncoder().encode("never");
      const last = window + 4;
      for (let n = 0; n <= last; n++) {
        // Blocks 1..5 carry one native tx each; the last block reuses the nonce of block 1 (expired by then).
        const txs =
          n >= 1 && n <= 5 ? [nativeTx(key, nonceOf(n))] : n === last ? [nativeTx(key, nonceOf(1))] : [];
        await ledger.commitBlock(buildCommit(n, ledger.head()?.hash ?? null, txs, { stateChanges: [] }));
        if (n === 5) {
          expect(await ledger.hasNativeNonces([nonceOf(1), nonceOf(5), unseen])).toEqual([true, true, false]);
        }
      }
      // Head 14: the window is blocks 5..14. Blocks 1..4 are pruned; 5 is still in; nonce-1 is back via block 14.
      const expected = [true, false, false, true, false];
      const probe = [nonceOf(1), nonceOf(2), nonceOf(4), nonceOf(5), unseen];
      expect(await ledger.hasNativeNonces(probe)).toEqual(expected);
      expect(await ledger.hasNativeNonce(nonceOf(5))).toBe(true);
      // Reopened with the same window: the in-memory window is rebuilt from the stored lists, same answers, and it
      // keeps moving with new commits (block 15 pushes block 5 out).
      await ledger.close();
      ledger = await openLedger({ nativeNonceWindowBlocks: window, ...bound });
      expect(await ledger.hasNativeNonces(probe)).toEqual(expected);
      await ledger.commitBlock(buildCommit(last + 1, ledger.head()!.hash, [], { stateChanges: [] }));
      expect(await ledger.hasNativeNonces(probe)).toEqual([true, false, false, false, false]);
      expect(await nonceIndex()).toEqual({ nonces: ["nonce-1"], blocks: [14] });

      // Default window: the real FISCO constant.
      expect(NATIVE_NONCE_WINDOW_BLOCKS).toBe(1000);
      // A smaller window after a restart: the next commit prunes every older list, not just one block.
      ledger = await openLedger({ nativeNonceWindowBlocks: 3, ...bound });
      expect(await ledger.hasNativeNonces(probe)).toEqual([true, false, false, false, false]);
      await ledger.commitBlock(buildCommit(last + 2, ledger.head()!.hash, [], { stateChanges: [] }));
      expect(await ledger.hasNativeNonces(probe)).toEqual([true, false, false, false, false]);
      // Three more empty blocks: block 14 leaves the 3-block window in memory and on disk.
      for (let n = last + 3; n <= last + 5; n++) {
        await ledger.commitBlock(buildCommit(n, ledger.head()!.hash, [], { stateChanges: [] }));
      }
      expect(await ledger.hasNativeNonces(probe)).toEqual([false, false, false, false, false]);
      expect(await nonceIndex()).toEqual({ nonces: [], blocks: [] });
    },
  );
});

/** The nonce index as stored: (closes the open ledgers first). */
async function nonceIndex(): Promise<{ nonces: string[]; blocks: number[] }> {
  for (const ledger of open.splice(0)) await ledger.close();
  const raw = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
  await raw.open();
  try {
    const range = (b: number) => ({ gte: Uint8Array.of(b), lt: Uint8Array.of(b + 1) });
    const nonces = await raw.keys(range(Bucket.nativeNonce)).all();
    const blocks = await raw.keys(range(Bucket.nativeNoncesByBlock)).all();
    return {
      nonces: nonces.map((k) => new TextDecoder().decode(k.subarray(1))).sort(),
      blocks: blocks.map((k) => Number(Buffer.from(k).readBigUInt64BE(1))),
    };
  } finally {
    await raw.close();
  }
}

describe("LevelLedger: open errors", () => {
  it("refuses a data directory of another chain id or group with a clear message", async () => {
    const ledger = await openLedger();
    await writeChain(ledger, 1);
    await ledger.close();
    const err = await expectLedgerError(openLedger({ chainId: 7n }), "LEDGER_CHAIN_MISMATCH");
    expect(err.message).toContain(`data directory ${dir} was written by chain id ${CHAIN_ID}`);
    expect(err.message).toContain("this node is configured for chain id 7");
    const errGroup = await expectLedgerError(openLedger({ groupId: "other" }), "LEDGER_CHAIN_MISMATCH");
    expect(errGroup.message).toContain(`was written by group "${GROUP_ID}"`);
    expect(errGroup.message).toContain(`configured for group "other"`);
    // The right configuration still opens it.
    expect((await openLedger()).height()).toBe(1);
  });

  it("refuses a directory that is already open", async () => {
    await openLedger();
    const err = await expectLedgerError(openLedger(), "LEDGER_LOCKED");
    expect(err.message).toContain(`data directory ${dir} is locked`);
  });

  it("reports an undecodable record as LEDGER_CORRUPT naming the key", async () => {
    const ledger = await openLedger();
    const written = await writeChain(ledger, 4);
    await ledger.close();
    const someTx = written.get(2)![0]!;
    const raw = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
    await raw.open();
    await raw.put(numberKey(Bucket.header, 2), Uint8Array.of(0xff, 0xff, 0xff));
    await raw.put(numberKey(Bucket.body, 3), Uint8Array.of(1, 2, 3));
    await raw.put(bytesKey(Bucket.txIndex, someTx.hash), Uint8Array.of(9));
    await raw.del(numberKey(Bucket.txHashes, 1));
    await raw.close();

    const reopened = await openLedger();
    const headerErr = await expectLedgerError(reopened.getHeader(2), "LEDGER_CORRUPT");
    expect(headerErr.meta.key).toBe("header/2");
    expect(headerErr.message).toContain("header/2");
    expect(headerErr.message).toContain(dir);
    expect((await expectLedgerError(reopened.getBlock(3), "LEDGER_CORRUPT")).meta.key).toBe("body/3");
    const txErr = await expectLedgerError(reopened.getTransaction(someTx.hash), "LEDGER_CORRUPT");
    expect(txErr.meta.key).toBe(`txIndex/${bytesToHex(someTx.hash)}`);
    const missing = await expectLedgerError(reopened.getBlockReceipts(1), "LEDGER_CORRUPT");
    expect(missing.meta.key).toBe("txHashes/1");
    // Intact blocks still read.
    expect((await reopened.getHeader(4))!.number).toBe(4);
  });

  it("refuses to open with a corrupt head pointer or a foreign LevelDB store", async () => {
    const ledger = await openLedger();
    await writeChain(ledger, 2);
    await ledger.close();
    const raw = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
    await raw.open();
    await raw.put(HEAD_KEY, Uint8Array.of(1, 2, 3));
    await raw.close();
    const err = await expectLedgerError(openLedger(), "LEDGER_CORRUPT");
    expect(err.meta.key).toBe("head");

    const foreignDir = await mkdtemp(join(tmpdir(), "consort-foreign-"));
    try {
      const foreign = new Level(foreignDir);
      await foreign.open();
      await foreign.put("hello", "world");
      await foreign.close();
      const foreignErr = await expectLedgerError(
        LevelLedger.open({ dataDir: foreignDir, chainId: CHAIN_ID, groupId: GROUP_ID }, { logger }),
        "LEDGER_CORRUPT",
      );
      expect(foreignErr.message).toContain("without Consort metadata");
    } finally {
      await rm(foreignDir, { recursive: true, force: true });
    }
  });
});

describe("LevelLedger: counters and genesis", () => {
  it("counts transactions and failed ones per committed block, and keeps them and the genesis hash across a reopen", async () => {
    let ledger = await openLedger();
    await ledger.commitBlock(buildCommit(0, null, []));
    const genesis = ledger.head()!.hash;
    expect(ledger.genesisHash()).toEqual(genesis);
    const key = generatePrivateKey();
    await ledger.commitBlock(buildCommit(1, genesis, [nativeTx(key), nativeTx(key)])); // receipt 1 failed
    await ledger.commitBlock(
      buildCommit(2, ledger.head()!.hash, [nativeTx(key), nativeTx(key), nativeTx(key)]),
    );
    expect(ledger.totalTransactionCount()).toBe(5);
    expect(ledger.failedTransactionCount()).toBe(2);
    await ledger.close();
    ledger = await openLedger();
    expect(ledger.totalTransactionCount()).toBe(5);
    expect(ledger.failedTransactionCount()).toBe(2);
    expect(ledger.genesisHash()).toEqual(genesis);
  });
});
