import { afterEach, describe, expect, it, vi } from "vitest";
import { EvmYielder } from "../../src/execution/yielder.js";

/**
 * When block execution yields (yielder.ts): the clock is read every 64 JUMPDESTs, or sooner when the frame used
 * 30,000 gas since the last read, so a loop with a heavy body (ten KECCAK256 of 4 KiB per iteration) cannot hold the
 * event loop for 64 of its iterations. The clock is faked: what is tested is when it is read, not how fast.
 */

afterEach(() => {
  vi.restoreAllMocks();
});

function jumpdest(yielder: EvmYielder): (gasLeft: bigint) => unknown {
  const op = yielder.opcodes()[0]!;
  if (!("logicFunction" in op)) throw new Error("JUMPDEST has no logic");
  return (gasLeft) => op.logicFunction({ gasLeft } as never, undefined as never);
}

describe("EvmYielder", () => {
  it("yields at the first JUMPDEST after 30,000 gas once the interval has passed, without waiting for 64", () => {
    let nowMs = 1000;
    vi.spyOn(performance, "now").mockImplementation(() => nowMs);
    const yielder = new EvmYielder(5);
    const tick = jumpdest(yielder);
    expect(tick(1_000_000n)).toBeUndefined(); // first read: nothing ran yet
    nowMs += 50; // a heavy iteration
    expect(tick(990_000n)).toBeUndefined(); // 10,000 gas: the clock is not read
    expect(tick(965_000n)).toBeInstanceOf(Promise); // 35,000 gas since the read: read, 50 ms ran: yield
    expect(yielder.yields).toBe(1);
  });

  it("reads the clock every 64 JUMPDESTs of a cheap loop", () => {
    let nowMs = 1000;
    vi.spyOn(performance, "now").mockImplementation(() => nowMs);
    const yielder = new EvmYielder(5);
    const tick = jumpdest(yielder);
    let gas = 1_000_000n;
    expect(tick(gas)).toBeUndefined();
    nowMs += 50;
    const results: unknown[] = [];
    for (let i = 0; i < 63; i++) {
      gas -= 12n;
      results.push(tick(gas));
    }
    // JUMPDEST 64 is the 63rd of these: the only one that reads the clock.
    expect(results.slice(0, 62).every((r) => r === undefined)).toBe(true);
    expect(results[62]).toBeInstanceOf(Promise);
  });

  it("runs longer slices after a yield that the loop kept long (≥ 80 % of the loop for the block), capped at 100 ms", async () => {
    let nowMs = 1000;
    vi.spyOn(performance, "now").mockImplementation(() => nowMs);
    const yielder = new EvmYielder(5);
    /** Runs `ranMs`, ticks; when it yields, the loop keeps it `awayMs` before it resumes. */
    const runThenTick = async (ranMs: number, awayMs: number): Promise<boolean> => {
      nowMs += ranMs;
      const wait = yielder.tick();
      if (wait === undefined) return false;
      nowMs += awayMs; // what the loop did meanwhile (read when the yield resumes)
      await wait;
      return true;
    };
    expect(await runThenTick(6, 20)).toBe(true); // the first slice is yieldIntervalMs; the loop took 20 ms
    expect(await runThenTick(79, 0)).toBe(false); // now the slice is 4 × 20 = 80 ms
    expect(await runThenTick(1, 300)).toBe(true); // 80 ms ran; the loop then held on to it for 300 ms…
    expect(await runThenTick(99, 0)).toBe(false); // …but no slice is longer than 100 ms
    expect(await runThenTick(1, 0)).toBe(true); // an idle loop (0 ms away): back to 5 ms slices
    expect(await runThenTick(4, 0)).toBe(false);
    expect(await runThenTick(1, 0)).toBe(true);
    expect(yielder.yields).toBe(4);
    expect(yielder.awayMs).toBe(320);
  });
});
