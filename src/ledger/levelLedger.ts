import { mkdir } from "node:fs/promises";
import { ClassicLevel } from "classic-level";
import {
  decodeBlock,
  decodeCertificate,
  decodeHeader,
  decodeReceipt,
  decodeTransaction,
  encodeBlock,
  encodeCertificate,
  encodeHeader,
  encodeReceipt,
  hashHeader,
} from "../codec/index.js";
import { keccak256, merkleProof, merkleRoot } from "../crypto/index.js";
import type { BlockHeader, Hash, Receipt, Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";
import { errorMessage } from "../util/errors.js";
import { bigintToBytes, bytesEqual, bytesToBigint, bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import {
  Bucket,
  bytesKey,
  describeKey,
  HEAD_KEY,
  MetaKey,
  metaKey,
  numberKey,
  receiptKey,
  SCHEMA_VERSION,
  STATE_KEY_LENGTH_MAX,
  stateUndoKey,
  u64,
} from "./buckets.js";
import { LedgerError } from "./errors.js";
import type {
  BlockRef,
  BlockSummary,
  CommitInput,
  Ledger,
  LedgerBlock,
  LedgerHead,
  LedgerProof,
  LedgerStateReader,
  ReceiptLookup,
  StateChange,
  TxLookup,
} from "./interface.js";
import { LruCache } from "./lru.js";
import {
  defaultLedgerOptions,
  type LedgerOpenOptions,
  type LedgerOptions,
  NATIVE_NONCE_PRUNE_BLOCKS_MAX,
  STATE_HISTORY_PRUNE_BLOCKS_MAX,
} from "./options.js";
import {
  decodeFramedList,
  decodeHash,
  decodeHashList,
  decodeHeadRecord,
  decodeNumber,
  decodeTxIndexRecord,
  decodeU32,
  encodeFramedList,
  encodeHashList,
  encodeHeadRecord,
  encodeTxIndexRecord,
  encodeU32,
  type HeadRecord,
  type TxIndexRecord,
} from "./records.js";

type Db = ClassicLevel<Uint8Array, Uint8Array>;
type BatchOp = { type: "put"; key: Uint8Array; value: Uint8Array } | { type: "del"; key: Uint8Array };

interface CachedHeader {
  header: BlockHeader;
  hash: Hash;
}

export interface LedgerDeps {
  logger: Logger;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** Level returns Buffers; hand out plain Uint8Array views (same memory, no copy). */
function view(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function levelCode(err: unknown): { code?: string; causeCode?: string } {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  return {
    code: typeof e?.code === "string" ? e.code : undefined,
    causeCode: typeof e?.cause?.code === "string" ? e.cause.code : undefined,
  };
}

function corruptError(dataDir: string, key: Uint8Array, reason: string, cause?: unknown): LedgerError {
  const name = describeKey(key);
  return new LedgerError(
    "LEDGER_CORRUPT",
    `corrupt ledger record ${name} in data directory ${dataDir}: ${reason}`,
    { key: name, keyHex: bytesToHex(key), dataDir },
    cause === undefined ? undefined : { cause },
  );
}

function isHash(value: unknown): value is Hash {
  return value instanceof Uint8Array && value.length === 32;
}

/**
 * The LevelDB ledger (layout: see buckets.ts). Every block is committed in one synced batch, so after a crash the
 * store holds exactly the blocks up to some head, each complete. Commits are serialized; reads run concurrently and
 * never report anything above the in-memory head.
 */
export class LevelLedger implements Ledger {
  readonly dataDir: string;
  readonly chainId: bigint;
  readonly groupId: string;
  private readonly db: Db;
  private readonly log: Logger;
  private readonly opts: LedgerOptions;
  private readonly headers: LruCache<number, CachedHeader>;
  private readonly hashToNumber: LruCache<string, number>;
  private readonly blocks: LruCache<number, LedgerBlock>;
  private headRecord: HeadRecord | null;
  private genesis: Hash | null;
  /**
   * S of meta/stateHistoryFrom: undo entries exist for every block from S to the head. Raised before the commit batch
   * that prunes below it is written, so a history read that ends with S - 1 <= its block saw no pruned entry.
   */
  private historyFrom: number;
  /** Every stateUndoByBlock list below this block is deleted (in memory; 0 after open: scan once). */
  private undoListsFrom = 0;
  /** undoListsFrom once the batch being built lands (commits are serialized). */
  private undoListsFromAfterCommit = 0;
  private commitTail: Promise<void> = Promise.resolve();
  /**
   * The native nonces of the newest blocks of the anti-replay window in memory (nonce as a latin1 string → block
   * number), at most NONCE_WINDOW_ENTRIES_MAX: while they cover the whole window, hasNativeNonces reads no LevelDB.
   */
  private readonly nonceWindow = new Map<string, number>();
  /** The nonce keys of each block in nonceWindow, oldest block first (for pruning). */
  private readonly nonceWindowByBlock = new Map<number, string[]>();
  /** Every block from this one to the head has its nonces in nonceWindow (older ones: ask LevelDB). */
  private nonceWindowFrom = Number.MAX_SAFE_INTEGER;
  private closed = false;
  private closing: Promise<void> | null = null;

  private constructor(
    db: Db,
    opts: LedgerOptions,
    deps: LedgerDeps,
    headRecord: HeadRecord | null,
    genesis: Hash | null,
    historyFrom: number,
  ) {
    this.db = db;
    this.opts = opts;
    this.dataDir = opts.dataDir;
    this.chainId = opts.chainId;
    this.groupId = opts.groupId;
    this.log = deps.logger;
    this.headRecord = headRecord;
    this.genesis = genesis;
    this.historyFrom = historyFrom;
    this.headers = new LruCache(Math.max(1, opts.headerCacheSize));
    this.hashToNumber = new LruCache(Math.max(1, opts.headerCacheSize));
    this.blocks = new LruCache(Math.max(1, opts.blockCacheTxsMax), (b) => b.transactions.length + 1);
  }

  /**
   * Opens (creating if needed) the store in `dataDir`. Refuses a store of another chain (LEDGER_CHAIN_MISMATCH), a
   * store another process holds (LEDGER_LOCKED), an unreadable or inconsistent store (LEDGER_CORRUPT).
   */
  static async open(openOpts: LedgerOpenOptions, deps: LedgerDeps): Promise<LevelLedger> {
    const opts: LedgerOptions = { ...defaultLedgerOptions, ...openOpts };
    const { dataDir } = opts;
    if (!Number.isSafeInteger(opts.stateHistoryBlocks) || opts.stateHistoryBlocks < 0) {
      throw new LedgerError(
        "LEDGER_OPEN_FAILED",
        `invalid stateHistoryBlocks ${opts.stateHistoryBlocks}: expected an integer >= 0 (0 disables the history)`,
        { dataDir },
      );
    }
    try {
      await mkdir(dataDir, { recursive: true });
    } catch (err) {
      throw new LedgerError(
        "LEDGER_OPEN_FAILED",
        `cannot create data directory ${dataDir}: ${errorMessage(err)}`,
        { dataDir },
        { cause: err },
      );
    }
    const db: Db = new ClassicLevel<Uint8Array, Uint8Array>(dataDir, {
      keyEncoding: "view",
      valueEncoding: "view",
    });
    try {
      await db.open();
    } catch (err) {
      throw openError(dataDir, err);
    }
    try {
      const genesis = await loadOrInitMeta(db, opts);
      const headRecord = await loadHead(db, opts, genesis);
      const historyFrom = await loadHistoryFrom(db, opts, headRecord);
      const ledger = new LevelLedger(db, opts, deps, headRecord, genesis, historyFrom);
      await ledger.loadNonceWindow();
      deps.logger.info(
        {
          dataDir,
          head: headRecord?.number ?? null,
          txCount: headRecord?.txCount ?? 0,
          oldestStateBlock: ledger.oldestStateBlock(),
        },
        "ledger opened",
      );
      return ledger;
    } catch (err) {
      await db.close().catch(() => {});
      throw err instanceof LedgerError ? err : openError(dataDir, err);
    }
  }

  head(): LedgerHead | null {
    const h = this.headRecord;
    return h === null ? null : { number: h.number, hash: h.hash };
  }

  height(): number {
    return this.headRecord?.number ?? -1;
  }

  genesisHash(): Hash | null {
    return this.genesis;
  }

  totalTransactionCount(): number {
    return this.headRecord?.txCount ?? 0;
  }

  // ---------------------------------------------------------------- commit

  commitBlock(input: CommitInput): Promise<void> {
    if (this.closed) return Promise.reject(this.closedError());
    const run = this.commitTail.then(() => this.commitNow(input));
    this.commitTail = run.catch(() => {});
    return run;
  }

  /** Runs serialized; commits accepted before close() still run (close waits for them). */
  private async commitNow(input: CommitInput): Promise<void> {
    const startMs = performance.now();
    const { header, transactions, certificate } = input.block;
    const number = header.number;
    const head = this.headRecord;
    const hash = hashHeader(header);
    const receiptBytes = this.checkCommit(input, head, hash);

    const ops: BatchOp[] = [];
    // Deletions first: a nonce of the pruned block reused by this block is put again further down the batch.
    await this.pruneNonces(number - this.opts.nativeNonceWindowBlocks, ops);
    const historyFrom = await this.pushStateUndoOps(number, input.stateChanges, ops);
    const newHead: HeadRecord = { number, hash, txCount: (head?.txCount ?? 0) + transactions.length };
    const txHashes = transactions.map((tx) => tx.hash);
    pushBlockOps(ops, input, { hash, txHashes, receiptBytes, newHead });
    ops.push({ type: "put", key: metaKey(MetaKey.stateHistoryFrom), value: u64(historyFrom) });
    // Before the batch: readers of a block whose undo entries this batch prunes must see that they may be gone.
    this.historyFrom = Math.max(this.historyFrom, historyFrom);
    try {
      await this.db.batch(ops, { sync: true });
    } catch (err) {
      throw this.ioError(err);
    }
    this.undoListsFrom = Math.max(this.undoListsFrom, this.undoListsFromAfterCommit);

    this.headRecord = newHead;
    this.rememberNonces(number, input.nativeNonces ?? nativeNoncesOf(transactions));
    if (number === 0) this.genesis = hash;
    this.headers.set(number, { header, hash });
    this.hashToNumber.set(bytesToHex(hash), number);
    this.blocks.set(number, { hash, header, certificate: certificate!, txHashes, transactions });
    this.log.debug(
      { number, txs: transactions.length, ops: ops.length, ms: Math.round(performance.now() - startMs) },
      "block committed",
    );
  }

  /** Validates the commit input against the head; returns the encoded receipts. */
  private checkCommit(input: CommitInput, head: HeadRecord | null, hash: Hash): Uint8Array[] {
    const { block, receipts } = input;
    const { header, transactions, certificate } = block;
    const number = header.number;
    const expected = head === null ? 0 : head.number + 1;
    if (number !== expected) {
      throw new LedgerError(
        "LEDGER_NOT_NEXT_BLOCK",
        `cannot commit block ${number}: the ledger head is ${head === null ? "empty (no genesis)" : head.number}, ` +
          `the next block must be ${expected}`,
        { number, expected },
      );
    }
    if (head !== null && !bytesEqual(header.parentHash, head.hash)) {
      throw new LedgerError(
        "LEDGER_PARENT_MISMATCH",
        `cannot commit block ${number}: parentHash ${bytesToHex(header.parentHash)} is not the head hash ` +
          bytesToHex(head.hash),
        { number },
      );
    }
    const invalid = (reason: string): LedgerError =>
      new LedgerError("LEDGER_INVALID_COMMIT", `cannot commit block ${number}: ${reason}`, {
        number,
        reason,
      });
    if (header.chainId !== this.chainId || header.groupId !== this.groupId) {
      throw invalid(
        `block is for chain id ${header.chainId} group "${header.groupId}", ` +
          `the ledger holds chain id ${this.chainId} group "${this.groupId}"`,
      );
    }
    if (certificate === null) throw invalid("no commit certificate");
    if (certificate.height !== number) throw invalid(`certificate is for height ${certificate.height}`);
    if (!bytesEqual(certificate.blockHash, hash)) {
      throw invalid(`certificate is for block ${bytesToHex(certificate.blockHash)}, not ${bytesToHex(hash)}`);
    }
    if (receipts.length !== transactions.length) {
      throw invalid(`${receipts.length} receipts for ${transactions.length} transactions`);
    }
    const seen = new Set<string>();
    transactions.forEach((tx, i) => {
      const hex = bytesToHex(tx.hash);
      if (seen.has(hex)) throw invalid(`transaction ${hex} appears twice`);
      seen.add(hex);
      if (!bytesEqual(receipts[i]!.txHash, tx.hash))
        throw invalid(`receipt ${i} is not for transaction ${hex}`);
    });
    const receiptBytes = receipts.map(encodeReceipt);
    if (this.opts.verifyRootsOnCommit) {
      if (!bytesEqual(merkleRoot(transactions.map((tx) => tx.hash)), header.txRoot)) {
        throw invalid("header txRoot does not match the transactions");
      }
      if (!bytesEqual(merkleRoot(receiptBytes.map(keccak256)), header.receiptRoot)) {
        throw invalid("header receiptRoot does not match the receipts");
      }
    }
    return receiptBytes;
  }

  /**
   * Adds to `ops` the deletion of the nonce lists of blocks <= `upTo` and of their nonce index entries (unless a
   * later block reused the nonce). Normally one block (n - window) per commit; a range scan so that a changed window
   * or an interrupted pruning leaves nothing behind.
   */
  private async pruneNonces(upTo: number, ops: BatchOp[]): Promise<void> {
    if (upTo < 0) return;
    let lists: [Uint8Array, Uint8Array][];
    try {
      lists = await this.db
        .iterator({
          gte: numberKey(Bucket.nativeNoncesByBlock, 0),
          lte: numberKey(Bucket.nativeNoncesByBlock, upTo),
          limit: NATIVE_NONCE_PRUNE_BLOCKS_MAX,
        })
        .all();
    } catch (err) {
      throw this.ioError(err);
    }
    for (const [rawKey, rawValue] of lists) {
      const listKey = view(rawKey);
      const number = this.decodeRecord(listKey, listKey.subarray(1), decodeNumber);
      const nonces = this.decodeRecord(listKey, view(rawValue), decodeFramedList);
      const keys = nonces.map((n) => bytesKey(Bucket.nativeNonce, n));
      const values = await this.getMany(keys);
      keys.forEach((key, i) => {
        const v = values[i];
        if (v !== undefined && this.decodeRecord(key, v, decodeNumber) === number)
          ops.push({ type: "del", key });
      });
      ops.push({ type: "del", key: listKey });
    }
  }

  /**
   * Adds to `ops` the undo entries of block `number` (the previous value of every key whose value it changes) and the
   * pruning of blocks out of the window; returns the new stateHistoryFrom.
   */
  private async pushStateUndoOps(number: number, changes: StateChange[], ops: BatchOp[]): Promise<number> {
    const window = this.opts.stateHistoryBlocks;
    const prunedThrough = await this.pruneStateUndo(window > 0 ? number - window : number, ops);
    // Genesis needs no undo (nothing before it is readable); window 0 writes none: history restarts later.
    if (window === 0 || number === 0) return number + 1;
    const finals = new Map<string, { key: Uint8Array; value: Uint8Array | null }>();
    for (const [key, value] of changes) {
      if (key.length > STATE_KEY_LENGTH_MAX) {
        throw new LedgerError(
          "LEDGER_INVALID_COMMIT",
          `cannot commit block ${number}: state key of ${key.length} bytes exceeds ${STATE_KEY_LENGTH_MAX}`,
          { number, reason: "state key too long" },
        );
      }
      finals.set(bytesToHex(key), { key, value });
    }
    const entries = [...finals.values()];
    const before = await this.getMany(entries.map((e) => bytesKey(Bucket.state, e.key)));
    const changed: Uint8Array[] = [];
    entries.forEach(({ key, value }, i) => {
      const prev = before[i];
      const unchanged = prev === undefined ? value === null : value !== null && bytesEqual(prev, value);
      if (unchanged) return;
      changed.push(key);
      ops.push({ type: "put", key: stateUndoKey(key, number), value: encodeUndoValue(prev) });
    });
    if (changed.length > 0) {
      ops.push({
        type: "put",
        key: numberKey(Bucket.stateUndoByBlock, number),
        value: encodeFramedList(changed),
      });
    }
    return Math.max(this.historyFrom, prunedThrough + 1);
  }

  /**
   * Adds to `ops` the deletion of the undo entries of blocks <= `upTo`, at most STATE_HISTORY_PRUNE_BLOCKS_MAX blocks
   * (normally one: n - window). Returns the highest block up to which nothing is left (-1: nothing to prune).
   */
  private async pruneStateUndo(upTo: number, ops: BatchOp[]): Promise<number> {
    if (upTo < 0) return -1;
    // Starting at the known floor skips both the scan when nothing is due and the tombstones of pruned lists.
    if (upTo < this.undoListsFrom) return upTo;
    let lists: [Uint8Array, Uint8Array][];
    try {
      lists = await this.db
        .iterator({
          gte: numberKey(Bucket.stateUndoByBlock, this.undoListsFrom),
          lte: numberKey(Bucket.stateUndoByBlock, upTo),
          limit: STATE_HISTORY_PRUNE_BLOCKS_MAX,
        })
        .all();
    } catch (err) {
      throw this.ioError(err);
    }
    let last = -1;
    for (const [rawKey, rawValue] of lists) {
      const listKey = view(rawKey);
      last = this.decodeRecord(listKey, listKey.subarray(1), decodeNumber);
      const keys = this.decodeRecord(listKey, view(rawValue), decodeFramedList);
      for (const key of keys) ops.push({ type: "del", key: stateUndoKey(key, last) });
      ops.push({ type: "del", key: listKey });
    }
    const through = lists.length < STATE_HISTORY_PRUNE_BLOCKS_MAX ? upTo : last;
    this.undoListsFromAfterCommit = through + 1;
    return through;
  }

  // ---------------------------------------------------------------- blocks

  async getBlockNumber(hash: Hash): Promise<number | null> {
    this.ensureOpen();
    return this.numberOfHash(hash);
  }

  async getBlockHash(number: number): Promise<Hash | null> {
    const n = await this.resolve(number);
    if (n === null) return null;
    return (await this.loadHeader(n)).hash;
  }

  async getHeader(ref: BlockRef): Promise<BlockHeader | null> {
    const n = await this.resolve(ref);
    if (n === null) return null;
    return (await this.loadHeader(n)).header;
  }

  getBlock(ref: BlockRef): Promise<LedgerBlock | null>;
  getBlock(ref: BlockRef, opts: { withTransactions: true }): Promise<LedgerBlock | null>;
  getBlock(ref: BlockRef, opts: { withTransactions: false }): Promise<BlockSummary | null>;
  getBlock(ref: BlockRef, opts?: { withTransactions?: boolean }): Promise<LedgerBlock | BlockSummary | null>;
  async getBlock(
    ref: BlockRef,
    opts?: { withTransactions?: boolean },
  ): Promise<LedgerBlock | BlockSummary | null> {
    const n = await this.resolve(ref);
    if (n === null) return null;
    const cached = this.blocks.get(n);
    if (opts?.withTransactions === false) {
      if (cached !== undefined) {
        return {
          hash: cached.hash,
          header: cached.header,
          certificate: cached.certificate,
          txHashes: cached.txHashes,
        };
      }
      const { header, hash } = await this.loadHeader(n);
      const certKey = numberKey(Bucket.certificate, n);
      const hashesKey = numberKey(Bucket.txHashes, n);
      const [certBytes, hashesBytes] = await this.getMany([certKey, hashesKey]);
      const certificate = this.decodeRecord(certKey, this.required(certKey, certBytes), decodeCertificate);
      const txHashes = this.decodeRecord(hashesKey, this.required(hashesKey, hashesBytes), decodeHashList);
      return { hash, header, certificate, txHashes };
    }
    if (cached !== undefined) return cached;
    const bodyKey = numberKey(Bucket.body, n);
    const body = this.required(bodyKey, await this.get(bodyKey));
    const decoded = this.decodeRecord(bodyKey, body, (b) => decodeBlock(b, { trustSenders: true }));
    if (decoded.certificate === null)
      throw corruptError(this.dataDir, bodyKey, "stored block has no certificate");
    if (decoded.header.number !== n) {
      throw corruptError(this.dataDir, bodyKey, `stored block has number ${decoded.header.number}`);
    }
    const { hash } = await this.loadHeader(n);
    const block: LedgerBlock = {
      hash,
      header: decoded.header,
      certificate: decoded.certificate,
      txHashes: decoded.transactions.map((tx) => tx.hash),
      transactions: decoded.transactions,
    };
    this.blocks.set(n, block);
    return block;
  }

  async getBlockBytes(ref: BlockRef): Promise<Uint8Array | null> {
    const n = await this.resolve(ref);
    if (n === null) return null;
    const key = numberKey(Bucket.body, n);
    return this.required(key, await this.get(key));
  }

  // ---------------------------------------------------------------- transactions and receipts

  async getTransaction(hash: Hash): Promise<TxLookup | null> {
    const rec = await this.loadTxIndex(hash);
    if (rec === null) return null;
    const tx = this.txOf(hash, rec);
    const blockHash = (await this.loadHeader(rec.number)).hash;
    return { tx, blockNumber: rec.number, blockHash, index: rec.index };
  }

  async getReceipt(hash: Hash): Promise<ReceiptLookup | null> {
    const rec = await this.loadTxIndex(hash);
    if (rec === null) return null;
    const key = receiptKey(rec.number, rec.index);
    const receiptBytes = this.required(key, await this.get(key));
    const receipt = this.decodeRecord(key, receiptBytes, decodeReceipt);
    const tx = this.txOf(hash, rec);
    const blockHash = (await this.loadHeader(rec.number)).hash;
    return { receipt, tx, blockNumber: rec.number, blockHash, index: rec.index };
  }

  async getBlockReceipts(ref: BlockRef): Promise<Receipt[]> {
    const n = await this.resolve(ref);
    if (n === null) return [];
    const keys = await this.receiptKeysOf(n);
    const values = await this.getMany(keys);
    return keys.map((key, i) => this.decodeRecord(key, this.required(key, values[i]), decodeReceipt));
  }

  async getTxProof(hash: Hash): Promise<LedgerProof | null> {
    const rec = await this.loadTxIndex(hash);
    if (rec === null) return null;
    const txHashes = await this.txHashesOf(rec.number);
    const leaf = txHashes[rec.index];
    if (leaf === undefined || !bytesEqual(leaf, hash)) {
      throw corruptError(
        this.dataDir,
        bytesKey(Bucket.txIndex, hash),
        `block ${rec.number} has no such tx at ${rec.index}`,
      );
    }
    const { header, hash: blockHash } = await this.loadHeader(rec.number);
    return {
      blockNumber: rec.number,
      blockHash,
      index: rec.index,
      leaf,
      root: header.txRoot,
      proof: merkleProof(txHashes, rec.index),
    };
  }

  async getReceiptProof(hash: Hash): Promise<LedgerProof | null> {
    const rec = await this.loadTxIndex(hash);
    if (rec === null) return null;
    const keys = await this.receiptKeysOf(rec.number);
    if (rec.index >= keys.length) {
      throw corruptError(
        this.dataDir,
        bytesKey(Bucket.txIndex, hash),
        `block ${rec.number} has no tx at ${rec.index}`,
      );
    }
    const values = await this.getMany(keys);
    const leaves = keys.map((key, i) => keccak256(this.required(key, values[i])));
    const { header, hash: blockHash } = await this.loadHeader(rec.number);
    return {
      blockNumber: rec.number,
      blockHash,
      index: rec.index,
      leaf: leaves[rec.index]!,
      root: header.receiptRoot,
      proof: merkleProof(leaves, rec.index),
    };
  }

  // ---------------------------------------------------------------- state and nonces

  async getState(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.ensureOpen();
    return this.get(bytesKey(Bucket.state, key));
  }

  async getManyState(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.ensureOpen();
    if (keys.length === 0) return [];
    return this.getMany(keys.map((k) => bytesKey(Bucket.state, k)));
  }

  async getStateAt(key: Uint8Array, blockNumber: number): Promise<Uint8Array | undefined> {
    const [value] = await this.getManyStateAt([key], blockNumber);
    return value;
  }

  async getManyStateAt(keys: Uint8Array[], blockNumber: number): Promise<(Uint8Array | undefined)[]> {
    this.ensureOpen();
    this.checkStateBlock(blockNumber);
    if (keys.length === 0) return [];
    // Current values FIRST, undo entries second: a block committed between the two reads left an undo entry
    // holding the value read here, so the pair is consistent whatever commits in between.
    const current = await this.getMany(keys.map((k) => bytesKey(Bucket.state, k)));
    const undo = await Promise.all(keys.map((k) => this.undoAbove(k, blockNumber)));
    // A commit may have pruned entries of block blockNumber + 1 meanwhile (historyFrom rose before its batch).
    this.checkStateBlock(blockNumber);
    return keys.map((_, i) => {
      const u = undo[i];
      return u === null || u === undefined ? current[i] : u.value;
    });
  }

  stateReaderAt(blockNumber: number): LedgerStateReader {
    this.ensureOpen();
    this.checkStateBlock(blockNumber);
    return {
      getState: (key) => this.getStateAt(key, blockNumber),
      getManyState: (keys) => this.getManyStateAt(keys, blockNumber),
    };
  }

  oldestStateBlock(): number {
    const head = this.headRecord;
    if (head === null) return -1;
    const oldest = Math.max(this.historyFrom - 1, head.number - this.opts.stateHistoryBlocks, 0);
    return Math.min(head.number, oldest);
  }

  stateHistoryBlocks(): number {
    return this.opts.stateHistoryBlocks;
  }

  /** The first undo entry of `key` above `blockNumber`: the key's value at `blockNumber`; null if none. */
  private async undoAbove(
    key: Uint8Array,
    blockNumber: number,
  ): Promise<{ value: Uint8Array | undefined } | null> {
    if (key.length > STATE_KEY_LENGTH_MAX) return null;
    let found: [Uint8Array, Uint8Array][];
    try {
      found = await this.db
        .iterator({
          gte: stateUndoKey(key, blockNumber + 1),
          lte: stateUndoKey(key, Number.MAX_SAFE_INTEGER),
          limit: 1,
        })
        .all();
    } catch (err) {
      throw this.ioError(err);
    }
    const entry = found[0];
    if (entry === undefined) return null;
    const entryKey = view(entry[0]);
    return { value: this.decodeRecord(entryKey, view(entry[1]), decodeUndoValue) };
  }

  private checkStateBlock(blockNumber: number): void {
    const head = this.headRecord;
    if (head === null || !Number.isSafeInteger(blockNumber) || blockNumber < 0 || blockNumber > head.number) {
      throw new LedgerError(
        "LEDGER_STATE_UNKNOWN_BLOCK",
        `no state for block ${blockNumber}: the ledger head is ${head === null ? "empty (no genesis)" : head.number}`,
        { number: blockNumber, head: head?.number ?? null },
      );
    }
    const oldest = this.oldestStateBlock();
    if (blockNumber < oldest) {
      const window = this.opts.stateHistoryBlocks;
      throw new LedgerError(
        "LEDGER_STATE_PRUNED",
        `the state of block ${blockNumber} is no longer kept: the ledger keeps the state of the last ${window} ` +
          `blocks before the head (stateHistoryBlocks = ${window}); available now: blocks ${oldest}..${head.number}`,
        { number: blockNumber, oldest, head: head.number, stateHistoryBlocks: window },
      );
    }
  }

  async hasNativeNonce(nonce: Uint8Array): Promise<boolean> {
    const [has] = await this.hasNativeNonces([nonce]);
    return has === true;
  }

  async hasNativeNonces(nonces: Uint8Array[]): Promise<boolean[]> {
    this.ensureOpen();
    const head = this.headRecord;
    if (head === null || nonces.length === 0) return nonces.map(() => false);
    const windowStart = head.number - this.opts.nativeNonceWindowBlocks + 1;
    if (this.nonceWindowFrom <= Math.max(0, windowStart)) {
      return nonces.map((n) => {
        const m = this.nonceWindow.get(nonceWindowKey(n));
        return m !== undefined && m <= head.number && m >= windowStart;
      });
    }
    const keys = nonces.map((n) => bytesKey(Bucket.nativeNonce, n));
    const values = await this.getMany(keys);
    return keys.map((key, i) => {
      const v = values[i];
      if (v === undefined) return false;
      const m = this.decodeRecord(key, v, decodeNumber);
      return m <= head.number && m > head.number - this.opts.nativeNonceWindowBlocks;
    });
  }

  /** Fills the in-memory nonce window from the per-block nonce lists of the last nativeNonceWindowBlocks blocks. */
  private async loadNonceWindow(): Promise<void> {
    const head = this.headRecord;
    if (head === null) {
      this.nonceWindowFrom = 0;
      return;
    }
    const from = Math.max(0, head.number - this.opts.nativeNonceWindowBlocks + 1);
    this.nonceWindowFrom = from;
    const lists = await this.db
      .iterator({
        gte: numberKey(Bucket.nativeNoncesByBlock, from),
        lte: numberKey(Bucket.nativeNoncesByBlock, head.number),
      })
      .all();
    for (const [rawKey, rawValue] of lists) {
      const listKey = view(rawKey);
      const number = this.decodeRecord(listKey, listKey.subarray(1), decodeNumber);
      this.rememberNonces(number, this.decodeRecord(listKey, view(rawValue), decodeFramedList));
    }
  }

  /**
   * Adds block `number`'s nonces (blocks arrive in order) to the in-memory window and drops the blocks that left the
   * window, then the oldest ones while over NONCE_WINDOW_ENTRIES_MAX (their checks go to LevelDB until they expire).
   */
  private rememberNonces(number: number, nonces: Uint8Array[]): void {
    const window = this.nonceWindow;
    const oldestKept = number - this.opts.nativeNonceWindowBlocks + 1;
    const keys = nonces.map(nonceWindowKey);
    for (const [n, old] of this.nonceWindowByBlock) {
      if (n >= oldestKept && window.size + keys.length <= NONCE_WINDOW_ENTRIES_MAX) break;
      for (const k of old) if (window.get(k) === n) window.delete(k);
      this.nonceWindowByBlock.delete(n);
      if (n >= oldestKept) this.nonceWindowFrom = Math.max(this.nonceWindowFrom, n + 1);
    }
    if (keys.length > NONCE_WINDOW_ENTRIES_MAX) {
      this.nonceWindowFrom = number + 1;
      return;
    }
    for (const k of keys) window.set(k, number);
    if (keys.length > 0) this.nonceWindowByBlock.set(number, keys);
  }

  // ---------------------------------------------------------------- lifecycle

  close(): Promise<void> {
    if (this.closing === null) {
      this.closed = true;
      this.closing = (async () => {
        await this.commitTail;
        await this.db.close();
        this.headers.clear();
        this.hashToNumber.clear();
        this.blocks.clear();
        this.log.info({ dataDir: this.dataDir, head: this.headRecord?.number ?? null }, "ledger closed");
      })();
    }
    return this.closing;
  }

  // ---------------------------------------------------------------- internals

  /** A height within [0, head], or null. */
  private async resolve(ref: BlockRef): Promise<number | null> {
    this.ensureOpen();
    if (typeof ref === "number") {
      const head = this.headRecord;
      return head !== null && Number.isSafeInteger(ref) && ref >= 0 && ref <= head.number ? ref : null;
    }
    return this.numberOfHash(ref);
  }

  private async numberOfHash(hash: Hash): Promise<number | null> {
    if (!isHash(hash)) return null;
    const hex = bytesToHex(hash);
    let n = this.hashToNumber.get(hex);
    if (n === undefined) {
      const key = bytesKey(Bucket.hashToNumber, hash);
      const v = await this.get(key);
      if (v === undefined) return null;
      n = this.decodeRecord(key, v, decodeNumber);
      this.hashToNumber.set(hex, n);
    }
    const head = this.headRecord;
    return head !== null && n <= head.number ? n : null;
  }

  /** Header and hash of a height known to be <= head (missing records are corruption). */
  private async loadHeader(n: number): Promise<CachedHeader> {
    const cached = this.headers.get(n);
    if (cached !== undefined) return cached;
    const headerKey = numberKey(Bucket.header, n);
    const hashKey = numberKey(Bucket.numberToHash, n);
    const [headerBytes, hashBytes] = await this.getMany([headerKey, hashKey]);
    const header = this.decodeRecord(headerKey, this.required(headerKey, headerBytes), decodeHeader);
    const hash = this.decodeRecord(hashKey, this.required(hashKey, hashBytes), decodeHash);
    if (header.number !== n)
      throw corruptError(this.dataDir, headerKey, `stored header has number ${header.number}`);
    const entry = { header, hash };
    this.headers.set(n, entry);
    return entry;
  }

  private async loadTxIndex(hash: Hash): Promise<TxIndexRecord | null> {
    this.ensureOpen();
    if (!isHash(hash)) return null;
    const key = bytesKey(Bucket.txIndex, hash);
    const v = await this.get(key);
    if (v === undefined) return null;
    const rec = this.decodeRecord(key, v, decodeTxIndexRecord);
    const head = this.headRecord;
    // An index entry above the in-memory head belongs to a commit whose batch landed a moment ago.
    return head !== null && rec.number <= head.number ? rec : null;
  }

  private txOf(hash: Hash, rec: TxIndexRecord): Transaction {
    const tx = this.blocks.get(rec.number)?.transactions[rec.index];
    if (tx !== undefined) return tx;
    const key = bytesKey(Bucket.txIndex, hash);
    const decoded = this.decodeRecord(key, rec.raw, (raw) => decodeTransaction(raw, { sender: rec.sender }));
    if (!bytesEqual(decoded.hash, hash))
      throw corruptError(this.dataDir, key, "stored transaction has another hash");
    return decoded;
  }

  private async txHashesOf(n: number): Promise<Hash[]> {
    const cached = this.blocks.get(n);
    if (cached !== undefined) return cached.txHashes;
    const key = numberKey(Bucket.txHashes, n);
    return this.decodeRecord(key, this.required(key, await this.get(key)), decodeHashList);
  }

  private async receiptKeysOf(n: number): Promise<Uint8Array[]> {
    const count = (await this.txHashesOf(n)).length;
    const keys: Uint8Array[] = [];
    for (let i = 0; i < count; i++) keys.push(receiptKey(n, i));
    return keys;
  }

  private decodeRecord<T>(key: Uint8Array, bytes: Uint8Array, decode: (b: Uint8Array) => T): T {
    try {
      return decode(bytes);
    } catch (err) {
      throw corruptError(this.dataDir, key, errorMessage(err), err);
    }
  }

  private required(key: Uint8Array, value: Uint8Array | undefined): Uint8Array {
    if (value === undefined) throw corruptError(this.dataDir, key, "record is missing");
    return value;
  }

  /** Raw reads: no closed check (a commit that started before close() finishes); entry points check. */
  private async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    try {
      const v = await this.db.get(key);
      return v === undefined ? undefined : view(v);
    } catch (err) {
      throw this.ioError(err);
    }
  }

  private async getMany(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    try {
      const values = await this.db.getMany(keys);
      return values.map((v) => (v === undefined ? undefined : view(v)));
    } catch (err) {
      throw this.ioError(err);
    }
  }

  private ensureOpen(): void {
    if (this.closed) throw this.closedError();
  }

  private closedError(): LedgerError {
    return new LedgerError("LEDGER_CLOSED", `the ledger of ${this.dataDir} is closed`, {
      dataDir: this.dataDir,
    });
  }

  private ioError(err: unknown): unknown {
    const { code } = levelCode(err);
    if (code === "LEVEL_DATABASE_NOT_OPEN" && this.closed) return this.closedError();
    if (code === "LEVEL_CORRUPTION") {
      return new LedgerError(
        "LEDGER_CORRUPT",
        `LevelDB reports corruption in data directory ${this.dataDir}: ${errorMessage(err)}`,
        { dataDir: this.dataDir },
        { cause: err },
      );
    }
    return err;
  }
}

/** Every write of one block, head pointer last (the order within a LevelDB batch is irrelevant to atomicity). */
function pushBlockOps(
  ops: BatchOp[],
  input: CommitInput,
  d: { hash: Hash; txHashes: Hash[]; receiptBytes: Uint8Array[]; newHead: HeadRecord },
): void {
  const { block, stateChanges } = input;
  const { header, transactions, certificate } = block;
  const number = header.number;
  const put = (key: Uint8Array, value: Uint8Array) => ops.push({ type: "put", key, value });
  put(numberKey(Bucket.header, number), encodeHeader(header));
  put(bytesKey(Bucket.hashToNumber, d.hash), u64(number));
  put(numberKey(Bucket.numberToHash, number), d.hash);
  put(numberKey(Bucket.body, number), encodeBlock(block));
  put(numberKey(Bucket.certificate, number), encodeCertificate(certificate!));
  put(numberKey(Bucket.txHashes, number), encodeHashList(d.txHashes));
  transactions.forEach((tx, index) => {
    put(
      bytesKey(Bucket.txIndex, tx.hash),
      encodeTxIndexRecord({ number, index, sender: tx.sender, raw: tx.raw }),
    );
    put(receiptKey(number, index), d.receiptBytes[index]!);
  });
  for (const [key, value] of stateChanges) {
    const k = bytesKey(Bucket.state, key);
    if (value === null) ops.push({ type: "del", key: k });
    else put(k, value);
  }
  const nonces = input.nativeNonces ?? nativeNoncesOf(transactions);
  if (nonces.length > 0) {
    const numberBytes = u64(number);
    for (const nonce of nonces) put(bytesKey(Bucket.nativeNonce, nonce), numberBytes);
    put(numberKey(Bucket.nativeNoncesByBlock, number), encodeFramedList(nonces));
  }
  if (number === 0) put(metaKey(MetaKey.genesisHash), d.hash);
  put(HEAD_KEY, encodeHeadRecord(d.newHead));
}

/** Undo value: 0x00 = the key was absent, 0x01 ‖ value. */
function encodeUndoValue(prev: Uint8Array | undefined): Uint8Array {
  if (prev === undefined) return Uint8Array.of(0);
  const out = new Uint8Array(1 + prev.length);
  out[0] = 1;
  out.set(prev, 1);
  return out;
}

function decodeUndoValue(b: Uint8Array): Uint8Array | undefined {
  if (b.length === 1 && b[0] === 0) return undefined;
  if (b.length >= 1 && b[0] === 1) return b.slice(1);
  throw new Error(`undo value of ${b.length} bytes with tag ${b[0] ?? "none"}`);
}

/** Bound of the in-memory native nonce window (~100 B each); beyond it the replay check reads LevelDB. */
const NONCE_WINDOW_ENTRIES_MAX = 200_000;

function nonceWindowKey(nonce: Uint8Array): string {
  return Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength).toString("latin1");
}

function nativeNoncesOf(txs: Transaction[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const tx of txs) if (tx.type === TxType.Native) out.push(tx.nonce);
  return out;
}

function openError(dataDir: string, err: unknown): LedgerError {
  const { code, causeCode } = levelCode(err);
  const detail = errorMessage((err as { cause?: unknown })?.cause ?? err);
  if (code === "LEVEL_LOCKED" || causeCode === "LEVEL_LOCKED") {
    return new LedgerError(
      "LEDGER_LOCKED",
      `data directory ${dataDir} is locked: another process (another consort node?) or another ledger in this ` +
        `process has it open (${detail})`,
      { dataDir },
      { cause: err },
    );
  }
  if (code === "LEVEL_CORRUPTION" || causeCode === "LEVEL_CORRUPTION") {
    return new LedgerError(
      "LEDGER_CORRUPT",
      `LevelDB store in data directory ${dataDir} is corrupt: ${detail}`,
      { dataDir },
      { cause: err },
    );
  }
  return new LedgerError(
    "LEDGER_OPEN_FAILED",
    `cannot open the ledger in data directory ${dataDir}: ${detail}`,
    { dataDir },
    { cause: err },
  );
}

/** Checks (or, on an empty store, writes) schema version, chain id and group id; returns the genesis hash if any. */
async function loadOrInitMeta(db: Db, opts: LedgerOptions): Promise<Hash | null> {
  const { dataDir } = opts;
  const schemaKey = metaKey(MetaKey.schemaVersion);
  const chainKey = metaKey(MetaKey.chainId);
  const groupKey = metaKey(MetaKey.groupId);
  const genesisKey = metaKey(MetaKey.genesisHash);
  const [schemaB, chainB, groupB, genesisB] = (
    await db.getMany([schemaKey, chainKey, groupKey, genesisKey])
  ).map((v) => (v === undefined ? undefined : view(v)));
  if (schemaB === undefined) {
    const anyKey = await db.keys({ limit: 1 }).all();
    if (anyKey.length > 0) {
      throw corruptError(dataDir, schemaKey, "the directory holds a LevelDB store without Consort metadata");
    }
    await db.batch(
      [
        { type: "put", key: schemaKey, value: encodeU32(SCHEMA_VERSION) },
        { type: "put", key: chainKey, value: bigintToBytes(opts.chainId) },
        { type: "put", key: groupKey, value: textEncoder.encode(opts.groupId) },
      ],
      { sync: true },
    );
    return null;
  }
  const decode = <T>(key: Uint8Array, v: Uint8Array | undefined, f: (b: Uint8Array) => T): T => {
    if (v === undefined) throw corruptError(dataDir, key, "record is missing");
    try {
      return f(v);
    } catch (err) {
      throw corruptError(dataDir, key, errorMessage(err), err);
    }
  };
  const schema = decode(schemaKey, schemaB, decodeU32);
  if (schema !== SCHEMA_VERSION) {
    throw new LedgerError(
      "LEDGER_SCHEMA_MISMATCH",
      `data directory ${dataDir} uses ledger layout version ${schema}, this node reads version ${SCHEMA_VERSION}`,
      { dataDir, schema, expected: SCHEMA_VERSION },
    );
  }
  const chainId = decode(chainKey, chainB, bytesToBigint);
  const groupId = decode(groupKey, groupB, (b) => textDecoder.decode(b));
  if (chainId !== opts.chainId) {
    throw new LedgerError(
      "LEDGER_CHAIN_MISMATCH",
      `data directory ${dataDir} was written by chain id ${chainId}, this node is configured for chain id ` +
        `${opts.chainId}: use another data directory or the genesis of chain ${chainId}`,
      { dataDir, storedChainId: chainId.toString(), chainId: opts.chainId.toString() },
    );
  }
  if (groupId !== opts.groupId) {
    throw new LedgerError(
      "LEDGER_CHAIN_MISMATCH",
      `data directory ${dataDir} was written by group "${groupId}" (chain id ${chainId}), this node is configured ` +
        `for group "${opts.groupId}": use another data directory or the genesis of group "${groupId}"`,
      { dataDir, storedGroupId: groupId, groupId: opts.groupId },
    );
  }
  return genesisB === undefined ? null : decode(genesisKey, genesisB, decodeHash);
}

/** meta/stateHistoryFrom, or head + 1 (no history) in a store written before it existed. */
async function loadHistoryFrom(db: Db, opts: LedgerOptions, head: HeadRecord | null): Promise<number> {
  const key = metaKey(MetaKey.stateHistoryFrom);
  const next = (head?.number ?? -1) + 1;
  const raw = await db.get(key);
  if (raw === undefined) return next;
  let from: number;
  try {
    from = decodeNumber(view(raw));
  } catch (err) {
    throw corruptError(opts.dataDir, key, errorMessage(err), err);
  }
  if (from > next)
    throw corruptError(opts.dataDir, key, `history starts at ${from}, above head + 1 (${next})`);
  return from;
}

/** Reads the head pointer and checks that the head block's header and hash index are there. */
async function loadHead(db: Db, opts: LedgerOptions, genesis: Hash | null): Promise<HeadRecord | null> {
  const { dataDir } = opts;
  const raw = await db.get(HEAD_KEY);
  if (raw === undefined) {
    if (genesis !== null)
      throw corruptError(dataDir, HEAD_KEY, "genesis is recorded but the head pointer is missing");
    return null;
  }
  let head: HeadRecord;
  try {
    head = decodeHeadRecord(view(raw));
  } catch (err) {
    throw corruptError(dataDir, HEAD_KEY, errorMessage(err), err);
  }
  const headerKey = numberKey(Bucket.header, head.number);
  const hashKey = numberKey(Bucket.numberToHash, head.number);
  const [headerB, hashB] = await db.getMany([headerKey, hashKey]);
  if (headerB === undefined)
    throw corruptError(dataDir, headerKey, `head block ${head.number} has no header`);
  if (hashB === undefined)
    throw corruptError(dataDir, hashKey, `head block ${head.number} has no hash index`);
  let headerHash: Hash;
  try {
    headerHash = hashHeader(decodeHeader(view(headerB)));
  } catch (err) {
    throw corruptError(dataDir, headerKey, errorMessage(err), err);
  }
  if (!bytesEqual(headerHash, head.hash) || !bytesEqual(view(hashB), head.hash)) {
    throw corruptError(
      dataDir,
      HEAD_KEY,
      `head hash does not match the stored header of block ${head.number}`,
    );
  }
  if (genesis === null)
    throw corruptError(dataDir, metaKey(MetaKey.genesisHash), "head exists but genesis hash is missing");
  return head;
}
