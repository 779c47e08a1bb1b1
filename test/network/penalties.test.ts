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

describe("PeerPenalties at the edges", () => {
  const opts = { threshold: 100, halfLifeMs: 10_000, banDurationMs: 60_000, entriesMax: 3 };

  it("keeps exactly entriesMax entries, evicting the one with the fewest points after decay", () => {
    const c = clock();
    const p = new PeerPenalties(opts, c.now);
    p.add("a", 50);
    c.advance(20_000); // a decays to 12.5
    p.add("b", 20);
    p.add("c", 30);
    expect([p.points("a"), p.points("b"), p.points("c")]).toEqual([12.5, 20, 30]); // 3 entries: none evicted
    p.add("d", 40);
    // a had 50 points, but 12.5 now: the fewest.
    expect([p.points("a"), p.points("b"), p.points("c"), p.points("d")]).toEqual([0, 20, 30, 40]);
  });

  it("a clock that steps back does not grow points; a ban ends exactly at its end", () => {
    const c = clock();
    const p = new PeerPenalties(opts, c.now);
    p.add("a", 40);
    c.advance(-5_000);
    expect(p.points("a")).toBe(40);
    expect(p.add("a", 59)).toEqual({ points: 99, banned: false });

    p.add("b", 100);
    expect(p.banRemainingMs("b")).toBe(60_000);
    c.advance(59_000);
    expect(p.banRemainingMs("b")).toBe(1_000);
    expect(p.bannedCount()).toBe(1);
    c.advance(1_000);
    expect(p.bannedCount()).toBe(0); // dropped at its end, before anyone asked isBanned
    expect(p.banRemainingMs("b")).toBe(0);
    expect(p.add("b", 10)).toEqual({ points: 10, banned: false }); // a fresh start
  });

  it("a peer's points are its own, and a banned peer's new points are not counted", () => {
    const c = clock();
    const p = new PeerPenalties(opts, c.now);
    p.add("a", 30);
    p.add("b", 80);
    expect(p.add("b", 30)).toEqual({ points: 110, banned: true });
    expect(p.points("a")).toBe(30);
    expect(p.add("b", 30)).toEqual({ points: 0, banned: false });
    expect(p.isBanned("a")).toBe(false);
  });

  it("on a tie the oldest goes: a peer penalized or banned in the same millisecond as others keeps its entry", () => {
    const c = clock();
    const p = new PeerPenalties(opts, c.now);
    for (const key of ["a", "b", "c", "d"]) p.add(key, 10); // the clock does not move: equal points
    expect(["a", "b", "c", "d"].map((k) => p.points(k))).toEqual([0, 10, 10, 10]);
    for (const key of ["v", "w", "x", "y"]) p.add(key, 100); // equal ends
    expect(["v", "w", "x", "y"].map((k) => p.isBanned(k))).toEqual([false, true, true, true]);
  });

  it("over entriesMax bans, the ones ending soonest go first; forget clears points and ban", () => {
    const c = clock();
    const p = new PeerPenalties(opts, c.now);
    for (const key of ["v", "w", "x", "y"]) {
      p.add(key, 100);
      c.advance(1_000);
    }
    // v's ban ends first: dropped to keep 3.
    expect(["v", "w", "x", "y"].map((k) => p.isBanned(k))).toEqual([false, true, true, true]);
    expect(p.bannedCount()).toBe(3);
    p.add("z", 60);
    p.forget("w");
    p.forget("z");
    expect([p.isBanned("w"), p.points("z"), p.bannedCount()]).toEqual([false, 0, 2]);
  });
});
