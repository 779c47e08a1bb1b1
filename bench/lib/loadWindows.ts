import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * When a profiled benchmark put load on the chain, on the clock V8 stamps CPU profiles with. A node's profile covers
 * its whole life: start-up (module loading, ~1.4 s of a cold node's main thread), the unmeasured setup phase, the
 * load, the shutdown. Its summary means something only over the load: `bench/profile.ts` cuts each profile to the
 * windows recorded beside it.
 */
export interface LoadWindow {
  target: string;
  workload: string;
  round: number;
  /** The chain's processes (the nodes; not the benchmark's own client). */
  pids: number[];
  /** CLOCK_MONOTONIC in µs, as `process.hrtime` and V8's `.cpuprofile` startTime/endTime count (one per machine). */
  startUs: number;
  endUs: number;
}

/** The file, in a profile folder, that lists its load windows (a JSON array of LoadWindow). */
export const LOAD_WINDOWS_FILE = "windows.json";

/** Now on the clock of LoadWindow and of CPU profiles. */
export function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** Appends a window to `dir`'s list, made if missing (one benchmark process writes it, one run at a time). */
export function recordLoadWindow(dir: string, window: LoadWindow): void {
  if (!(window.endUs > window.startUs)) {
    throw new RangeError(`load window ends (${window.endUs}) before it starts (${window.startUs})`);
  }
  mkdirSync(dir, { recursive: true });
  const windows = readLoadWindows(dir) ?? [];
  windows.push(window);
  writeFileSync(path.join(dir, LOAD_WINDOWS_FILE), `${JSON.stringify(windows, null, 2)}\n`);
}

/** The windows recorded in `dir`, or null when none were (a profile taken by hand, an older run). */
export function readLoadWindows(dir: string): LoadWindow[] | null {
  const file = path.join(dir, LOAD_WINDOWS_FILE);
  if (!existsSync(file)) return null;
  const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
  if (!Array.isArray(parsed) || !parsed.every(isLoadWindow)) {
    throw new Error(`${file}: not a list of load windows {target, workload, round, pids, startUs, endUs}`);
  }
  return parsed;
}

function isLoadWindow(w: unknown): w is LoadWindow {
  const o = w as Partial<LoadWindow> | null;
  return (
    typeof o === "object" &&
    o !== null &&
    typeof o.target === "string" &&
    typeof o.workload === "string" &&
    Number.isSafeInteger(o.round) &&
    Array.isArray(o.pids) &&
    o.pids.every((pid) => Number.isSafeInteger(pid)) &&
    Number.isFinite(o.startUs) &&
    Number.isFinite(o.endUs) &&
    (o.endUs as number) > (o.startUs as number)
  );
}
