import { Bucket, bytesKey, numberKey } from "./buckets.js";
import { NATIVE_NONCE_PRUNE_BLOCKS_MAX } from "./options.js";
import { decodeFramedList, decodeNumber, type HeadRecord } from "./records.js";
import { type BatchOp, type LedgerStore, view } from "./store.js";

function nonceWindowKey(nonce: Uint8Array): string {
  return Buffer.from(nonce.buffer, nonce.byteOffset, nonce.byteLength).toString("latin1");
}

/**
 * The native-nonce anti-replay window of the ledger: the nonces of the last nativeNonceWindowBlocks blocks, in
 * memory while they fit (LevelDB otherwise), and the pruning of the stored nonces of blocks that left the window.
 */
export class NonceWindow {
  private readonly store: LedgerStore;
  private readonly windowBlocks: number;
  /** Bound of the in-memory window (LedgerOptions.nativeNonceMemoryEntriesMax); beyond it has() reads LevelDB. */
  private readonly memoryEntriesMax: number;
  private readonly head: () => HeadRecord | null;
  /**
   * The native nonces of the newest blocks of the anti-replay window in memory (nonce as a latin1 string → block
   * number), at most memoryEntriesMax: while they cover the whole window, has() reads no LevelDB.
   */
  private readonly window = new Map<string, number>();
  /** The nonce keys of each block in window, oldest block first (for pruning). */
  private readonly byBlock = new Map<number, string[]>();
  /** Every block from this one to the head has its nonces in window (older ones: ask LevelDB). */
  private from = Number.MAX_SAFE_INTEGER;

  constructor(
    store: LedgerStore,
    bounds: { windowBlocks: number; memoryEntriesMax: number },
    head: () => HeadRecord | null,
  ) {
    this.store = store;
    this.windowBlocks = bounds.windowBlocks;
    this.memoryEntriesMax = bounds.memoryEntriesMax;
    this.head = head;
  }

  /** The window ends at the head, or at `windowEndHeight` when given (blocks above the head count as absent). */
  async has(nonces: Uint8Array[], windowEndHeight?: number): Promise<boolean[]> {
    const head = this.head();
    if (head === null || nonces.length === 0) return nonces.map(() => false);
    const windowStart = (windowEndHeight ?? head.number) - this.windowBlocks + 1;
    if (this.from <= Math.max(0, windowStart)) {
      return nonces.map((n) => {
        const m = this.window.get(nonceWindowKey(n));
        return m !== undefined && m <= head.number && m >= windowStart;
      });
    }
    const keys = nonces.map((n) => bytesKey(Bucket.nativeNonce, n));
    const values = await this.store.getMany(keys);
    return keys.map((key, i) => {
      const v = values[i];
      if (v === undefined) return false;
      const m = this.store.decodeRecord(key, v, decodeNumber);
      return m <= head.number && m >= windowStart;
    });
  }

  /** Fills the in-memory window from the per-block nonce lists of the last nativeNonceWindowBlocks blocks. */
  async load(): Promise<void> {
    const head = this.head();
    if (head === null) {
      this.from = 0;
      return;
    }
    const from = Math.max(0, head.number - this.windowBlocks + 1);
    this.from = from;
    // Raw iterator (no error mapping): open() maps what fails here.
    const lists = await this.store.db
      .iterator({
        gte: numberKey(Bucket.nativeNoncesByBlock, from),
        lte: numberKey(Bucket.nativeNoncesByBlock, head.number),
      })
      .all();
    for (const [rawKey, rawValue] of lists) {
      const listKey = view(rawKey);
      const number = this.store.decodeRecord(listKey, listKey.subarray(1), decodeNumber);
      this.remember(number, this.store.decodeRecord(listKey, view(rawValue), decodeFramedList));
    }
  }

  /**
   * Adds block `number`'s nonces (blocks arrive in order) to the in-memory window and drops the blocks that left the
   * window, then the oldest ones while over memoryEntriesMax (their checks go to LevelDB until they expire).
   */
  remember(number: number, nonces: Uint8Array[]): void {
    const window = this.window;
    const oldestKept = number - this.windowBlocks + 1;
    const keys = nonces.map(nonceWindowKey);
    for (const [n, old] of this.byBlock) {
      if (n >= oldestKept && window.size + keys.length <= this.memoryEntriesMax) break;
      for (const k of old) if (window.get(k) === n) window.delete(k);
      this.byBlock.delete(n);
      if (n >= oldestKept) this.from = Math.max(this.from, n + 1);
    }
    if (keys.length > this.memoryEntriesMax) {
      this.from = number + 1;
      return;
    }
    for (const k of keys) window.set(k, number);
    if (keys.length > 0) this.byBlock.set(number, keys);
  }

  /**
   * Adds to `ops` the deletion of the nonce lists of blocks out of the window when block `number` commits (<= number -
   * window) and of their nonce index entries (unless a later block reused the nonce). Normally one block per commit;
   * a range scan so that a changed window or an interrupted pruning leaves nothing behind.
   */
  async pushPruneOps(number: number, ops: BatchOp[]): Promise<void> {
    const upTo = number - this.windowBlocks;
    if (upTo < 0) return;
    const lists = await this.store.range({
      gte: numberKey(Bucket.nativeNoncesByBlock, 0),
      lte: numberKey(Bucket.nativeNoncesByBlock, upTo),
      limit: NATIVE_NONCE_PRUNE_BLOCKS_MAX,
    });
    for (const [rawKey, rawValue] of lists) {
      const listKey = view(rawKey);
      const listNumber = this.store.decodeRecord(listKey, listKey.subarray(1), decodeNumber);
      const nonces = this.store.decodeRecord(listKey, view(rawValue), decodeFramedList);
      const keys = nonces.map((n) => bytesKey(Bucket.nativeNonce, n));
      const values = await this.store.getMany(keys);
      keys.forEach((key, i) => {
        const v = values[i];
        if (v !== undefined && this.store.decodeRecord(key, v, decodeNumber) === listNumber)
          ops.push({ type: "del", key });
      });
      ops.push({ type: "del", key: listKey });
    }
  }
}
