import type { NativeTx, Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";

/** One pooled transaction with its bookkeeping. */
export interface Entry {
  tx: Transaction;
  /** hex of tx.hash (map key). */
  key: string;
  senderKey: string;
  size: number;
  addedAtMs: number;
  /** Arrival counter: sealing visits senders in the order of their oldest pending tx. */
  seq: number;
}

/**
 * Everything one sender has pooled. `base` is the next Ethereum nonce committed state expects (advanced by
 * commits); `byNonce` its Ethereum txs; `native` its native txs in arrival order. `count` and `bytes` cover both
 * kinds: they are what the per-sender bounds are checked against.
 */
export interface SenderQueue {
  key: string;
  base: bigint;
  byNonce: Map<bigint, Entry>;
  native: Map<string, Entry>;
  count: number;
  bytes: number;
  /** Memo of nextFreeNonce: every nonce in [base, freeHint) is pooled (kept true by `remove`). */
  freeHint: bigint;
}

export function keyOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/**
 * The pending transactions, indexed by hash (arrival order), by sender (Ethereum nonce order and native arrival
 * order), by native nonce and by native blockLimit, with the pool- and sender-wide totals, the in-flight marks
 * (sealed into a proposal) and the parked marks (refused by the executor until the next commit).
 *
 * Pure bookkeeping: every rule (what may enter, what is evicted) is decided by the callers; this class only keeps
 * the indexes consistent. Senders are also kept in buckets by pending count so the largest holder is found in
 * O(1) when the pool is full (see `largestSenders`).
 */
export class PendingSet {
  /** Every pooled tx by hash, in arrival order (Map insertion order). */
  readonly byHash = new Map<string, Entry>();
  readonly senders = new Map<string, SenderQueue>();
  /** Native nonce (hex) → hash key of the pooled tx that holds it. */
  readonly nativeNonces = new Map<string, string>();
  /** Native blockLimit → hash keys, to drop expired ones on commit. */
  readonly byBlockLimit = new Map<number, Set<string>>();
  readonly inFlight = new Set<string>();
  /** Refused by the executor for now (balance, nonce, block full): not sealed again until the next commit. */
  readonly parked = new Set<string>();
  /** Pending count → keys of the senders holding exactly that many; `maxCount` is the highest non-empty one. */
  private readonly bySenderCount = new Map<number, Set<string>>();
  private maxCount = 0;

  totalBytes = 0;
  nativeCount = 0;
  private seq = 0;

  size(): number {
    return this.byHash.size;
  }

  get(key: string): Entry | undefined {
    return this.byHash.get(key);
  }

  sender(senderKey: string): SenderQueue | undefined {
    return this.senders.get(senderKey);
  }

  /** The sender's queue, created with `base` if it has none. */
  senderOrCreate(senderKey: string, base: bigint): SenderQueue {
    let queue = this.senders.get(senderKey);
    if (queue === undefined) {
      queue = {
        key: senderKey,
        base,
        byNonce: new Map(),
        native: new Map(),
        count: 0,
        bytes: 0,
        freeHint: base,
      };
      this.senders.set(senderKey, queue);
    }
    return queue;
  }

  /** Adds a tx to every index (the caller checked every rule). */
  insert(tx: Transaction, key: string, queue: SenderQueue, nowMs: number): Entry {
    const entry: Entry = {
      tx,
      key,
      senderKey: queue.key,
      size: tx.raw.length,
      addedAtMs: nowMs,
      seq: this.seq++,
    };
    this.byHash.set(key, entry);
    this.totalBytes += entry.size;
    this.setCount(queue, queue.count + 1);
    queue.bytes += entry.size;
    if (tx.type === TxType.Native) this.indexNative(tx, entry, queue);
    else queue.byNonce.set(tx.nonce, entry);
    return entry;
  }

  private indexNative(tx: NativeTx, entry: Entry, queue: SenderQueue): void {
    queue.native.set(entry.key, entry);
    this.nativeNonces.set(keyOf(tx.nonce), entry.key);
    this.nativeCount++;
    let bucket = this.byBlockLimit.get(tx.blockLimit);
    if (bucket === undefined) {
      bucket = new Set();
      this.byBlockLimit.set(tx.blockLimit, bucket);
    }
    bucket.add(entry.key);
  }

  /** Removes an entry from every index (no-op if it is no longer pooled). */
  remove(entry: Entry): void {
    if (this.byHash.get(entry.key) !== entry) return;
    this.byHash.delete(entry.key);
    this.inFlight.delete(entry.key);
    this.parked.delete(entry.key);
    this.totalBytes -= entry.size;
    const queue = this.senders.get(entry.senderKey);
    const tx = entry.tx;
    if (tx.type === TxType.Native) {
      const nonceKey = keyOf(tx.nonce);
      if (this.nativeNonces.get(nonceKey) === entry.key) this.nativeNonces.delete(nonceKey);
      this.nativeCount--;
      const bucket = this.byBlockLimit.get(tx.blockLimit);
      bucket?.delete(entry.key);
      if (bucket?.size === 0) this.byBlockLimit.delete(tx.blockLimit);
      queue?.native.delete(entry.key);
    } else if (queue?.byNonce.get(tx.nonce) === entry) {
      queue.byNonce.delete(tx.nonce);
      if (tx.nonce >= queue.base && tx.nonce < queue.freeHint) queue.freeHint = tx.nonce;
    }
    if (queue === undefined) return;
    queue.bytes -= entry.size;
    this.setCount(queue, queue.count - 1);
    if (queue.count === 0) this.senders.delete(queue.key);
  }

  /** Removes the sender's Ethereum txs whose nonce is below its base; returns how many. */
  dropBelowBase(queue: SenderQueue): number {
    let dropped = 0;
    for (const [nonce, entry] of queue.byNonce) {
      if (nonce < queue.base) {
        this.remove(entry);
        dropped++;
      }
    }
    return dropped;
  }

  /**
   * The sender's first Ethereum nonce at or above `from` (>= its base) that no pooled tx holds
   * (eth_getTransactionCount "pending"). Memoized: a sender adding its 4,000th consecutive tx does not walk 4,000.
   */
  nextFreeNonce(queue: SenderQueue, from: bigint): bigint {
    let nonce = from >= queue.base && queue.freeHint > from ? queue.freeHint : from;
    while (queue.byNonce.has(nonce)) nonce++;
    if (from === queue.base) queue.freeHint = nonce;
    return nonce;
  }

  /** Senders holding the most pending txs, and that count. */
  largestSenders(): { count: number; senders: Iterable<string> } {
    return { count: this.maxCount, senders: this.bySenderCount.get(this.maxCount) ?? [] };
  }

  /**
   * The tx that eviction takes from a sender: its newest native tx or its highest-nonce Ethereum tx, whichever
   * arrived last, never one in flight. Taking the highest nonce keeps the sender's remaining txs sealable (no hole).
   */
  evictionCandidate(queue: SenderQueue): Entry | undefined {
    let highest: Entry | undefined;
    for (const entry of queue.byNonce.values()) {
      if (highest === undefined || entry.tx.nonce > highest.tx.nonce) highest = entry;
    }
    if (highest !== undefined && this.inFlight.has(highest.key)) highest = undefined;
    let newestNative: Entry | undefined;
    for (const entry of queue.native.values()) if (!this.inFlight.has(entry.key)) newestNative = entry;
    if (highest === undefined) return newestNative;
    if (newestNative === undefined) return highest;
    return newestNative.seq > highest.seq ? newestNative : highest;
  }

  private setCount(queue: SenderQueue, count: number): void {
    if (queue.count > 0) {
      const bucket = this.bySenderCount.get(queue.count);
      bucket?.delete(queue.key);
      if (bucket?.size === 0) this.bySenderCount.delete(queue.count);
    }
    queue.count = count;
    if (count > 0) {
      let bucket = this.bySenderCount.get(count);
      if (bucket === undefined) {
        bucket = new Set();
        this.bySenderCount.set(count, bucket);
      }
      bucket.add(queue.key);
    }
    if (count > this.maxCount) this.maxCount = count;
    while (this.maxCount > 0 && !this.bySenderCount.has(this.maxCount)) this.maxCount--;
  }
}
