/**
 * `SEED=123 npm run sim [-- --n 7]` replays one seed with a trace of every driver's log and every message;
 * `npm run sim -- --seeds 100000 [--n 4|7|10] [--from 1] [--minutes 60] [--ed25519] [--harsh]` runs a campaign:
 * a progress line every --progress seconds, a reproduce line per failure, a summary at the end. Split a long
 * campaign over processes with --from (seeds from..from+seeds-1). `--harsh`: heavier loss/delay/crashes and
 * short view timeouts. `--quiet`: no trace for one seed. Exit code 1 when any seed failed.
 */
import { parseArgs } from "node:util";
import { type CampaignSummary, formatFailure, runCampaign, runSeed } from "./campaign.js";
import type { SimOptions } from "./options.js";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "4" },
    seeds: { type: "string" },
    from: { type: "string", default: "1" },
    minutes: { type: "string" },
    progress: { type: "string", default: "30" },
    ed25519: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
    harsh: { type: "boolean", default: false },
  },
});

const n = Number(values.n);
const profile = values.harsh ? "harsh" : "standard";
const overrides: Partial<SimOptions> = { crypto: values.ed25519 ? "ed25519" : "fast" };

async function replay(seed: number): Promise<void> {
  const log = (line: string): void => console.log(line);
  const r = await runSeed(seed, n, { ...overrides, verbose: !values.quiet, log }, profile);
  console.log(JSON.stringify(r, null, 2));
  if (!r.ok) {
    console.log(formatFailure(r));
    process.exitCode = 1;
  }
}

function summaryLine(s: CampaignSummary, first: number): string {
  const rate = s.seeds / Math.max(s.elapsedMs / 1000, 1e-3);
  return (
    `${profile} n=${n} seeds ${first}..${first + s.seeds - 1} (${s.seeds}) failures=${s.failed} ` +
    `ticks=${s.ticks} messages=${s.messages} viewChanges=${s.viewChanges} pipelined=${s.pipelined} ` +
    `elapsed=${(s.elapsedMs / 1000).toFixed(1)}s rate=${rate.toFixed(1)} seeds/s`
  );
}

async function campaign(): Promise<void> {
  const first = Number(values.from);
  const seeds = Number(values.seeds ?? "100");
  const progressMs = Number(values.progress) * 1000;
  const cpuStart = process.cpuUsage();
  let lastProgressMs = 0;
  const s = await runCampaign(first, seeds, n, {
    overrides,
    profile,
    budgetMs: values.minutes === undefined ? undefined : Number(values.minutes) * 60_000,
    onFailure: (r) => console.log(formatFailure(r)),
    onSeed: (sofar) => {
      if (sofar.elapsedMs - lastProgressMs < progressMs) return;
      lastProgressMs = sofar.elapsedMs;
      console.log(`${new Date().toISOString()} progress: ${summaryLine(sofar, first)}`);
    },
  });
  const cpuS = process.cpuUsage(cpuStart).user / 1e6;
  console.log(`${new Date().toISOString()} summary: ${summaryLine(s, first)} cpu=${cpuS.toFixed(1)}s`);
  if (s.seeds < seeds) console.log(`stopped by --minutes: next seed ${first + s.seeds} (resume with --from)`);
  if (s.failed > 0) process.exitCode = 1;
}

if (process.env.SEED !== undefined && values.seeds === undefined) await replay(Number(process.env.SEED));
else await campaign();
