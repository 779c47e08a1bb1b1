import {
  decodeBlock,
  decodeCertificate,
  decodeHeader,
  decodeReceipt,
  decodeTransaction,
  hashHeader,
} from "../codec/index.js";
import { keccak256, merkleProof } from "../crypto/index.js";
import {
  type BlockHeader,
  type Hash,
  type Receipt,
  ReceiptStatus,
  type Transaction,
} from "../types/index.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import { Bucket, bytesKey, MetaKey, metaKey, numberKey, receiptKey, u64 } from "./buckets.js";
import { checkCommit, nativeNoncesOf, pushBlockOps } from "./commitBatch.js";
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
  TxLookup,
} from "./interface.js";
import { LruCache } from "./lru.js";
import { NonceWindow } from "./nonceWindow.js";
import { loadHead, loadHistoryFrom, loadOrInitMeta, openDb, openError } from "./openMeta.js";
import { defaultLedgerOptions, type LedgerOpenOptions, type LedgerOptions } from "./options.js";
import {
  decodeHash,
  decodeHashList,
  decodeNumber,
  decodeTxIndexRecord,
  type HeadRecord,
  type TxIndexRecord,
} from "./records.js";
import { StateHistory } from "./stateHistory.js";
import { StateReadCache } from "./stateReadCache.js";
import { type BatchOp, type Db, LedgerStore } from "./store.js";

interface CachedHeader {
  header: BlockHeader;
  hash: Hash;
}

export interface LedgerDeps {
  logger: Logger;
}

function isHash(value: unknown): value is Hash {
  return value instanceof Uint8Array && value.length === 32;
}

/**
 * The LevelDB ledger (layout: see buckets.ts). Every block is committed in one synced batch, so after a crash the
 * store holds exactly the blocks up to some head, each complete. Commits are serialized; reads run concurrently and
 * never report anything above the in-memory head.
 *
 * Parts: store.ts (LevelDB handle, raw reads, errors), openMeta.ts (open checks), commitBatch.ts (commit checks and
 * block writes), stateHistory.ts (undo log, reads at a past block), nonceWindow.ts (native-nonce replay window).
 */
export class LevelLedger implements Ledger {
  readonly dataDir: string;
  readonly chainId: bigint;
  readonly groupId: string;
  private readonly store: LedgerStore;
  private readonly log: Logger;
  private readonly opts: LedgerOptions;
  private readonly headers: LruCache<number, CachedHeader>;
  private readonly hashToNumber: LruCache<string, number>;
  private readonly blocks: LruCache<number, LedgerBlock>;
  private readonly history: StateHistory;
  private readonly nonces: NonceWindow;
  private readonly stateCache: StateReadCache;
  private headRecord: HeadRecord | null;
  private genesis: Hash | null;
  private commitTail: Promise<void> = Promise.resolve();
  private closing: Promise<void> | null = null;

  private constructor(
    db: Db,
    opts: LedgerOptions,
    deps: LedgerDeps,
    headRecord: HeadRecord | null,
    genesis: Hash | null,
    historyFrom: number,
  ) {
    this.store = new LedgerStore(db, opts.dataDir);
    this.opts = opts;
    this.dataDir = opts.dataDir;
    this.chainId = opts.chainId;
    this.groupId = opts.groupId;
    this.log = deps.logger;
    this.headRecord = headRecord;
    this.genesis = genesis;
    this.history = new StateHistory(this.store, opts.stateHistoryBlocks, historyFrom, () => this.headRecord);
    this.nonces = new NonceWindow(this.store, opts.nativeNonceWindowBlocks, () => this.headRecord);
    this.stateCache = new StateReadCache(opts.stateCacheBytes);
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
    const db = await openDb(opts);
    try {
      const genesis = await loadOrInitMeta(db, opts);
      const headRecord = await loadHead(db, opts, genesis);
      const historyFrom = await loadHistoryFrom(db, opts, headRecord);
      const ledger = new LevelLedger(db, opts, deps, headRecord, genesis, historyFrom);
      await ledger.nonces.load();
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

  failedTransactionCount(): number {
    return this.headRecord?.failedTxCount ?? 0;
  }

  // ---------------------------------------------------------------- commit

  commitBlock(input: CommitInput): Promise<void> {
    if (this.store.closed) return Promise.reject(this.store.closedError());
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
    const receiptBytes = checkCommit(this.opts, input, head, hash);

    const ops: BatchOp[] = [];
    // Deletions first: a nonce of the pruned block reused by this block is put again further down the batch.
    await this.nonces.pushPruneOps(number, ops);
    const historyFrom = await this.history.pushUndoOps(number, input.stateChanges, ops);
    const failed = input.receipts.filter((r) => r.status === ReceiptStatus.Failed).length;
    const newHead: HeadRecord = {
      number,
      hash,
      txCount: (head?.txCount ?? 0) + transactions.length,
      failedTxCount: (head?.failedTxCount ?? 0) + failed,
    };
    const txHashes = transactions.map((tx) => tx.hash);
    pushBlockOps(ops, input, { hash, txHashes, receiptBytes, newHead });
    ops.push({ type: "put", key: metaKey(MetaKey.stateHistoryFrom), value: u64(historyFrom) });
    // Before the batch: readers of a block whose undo entries this batch prunes must see that they may be gone.
    this.history.raiseHistoryFrom(historyFrom);
    await this.store.writeBatch(ops, { sync: true });
    this.history.commitLanded();
    this.stateCache.applyCommit(input.stateChanges);

    this.headRecord = newHead;
    this.nonces.remember(number, input.nativeNonces ?? nativeNoncesOf(transactions));
    if (number === 0) this.genesis = hash;
    this.headers.set(number, { header, hash });
    this.hashToNumber.set(bytesToHex(hash), number);
    this.blocks.set(number, { hash, header, certificate: certificate!, txHashes, transactions });
    this.log.debug(
      { number, txs: transactions.length, ops: ops.length, ms: Math.round(performance.now() - startMs) },
      "block committed",
    );
  }

  // ---------------------------------------------------------------- blocks

  async getBlockNumber(hash: Hash): Promise<number | null> {
    this.store.ensureOpen();
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
      const [certBytes, hashesBytes] = await this.store.getMany([certKey, hashesKey]);
      const certificate = this.store.decodeRecord(
        certKey,
        this.store.required(certKey, certBytes),
        decodeCertificate,
      );
      const txHashes = this.store.decodeRecord(
        hashesKey,
        this.store.required(hashesKey, hashesBytes),
        decodeHashList,
      );
      return { hash, header, certificate, txHashes };
    }
    if (cached !== undefined) return cached;
    const bodyKey = numberKey(Bucket.body, n);
    const body = this.store.required(bodyKey, await this.store.get(bodyKey));
    const decoded = this.store.decodeRecord(bodyKey, body, (b) => decodeBlock(b, { trustSenders: true }));
    if (decoded.certificate === null) throw this.store.corrupt(bodyKey, "stored block has no certificate");
    if (decoded.header.number !== n) {
      throw this.store.corrupt(bodyKey, `stored block has number ${decoded.header.number}`);
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
    return this.store.required(key, await this.store.get(key));
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
    const receiptBytes = this.store.required(key, await this.store.get(key));
    const receipt = this.store.decodeRecord(key, receiptBytes, decodeReceipt);
    const tx = this.txOf(hash, rec);
    const blockHash = (await this.loadHeader(rec.number)).hash;
    return { receipt, tx, blockNumber: rec.number, blockHash, index: rec.index };
  }

  async getBlockReceipts(ref: BlockRef): Promise<Receipt[]> {
    const n = await this.resolve(ref);
    if (n === null) return [];
    const keys = await this.receiptKeysOf(n);
    const values = await this.store.getMany(keys);
    return keys.map((key, i) =>
      this.store.decodeRecord(key, this.store.required(key, values[i]), decodeReceipt),
    );
  }

  async getTxProof(hash: Hash): Promise<LedgerProof | null> {
    const rec = await this.loadTxIndex(hash);
    if (rec === null) return null;
    const txHashes = await this.txHashesOf(rec.number);
    const leaf = txHashes[rec.index];
    if (leaf === undefined || !bytesEqual(leaf, hash)) {
      throw this.store.corrupt(
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
      throw this.store.corrupt(
        bytesKey(Bucket.txIndex, hash),
        `block ${rec.number} has no tx at ${rec.index}`,
      );
    }
    const values = await this.store.getMany(keys);
    const leaves = keys.map((key, i) => keccak256(this.store.required(key, values[i])));
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
    this.store.ensureOpen();
    const cached = this.stateCache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const ticket = this.stateCache.ticket();
    const value = this.store.getSync(bytesKey(Bucket.state, key));
    this.stateCache.fill(ticket, key, value);
    return value;
  }

  async getManyState(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    this.store.ensureOpen();
    const out: (Uint8Array | undefined)[] = new Array(keys.length);
    const missing: number[] = [];
    keys.forEach((key, i) => {
      const cached = this.stateCache.get(key);
      if (cached === undefined) missing.push(i);
      else out[i] = cached ?? undefined;
    });
    if (missing.length === 0) return out;
    const ticket = this.stateCache.ticket();
    const read = await this.store.getMany(missing.map((i) => bytesKey(Bucket.state, keys[i]!)));
    missing.forEach((i, j) => {
      out[i] = read[j];
      this.stateCache.fill(ticket, keys[i]!, read[j]);
    });
    return out;
  }

  async getStateAt(key: Uint8Array, blockNumber: number): Promise<Uint8Array | undefined> {
    const [value] = await this.getManyStateAt([key], blockNumber);
    return value;
  }

  async getManyStateAt(keys: Uint8Array[], blockNumber: number): Promise<(Uint8Array | undefined)[]> {
    this.store.ensureOpen();
    return this.history.getManyAt(keys, blockNumber);
  }

  stateReaderAt(blockNumber: number): LedgerStateReader {
    this.store.ensureOpen();
    this.history.checkBlock(blockNumber);
    return {
      getState: (key) => this.getStateAt(key, blockNumber),
      getManyState: (keys) => this.getManyStateAt(keys, blockNumber),
    };
  }

  oldestStateBlock(): number {
    return this.history.oldestBlock();
  }

  stateHistoryBlocks(): number {
    return this.opts.stateHistoryBlocks;
  }

  async hasNativeNonce(nonce: Uint8Array, windowEndHeight?: number): Promise<boolean> {
    const [has] = await this.hasNativeNonces([nonce], windowEndHeight);
    return has === true;
  }

  async hasNativeNonces(nonces: Uint8Array[], windowEndHeight?: number): Promise<boolean[]> {
    this.store.ensureOpen();
    return this.nonces.has(nonces, windowEndHeight);
  }

  // ---------------------------------------------------------------- lifecycle

  close(): Promise<void> {
    if (this.closing === null) {
      this.store.markClosed();
      this.closing = (async () => {
        await this.commitTail;
        await this.store.db.close();
        this.headers.clear();
        this.hashToNumber.clear();
        this.blocks.clear();
        this.stateCache.clear();
        this.log.info({ dataDir: this.dataDir, head: this.headRecord?.number ?? null }, "ledger closed");
      })();
    }
    return this.closing;
  }

  // ---------------------------------------------------------------- internals

  /** A height within [0, head], or null. */
  private async resolve(ref: BlockRef): Promise<number | null> {
    this.store.ensureOpen();
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
      const v = await this.store.get(key);
      if (v === undefined) return null;
      n = this.store.decodeRecord(key, v, decodeNumber);
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
    const [headerBytes, hashBytes] = await this.store.getMany([headerKey, hashKey]);
    const header = this.store.decodeRecord(
      headerKey,
      this.store.required(headerKey, headerBytes),
      decodeHeader,
    );
    const hash = this.store.decodeRecord(hashKey, this.store.required(hashKey, hashBytes), decodeHash);
    if (header.number !== n) throw this.store.corrupt(headerKey, `stored header has number ${header.number}`);
    const entry = { header, hash };
    this.headers.set(n, entry);
    return entry;
  }

  private async loadTxIndex(hash: Hash): Promise<TxIndexRecord | null> {
    this.store.ensureOpen();
    if (!isHash(hash)) return null;
    const key = bytesKey(Bucket.txIndex, hash);
    const v = await this.store.get(key);
    if (v === undefined) return null;
    const rec = this.store.decodeRecord(key, v, decodeTxIndexRecord);
    const head = this.headRecord;
    // An index entry above the in-memory head belongs to a commit whose batch landed a moment ago.
    return head !== null && rec.number <= head.number ? rec : null;
  }

  private txOf(hash: Hash, rec: TxIndexRecord): Transaction {
    const tx = this.blocks.get(rec.number)?.transactions[rec.index];
    if (tx !== undefined) return tx;
    const key = bytesKey(Bucket.txIndex, hash);
    const decoded = this.store.decodeRecord(key, rec.raw, (raw) =>
      decodeTransaction(raw, { sender: rec.sender }),
    );
    if (!bytesEqual(decoded.hash, hash)) throw this.store.corrupt(key, "stored transaction has another hash");
    return decoded;
  }

  private async txHashesOf(n: number): Promise<Hash[]> {
    const cached = this.blocks.get(n);
    if (cached !== undefined) return cached.txHashes;
    const key = numberKey(Bucket.txHashes, n);
    return this.store.decodeRecord(key, this.store.required(key, await this.store.get(key)), decodeHashList);
  }

  private async receiptKeysOf(n: number): Promise<Uint8Array[]> {
    const count = (await this.txHashesOf(n)).length;
    const keys: Uint8Array[] = [];
    for (let i = 0; i < count; i++) keys.push(receiptKey(n, i));
    return keys;
  }
}
