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
): SimResult {
  return new Cluster(campaignOptions(seed, n, overrides, profile)).run();
}

export function reproduceLine(r: SimResult): string {
  return `reproduce with: SEED=${r.seed} npm run sim -- --n ${r.n}${r.profile === "harsh" ? " --harsh" : ""}`;
}

export function formatFailure(r: SimResult): string {
  const lines = [`seed ${r.seed} n=${r.n} FAILED (byzantine: ${r.byzantine.join(" ") || "none"})`];
  for (const v of r.safetyViolations) lines.push(`  safety: ${v}`);
  for (const v of r.doubleVotes) lines.push(`  double vote: ${v}`);
  if (r.livenessFailure) lines.push(`  liveness: ${r.livenessFailure}`);
  lines.push(`  ${reproduceLine(r)}`);
  return lines.join("\n");
}

export interface CampaignSummary {
  n: number;
  seeds: number;
  failures: SimResult[];
  ticks: number;
  messages: number;
  viewChanges: number;
  pipelined: number;
  elapsedMs: number;
}

export function runCampaign(
  firstSeed: number,
  seeds: number,
  n: number,
  overrides: Partial<SimOptions> = {},
  onFailure: (r: SimResult) => void = () => {},
  profile: SimProfile = "standard",
): CampaignSummary {
  const started = performance.now();
  const summary: CampaignSummary = {
    n,
    seeds,
    failures: [],
    ticks: 0,
    messages: 0,
    viewChanges: 0,
    pipelined: 0,
    elapsedMs: 0,
  };
  for (let s = firstSeed; s < firstSeed + seeds; s++) {
    const r = runSeed(s, n, overrides, profile);
    summary.ticks += r.ticks;
    summary.messages += r.messagesSent;
    summary.viewChanges += r.viewChanges;
    summary.pipelined += r.pipelined;
    if (!r.ok) {
      summary.failures.push(r);
      onFailure(r);
    }
  }
  summary.elapsedMs = performance.now() - started;
  return summary;
}
