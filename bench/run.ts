import "../src/util/polyfill.js";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, parseFlags } from "../src/cli/args.js";
import {
  type BenchReport,
  machineInfo,
  type OverloadResult,
  type RunRecord,
  runBench,
  runOverload,
} from "./lib/bench.js";
import { type Calibration, calibrate } from "./lib/calibration.js";
import { renderReport } from "./lib/report.js";
import { renderSvg } from "./lib/svg.js";
import { expandTargets, SUBMIT_TO, type SubmitTo, stopAllTargets } from "./lib/targets.js";
import { ERC20_GAS_LIMIT_DEFAULT, WORKLOADS, type Workload } from "./lib/workloads.js";

const USAGE = `npm run bench -- [options]

  --targets consort1,consort4,anvil,ganache   targets (anvil = anvil-1s + anvil-auto, ganache = ganache-1s + ganache-auto)
  --workload transfer,erc20,native            workloads (native: Consort only)
  --n 2000                                    pre-signed transactions per run
  --concurrency 32                            requests in flight (keep-alive connections)
  --senders 64                                fresh funded senders for transfer/erc20
  --erc20-gas 100000                          gas limit of each ERC20 transfer, or "estimate": eth_estimateGas of one
                                              transfer on each target, as ethers, viem and web3.js fill it in
  --repeat 1                                  rounds; targets alternate within each round (A B A B), medians reported
  --warmup 0                                  txs of each workload committed first, unmeasured, on every target
                                              (0: a freshly started node, as the issue measures; e.g. 4000: warm JIT)
  --overload 300s                             instead: sustained overload of Consort targets, RSS sampled
  --txpool-count-max N                        Consort txpool.countMax for the run (default: the node's default)
  --profile DIR                               write V8 CPU profiles of the Consort nodes into DIR, and the load windows
  --windows-to DIR                            write the load windows only (windows.json: for bench/perfReport.ts)
  --out bench/results                         where the JSON result and SVG plots go
  --plots-to DIR                              also write the SVG plots there (e.g. docs/benchmarks)
  --no-pipeline                               Consort nodes with consensus.pipeline false (one height at a time)
  --submit-to all                             consort4's endpoints that take the load: all (round-robin over the four
                                              validators' RPC) or one (the first validator's only)
  --keep                                      keep the targets' temp folders (logs, data)
  --no-progress                               no progress line`;

const ROOT = fileURLToPath(new URL("../", import.meta.url));

const FLAGS = {
  targets: { type: "string" },
  workload: { type: "string", default: "transfer,erc20,native" },
  n: { type: "string" },
  concurrency: { type: "string" },
  senders: { type: "string" },
  "erc20-gas": { type: "string" },
  repeat: { type: "string" },
  overload: { type: "string" },
  warmup: { type: "string" },
  "txpool-count-max": { type: "string" },
  profile: { type: "string" },
  "windows-to": { type: "string" },
  out: { type: "string", default: "bench/results" },
  "plots-to": { type: "string" },
  keep: { type: "boolean", default: false },
  "no-pipeline": { type: "boolean", default: false },
  "submit-to": { type: "string", default: "all" },
  "no-progress": { type: "boolean", default: false },
  help: { type: "boolean", default: false },
} as const;

/** An integer flag, or `dflt` when it is not given. */
function int(value: string | undefined, name: string, dflt: number, min = 1): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new CliError("CLI_USAGE", `--${name} must be an integer >= ${min}`);
  return n;
}

export function parseDurationMs(s: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s.trim());
  if (!m) throw new Error(`bad duration "${s}" (e.g. 300s, 5m, 90000ms)`);
  const v = Number(m[1]);
  return Math.round(m[2] === "ms" ? v : m[2] === "m" ? v * 60_000 : v * 1000);
}

async function main(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, FLAGS, USAGE).values;
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const outDir = path.resolve(ROOT, flags.out);
  const plotsTo = flags["plots-to"] ? path.resolve(ROOT, flags["plots-to"]) : null;
  await mkdir(outDir, { recursive: true });
  if (plotsTo) await mkdir(plotsTo, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const profileDir = flags.profile ? path.resolve(ROOT, flags.profile) : undefined;
  const windowsDir = flags["windows-to"] ? path.resolve(ROOT, flags["windows-to"]) : profileDir;
  const submitTo = flags["submit-to"] as SubmitTo;
  if (!SUBMIT_TO.includes(submitTo)) {
    throw new CliError(
      "CLI_USAGE",
      `--submit-to must be one of ${SUBMIT_TO.join(", ")}: ${flags["submit-to"]}`,
    );
  }
  const machine = machineInfo();
  const calibration: { start: Calibration; end?: Calibration } = { start: calibrate() };
  console.log(
    `machine: ${machine.cpus}× ${machine.cpuModel}, ${machine.memoryGiB} GiB, node ${process.version}, load ${machine.loadAvg.join(" ")}, ` +
      `calibration ${calibration.start.usPerTx} µs/tx (a transfer decoded and recovered: lower is a faster hour)`,
  );

  if (flags.overload !== undefined) {
    const durationMs = parseDurationMs(flags.overload);
    const targets = expandTargets((flags.targets ?? "consort1").split(","));
    const results: OverloadResult[] = [];
    for (const t of targets) {
      results.push(
        await runOverload({
          target: t,
          durationMs,
          concurrency: int(flags.concurrency, "concurrency", 64),
          txpoolCountMax:
            flags["txpool-count-max"] !== undefined
              ? int(flags["txpool-count-max"], "txpool-count-max", 0)
              : undefined,
          submitTo,
          cpuProfileDir: profileDir,
          loadWindowsDir: windowsDir,
          keepDir: flags.keep,
          progress: !flags["no-progress"],
        }),
      );
    }
    const file = path.join(outDir, `overload-${stamp}.json`);
    calibration.end = calibrate();
    await writeFile(file, `${JSON.stringify({ machine, calibration, results }, null, 2)}\n`);
    for (const r of results) {
      const svg = renderSvg(
        `Consort ${r.target} under sustained overload (${Math.round(durationMs / 1000)} s, native txs)`,
        "seconds",
        [
          {
            title: "RSS per node (MiB)",
            yLabel: "MiB",
            series: r.pids.map((pid, i) => ({
              name: `node${i} (pid ${pid})`,
              points: r.samples.map((s) => ({ x: s.tS, y: (s.rssKb[i] ?? Number.NaN) / 1024 })),
            })),
          },
          {
            title: "txpool size (pending txs) and committed tx/s",
            yLabel: "count",
            series: [
              { name: "pool size", points: r.samples.map((s) => ({ x: s.tS, y: s.poolSize })) },
              { name: "committed tx/s", points: r.samples.map((s) => ({ x: s.tS, y: s.committedTps })) },
            ],
          },
        ],
      );
      const name = `overload-${r.target}.svg`;
      await writeFile(path.join(outDir, `overload-${stamp}-${r.target}.svg`), svg);
      if (plotsTo) await writeFile(path.join(plotsTo, name), svg);
    }
    console.log(renderReport({ machine, runs: [], overload: results }));
    console.log(`\nresult: ${path.relative(ROOT, file)}`);
    return;
  }

  const workloads = flags.workload.split(",").map((w) => {
    if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`unknown workload "${w}"`);
    return w as Workload;
  });
  const report: BenchReport = await runBench({
    targets: expandTargets((flags.targets ?? "consort1,consort4,anvil,ganache").split(",")),
    workloads,
    n: int(flags.n, "n", 2000),
    concurrency: int(flags.concurrency, "concurrency", 32),
    senders: int(flags.senders, "senders", 64),
    erc20GasLimit:
      flags["erc20-gas"] === "estimate"
        ? "estimate"
        : int(flags["erc20-gas"], "erc20-gas", ERC20_GAS_LIMIT_DEFAULT, 21_000),
    repeat: int(flags.repeat, "repeat", 1),
    warmup: int(flags.warmup, "warmup", 0, 0),
    cpuProfileDir: profileDir,
    loadWindowsDir: windowsDir,
    keepDir: flags.keep,
    pipeline: !flags["no-pipeline"],
    submitTo,
    progress: !flags["no-progress"],
    machine,
  });
  const file = path.join(outDir, `bench-${stamp}.json`);
  calibration.end = calibrate();
  await writeFile(file, `${JSON.stringify({ ...report, calibration }, null, 2)}\n`);
  for (const w of workloads) {
    const runs = report.runs.filter((r) => r.workload === w && r.repeat === 0 && r.result);
    if (runs.length === 0) continue;
    const svg = plotWorkload(w, runs, report);
    await writeFile(path.join(outDir, `bench-${stamp}-${w}.svg`), svg);
    if (plotsTo) await writeFile(path.join(plotsTo, `bench-${w}.svg`), svg);
  }
  console.log(`\n${renderReport(report)}`);
  console.log(
    `\ncalibration: ${calibration.start.usPerTx} µs/tx before the runs, ${calibration.end.usPerTx} after ` +
      "(bench/lib/calibration.ts: the machine's speed this hour; compare runs only at like figures)",
  );
  console.log(`\nresult: ${path.relative(ROOT, file)} (plots beside it)`);
}

function plotWorkload(w: Workload, runs: RunRecord[], report: BenchReport): string {
  return renderSvg(
    `${w}: ${report.config.n} txs, ${report.config.concurrency} in flight (round 1; load ${report.machine.loadAvg[0]})`,
    "seconds since first submission",
    [
      {
        title: "committed tx/s (per 1-s bucket of commit time)",
        yLabel: "tx/s",
        series: runs.map((r) => ({
          name: r.target,
          points: r.result!.series.map((p) => ({ x: p.t, y: p.committed })),
        })),
      },
      {
        title: "latency submit→commit, p50 of the txs committed in each second (ms, log scale)",
        yLabel: "ms",
        logY: true,
        series: runs.map((r) => ({
          name: r.target,
          points: r.result!.series.map((p) => ({ x: p.t, y: p.latencyP50Ms })),
        })),
      },
    ],
  );
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the targets this harness started…`);
    void stopAllTargets().finally(() => process.exit(130));
  });
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    const usage = err instanceof CliError;
    console.error(err instanceof Error ? (usage ? err.message : (err.stack ?? err.message)) : String(err));
    process.exit(usage ? 2 : 1);
  },
);
