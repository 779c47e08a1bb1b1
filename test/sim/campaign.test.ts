/**
 * Seed campaigns (VOPR style): f Byzantine validators of random kinds (silent, equivocating leader,
 * conflicting votes, bad signatures, replay, invalid blocks) plus loss, duplication, reordering, delay,
 * partitions that heal and crash/restart from persisted state, every node running the real ConsensusDriver.
 * Then heal and require liveness.
 * A failure prints `reproduce with: SEED=<seed> npm run sim -- --n <n>`.
 */
import { describe, expect, it } from "vitest";
import { formatFailure, runCampaign } from "./campaign.js";

const SEEDS = Number(process.env.SIM_SEEDS ?? 300);

describe("sim campaigns: zero safety violations, liveness after heal", () => {
  it.each([4, 7])(
    `n=%i, ${SEEDS} seeds`,
    async (n) => {
      const s = await runCampaign(1, SEEDS, n);
      expect(s.failures.map(formatFailure)).toEqual([]);
      expect(s.viewChanges).toBeGreaterThan(0);
      // Pipelining is on by default: early proposals must be adopted, or the window is not at work.
      expect(s.pipelined).toBeGreaterThan(s.seeds);
    },
    600_000,
  );
});
