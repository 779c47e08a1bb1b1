import { decodeTransaction, decodeTransactionAsync, type SenderRecoverer } from "../codec/index.js";
import { keccak256, RecoveryThreads } from "../crypto/index.js";
import type { Address, EthereumTx, Hash, NativeTx, Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";
import { errorMessage } from "../util/errors.js";
import type { Logger } from "../util/logger.js";
import { LoopSlicer } from "../util/loopSlicer.js";
import {
  alreadyKnown,
  checkBalance,
  checkBlockLimit,
  checkEthereumNonce,
  checkSenderShare,
  invalidTx,
  makeRoom,
  nonceUsed,
  reject,
  type StateReads,
  txCost,
  validateStatic,
} from "./admission.js";
import { TxPoolError } from "./errors.js";
import type {
  AddResult,
  TxAddedListener,
  TxOrigin,
  TxPoolDeps,
  TxPoolInterface,
  TxPoolStats,
} from "./interface.js";
import { resolveTxPoolOptions, type TxPoolOptions, type TxPoolOptionsInput } from "./options.js";
import { type Entry, keyOf, PendingSet } from "./pending.js";
import { hasSealableWork, sealRoundRobin } from "./sealing.js";

/** An admission retries its state reads when a block commits meanwhile, at most this many times. */
const READ_ATTEMPTS_MAX = 3;

/**
 * The transaction pool: admits pending transactions (Ethereum types 0/1/2 and native 0x7c; rules in admission.ts),
 * holds them per sender within each sender's share (pending.ts), hands the leader round-robin batches to seal
 * (sealing.ts), and forgets them when their block commits.
 *
 * Concurrency: `add` does its async reads (account nonce, balance, ledger nonce) first, then re-checks every
 * pool-dependent rule and inserts in one synchronous section, so concurrent adds cannot race. A read that
 * straddles a block commit is redone (commit epoch).
 *
 * Sealing does not remove: sealed txs are "in flight" until `onBlockCommitted` removes them or `releaseSealed`
 * makes them sealable again (failed proposal, view change). In-flight txs are never sealed twice, expired nor evicted.
 */
export class TxPool implements TxPoolInterface {
  readonly opts: TxPoolOptions;
  private readonly deps: TxPoolDeps;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly pool = new PendingSet();
  /** Admissions in progress by hash: a concurrent duplicate waits for the first and is "already known". */
  private readonly adding = new Map<string, Promise<Transaction>>();
  private readonly listeners = new Set<TxAddedListener>();
  private readonly rejected: Record<TxOrigin, Record<string, number>> = { local: {}, peer: {} };
  /** Incremented on each committed block. */
  private epoch = 0;
  private expiredCount = 0;
  private staleCount = 0;
  private evictedCount = 0;
  /** Bounds the admission work of one event-loop turn (opts.admissionSliceMs). */
  private readonly slicer: LoopSlicer | null;
  /** Recovers admitted txs' senders off the event loop (opts.recoveryThreads), or null: on it. */
  private readonly recovery: RecoveryThreads | null;

  constructor(opts: TxPoolOptionsInput, deps: TxPoolDeps) {
    this.opts = resolveTxPoolOptions(opts);
    this.slicer = this.opts.admissionSliceMs > 0 ? new LoopSlicer(this.opts.admissionSliceMs) : null;
    this.deps = deps;
    this.log = deps.logger;
    this.now = deps.now ?? Date.now;
    this.recovery =
      this.opts.recoveryThreads > 0
        ? new RecoveryThreads({
            threads: this.opts.recoveryThreads,
            onWorkerFailure: (err) =>
              this.log.error(
                { err: errorMessage(err) },
                "sender recovery worker failed: recovering senders on the event loop from now on",
              ),
          })
        : null;
  }

  /** The recovery threads, for other untrusted txs of this node (a proposal's fetched txs, synced blocks); or null. */
  get senderRecoverer(): SenderRecoverer | null {
    return this.recovery;
  }

  /**
   * Starts the recovery threads now, so that the first admitted tx does not wait for one to load (the node calls it
   * at start-up; a pool never started starts them at its first admission).
   */
  start(): void {
    this.recovery?.start();
  }

  /** Stops the recovery threads (admissions still running finish on the event loop). */
  async close(): Promise<void> {
    await this.recovery?.close();
  }

  // ---------------------------------------------------------------- admission

  /** Validates and adds one signed raw tx. Throws TxPoolError (geth wording) when refused. */
  async add(raw: Uint8Array, opts: { origin?: TxOrigin } = {}): Promise<Transaction> {
    const origin = opts.origin ?? "local";
    const tx = await this.admitRaw(raw, origin);
    this.emit([tx], origin);
    return tx;
  }

  /** Adds many raw txs (gossip); one result per input, in order; never throws for a bad tx. One event. */
  async addBatch(raws: Uint8Array[], opts: { origin?: TxOrigin } = {}): Promise<AddResult[]> {
    const origin = opts.origin ?? "peer";
    const results = await Promise.all(
      raws.map((raw) =>
        this.admitRaw(raw, origin).then(
          (tx): AddResult => ({ ok: true, tx }),
          (error: unknown): AddResult => ({
            ok: false,
            error: error instanceof Error ? error : new Error(String(error)),
          }),
        ),
      ),
    );
    const added: Transaction[] = [];
    for (const r of results) if (r.ok) added.push(r.tx);
    if (added.length > 0) this.emit(added, origin);
    return results;
  }

  private async admitRaw(raw: Uint8Array, origin: TxOrigin): Promise<Transaction> {
    if (raw.length > this.opts.txBytesMax) {
      const message = `oversized data: transaction size ${raw.length}, limit ${this.opts.txBytesMax}`;
      throw this.count(reject("TXPOOL_OVERSIZED", message, { size: raw.length }), origin);
    }
    const hash = keccak256(raw);
    const key = keyOf(hash);
    try {
      if (this.pool.get(key) !== undefined) throw alreadyKnown(key);
      const inProgress = this.adding.get(key);
      if (inProgress !== undefined) {
        await inProgress; // the first admission's error, if any, is ours too
        throw alreadyKnown(key);
      }
      const promise = this.admitNew(raw, key, hash);
      this.adding.set(key, promise);
      try {
        return await promise;
      } finally {
        this.adding.delete(key);
      }
    } catch (err) {
      throw this.count(err, origin);
    }
  }

  /** Admissions start within the event loop's slice for them (opts.admissionSliceMs). */
  private admitNew(raw: Uint8Array, key: string, hash: Hash): Promise<Transaction> {
    const admit = () => this.admitNow(raw, key, hash);
    return this.slicer === null ? admit() : this.slicer.run(admit);
  }

  private async admitNow(raw: Uint8Array, key: string, hash: Hash): Promise<Transaction> {
    this.pruneExpired();
    let tx: Transaction;
    const decodeOpts = { chainId: this.opts.chainId, hash, senders: this.deps.senders };
    try {
      tx =
        this.recovery === null
          ? decodeTransaction(raw, decodeOpts)
          : await decodeTransactionAsync(raw, decodeOpts, this.recovery);
    } catch (err) {
      throw invalidTx(err);
    }
    validateStatic(tx, this.opts, this.deps);
    this.precheckPool(tx, key);
    const refused = (await this.deps.permissionCheck?.(tx)) ?? null;
    if (refused !== null) throw reject("TXPOOL_NOT_PERMITTED", refused);
    const reads = await this.readState(tx);
    this.insert(tx, key, reads);
    return tx;
  }

  /**
   * Cheap pool checks before the async reads (all are repeated in `insert`). Not the nonce gap: a batch of one
   * sender's consecutive txs is admitted concurrently, and only the inserts (in order) close the gap.
   */
  private precheckPool(tx: Transaction, key: string): void {
    if (this.pool.get(key) !== undefined) throw alreadyKnown(key);
    const queue = this.pool.sender(keyOf(tx.sender));
    if (tx.type === TxType.Native) {
      if (this.pool.nativeNonces.has(keyOf(tx.nonce))) throw nonceUsed(tx);
      checkSenderShare(this.opts, tx, queue, undefined);
      return;
    }
    if (queue !== undefined) {
      checkEthereumNonce(this.pool, this.opts, tx, queue.base, queue, false);
      checkSenderShare(this.opts, tx, queue, queue.byNonce.get(tx.nonce));
    }
  }

  private async readState(tx: Transaction): Promise<StateReads> {
    const { state, chain } = this.deps;
    const cost = txCost(tx, this.opts);
    for (let attempt = 1; ; attempt++) {
      const epoch = this.epoch;
      const [accountNonce, balance, nonceInLedger] = await Promise.all([
        tx.type === TxType.Native ? undefined : state.getAccountNonce(tx.sender),
        cost > 0n ? state.getBalance(tx.sender) : undefined,
        tx.type === TxType.Native ? chain.hasNativeNonce(tx.nonce) : undefined,
      ]);
      if (epoch === this.epoch || attempt >= READ_ATTEMPTS_MAX) {
        const reads: StateReads = {};
        if (accountNonce !== undefined) reads.accountNonce = accountNonce;
        if (balance !== undefined) reads.balance = balance;
        if (nonceInLedger !== undefined) reads.nonceInLedger = nonceInLedger;
        return reads;
      }
    }
  }

  // ---------------------------------------------------------------- the synchronous insert section

  private insert(tx: Transaction, key: string, reads: StateReads): void {
    if (this.pool.get(key) !== undefined) throw alreadyKnown(key);
    if (tx.type === TxType.Native) this.insertNative(tx, key, reads);
    else this.insertEthereum(tx, key, reads);
  }

  private insertEthereum(tx: EthereumTx, key: string, reads: StateReads): void {
    const senderKey = keyOf(tx.sender);
    let queue = this.pool.sender(senderKey);
    let base = reads.accountNonce ?? 0n;
    if (queue !== undefined && queue.base > base) base = queue.base;
    if (queue !== undefined && base > queue.base) {
      queue.base = base;
      this.staleCount += this.pool.dropBelowBase(queue);
      queue = this.pool.sender(senderKey);
    }
    checkEthereumNonce(this.pool, this.opts, tx, base, queue);
    const existing = queue?.byNonce.get(tx.nonce);
    checkSenderShare(this.opts, tx, queue, existing);
    checkBalance(tx, reads, this.opts);
    this.evict(
      makeRoom(this.pool, this.opts, tx.raw.length - (existing?.size ?? 0), existing ? 0 : 1, queue),
    );
    if (existing !== undefined) {
      this.pool.remove(existing);
      this.log.debug({ hash: `0x${existing.key}`, by: `0x${key}` }, "tx replaced");
    }
    this.pool.insert(tx, key, this.pool.senderOrCreate(senderKey, base), this.now());
  }

  private insertNative(tx: NativeTx, key: string, reads: StateReads): void {
    checkBlockLimit(tx, this.deps.chain.height(), this.opts.blockLimitWindow); // the height may have moved
    if (reads.nonceInLedger === true || this.pool.nativeNonces.has(keyOf(tx.nonce))) throw nonceUsed(tx);
    const senderKey = keyOf(tx.sender);
    const queue = this.pool.sender(senderKey);
    checkSenderShare(this.opts, tx, queue, undefined);
    checkBalance(tx, reads, this.opts);
    this.evict(makeRoom(this.pool, this.opts, tx.raw.length, 1, queue));
    this.pool.insert(tx, key, this.pool.senderOrCreate(senderKey, 0n), this.now());
  }

  private evict(evicted: Entry[]): void {
    if (evicted.length === 0) return;
    this.evictedCount += evicted.length;
    const e = evicted[0]!;
    this.log.debug(
      { evicted: evicted.length, sender: `0x${e.senderKey}`, hash: `0x${e.key}` },
      "txpool full: evicted the newest tx of the sender holding the most",
    );
  }

  // ---------------------------------------------------------------- sealing

  /**
   * The txs the leader proposes next, at most `countMax` and `gasMax` of summed gas limits, round-robin across
   * senders (see sealRoundRobin). They are marked in flight and not sealed again until released.
   */
  seal(countMax: number, gasMax?: bigint): Transaction[] {
    this.pruneExpired();
    return sealRoundRobin(this.pool, this.deps.chain.height(), countMax, gasMax);
  }

  /**
   * True when the pool holds work for consensus: a tx in flight (in a proposal) or one `seal` would return now.
   * False when every pooled tx is held back (an Ethereum nonce gap): the view timer need not run for those.
   */
  hasWork(): boolean {
    return hasSealableWork(this.pool, this.deps.chain.height());
  }

  /**
   * The executor refused these txs for now (insufficient balance, nonce gap, block full): they leave "in flight"
   * and are not sealed again (nor count as work for the view timer) until the next block commits, when the state
   * that refused them may have changed. Without this the leader would rebuild the same refused tx every tick.
   */
  park(hashes: Hash[]): void {
    for (const h of hashes) {
      const key = keyOf(h);
      if (this.pool.get(key) === undefined) continue;
      this.pool.inFlight.delete(key);
      this.pool.parked.add(key);
    }
  }

  /**
   * Marks these pooled txs in flight: they are in a proposal this node executed but did not seal (a replica's view
   * of the current block). Pipelining: the next leader builds h + 1 while h is not committed; without this it would
   * seal h's txs again, only for the chain to leave them out, and propose a nearly empty block. Released as sealed
   * txs are (releaseSealed), removed when they commit. Parked txs stay parked.
   */
  hold(hashes: Hash[]): void {
    for (const h of hashes) {
      const key = keyOf(h);
      if (this.pool.get(key) === undefined || this.pool.parked.has(key)) continue;
      this.pool.inFlight.add(key);
    }
  }

  /** Makes in-flight txs sealable again (their proposal failed); all of them when `hashes` is omitted. */
  releaseSealed(hashes?: Hash[]): void {
    if (hashes === undefined) {
      this.pool.inFlight.clear();
      return;
    }
    for (const h of hashes) this.pool.inFlight.delete(keyOf(h));
  }

  /** Removes these txs for good (e.g. the executor refused them when building a block). Returns how many. */
  drop(hashes: Hash[]): number {
    let dropped = 0;
    for (const h of hashes) {
      const entry = this.pool.get(keyOf(h));
      if (entry === undefined) continue;
      this.pool.remove(entry);
      dropped++;
    }
    return dropped;
  }

  // ---------------------------------------------------------------- commits and expiry

  /**
   * A block committed at `height` with these txs: removes them, advances their senders' nonces, drops Ethereum
   * txs whose nonce is now too low, native txs holding a nonce the block used, and native txs whose blockLimit
   * is <= height. Call it for every committed block, in order (sync included).
   */
  onBlockCommitted(txs: Transaction[], height: number): void {
    this.epoch++;
    const pool = this.pool;
    const touched = new Set<string>();
    for (const tx of txs) {
      const entry = pool.get(keyOf(tx.hash));
      if (entry !== undefined) pool.remove(entry);
      if (tx.type === TxType.Native) {
        const holder = pool.nativeNonces.get(keyOf(tx.nonce));
        const other = holder === undefined ? undefined : pool.get(holder);
        if (other !== undefined) {
          pool.remove(other);
          this.staleCount++;
        }
        continue;
      }
      const senderKey = keyOf(tx.sender);
      const queue = pool.sender(senderKey);
      if (queue !== undefined && tx.nonce + 1n > queue.base) {
        queue.base = tx.nonce + 1n;
        touched.add(senderKey);
      }
    }
    for (const senderKey of touched) {
      const queue = pool.sender(senderKey);
      if (queue !== undefined) this.staleCount += pool.dropBelowBase(queue);
    }
    pool.parked.clear(); // the state changed: refused txs may be valid now
    for (const [blockLimit, bucket] of pool.byBlockLimit) {
      if (blockLimit > height) continue;
      for (const key of [...bucket]) {
        const entry = pool.get(key);
        if (entry !== undefined) {
          pool.remove(entry);
          this.staleCount++;
        }
      }
      pool.byBlockLimit.delete(blockLimit);
    }
    this.pruneExpired();
  }

  /** Drops txs older than ttlMs (not in flight). Returns how many. Called by add, seal and commits. */
  pruneExpired(): number {
    const cutoff = this.now() - this.opts.ttlMs;
    let dropped = 0;
    for (const entry of this.pool.byHash.values()) {
      if (entry.addedAtMs > cutoff) break; // arrival order = time order
      if (this.pool.inFlight.has(entry.key)) continue;
      this.pool.remove(entry);
      dropped++;
    }
    if (dropped > 0) {
      this.expiredCount += dropped;
      this.log.debug({ dropped }, "expired txs dropped");
    }
    return dropped;
  }

  // ---------------------------------------------------------------- reads

  get(hash: Hash): Transaction | undefined {
    return this.pool.get(keyOf(hash))?.tx;
  }

  /** Next nonce for eth_getTransactionCount "pending": account nonce + the consecutive pending txs. */
  async pendingNonce(address: Address): Promise<bigint> {
    const stateNonce = await this.deps.state.getAccountNonce(address);
    const queue = this.pool.sender(keyOf(address));
    if (queue === undefined) return stateNonce;
    let from = stateNonce;
    if (queue.base > from) from = queue.base;
    return this.pool.nextFreeNonce(queue, from);
  }

  /** Pooled txs in arrival order, at most min(countMax, opts.pendingViewMax). */
  pending(countMax = this.opts.pendingViewMax): Transaction[] {
    const limit = Math.min(countMax, this.opts.pendingViewMax);
    const out: Transaction[] = [];
    for (const entry of this.pool.byHash.values()) {
      if (out.length >= limit) break;
      out.push(entry.tx);
    }
    return out;
  }

  size(): number {
    return this.pool.size();
  }

  stats(): TxPoolStats {
    return {
      count: this.pool.size(),
      bytes: this.pool.totalBytes,
      senders: this.pool.senders.size,
      nativeCount: this.pool.nativeCount,
      inFlight: this.pool.inFlight.size,
      rejected: { local: { ...this.rejected.local }, peer: { ...this.rejected.peer } },
      expired: this.expiredCount,
      stale: this.staleCount,
      evicted: this.evictedCount,
      admissionsDeferred: this.slicer?.deferred ?? 0,
      admissionsQueued: this.slicer?.queued ?? 0,
      recoveries: this.recovery?.stats() ?? null,
    };
  }

  // ---------------------------------------------------------------- events

  /** Called after txs are added (one call per add, one per addBatch). Returns an unsubscribe function. */
  onAdded(listener: TxAddedListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private emit(txs: Transaction[], origin: TxOrigin): void {
    for (const listener of this.listeners) {
      try {
        listener(txs, origin);
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, "txpool onAdded listener threw");
      }
    }
  }

  private count(err: unknown, origin: TxOrigin): unknown {
    if (err instanceof TxPoolError) {
      const byCode = this.rejected[origin];
      byCode[err.code] = (byCode[err.code] ?? 0) + 1;
      this.log.trace({ code: err.code, origin, err: err.message }, "tx rejected");
    }
    return err;
  }
}
