/** verdict.json → the markdown tables of docs/reliability.md: per scenario (summed over rounds), then every run. */
import type { ScenarioRow, Verdict } from "./campaign.js";

const seconds = (ms: number | null) => (ms === null ? "-" : (ms / 1000).toFixed(1));

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function summaryRow(name: string, rows: ScenarioRow[]): string {
  const recoveries = rows.map((r) => r.recoveryMs).filter((r): r is number => r !== null);
  const sum = (f: (r: ScenarioRow) => number) => rows.reduce((s, r) => s + f(r), 0);
  const passed = rows.filter((r) => r.ok).length;
  const recovery =
    recoveries.length === 0 ? "-" : `${seconds(median(recoveries))} / ${seconds(Math.max(...recoveries))}`;
  return `| ${name} | ${rows.length} | ${passed} | ${seconds(sum((r) => r.durationMs))} | ${seconds(sum((r) => r.faultMs))} | ${sum((r) => r.acknowledged)} | ${sum((r) => r.lost)} | ${recovery} |`;
}

export function markdownReport(v: Verdict): string {
  const names = [...new Set(v.rows.map((r) => r.scenario))];
  const out = [
    `Commit \`${v.commit}\`, seed ${v.seed}, started ${v.startedAt}, wall ${(v.wallMs / 60_000).toFixed(1)} min: ` +
      `${v.ok ? "PASS" : "FAIL"}, ${v.acknowledged} txs acknowledged, ${v.lost} lost, final height ${v.finalHeight}.`,
    "",
    "| scenario | runs | passed | duration s | fault s | txs acknowledged | txs lost | recovery s (median / max) |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...names.map((n) =>
      summaryRow(
        n,
        v.rows.filter((r) => r.scenario === n),
      ),
    ),
    "",
    "| # | scenario | ok | start min | duration s | fault s | txs acknowledged | txs lost | recovery s | height |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ...v.rows.map(
      (r, i) =>
        `| ${i + 1} | ${r.scenario} | ${r.ok ? "yes" : "NO"} | ${(r.startedAtMs / 60_000).toFixed(1)} | ${seconds(r.durationMs)} | ${seconds(r.faultMs)} | ${r.acknowledged} | ${r.lost} | ${seconds(r.recoveryMs)} | ${r.height} |`,
    ),
  ];
  const failures = v.rows.filter((r) => !r.ok);
  if (failures.length > 0) {
    out.push("", "Violations:");
    for (const r of failures)
      for (const x of r.violations.slice(0, 5)) out.push(`- ${r.scenario}: ${x.slice(0, 300)}`);
  }
  return out.join("\n");
}
