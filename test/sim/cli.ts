/**
 * `SEED=123 npm run sim [-- --n 7]` replays one seed verbosely;
 * `npm run sim -- --seeds 1000 [--n 4|7|10] [--from 1] [--ed25519] [--wire] [--harsh]` runs a campaign and prints
 * a summary. `--harsh`: heavier loss/delay/crashes and short view timeouts. `--quiet`: no trace for one seed.
 */
import { parseArgs } from "node:util";
import { formatFailure, runCampaign, runSeed } from "./campaign.js";
import type { SimOptions } from "./options.js";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "4" },
    seeds: { type: "string" },
    from: { type: "string", default: "1" },
    ed25519: { type: "boolean", default: false },
    wire: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
    harsh: { type: "boolean", default: false },
  },
});

const n = Number(values.n);
const profile = values.harsh ? "harsh" : "standard";
const overrides: Partial<SimOptions> = { crypto: values.ed25519 ? "ed25519" : "fast", wire: values.wire };

if (process.env.SEED !== undefined && values.seeds === undefined) {
  const seed = Number(process.env.SEED);
  const r = runSeed(
    seed,
    n,
    { ...overrides, verbose: !values.quiet, log: (line) => console.log(line) },
    profile,
  );
  console.log(JSON.stringify({ ...r, ok: r.ok }, null, 2));
  if (!r.ok) {
    console.log(formatFailure(r));
    process.exitCode = 1;
  }
} else {
  const seeds = Number(values.seeds ?? "100");
  const cpuStart = process.cpuUsage();
  const s = runCampaign(
    Number(values.from),
    seeds,
    n,
    overrides,
    (r) => console.log(formatFailure(r)),
    profile,
  );
  console.log(
    `${profile} n=${n} seeds=${s.seeds} failures=${s.failures.length} ticks=${s.ticks} messages=${s.messages} ` +
      `viewChanges=${s.viewChanges} pipelined=${s.pipelined} elapsed=${(s.elapsedMs / 1000).toFixed(1)}s ` +
      `cpu=${(process.cpuUsage(cpuStart).user / 1e6).toFixed(1)}s`,
  );
  if (s.failures.length) process.exitCode = 1;
}
