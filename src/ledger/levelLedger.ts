import { hashHeader } from "../codec/index.js";
import { type BlockHeader, type Hash, type Receipt, ReceiptStatus } from "../types/index.js";
import type { Logger } from "../util/logger.js";
import { BlockReads } from "./blockReads.js";
import { Bucket, bytesKey, MetaKey, metaKey, u64 } from "./buckets.js";
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
import { NonceWindow } from "./nonceWindow.js";
import { loadHead, loadHistoryFrom, loadOrInitMeta, openDb, openError } from "./openMeta.js";
import { defaultLedgerOptions, type LedgerOpenOptions, type LedgerOptions } from "./options.js";
import type { HeadRecord } from "./records.js";
import { StateHistory } from "./stateHistory.js";
import { StateReadCache } from "./stateReadCache.js";
import { type BatchOp, type Db, LedgerStore } from "./store.js";

export interface LedgerDeps {
  logger: Logger;
}

/**
 * The LevelDB ledger (layout: see buckets.ts). Every block is committed in one synced batch, so after a crash the
 * store holds exactly the blocks up to some head, each complete. Commits are serialized; reads run concurrently and
 * never report anything above the in-memory head.
 *
 * Parts: store.ts (LevelDB handle, raw reads, errors), openMeta.ts (open checks), commitBatch.ts (commit checks and
 * block writes), blockReads.ts (blocks, transactions, receipts, proofs), stateHistory.ts (undo log, reads at a past
 * block), stateReadCache.ts (committed state values at the head), nonceWindow.ts (native-nonce replay window).
 */
export class LevelLedger implements Ledger {
  readonly dataDir: string;
  readonly chainId: bigint;
  readonly groupId: string;
  private readonly store: LedgerStore;
  private readonly log: Logger;
  private readonly opts: LedgerOptions;
  private readonly blockReads: BlockReads;
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
    this.nonces = new NonceWindow(
      this.store,
      { windowBlocks: opts.nativeNonceWindowBlocks, memoryEntriesMax: opts.nativeNonceMemoryEntriesMax },
      () => this.headRecord,
    );
    this.stateCache = new StateReadCache(opts.stateCacheBytes);
    this.blockReads = new BlockReads(this.store, opts, () => this.headRecord);
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
    // The undo log's previous values: the cached head state (commits are serialized: it is this block's parent).
    const historyFrom = await this.history.pushUndoOps(number, input.stateChanges, ops, (key) =>
      this.stateCache.get(key),
    );
    const failed = input.receipts.filter((r) => r.status === ReceiptStatus.Failed).length;
    const newHead: HeadRecord = {
      number,
      hash,
      txCount: (head?.txCount ?? 0) + transactions.length,
      failedTxCount: (head?.failedTxCount ?? 0) + failed,
    };
    const txHashes = transactions.map((tx) => tx.hash);
    const bodyBytes = pushBlockOps(ops, input, { hash, txHashes, receiptBytes, newHead });
    ops.push({ type: "put", key: metaKey(MetaKey.stateHistoryFrom), value: u64(historyFrom) });
    // Before the batch: readers of a block whose undo entries this batch prunes must see that they may be gone.
    this.history.raiseHistoryFrom(historyFrom);
    await this.store.writeBatch(ops, { sync: true });
    this.history.commitLanded();
    this.stateCache.applyCommit(input.stateChanges);

    this.headRecord = newHead;
    this.nonces.remember(number, input.nativeNonces ?? nativeNoncesOf(transactions));
    if (number === 0) this.genesis = hash;
    const block = { hash, header, certificate: certificate!, txHashes, transactions };
    this.blockReads.remember(block, input.receipts, bodyBytes);
    this.log.debug(
      { number, txs: transactions.length, ops: ops.length, ms: Math.round(performance.now() - startMs) },
      "block committed",
    );
  }

  // ---------------------------------------------------------------- blocks, transactions, receipts (blockReads.ts)

  getBlockNumber(hash: Hash): Promise<number | null> {
    return this.blockReads.getBlockNumber(hash);
  }

  getBlockHash(number: number): Promise<Hash | null> {
    return this.blockReads.getBlockHash(number);
  }

  getHeader(ref: BlockRef): Promise<BlockHeader | null> {
    return this.blockReads.getHeader(ref);
  }

  getBlock(ref: BlockRef): Promise<LedgerBlock | null>;
  getBlock(ref: BlockRef, opts: { withTransactions: true }): Promise<LedgerBlock | null>;
  getBlock(ref: BlockRef, opts: { withTransactions: false }): Promise<BlockSummary | null>;
  getBlock(ref: BlockRef, opts?: { withTransactions?: boolean }): Promise<LedgerBlock | BlockSummary | null>;
  getBlock(ref: BlockRef, opts?: { withTransactions?: boolean }): Promise<LedgerBlock | BlockSummary | null> {
    return this.blockReads.getBlock(ref, opts);
  }

  getBlockBytes(ref: BlockRef): Promise<Uint8Array | null> {
    return this.blockReads.getBlockBytes(ref);
  }

  getTransaction(hash: Hash): Promise<TxLookup | null> {
    return this.blockReads.getTransaction(hash);
  }

  getReceipt(hash: Hash): Promise<ReceiptLookup | null> {
    return this.blockReads.getReceipt(hash);
  }

  getBlockReceipts(ref: BlockRef): Promise<Receipt[]> {
    return this.blockReads.getBlockReceipts(ref);
  }

  getTxProof(hash: Hash): Promise<LedgerProof | null> {
    return this.blockReads.getTxProof(hash);
  }

  getReceiptProof(hash: Hash): Promise<LedgerProof | null> {
    return this.blockReads.getReceiptProof(hash);
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
        this.blockReads.clear();
        this.stateCache.clear();
        this.log.info({ dataDir: this.dataDir, head: this.headRecord?.number ?? null }, "ledger closed");
      })();
    }
    return this.closing;
  }
}
