/**
 * The drivers are async, yet a seed must replay exactly: the same seed twice gives the same trace (every driver
 * log line with its virtual time, every message sent) and the same decided chains. It fails if anything in a
 * driver's path reads the real clock (the "block committed" lines carry commitMs), uses a real timer, or lets an
 * await resolve outside the simulator's event queue.
 */
import { describe, expect, it } from "vitest";
import { toHex } from "../../src/consensus/index.js";
import { campaignOptions } from "./campaign.js";
import { Cluster } from "./cluster.js";

async function traced(seed: number): Promise<{ trace: string[]; chains: string[][]; ok: boolean }> {
  const trace: string[] = [];
  const c = new Cluster(campaignOptions(seed, 4, { verbose: true, log: (line) => trace.push(line) }));
  const r = await c.run();
  return { trace, chains: c.nodes.map((nd) => nd.chain.map((b) => toHex(b.hash))), ok: r.ok };
}

describe("sim determinism", () => {
  // Seeds with loss, duplication, partitions, crashes (also right after a Commit) and a Byzantine validator.
  it("the same seed twice: the same trace and the same decided chains", async () => {
    for (const seed of [21, 37]) {
      const a = await traced(seed);
      const b = await traced(seed);
      expect(a.ok).toBe(true);
      expect(a.trace.some((l) => l.includes("block committed"))).toBe(true);
      expect(a.trace.some((l) => l.includes("crash node"))).toBe(true);
      expect(b.trace).toEqual(a.trace);
      expect(b.chains).toEqual(a.chains);
      expect(Math.min(...a.chains.map((ch) => ch.length))).toBeGreaterThan(3);
    }
  }, 60_000);

  it("another seed gives another run (the trace is not empty or constant)", async () => {
    const a = await traced(21);
    const b = await traced(32);
    expect(b.trace).not.toEqual(a.trace);
    expect(b.chains[0]).not.toEqual(a.chains[0]);
  }, 60_000);
});
