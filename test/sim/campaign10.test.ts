/** The n=10 campaign (f=3 Byzantine), in its own file so the runner can use the second core. */
import { describe, expect, it } from "vitest";
import { formatFailure, runCampaign } from "./campaign.js";

const SEEDS = Number(process.env.SIM_SEEDS ?? 300);

describe("sim campaign n=10", () => {
  it(`n=10, ${SEEDS} seeds`, async () => {
    const s = await runCampaign(1, SEEDS, 10);
    expect(s.failures.map(formatFailure)).toEqual([]);
    expect(s.viewChanges).toBeGreaterThan(0);
    // Pipelining is on by default: early proposals must be adopted, or the window is not at work.
    expect(s.pipelined).toBeGreaterThan(s.seeds);
  }, 600_000);
});
