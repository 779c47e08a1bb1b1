import type { BenchReport, MachineInfo, OverloadResult, RunRecord } from "./bench.js";
import { fmt, median, table } from "./stats.js";
import { ERC20_GAS_LIMIT_DEFAULT } from "./workloads.js";

interface Cell {
  target: string;
  workload: string;
  runs: RunRecord[];
}

/** Summary (medians over rounds), Consort/peer ratios, overload table: markdown, also fine on a terminal. */
export function renderReport(r: {
  machine: MachineInfo;
  runs: RunRecord[];
  config?: BenchReport["config"];
  overload?: OverloadResult[];
}): string {
  const out: string[] = [];
  const m = r.machine;
  out.push(`machine: ${m.cpus} cores (${m.cpuModel}), ${m.memoryGiB} GiB, node ${m.node}, ${m.platform}`);
  if (r.config) {
    out.push(
      `config: n=${r.config.n}, concurrency=${r.config.concurrency}, senders=${r.config.senders}, ` +
        `erc20 gas=${r.config.erc20GasLimit ?? ERC20_GAS_LIMIT_DEFAULT}, rounds=${r.config.repeat}, ` +
        `submit to=${r.config.submitTo ?? "all"}`,
    );
  }
  const cells: Cell[] = [];
  for (const run of r.runs) {
    let c = cells.find((x) => x.target === run.target && x.workload === run.workload);
    if (!c) {
      c = { target: run.target, workload: run.workload, runs: [] };
      cells.push(c);
    }
    c.runs.push(run);
  }
  if (cells.length > 0) {
    const rows = cells.map((c) => {
      const ok = c.runs.filter((x) => x.result).map((x) => x.result!);
      const med = (f: (x: NonNullable<RunRecord["result"]>) => number) => median(ok.map(f));
      const errs = ok.reduce((a, x) => a + Object.values(x.errors).reduce((s, v) => s + v, 0), 0);
      const failed = c.runs.filter((x) => x.error).length;
      const peak = Math.max(0, ...c.runs.flatMap((x) => x.peakRssKb));
      return [
        c.workload,
        c.target,
        `${ok.length}/${c.runs.length}`,
        `${fmt(med((x) => x.committed))}/${fmt(med((x) => x.n))}`,
        fmt(med((x) => x.e2eTps)),
        fmt(med((x) => x.committedTps)),
        fmt(med((x) => x.submitRate)),
        fmt(med((x) => x.latency.p50Ms)),
        fmt(med((x) => x.latency.p95Ms)),
        fmt(med((x) => x.latency.p99Ms)),
        fmt(med((x) => x.blocks.count)),
        fmt(
          med((x) => x.blocks.txsMean),
          1,
        ),
        fmt(
          med((x) => x.blocks.sizeBytesMean / 1024),
          1,
        ),
        `${errs}${failed ? ` (+${failed} failed runs)` : ""}${ok.some((x) => x.timedOut) ? " timeout" : ""}`,
        fmt(peak / 1024),
        fmt(median(c.runs.flatMap((x) => (x.cpuMsPerTx?.chain == null ? [] : [x.cpuMsPerTx.chain]))), 2),
        c.runs.map((x) => x.loadAvgStart.toFixed(1)).join("/"),
      ];
    });
    out.push("");
    out.push(
      table(
        [
          "workload",
          "target",
          "ok runs",
          "committed",
          "tx/s",
          "block-window tx/s",
          "submit/s",
          "p50 ms",
          "p95 ms",
          "p99 ms",
          "blocks",
          "tx/block",
          "KiB/block",
          "errors",
          "peak RSS MiB",
          "CPU ms/tx",
          "load1",
        ],
        rows,
      ),
    );
    const ratios: string[][] = [];
    for (const c of cells.filter((x) => x.target.startsWith("consort"))) {
      const mine = median(c.runs.filter((x) => x.result).map((x) => x.result!.e2eTps));
      for (const p of cells.filter((x) => !x.target.startsWith("consort") && x.workload === c.workload)) {
        const theirs = median(p.runs.filter((x) => x.result).map((x) => x.result!.e2eTps));
        ratios.push([
          c.workload,
          `${c.target} / ${p.target}`,
          fmt(mine),
          fmt(theirs),
          `${fmt(mine / theirs, 2)}×`,
        ]);
      }
    }
    if (ratios.length > 0) {
      out.push("");
      out.push("Consort over each peer (median tx/s: all txs committed / (last commit − first submission)):");
      out.push(table(["workload", "ratio", "Consort tx/s", "peer tx/s", "ratio"], ratios));
    }
    const errorLines = cells.flatMap((c) =>
      c.runs.flatMap((x) => [
        ...(x.error ? [`${c.target}/${c.workload} round ${x.repeat + 1}: ${x.error}`] : []),
        ...Object.entries(x.result?.errors ?? {}).map(
          ([msg, n]) => `${c.target}/${c.workload} round ${x.repeat + 1}: ${n}× ${msg}`,
        ),
        ...(x.result && x.result.kicks > 0
          ? [
              `${c.target}/${c.workload} round ${x.repeat + 1}: ${x.result.kicks} evm_mine nudges (anvil automine stall)`,
            ]
          : []),
        ...(x.result?.timedOut
          ? [
              `${c.target}/${c.workload} round ${x.repeat + 1}: only ${x.result.committed}/${x.result.accepted} accepted txs committed (no block for 60 s)`,
            ]
          : []),
        ...(x.result && x.result.failedReceipts > 0
          ? [
              `${c.target}/${c.workload}: ${x.result.failedReceipts}/${x.result.receiptsChecked} sampled receipts not status 0x1`,
            ]
          : []),
      ]),
    );
    if (errorLines.length > 0) out.push("", "errors:", ...errorLines.map((l) => `  ${l}`));
  }
  for (const o of r.overload ?? []) {
    out.push("");
    out.push(
      `overload ${o.target}: ${Math.round(o.durationMs / 1000)} s, ${o.concurrency} in flight, load ${o.loadAvgStart} → ${o.loadAvgEnd}`,
    );
    out.push(
      table(
        ["node", "pid", "peak RSS MiB", "end RSS MiB"],
        o.pids.map((pid, i) => [
          `node${i}`,
          String(pid),
          fmt(o.peakRssKb[i]! / 1024),
          fmt((o.endRssKb[i] ?? Number.NaN) / 1024),
        ]),
      ),
    );
    out.push(
      `accepted ${o.accepted}, committed ${o.committed} (${o.committedTps} tx/s), pool max ${o.poolSizeMax}, ` +
        `first "full" refusal at ${o.firstPoolFullS ?? "never"} s`,
    );
    for (const [msg, n] of Object.entries(o.refused)) out.push(`  refused ${n}× ${msg}`);
  }
  return out.join("\n");
}
