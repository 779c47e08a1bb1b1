import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { ConsensusClock, HardState, HardStateStore, PrePrepare } from "../../src/consensus/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { hardState } from "./coreHelpers.js";
import { fakePayload, keys, type Rig, rig, settled, signedBy, transfer, until } from "./driverHelpers.js";

/**
 * The driver's seams (what lets the simulator run this very driver): with an injected clock and hard state store
 * it reads no wall clock, starts no timer and touches no file. Node's timers are faked here only to prove that
 * none is started (setImmediate stays real: the helpers poll with it; the proposal test shows soon() is used).
 */

/** A clock the test drives: its repeating tick, its "soon" tasks and its one-shot timers run when the test says. */
function manualClock(startMs: number) {
  const state = {
    nowMs: startMs,
    onTick: null as (() => void) | null,
    soon: [] as (() => void)[],
    every: [] as number[],
    timers: [] as { atMs: number; task: () => void; cancelled: boolean }[],
  };
  const clock: ConsensusClock = {
    nowMs: () => state.nowMs,
    monotonicMs: () => state.nowMs,
    every: (intervalMs, onTick) => {
      state.every.push(intervalMs);
      state.onTick = onTick;
      return () => {
        state.onTick = null;
      };
    },
    soon: (task) => state.soon.push(task),
    after: (delayMs, task) => {
      const timer = { atMs: state.nowMs + delayMs, task, cancelled: false };
      state.timers.push(timer);
      return () => {
        timer.cancelled = true;
      };
    },
  };
  return { clock, state };
}

/** A store in memory that records each save and what the transport had sent by then. */
function memoryStore(sentCount: () => number) {
  const saves: { state: HardState; sentBefore: number }[] = [];
  const store: HardStateStore = {
    load: async () => saves.at(-1)?.state ?? null,
    save: async (state) => {
      saves.push({ state, sentBefore: sentCount() });
    },
  };
  return { store, saves };
}

describe("ConsensusDriver: seams for clock and hard state", () => {
  let dir: string;
  let r: Rig;
  let time: ReturnType<typeof manualClock>;
  let mem: ReturnType<typeof memoryStore>;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-driver-seams-"));
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
    vi.setSystemTime(1_000);
    time = manualClock(5_000_000);
    const sent = { count: 0 };
    mem = memoryStore(() => sent.count);
    r = rig(dir, keys[0]!, keys, {
      // A state file in a folder that does not exist: a driver that wrote it would halt.
      options: { stateFile: path.join(dir, "missing", "state.json") },
      seams: { clock: time.clock, hardStateStore: mem.store },
    });
    Object.defineProperty(sent, "count", { get: () => r.net.sent.length });
  });
  afterEach(async () => {
    await r.driver.stop();
    vi.useRealTimers();
    await rm(dir, { recursive: true, force: true });
  });

  it("ticks from the injected clock, stamps verifies with its time, and starts no timer of its own", async () => {
    await r.driver.start();
    expect(time.state.every).toEqual([10]);
    expect(vi.getTimerCount()).toBe(0);
    const { payload, hash } = fakePayload(1, [transfer(1)]);
    r.net.deliver(
      keys[1]!,
      signedBy<PrePrepare>(keys[1]!, { type: "prePrepare", height: 1, view: 0, blockHash: hash, payload }),
    );
    await until(() => r.net.ofType("prepare").length === 1, "our prepare");
    expect(r.chain.verifies[0]!.opts.nowMs).toBe(5_000_000);
    // The vote was saved to the injected store before anything was sent; no file was written.
    expect(mem.saves.find((s) => s.state.prepareVote !== null)?.sentBefore).toBe(0);
    expect(r.fatal).toEqual([]);

    // The view times out after 5 ticks of the injected clock (the real clock does not move).
    r.pool.work = true;
    for (let i = 0; i < 6 && r.net.ofType("viewChange").length === 0; i++) {
      time.state.onTick?.();
      await settled(r.driver);
    }
    expect(r.net.ofType("viewChange")).toHaveLength(1);
    await r.driver.stop();
    expect(time.state.onTick).toBeNull();
  });

  it("resumes from the injected store's state on start", async () => {
    const resumed = hardState({ view: 3, viewChanging: true });
    mem.saves.push({ state: resumed, sentBefore: 0 });
    await r.driver.start();
    expect(r.driver.status()).toMatchObject({ height: 1, view: 3, viewChanging: true });
  });

  it("coalesces a burst of added txs into one proposal attempt, run by the clock's soon()", async () => {
    const lone = rig(dir, keys[0]!, [keys[0]!], { seams: { clock: time.clock, hardStateStore: mem.store } });
    await lone.driver.start();
    lone.pool.pending.length = 0;
    await settled(lone.driver);
    for (let i = 1; i <= 3; i++) lone.pool.add(transfer(i));
    expect(time.state.soon).toHaveLength(1);
    expect(lone.chain.builds).toHaveLength(0);
    time.state.soon.shift()!();
    await until(() => lone.chain.builds.length === 1, "the build");
    expect(lone.chain.builds[0]!.txs.map((t) => bytesToHex(t.hash))).toHaveLength(3);
    await lone.driver.stop();
  });

  it("waits for minBlockIntervalMs with one timer of the clock's, not until its next tick; stop cancels it", async () => {
    const lone = rig(dir, keys[0]!, [keys[0]!], {
      options: { minBlockIntervalMs: 100 },
      seams: { clock: time.clock, hardStateStore: mem.store },
    });
    await lone.driver.start();
    await settled(lone.driver);
    lone.pool.add(transfer(1));
    time.state.soon.shift()!(); // the first build does not wait
    await until(() => lone.chain.heightNow === 1, "block 1");
    await settled(lone.driver);
    time.state.nowMs += 30;
    lone.pool.add(transfer(2));
    time.state.soon.shift()!(); // the arrival tries, and arms the retry
    await settled(lone.driver);
    time.state.nowMs += 20;
    time.state.onTick!(); // a tick tries again: the one retry armed stays the only one
    await settled(lone.driver);
    expect(lone.chain.builds).toHaveLength(1);
    expect(time.state.timers.map((t) => [t.atMs, t.cancelled])).toEqual([[5_000_100, false]]);
    time.state.nowMs = 5_000_100; // no tick in between: only the timer can make it build
    time.state.timers.shift()!.task();
    await until(() => lone.chain.heightNow === 2, "block 2 when the interval ends");
    expect(lone.chain.builds[1]!.opts.nowMs).toBe(5_000_100);

    await settled(lone.driver);
    time.state.nowMs += 10;
    lone.pool.add(transfer(4));
    time.state.soon.shift()!();
    await settled(lone.driver);
    expect(time.state.timers.map((t) => [t.atMs, t.cancelled])).toEqual([[5_000_200, false]]);
    await lone.driver.stop();
    expect(time.state.timers[0]!.cancelled).toBe(true);
  });
});
