import { describe, expect, it } from "vitest";
import { LruCache } from "../../src/ledger/lru.js";

describe("LruCache", () => {
  it("evicts the least recently used entries beyond its weight bound", () => {
    const cache = new LruCache<number, string>(3);
    cache.set(1, "a");
    cache.set(2, "b");
    cache.set(3, "c");
    expect(cache.get(1)).toBe("a"); // 1 is now the most recent
    cache.set(4, "d");
    expect(cache.get(2)).toBeUndefined();
    expect([cache.get(1), cache.get(3), cache.get(4)]).toEqual(["a", "c", "d"]);
    expect(cache.size).toBe(3);
  });

  it("bounds by weight and skips entries heavier than the bound", () => {
    const cache = new LruCache<string, number[]>(10, (v) => v.length);
    cache.set("a", [1, 2, 3, 4]);
    cache.set("b", [1, 2, 3, 4]);
    cache.set("c", [1, 2, 3]); // 11 > 10: evicts a
    expect(cache.get("a")).toBeUndefined();
    expect(cache.weight).toBe(7);
    cache.set("huge", new Array(11).fill(0));
    expect(cache.get("huge")).toBeUndefined();
    expect(cache.weight).toBe(7);
    cache.set("b", [1]); // replacing re-weighs
    expect(cache.weight).toBe(4);
    cache.set("exact", new Array(10).fill(0)); // exactly the bound: kept, alone
    expect(cache.get("exact")).toHaveLength(10);
    expect(cache.weight).toBe(10);
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.weight).toBe(0);
  });

  it("caches null values, has() leaves recency alone, and a bound of 0 caches nothing", () => {
    const cache = new LruCache<string, string | null>(2);
    cache.set("absent", null); // an absent state key is an answer too
    cache.set("x", "1");
    expect(cache.get("absent")).toBeNull();
    expect(cache.has("x")).toBe(true); // x stays the least recently used
    cache.set("y", "2");
    expect([cache.has("x"), cache.get("absent"), cache.get("y")]).toEqual([false, null, "2"]);
    cache.delete("y");
    expect([cache.size, cache.weight]).toEqual([1, 1]);
    const off = new LruCache<string, string>(0);
    off.set("a", "1");
    expect([off.get("a"), off.size]).toEqual([undefined, 0]);
  });
});
