import { describe, expect, it } from "vitest";
import { LoopSlicer } from "../../src/util/loopSlicer.js";

/**
 * LoopSlicer on the real event loop, with a fake clock: each unit "costs" a fixed time when it runs, so what is
 * tested is which turn each unit runs in, and that other work (a macrotask) gets the loop between slices.
 */
describe("LoopSlicer", () => {
  it("runs units back to back within a turn's slice, defers the rest to later turns in order", async () => {
    let nowMs = 0;
    const slicer = new LoopSlicer(4, () => nowMs);
    const ran: { unit: number; turn: number }[] = [];
    let turn = 0;
    // Counts turns: a chained setImmediate ticks once per check phase.
    let counting = true;
    const countTurns = () => {
      turn++;
      if (counting) setImmediate(countTurns);
    };
    setImmediate(countTurns);
    const unit = (i: number) =>
      slicer.run(async () => {
        ran.push({ unit: i, turn });
        nowMs += 1.5; // each unit's synchronous work
      });
    await Promise.all(Array.from({ length: 7 }, (_, i) => unit(i)));
    counting = false;
    expect(ran.map((r) => r.unit)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    // 1.5 ms each, 4 ms slices: three units start within a slice (at 0, 1.5 and 3 ms), the fourth waits.
    const turns = ran.map((r) => r.turn);
    expect(turns.slice(0, 3).every((t) => t === turns[0])).toBe(true);
    expect(turns[3]).toBeGreaterThan(turns[2] as number);
    expect(turns[3]).toBe(turns[5]);
    expect(turns[6]).toBeGreaterThan(turns[5] as number);
    expect(slicer.deferred).toBe(4);
  });

  it("lets a macrotask queued behind a long backlog run before the backlog is done", async () => {
    let nowMs = 0;
    const slicer = new LoopSlicer(4, () => nowMs);
    let done = 0;
    let doneWhenOtherWorkRan = -1;
    const unit = () =>
      slicer.run(async () => {
        nowMs += 2;
        done++;
      });
    const backlog = Promise.all(Array.from({ length: 100 }, () => unit()));
    setImmediate(() => {
      doneWhenOtherWorkRan = done; // a consensus message or a disk read's callback, say
    });
    await backlog;
    expect(done).toBe(100);
    // The first slice (2 units: 0 and 2 ms) ran synchronously, the second in the turn the macrotask got too.
    expect(doneWhenOtherWorkRan).toBe(4);
  });

  it("never defers while the slice lasts, and a unit's error reaches its caller", async () => {
    const slicer = new LoopSlicer(4, () => 0);
    let started = 0;
    for (let i = 0; i < 1000; i++) {
      void slicer.run(async () => {
        started++;
      });
    }
    expect(started).toBe(1000); // synchronously: nothing waited for a turn
    expect(slicer.deferred).toBe(0);
    await expect(
      slicer.run(() => {
        throw new Error("bad tx");
      }),
    ).rejects.toThrow("bad tx");
  });
});
