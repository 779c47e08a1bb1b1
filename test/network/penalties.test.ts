import { describe, expect, it } from "vitest";
import { PeerPenalties } from "../../src/network/penalties.js";

function clock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe("PeerPenalties", () => {
  const opts = { threshold: 100, halfLifeMs: 10_000, banDurationMs: 60_000, entriesMax: 3 };

  it("accumulates points and bans at the threshold, for the ban duration", () => {
    const c = clock();
    const p = new PeerPenalties(opts, c.now);
    expect(p.add("a", 60)).toEqual({ points: 60, banned: false });
    expect(p.isBanned("a")).toBe(false);
    expect(p.add("a", 40)).toEqual({ points: 100, banned: true });
    expect(p.isBanned("a")).toBe(true);
    expect(p.banRemainingMs("a")).toBe(60_000);
    // While banned, more points change nothing and do not re-ban.
    expect(p.add("a", 500).banned).toBe(false);
    c.advance(59_999);
    expect(p.isBanned("a")).toBe(true);
    c.advance(1);
    expect(p.isBanned("a")).toBe(false);
    expect(p.points("a")).toBe(0); // a fresh start after the ban
  });

  it("halves points every half-life", () => {
    const c = clock();
    const p = new PeerPenalties(opts, c.now);
    p.add("a", 80);
    c.advance(10_000);
    expect(p.points("a")).toBeCloseTo(40, 6);
    c.advance(10_000);
    expect(p.points("a")).toBeCloseTo(20, 6);
    // 20 + 79 < 100: decay kept it below the threshold.
    expect(p.add("a", 79).banned).toBe(false);
    expect(p.add("a", 1).banned).toBe(true);
  });

  it("ignores negative points and stays bounded in memory", () => {
    const c = clock();
    const p = new PeerPenalties(opts, c.now);
    expect(p.add("a", -50).points).toBe(0);
    for (const [i, key] of ["a", "b", "c", "d", "e"].entries()) p.add(key, 10 + i);
    // entriesMax 3: the lowest scores were evicted first.
    expect(p.points("a")).toBe(0);
    expect(p.points("b")).toBe(0);
    expect(p.points("e")).toBe(14);
    for (const key of ["v", "w", "x", "y", "z"]) p.add(key, 100);
    expect(p.bannedCount()).toBeLessThanOrEqual(3);
  });
});
