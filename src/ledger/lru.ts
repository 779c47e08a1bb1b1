/**
 * A bounded LRU map (Map insertion order = recency). Each entry has a weight (default 1); the total weight never
 * exceeds `weightMax`, an entry heavier than `weightMax` is not cached at all.
 */
export class LruCache<K, V> {
  private readonly map = new Map<K, { value: V; weight: number }>();
  private readonly weightMax: number;
  private readonly weightOf: (value: V) => number;
  private weightTotal = 0;

  constructor(weightMax: number, weightOf: (value: V) => number = () => 1) {
    this.weightMax = weightMax;
    this.weightOf = weightOf;
  }

  get size(): number {
    return this.map.size;
  }

  get weight(): number {
    return this.weightTotal;
  }

  get(key: K): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, entry);
    return entry.value;
  }

  /** Whether `key` is cached (its recency unchanged). */
  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): void {
    this.delete(key);
    const weight = this.weightOf(value);
    if (weight > this.weightMax) return;
    this.map.set(key, { value, weight });
    this.weightTotal += weight;
    while (this.weightTotal > this.weightMax) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.delete(oldest.value);
    }
  }

  delete(key: K): void {
    const entry = this.map.get(key);
    if (entry === undefined) return;
    this.map.delete(key);
    this.weightTotal -= entry.weight;
  }

  clear(): void {
    this.map.clear();
    this.weightTotal = 0;
  }
}
