import type { ConsensusClock } from "./interface.js";

/**
 * The node's clock: Date, performance and Node's timers. Each call reads the global at call time, so tests that
 * fake timers (vi.useFakeTimers) still drive a driver built with this clock.
 */
export const systemClock: ConsensusClock = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  every(intervalMs, onTick) {
    const timer = setInterval(onTick, intervalMs);
    return () => clearInterval(timer);
  },
  after(delayMs, task) {
    const timer = setTimeout(task, delayMs);
    return () => clearTimeout(timer);
  },
  soon(task) {
    setImmediate(task);
  },
};
