/**
 * Harsh campaign: up to 40% loss, 20% duplication, delays up to 12 ticks, view timeouts down to 8 ticks,
 * leader periods 1-3, frequent crashes (also right after a Commit) and partitions, f Byzantine. This profile
 * found two bugs the standard one missed (a double-counted own vote, a restarted node that could not resend).
 */
import { describe, expect, it } from "vitest";
import { formatFailure, runCampaign } from "./campaign.js";

const SEEDS = Number(process.env.SIM_HARSH_SEEDS ?? 100);

describe("harsh sim campaign", () => {
  it.each([4, 7])(
    `n=%i`,
    async (n) => {
      const s = await runCampaign(1, n === 4 ? SEEDS : Math.ceil(SEEDS / 3), n, { profile: "harsh" });
      expect(s.failures.map(formatFailure)).toEqual([]);
    },
    600_000,
  );
});
