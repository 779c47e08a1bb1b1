import { LRUCache } from "lru-cache";

/**
 * A bounded LRU map. Each entry has a weight (default 1, at least 1); the total weight never exceeds `weightMax`,
 * an entry heavier than `weightMax` is not cached at all.
 *
 * Built on lru-cache (a linked list over indices: a hit moves an index, not a Map entry). It was a Map whose
 * insertion order was the recency: every hit deleted and re-inserted its key, and V8's Map keeps deleted entries in
 * their hash chains until it rehashes, so a hot key walked a chain of its own dead copies (a 16-MiB state cache hit
 * by 64 senders' keys: 0.7 µs per hit when empty, ~4 µs full, and ~10 % of a validator's time under a sustained
 * load), and each eviction walked the holes left at the front of the table by the previous ones.
 */
export class LruCache<K extends {}, V> {
  /** Values are boxed: lru-cache holds no null or undefined values, and V may be null (an absent state key). */
  private readonly cache: LRUCache<K, { value: V }>;
  /** A bound below 1 caches nothing (lru-cache needs a positive maxSize). */
  private readonly disabled: boolean;

  constructor(weightMax: number, weightOf: (value: V) => number = () => 1) {
    this.disabled = weightMax < 1;
    this.cache = new LRUCache<K, { value: V }>({
      maxSize: Math.max(1, weightMax),
      sizeCalculation: (entry) => Math.max(1, weightOf(entry.value)),
    });
  }

  get size(): number {
    return this.cache.size;
  }

  get weight(): number {
    return this.cache.calculatedSize;
  }

  get(key: K): V | undefined {
    return this.cache.get(key)?.value;
  }

  /** Whether `key` is cached (its recency unchanged). */
  has(key: K): boolean {
    return this.cache.has(key);
  }

  set(key: K, value: V): void {
    if (this.disabled) return;
    // lru-cache refuses (and drops any older value of the key) an entry heavier than maxSize.
    this.cache.set(key, { value });
  }

  delete(key: K): void {
    this.cache.delete(key);
  }

  clear(): void {
    this.cache.clear();
  }
}
