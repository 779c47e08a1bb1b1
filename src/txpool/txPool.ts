import { decodeTransaction } from "../codec/index.js";
import { keccak256 } from "../crypto/index.js";
import type { Address, EthereumTx, Hash, NativeTx, Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";
import { ConsortError, errorMessage } from "../util/errors.js";
import type { Logger } from "../util/logger.js";
import { TxPoolError, type TxPoolErrorCode } from "./errors.js";
import { effectiveGasPrice, gasFeeCap, INITCODE_BYTES_MAX, intrinsicGas } from "./gas.js";
import type {
  AddResult,
  TxAddedListener,
  TxOrigin,
  TxPoolDeps,
  TxPoolInterface,
  TxPoolStats,
} from "./interface.js";
import { resolveTxPoolOptions, type TxPoolOptions, type TxPoolOptionsInput } from "./options.js";

/** One pooled transaction with its bookkeeping. */
interface Entry {
  tx: Transaction;
  /** hex of tx.hash (map key). */
  key: string;
  senderKey: string;
  size: number;
  addedAtMs: number;
  /** Arrival counter: the order sealing follows across senders. */
  seq: number;
}

/** The pending Ethereum txs of one sender, by nonce. `base` is the next nonce committed state expects. */
interface SenderQueue {
  base: bigint;
  byNonce: Map<bigint, Entry>;
}

/** Results of the async reads an admission needs; absent when not needed. */
interface StateReads {
  accountNonce?: bigint;
  balance?: bigint;
  nonceInLedger?: boolean;
}

const TIP_ABOVE_FEE_CAP = "max priority fee per gas higher than max fee per gas";

/** An admission retries its state reads when a block commits meanwhile, at most this many times. */
const READ_ATTEMPTS_MAX = 3;

function keyOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function reject(code: TxPoolErrorCode, message: string, meta: Record<string, unknown> = {}): TxPoolError {
  return new TxPoolError(code, message, meta);
}

function alreadyKnown(key: string): TxPoolError {
  return reject("TXPOOL_ALREADY_KNOWN", "already known", { hash: `0x${key}` });
}

/**
 * The transaction pool: validates and holds pending transactions (Ethereum types 0/1/2 and native 0x7c), hands
 * the leader batches to seal, and forgets them when their block commits.
 *
 * Concurrency: `add` does its async reads (account nonce, balance, ledger nonce) first, then re-checks every
 * pool-dependent rule and inserts in one synchronous section, so concurrent adds cannot race. A read that
 * straddles a block commit is redone (commit epoch).
 *
 * Sealing does not remove: sealed txs are "in flight" until `onBlockCommitted` removes them or `releaseSealed`
 * makes them sealable again (failed proposal, view change). In-flight txs are never sealed twice nor expired.
 */
export class TxPool implements TxPoolInterface {
  readonly opts: TxPoolOptions;
  private readonly deps: TxPoolDeps;
  private readonly log: Logger;
  private readonly now: () => number;

  /** Every pooled tx by hash, in arrival order (Map insertion order). */
  private readonly byHash = new Map<string, Entry>();
  private readonly senders = new Map<string, SenderQueue>();
  /** Native nonce (hex) → hash key of the pooled tx that holds it. */
  private readonly nativeNonces = new Map<string, string>();
  private readonly nativeBySender = new Map<string, number>();
  /** Native blockLimit → hash keys, to drop expired ones on commit. */
  private readonly byBlockLimit = new Map<number, Set<string>>();
  private readonly inFlight = new Set<string>();
  /** Refused by the executor for now (balance, nonce, block full): not sealed again until the next commit. */
  private readonly parked = new Set<string>();
  /** Admissions in progress by hash: a concurrent duplicate waits for the first and is "already known". */
  private readonly adding = new Map<string, Promise<Transaction>>();
  private readonly listeners = new Set<TxAddedListener>();
  private readonly rejected: Record<string, number> = {};

  private totalBytes = 0;
  private nativeCount = 0;
  private seq = 0;
  /** Incremented on each committed block. */
  private epoch = 0;
  private expiredCount = 0;
  private staleCount = 0;

  constructor(opts: TxPoolOptionsInput, deps: TxPoolDeps) {
    this.opts = resolveTxPoolOptions(opts);
    this.deps = deps;
    this.log = deps.logger;
    this.now = deps.now ?? Date.now;
  }

  // ---------------------------------------------------------------- admission

  /** Validates and adds one signed raw tx. Throws TxPoolError (geth wording) when refused. */
  async add(raw: Uint8Array, opts: { origin?: TxOrigin } = {}): Promise<Transaction> {
    const tx = await this.admitRaw(raw);
    this.emit([tx], opts.origin ?? "local");
    return tx;
  }

  /** Adds many raw txs (gossip); one result per input, in order; never throws for a bad tx. One event. */
  async addBatch(raws: Uint8Array[], opts: { origin?: TxOrigin } = {}): Promise<AddResult[]> {
    const results = await Promise.all(
      raws.map((raw) =>
        this.admitRaw(raw).then(
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
    if (added.length > 0) this.emit(added, opts.origin ?? "peer");
    return results;
  }

  /**
   * Adds a tx already decoded and sender-recovered by a trusted path (our own disk, a proposal we verified).
   * Skips decoding and the signature; every other rule applies.
   */
  async addDecoded(tx: Transaction, opts: { origin?: TxOrigin } = {}): Promise<Transaction> {
    const added = await this.admitGuarded(keyOf(tx.hash), () => this.admitDecoded(tx, keyOf(tx.hash)));
    this.emit([added], opts.origin ?? "peer");
    return added;
  }

  private async admitRaw(raw: Uint8Array): Promise<Transaction> {
    if (raw.length > this.opts.txBytesMax) {
      const message = `oversized data: transaction size ${raw.length}, limit ${this.opts.txBytesMax}`;
      throw this.count(reject("TXPOOL_OVERSIZED", message, { size: raw.length }));
    }
    const hash = keccak256(raw);
    const key = keyOf(hash);
    return this.admitGuarded(key, () => this.admitNew(raw, key, hash));
  }

  /** Dedupe by hash, including admissions still in progress; counts rejections by code. */
  private async admitGuarded(key: string, admit: () => Promise<Transaction>): Promise<Transaction> {
    try {
      if (this.byHash.has(key)) throw alreadyKnown(key);
      const inProgress = this.adding.get(key);
      if (inProgress !== undefined) {
        await inProgress; // the first admission's error, if any, is ours too
        throw alreadyKnown(key);
      }
      const promise = admit();
      this.adding.set(key, promise);
      try {
        return await promise;
      } finally {
        this.adding.delete(key);
      }
    } catch (err) {
      throw this.count(err);
    }
  }

  private async admitNew(raw: Uint8Array, key: string, hash: Hash): Promise<Transaction> {
    this.pruneExpired();
    this.checkRoom(raw.length, 1);
    let tx: Transaction;
    try {
      tx = decodeTransaction(raw, { chainId: this.opts.chainId, hash });
    } catch (err) {
      throw this.invalid(err);
    }
    return this.admitDecoded(tx, key);
  }

  private async admitDecoded(tx: Transaction, key: string): Promise<Transaction> {
    this.validateStatic(tx);
    this.precheckPool(tx, key);
    const refused = (await this.deps.permissionCheck?.(tx)) ?? null;
    if (refused !== null) throw reject("TXPOOL_NOT_PERMITTED", refused);
    const reads = await this.readState(tx);
    this.insert(tx, key, reads);
    return tx;
  }

  private invalid(err: unknown): TxPoolError {
    const codecCode = err instanceof ConsortError ? err.code : undefined;
    if (codecCode === "CODEC_INVALID_FIELD" && (err as ConsortError).meta.field === "maxPriorityFeePerGas") {
      return new TxPoolError("TXPOOL_INVALID", TIP_ABOVE_FEE_CAP, { codecCode }, { cause: err });
    }
    // geth: a signature or chain id the signer rejects is "invalid sender: …"
    const message =
      codecCode === "CODEC_WRONG_CHAIN_ID" || codecCode === "CODEC_INVALID_SIGNATURE"
        ? `invalid sender: ${errorMessage(err)}`
        : `invalid transaction: ${errorMessage(err)}`;
    return new TxPoolError("TXPOOL_INVALID", message, { codecCode }, { cause: err });
  }

  /** Rules that depend on the tx alone (and dynamic config): no pool state. */
  private validateStatic(tx: Transaction): void {
    if (tx.raw.length > this.opts.txBytesMax) {
      throw reject("TXPOOL_OVERSIZED", `oversized data: transaction size ${tx.raw.length}`);
    }
    if (tx.chainId !== this.opts.chainId) {
      throw reject("TXPOOL_INVALID", "invalid sender: invalid chain id for signer", {
        chainId: tx.chainId.toString(),
      });
    }
    if (tx.type === TxType.Native) this.validateNative(tx);
    if (tx.to === null && tx.input.length > INITCODE_BYTES_MAX) {
      throw reject(
        "TXPOOL_OVERSIZED",
        `max initcode size exceeded: code size ${tx.input.length} limit ${INITCODE_BYTES_MAX}`,
      );
    }
    const gasLimitMax = this.deps.txGasLimit();
    if (tx.gasLimit > gasLimitMax) {
      throw reject("TXPOOL_GAS_LIMIT", `exceeds block gas limit: gas ${tx.gasLimit}, limit ${gasLimitMax}`);
    }
    const intrinsic = intrinsicGas(tx);
    if (tx.gasLimit < intrinsic) {
      throw reject(
        "TXPOOL_GAS_LIMIT",
        `intrinsic gas too low: gas ${tx.gasLimit}, minimum needed ${intrinsic}`,
      );
    }
    if (tx.type === TxType.FeeMarket && tx.maxPriorityFeePerGas > tx.maxFeePerGas) {
      throw reject("TXPOOL_INVALID", TIP_ABOVE_FEE_CAP);
    }
    const minPrice = this.minGasPrice();
    const price = effectiveGasPrice(tx);
    if (price < minPrice) {
      throw reject(
        "TXPOOL_UNDERPRICED",
        `transaction underpriced: gas price ${price}, minimum needed ${minPrice}`,
      );
    }
  }

  private validateNative(tx: NativeTx): void {
    if (tx.groupId !== this.opts.groupId) {
      throw reject(
        "TXPOOL_WRONG_GROUP",
        `invalid group id: expected ${this.opts.groupId}, got ${tx.groupId}`,
      );
    }
    this.checkBlockLimit(tx);
  }

  private checkBlockLimit(tx: NativeTx): void {
    const height = this.deps.chain.height();
    if (tx.blockLimit <= height) {
      throw reject(
        "TXPOOL_BLOCK_LIMIT",
        `block limit expired: blockLimit ${tx.blockLimit}, height ${height}`,
      );
    }
    if (tx.blockLimit > height + this.opts.blockLimitWindow) {
      throw reject(
        "TXPOOL_BLOCK_LIMIT",
        `block limit too far ahead: blockLimit ${tx.blockLimit}, max ${height + this.opts.blockLimitWindow}`,
      );
    }
  }

  /** Cheap pool checks before the async reads (all are repeated in `insert`). */
  private precheckPool(tx: Transaction, key: string): void {
    if (this.byHash.has(key)) throw alreadyKnown(key);
    if (tx.type === TxType.Native) {
      if (this.nativeNonces.has(keyOf(tx.nonce))) throw this.nonceUsed(tx);
      return;
    }
    const queue = this.senders.get(keyOf(tx.sender));
    if (queue !== undefined) this.checkEthereumNonce(tx, queue.base, queue);
  }

  private async readState(tx: Transaction): Promise<StateReads> {
    const { state, chain } = this.deps;
    const cost = this.cost(tx);
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

  /** What the sender's balance must cover. */
  private cost(tx: Transaction): bigint {
    return this.opts.feesCharged ? tx.value + tx.gasLimit * gasFeeCap(tx) : tx.value;
  }

  private checkBalance(tx: Transaction, reads: StateReads): void {
    const cost = this.cost(tx);
    if (cost === 0n) return;
    const balance = reads.balance ?? 0n;
    if (balance < cost) {
      throw reject(
        "TXPOOL_INSUFFICIENT_FUNDS",
        `insufficient funds for gas * price + value: balance ${balance}, tx cost ${cost}`,
        { balance: balance.toString(), cost: cost.toString() },
      );
    }
  }

  /** Throws when the pool cannot take `count` more txs totalling `size` more bytes. */
  private checkRoom(size: number, count: number): void {
    if (this.byHash.size + count > this.opts.countMax || this.totalBytes + size > this.opts.bytesMax) {
      throw reject("TXPOOL_FULL", "txpool is full", { count: this.byHash.size, bytes: this.totalBytes });
    }
  }

  private checkEthereumNonce(tx: EthereumTx, base: bigint, queue: SenderQueue | undefined): void {
    if (tx.nonce < base) {
      throw reject("TXPOOL_NONCE_TOO_LOW", `nonce too low: next nonce ${base}, tx nonce ${tx.nonce}`);
    }
    const limit = base + BigInt(this.opts.nonceGapMax);
    if (tx.nonce >= limit) {
      throw reject(
        "TXPOOL_NONCE_TOO_HIGH",
        `nonce too high: next nonce ${base}, tx nonce ${tx.nonce}, limit ${limit}`,
      );
    }
    const existing = queue?.byNonce.get(tx.nonce);
    if (existing !== undefined && !this.canReplace(existing, tx)) {
      throw reject("TXPOOL_UNDERPRICED", "replacement transaction underpriced", {
        nonce: tx.nonce.toString(),
      });
    }
  }

  /** geth's rule: not in a proposal, and the price bumped by priceBumpPercent (strictly higher when it was 0). */
  private canReplace(existing: Entry, tx: Transaction): boolean {
    if (this.inFlight.has(existing.key)) return false;
    const oldPrice = effectiveGasPrice(existing.tx);
    const newPrice = effectiveGasPrice(tx);
    return newPrice > oldPrice && newPrice * 100n >= oldPrice * BigInt(100 + this.opts.priceBumpPercent);
  }

  private nonceUsed(tx: NativeTx): TxPoolError {
    return reject("TXPOOL_NONCE_USED", "nonce already used", { nonce: `0x${keyOf(tx.nonce)}` });
  }

  // ---------------------------------------------------------------- the synchronous insert section

  private insert(tx: Transaction, key: string, reads: StateReads): void {
    if (this.byHash.has(key)) throw alreadyKnown(key);
    if (tx.type === TxType.Native) this.insertNative(tx, key, reads);
    else this.insertEthereum(tx, key, reads);
  }

  private insertEthereum(tx: EthereumTx, key: string, reads: StateReads): void {
    const senderKey = keyOf(tx.sender);
    let queue = this.senders.get(senderKey);
    let base = reads.accountNonce ?? 0n;
    if (queue !== undefined && queue.base > base) base = queue.base;
    this.checkEthereumNonce(tx, base, queue);
    this.checkBalance(tx, reads);
    const existing = queue?.byNonce.get(tx.nonce);
    if (existing !== undefined) {
      this.checkRoom(tx.raw.length - existing.size, 0);
      this.remove(existing);
      this.log.debug({ hash: `0x${existing.key}`, by: `0x${key}` }, "tx replaced");
      queue = this.senders.get(senderKey);
    } else {
      this.checkRoom(tx.raw.length, 1);
    }
    if (queue === undefined) {
      queue = { base, byNonce: new Map() };
      this.senders.set(senderKey, queue);
    } else if (base > queue.base) {
      queue.base = base;
      this.dropBelowBase(queue);
    }
    const entry = this.newEntry(tx, key, senderKey);
    queue.byNonce.set(tx.nonce, entry);
  }

  private insertNative(tx: NativeTx, key: string, reads: StateReads): void {
    this.checkBlockLimit(tx); // the height may have moved during the reads
    const nonceKey = keyOf(tx.nonce);
    if (reads.nonceInLedger === true || this.nativeNonces.has(nonceKey)) throw this.nonceUsed(tx);
    const senderKey = keyOf(tx.sender);
    const senderCount = this.nativeBySender.get(senderKey) ?? 0;
    if (senderCount >= this.opts.nativeSenderCountMax) {
      throw reject("TXPOOL_FULL", "txpool is full: account limit exceeded", { sender: `0x${senderKey}` });
    }
    this.checkBalance(tx, reads);
    this.checkRoom(tx.raw.length, 1);
    this.newEntry(tx, key, senderKey);
    this.nativeNonces.set(nonceKey, key);
    this.nativeBySender.set(senderKey, senderCount + 1);
    this.nativeCount++;
    let bucket = this.byBlockLimit.get(tx.blockLimit);
    if (bucket === undefined) {
      bucket = new Set();
      this.byBlockLimit.set(tx.blockLimit, bucket);
    }
    bucket.add(key);
  }

  private newEntry(tx: Transaction, key: string, senderKey: string): Entry {
    const entry: Entry = { tx, key, senderKey, size: tx.raw.length, addedAtMs: this.now(), seq: this.seq++ };
    this.byHash.set(key, entry);
    this.totalBytes += entry.size;
    return entry;
  }

  /** Removes an entry from every index. */
  private remove(entry: Entry): void {
    if (this.byHash.get(entry.key) !== entry) return;
    this.byHash.delete(entry.key);
    this.inFlight.delete(entry.key);
    this.parked.delete(entry.key);
    this.totalBytes -= entry.size;
    const tx = entry.tx;
    if (tx.type === TxType.Native) {
      const nonceKey = keyOf(tx.nonce);
      if (this.nativeNonces.get(nonceKey) === entry.key) this.nativeNonces.delete(nonceKey);
      const n = (this.nativeBySender.get(entry.senderKey) ?? 1) - 1;
      if (n > 0) this.nativeBySender.set(entry.senderKey, n);
      else this.nativeBySender.delete(entry.senderKey);
      this.nativeCount--;
      const bucket = this.byBlockLimit.get(tx.blockLimit);
      bucket?.delete(entry.key);
      if (bucket?.size === 0) this.byBlockLimit.delete(tx.blockLimit);
      return;
    }
    const queue = this.senders.get(entry.senderKey);
    if (queue === undefined) return;
    if (queue.byNonce.get(tx.nonce) === entry) queue.byNonce.delete(tx.nonce);
    if (queue.byNonce.size === 0) this.senders.delete(entry.senderKey);
  }

  private dropBelowBase(queue: SenderQueue): void {
    for (const [nonce, entry] of queue.byNonce) {
      if (nonce < queue.base) {
        this.remove(entry);
        this.staleCount++;
      }
    }
  }

  // ---------------------------------------------------------------- sealing

  /**
   * The txs the leader proposes next, at most `countMax` (and `gasMax` of summed gas limits): arrival order across
   * senders; an Ethereum sender's txs only in consecutive nonce order from its account nonce (skipping its txs
   * already in flight), so a gap holds the rest back; native txs whose blockLimit is still ahead of the height.
   * The returned txs are marked in flight and not sealed again until released.
   */
  seal(countMax: number, gasMax?: bigint): Transaction[] {
    this.pruneExpired();
    const out: Transaction[] = [];
    if (countMax <= 0) return out;
    const height = this.deps.chain.height();
    let gas = 0n;
    const fits = (tx: Transaction): boolean => gasMax === undefined || gas + tx.gasLimit <= gasMax;
    const take = (entry: Entry): void => {
      this.inFlight.add(entry.key);
      out.push(entry.tx);
      gas += entry.tx.gasLimit;
    };
    /** Per sender: the next nonce to seal, or null when the sender is blocked for this seal. */
    const cursors = new Map<string, bigint | null>();
    for (const entry of this.byHash.values()) {
      if (out.length >= countMax) break;
      if (this.inFlight.has(entry.key)) continue;
      const tx = entry.tx;
      if (tx.type === TxType.Native) {
        if (tx.blockLimit > height && !this.parked.has(entry.key) && fits(tx)) take(entry);
        continue;
      }
      const queue = this.senders.get(entry.senderKey);
      if (queue === undefined) continue;
      const known = cursors.get(entry.senderKey);
      let cursor: bigint | null = known !== undefined ? known : this.firstUnsealed(queue);
      if (cursor === null || tx.nonce !== cursor) continue;
      // Take this tx and the consecutive ones after it that arrived earlier (they were held back by the gap).
      for (let next = queue.byNonce.get(cursor); next !== undefined; next = queue.byNonce.get(cursor)) {
        if (!this.inFlight.has(next.key)) {
          if (this.parked.has(next.key)) {
            cursor = null; // a parked tx holds its sender's later nonces back
            break;
          }
          if (next.seq > entry.seq || out.length >= countMax) break;
          if (!fits(next.tx)) {
            cursor = null;
            break;
          }
          take(next);
        }
        cursor++;
      }
      cursors.set(entry.senderKey, cursor);
    }
    return out;
  }

  private firstUnsealed(queue: SenderQueue): bigint {
    let nonce = queue.base;
    for (let e = queue.byNonce.get(nonce); e !== undefined && this.inFlight.has(e.key); ) {
      nonce++;
      e = queue.byNonce.get(nonce);
    }
    return nonce;
  }

  /**
   * True when the pool holds work for consensus: a tx in flight (in a proposal) or one `seal` would return now.
   * False when every pooled tx is held back (an Ethereum nonce gap): the view timer need not run for those.
   */
  hasWork(): boolean {
    if (this.inFlight.size > 0) return true;
    // Nothing in flight: a sender's txs are sealable iff its next nonce is pooled (and not parked).
    for (const queue of this.senders.values()) {
      const next = queue.byNonce.get(queue.base);
      if (next !== undefined && !this.parked.has(next.key)) return true;
    }
    if (this.nativeCount > 0) {
      const height = this.deps.chain.height();
      for (const [blockLimit, bucket] of this.byBlockLimit) {
        if (blockLimit <= height) continue;
        for (const key of bucket) if (!this.parked.has(key)) return true;
      }
    }
    return false;
  }

  /**
   * The executor refused these txs for now (insufficient balance, nonce gap, block full): they leave "in flight"
   * and are not sealed again (nor count as work for the view timer) until the next block commits, when the state
   * that refused them may have changed. Without this the leader would rebuild the same refused tx every tick.
   */
  park(hashes: Hash[]): void {
    for (const h of hashes) {
      const key = keyOf(h);
      if (!this.byHash.has(key)) continue;
      this.inFlight.delete(key);
      this.parked.add(key);
    }
  }

  /** Marks pooled txs as in flight (e.g. a replica that voted for a proposal carrying them). Unknown ones ignored. */
  markSealed(hashes: Hash[]): void {
    for (const h of hashes) {
      const key = keyOf(h);
      if (this.byHash.has(key)) this.inFlight.add(key);
    }
  }

  /** Makes in-flight txs sealable again (their proposal failed); all of them when `hashes` is omitted. */
  releaseSealed(hashes?: Hash[]): void {
    if (hashes === undefined) {
      this.inFlight.clear();
      return;
    }
    for (const h of hashes) this.inFlight.delete(keyOf(h));
  }

  /** Removes these txs for good (e.g. the executor refused them when building a block). Returns how many. */
  drop(hashes: Hash[]): number {
    let dropped = 0;
    for (const h of hashes) {
      const entry = this.byHash.get(keyOf(h));
      if (entry === undefined) continue;
      this.remove(entry);
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
    const touched = new Set<SenderQueue>();
    for (const tx of txs) {
      const entry = this.byHash.get(keyOf(tx.hash));
      if (entry !== undefined) this.remove(entry);
      if (tx.type === TxType.Native) {
        const holder = this.nativeNonces.get(keyOf(tx.nonce));
        const other = holder === undefined ? undefined : this.byHash.get(holder);
        if (other !== undefined) {
          this.remove(other);
          this.staleCount++;
        }
        continue;
      }
      const queue = this.senders.get(keyOf(tx.sender));
      if (queue !== undefined && tx.nonce + 1n > queue.base) {
        queue.base = tx.nonce + 1n;
        touched.add(queue);
      }
    }
    for (const queue of touched) this.dropBelowBase(queue);
    this.parked.clear(); // the state changed: refused txs may be valid now
    for (const [blockLimit, bucket] of this.byBlockLimit) {
      if (blockLimit > height) continue;
      for (const key of bucket) {
        const entry = this.byHash.get(key);
        if (entry !== undefined) {
          this.remove(entry);
          this.staleCount++;
        }
      }
      this.byBlockLimit.delete(blockLimit);
    }
    this.pruneExpired();
  }

  /** Drops txs older than ttlMs (not in flight). Returns how many. Called by add, seal and commits. */
  pruneExpired(): number {
    const cutoff = this.now() - this.opts.ttlMs;
    let dropped = 0;
    for (const entry of this.byHash.values()) {
      if (entry.addedAtMs > cutoff) break; // arrival order = time order
      if (this.inFlight.has(entry.key)) continue;
      this.remove(entry);
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
    return this.byHash.get(keyOf(hash))?.tx;
  }

  has(hash: Hash): boolean {
    return this.byHash.has(keyOf(hash));
  }

  getMany(hashes: Hash[]): (Transaction | undefined)[] {
    return hashes.map((h) => this.byHash.get(keyOf(h))?.tx);
  }

  /** The hashes (of those given) the pool does not hold: what a replica must fetch for a proposal. */
  missing(hashes: Hash[]): Hash[] {
    return hashes.filter((h) => !this.byHash.has(keyOf(h)));
  }

  /** Next nonce for eth_getTransactionCount "pending": account nonce + the consecutive pending txs. */
  async pendingNonce(address: Address): Promise<bigint> {
    const stateNonce = await this.deps.state.getAccountNonce(address);
    const queue = this.senders.get(keyOf(address));
    let nonce = queue !== undefined && queue.base > stateNonce ? queue.base : stateNonce;
    while (queue?.byNonce.has(nonce)) nonce++;
    return nonce;
  }

  /** Pooled txs in arrival order, at most min(countMax, opts.pendingViewMax). */
  pending(countMax = this.opts.pendingViewMax): Transaction[] {
    const limit = Math.min(countMax, this.opts.pendingViewMax);
    const out: Transaction[] = [];
    for (const entry of this.byHash.values()) {
      if (out.length >= limit) break;
      out.push(entry.tx);
    }
    return out;
  }

  size(): number {
    return this.byHash.size;
  }

  bytes(): number {
    return this.totalBytes;
  }

  stats(): TxPoolStats {
    return {
      count: this.byHash.size,
      bytes: this.totalBytes,
      senders: this.senders.size,
      nativeCount: this.nativeCount,
      inFlight: this.inFlight.size,
      rejected: { ...this.rejected },
      expired: this.expiredCount,
      stale: this.staleCount,
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

  private minGasPrice(): bigint {
    const m = this.opts.minGasPrice;
    return typeof m === "function" ? m() : m;
  }

  private count(err: unknown): unknown {
    if (err instanceof TxPoolError) {
      this.rejected[err.code] = (this.rejected[err.code] ?? 0) + 1;
      this.log.trace({ code: err.code, err: err.message }, "tx rejected");
    }
    return err;
  }
}
