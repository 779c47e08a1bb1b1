/**
 * Where a benchmark's CPU really went, from a system-wide `perf record` (Linux perf): the share of every thread kind
 * of every process (the nodes' main threads, V8's compiler and GC threads, sender recovery threads, libuv, idle) and
 * the JavaScript functions the main threads spent it in, inclusive. A V8 .cpuprofile (bench/profile.ts) samples
 * wall-clock time of one thread: four nodes sharing two cores are often descheduled, and the sample lands in
 * whatever call was running (waking a worker thread looked like 13 % of a node in postMessage; perf counts ~1 %).
 *
 *   NODE_OPTIONS="--perf-basic-prof --interpreted-frames-native-stack" \
 *     npm run bench -- --targets consort4 --workload transfer --n 4000 --submit-to one --windows-to /tmp/p &
 *   perf record -a -g -k mono -F 999 -o /tmp/perf.data -- sleep 40
 *   npx tsx bench/perfReport.ts /tmp/perf.data --windows /tmp/p [--workload transfer] [--top 40]
 *
 * Threads are shared out over everything the machine ran in the windows (idle too; threads of processes other than
 * the windows' nodes are marked), the JS table is the nodes' own.
 *
 * perf is Debian's `linux-perf`; `-a` needs root (or kernel.perf_event_paranoid ≤ 0).
 * `-k mono` stamps samples with CLOCK_MONOTONIC, the clock of the load windows the benchmark writes (windows.json).
 * JS frames are named from the /tmp/perf-PID.map files the nodes write: a few may carry a stale name where V8 put
 * new code at a freed address (a frame named `ownMember node:internal/webidl` above runMicrotasks is one).
 */
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import path from "node:path";
import { CliError, intFlag, parseFlags } from "../src/cli/args.js";
import { errorMessage } from "../src/util/errors.js";
import { type LoadWindow, readLoadWindows } from "./lib/loadWindows.js";
import { runIfScript } from "./lib/script.js";

/** One sample of `perf script -F comm,pid,time,ip,sym`: the thread's name, process, when, frames from the leaf up. */
export interface PerfSample {
  comm: string;
  pid: number;
  timeS: number;
  frames: string[];
}

export interface PerfSummary {
  samples: number;
  /** Share of all samples (idle included: the kernel's "swapper") by thread name. */
  byThread: { thread: string; pct: number }[];
  /**
   * JavaScript functions on the main threads' stacks, inclusive, as a share of the main threads' samples: of the
   * windows' processes (the nodes) when windows are given (the benchmark's client is a Node.js MainThread too).
   */
  mainThreadJs: { fn: string; pct: number }[];
}

/** A sample's first line: the thread's name (it may hold spaces; perf pads it on the left), process id, time. */
const HEADER = /^(.*\S)\s+(\d+)\s+(\d+\.\d+):$/;

/** Parses `perf script -F comm,pid,time,ip,sym` output: a header line per sample, a tab-indented line per frame. */
export function parsePerfScript(text: string): PerfSample[] {
  const samples: PerfSample[] = [];
  let current: PerfSample | null = null;
  for (const line of text.split("\n")) {
    if (line.startsWith("\t")) {
      const frame = line.trim().split(/\s+/).slice(1).join(" "); // "ip symbol…"
      if (current !== null && frame !== "") current.frames.push(frame);
      continue;
    }
    const m = HEADER.exec(line.trim());
    current = m === null ? null : { comm: m[1]!.trim(), pid: Number(m[2]), timeS: Number(m[3]), frames: [] };
    if (current !== null) samples.push(current);
  }
  return samples;
}

/** "JS:*'fn file:///…/dist/x.js:1:2" → "fn dist/x.js:1:2": one name whatever tier (~ ^ + *) compiled it. */
export function jsFunctionName(frame: string): string | null {
  const m = /^JS:[~^+*]?'?(.*)$/.exec(frame);
  if (m === null) return null;
  return m[1]!
    .replace(/file:\/\/\S*?\/(?=(dist|src|node_modules)\/)/, "")
    .replace(/^\S*\/node_modules\//, "~/");
}

export function summarizePerf(
  samples: readonly PerfSample[],
  windows: readonly Pick<LoadWindow, "pids" | "startUs" | "endUs">[] | null,
  topN: number,
): PerfSummary {
  const chainPids = windows === null ? null : new Set(windows.flatMap((w) => w.pids));
  const inWindow = (s: PerfSample) =>
    windows === null || windows.some((w) => s.timeS * 1e6 >= w.startUs && s.timeS * 1e6 <= w.endUs);
  const counted = samples.filter(inWindow);
  const threads = new Map<string, number>();
  const functions = new Map<string, number>();
  let mainSamples = 0;
  for (const s of counted) {
    const other = chainPids !== null && s.pid !== 0 && !chainPids.has(s.pid);
    const thread = other ? `${s.comm} (not a node)` : s.comm;
    threads.set(thread, (threads.get(thread) ?? 0) + 1);
    if (s.comm !== "MainThread" || (chainPids !== null && !chainPids.has(s.pid))) continue;
    mainSamples++;
    const seen = new Set<string>();
    for (const frame of s.frames) {
      const fn = jsFunctionName(frame);
      if (fn === null || seen.has(fn)) continue;
      seen.add(fn);
      functions.set(fn, (functions.get(fn) ?? 0) + 1);
    }
  }
  const share = (n: number, of: number) => (of === 0 ? 0 : (100 * n) / of);
  return {
    samples: counted.length,
    byThread: [...threads]
      .sort((a, b) => b[1] - a[1])
      .map(([thread, n]) => ({
        thread: thread === "swapper" ? "idle (swapper)" : thread,
        pct: share(n, counted.length),
      })),
    mainThreadJs: [...functions]
      .sort((a, b) => b[1] - a[1])
      .slice(0, topN)
      .map(([fn, n]) => ({ fn, pct: share(n, mainSamples) })),
  };
}

const USAGE = `npx tsx bench/perfReport.ts PERF_DATA [--windows DIR_OR_FILE] [--workload NAME] [--top 40]

  --windows    the load windows a benchmark wrote (its --windows-to or --profile folder, or the windows.json in it): only the
               samples inside them count (record with \`perf record -k mono\`)
  --workload   only that workload's windows`;

function main(argv: string[]): void {
  const { values, positionals } = parseFlags(
    argv,
    { windows: { type: "string" }, workload: { type: "string" }, top: { type: "string", default: "40" } },
    USAGE,
  );
  const [file] = positionals;
  if (file === undefined || positionals.length > 1) throw new CliError("CLI_USAGE", `usage:\n${USAGE}`);
  const topN = intFlag("top", values.top, 1, 10_000);
  let windows: LoadWindow[] | null = null;
  if (values.windows !== undefined) {
    const dir = statSync(values.windows).isDirectory() ? values.windows : path.dirname(values.windows);
    windows = (readLoadWindows(dir) ?? []).filter(
      (w) => values.workload === undefined || w.workload === values.workload,
    );
    if (windows.length === 0) throw new CliError("CLI_USAGE", `no load window (of that workload) in ${dir}`);
  }
  let text: string;
  try {
    text = execFileSync("perf", ["script", "-i", file, "-F", "comm,pid,time,ip,sym"], {
      encoding: "utf8",
      maxBuffer: 2 * 1024 ** 3,
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (err) {
    const e = err as { code?: string; stderr?: string };
    const why =
      e.code === "ENOENT" ? "perf is not installed (Debian: apt install linux-perf)" : e.stderr?.trim();
    throw new CliError("CLI_USAGE", `perf script -i ${file} failed: ${why ?? errorMessage(err)}`);
  }
  const s = summarizePerf(parsePerfScript(text), windows, topN);
  console.log(`${s.samples} samples ${windows === null ? "(the whole recording)" : "in the load windows"}\n`);
  console.log("| thread | % of samples |\n|---|---|");
  for (const t of s.byThread.slice(0, 12)) console.log(`| ${t.thread} | ${t.pct.toFixed(1)} |`);
  console.log("\n| JavaScript function (main threads, inclusive) | % of main-thread samples |\n|---|---|");
  for (const f of s.mainThreadJs) console.log(`| ${f.fn} | ${f.pct.toFixed(1)} |`);
}

runIfScript(import.meta.url, main);
