/**
 * The write-ahead contract: own votes are persisted before they are sent. A Byzantine leader that equivocates
 * and re-sends both proposals, plus honest replicas that crash right after sending a Commit and restart
 * within a few ticks, makes a forgetful replica vote twice. With persistence: never. Without: the checkers
 * must find double votes AND a fork (proof that they can fail).
 */
import { describe, expect, it } from "vitest";
import { formatFailure } from "./campaign.js";
import { Cluster, type SimResult } from "./cluster.js";
import { defaultSimOptions } from "./options.js";

function run(seed: number, dropPersistence: boolean): Promise<SimResult> {
  const o = defaultSimOptions(seed, 4);
  o.byzantine = ["equivocate"];
  o.byzantineIndexes = [1];
  o.crashAfterCommitRate = 0.5;
  o.restartTicksMax = 3;
  o.dropPersistence = dropPersistence;
  o.faults = { loss: 0.1, duplicate: 0, delayMin: 1, delayMax: 4 };
  o.faultTicks = 150;
  return new Cluster(o).run();
}

describe("write-ahead", () => {
  it("restarted replicas never double-vote and never fork (100 seeds)", async () => {
    for (let seed = 1; seed <= 100; seed++) {
      const r = await run(seed, false);
      expect(r.doubleVotes, `seed ${seed}`).toEqual([]);
      expect(r.safetyViolations, `seed ${seed}`).toEqual([]);
      expect(r.livenessFailure, `seed ${seed}`).toBeNull();
    }
  }, 300_000);

  it("without write-ahead the simulator finds a double vote and a safety violation", async () => {
    let found: SimResult | null = null;
    let doubleVoteSeeds = 0;
    for (let seed = 1; seed <= 300 && found === null; seed++) {
      const r = await run(seed, true);
      if (r.doubleVotes.length > 0) doubleVoteSeeds++;
      if (r.safetyViolations.length > 0) found = r;
    }
    expect(doubleVoteSeeds).toBeGreaterThan(0);
    expect(found, "no seed in 1..300 produced a fork without write-ahead").not.toBeNull();
    console.log(`write-ahead dropped: fork found at seed ${found!.seed}: ${found!.safetyViolations[0]}`);
    expect(formatFailure(found!)).toContain(`reproduce with: SEED=${found!.seed} npm run sim -- --n 4`);
  }, 300_000);
});
