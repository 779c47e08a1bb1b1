/** Seed campaigns: every seed draws its own faults; a failure names the seed to replay. */
import { Cluster, type SimResult } from "./cluster.js";
import { harshFaultOptions, randomFaultOptions, type SimOptions, type SimProfile } from "./options.js";
import { Prng } from "./prng.js";

/** The options a campaign seed runs with (a pure function of seed and n). */
export function campaignOptions(
  seed: number,
  n: number,
  overrides: Partial<SimOptions> = {},
  profile: SimProfile = "standard",
): SimOptions {
  const pick = new Prng(seed ^ 0x5eed_cafe);
  const base = profile === "harsh" ? harshFaultOptions(seed, n, pick) : randomFaultOptions(seed, n, pick);
  return { ...base, ...overrides };
}

export function runSeed(
  seed: number,
  n: number,
  overrides: Partial<SimOptions> = {},
  profile: SimProfile = "standard",
): Promise<SimResult> {
  return new Cluster(campaignOptions(seed, n, overrides, profile)).run();
}

export function reproduceLine(r: SimResult): string {
  return `reproduce with: SEED=${r.seed} npm run sim -- --n ${r.n}${r.profile === "harsh" ? " --harsh" : ""}`;
}

export function formatFailure(r: SimResult): string {
  const lines = [`seed ${r.seed} n=${r.n} FAILED (byzantine: ${r.byzantine.join(" ") || "none"})`];
  for (const v of r.safetyViolations) lines.push(`  safety: ${v}`);
  for (const v of r.doubleVotes) lines.push(`  double vote: ${v}`);
  for (const v of r.halts) lines.push(`  halt: ${v}`);
  if (r.livenessFailure) lines.push(`  liveness: ${r.livenessFailure}`);
  lines.push(`  ${reproduceLine(r)}`);
  return lines.join("\n");
}

const FAILURES_KEPT = 100;

export interface CampaignSummary {
  n: number;
  /** Seeds run (fewer than asked when the time budget ran out). */
  seeds: number;
  /** Seeds that failed; the first FAILURES_KEPT of them are in `failures`. */
  failed: number;
  failures: SimResult[];
  ticks: number;
  messages: number;
  viewChanges: number;
  pipelined: number;
  elapsedMs: number;
}

export interface CampaignOptions {
  overrides?: Partial<SimOptions>;
  profile?: SimProfile;
  onFailure?: (r: SimResult) => void;
  /** Called after each seed with the summary so far (the CLI prints progress from it). */
  onSeed?: (s: CampaignSummary) => void;
  /** Stop starting new seeds after this long (the summary says how many ran). */
  budgetMs?: number;
}

export async function runCampaign(
  firstSeed: number,
  seeds: number,
  n: number,
  o: CampaignOptions = {},
): Promise<CampaignSummary> {
  const started = performance.now();
  const summary: CampaignSummary = {
    n,
    seeds: 0,
    failed: 0,
    failures: [],
    ticks: 0,
    messages: 0,
    viewChanges: 0,
    pipelined: 0,
    elapsedMs: 0,
  };
  for (let s = firstSeed; s < firstSeed + seeds; s++) {
    if (o.budgetMs !== undefined && performance.now() - started > o.budgetMs) break;
    const r = await runSeed(s, n, o.overrides, o.profile);
    summary.seeds++;
    summary.ticks += r.ticks;
    summary.messages += r.messagesSent;
    summary.viewChanges += r.viewChanges;
    summary.pipelined += r.pipelined;
    if (!r.ok) {
      summary.failed++;
      if (summary.failures.length < FAILURES_KEPT) summary.failures.push(r);
      o.onFailure?.(r);
    }
    summary.elapsedMs = performance.now() - started;
    o.onSeed?.(summary);
  }
  summary.elapsedMs = performance.now() - started;
  return summary;
}
