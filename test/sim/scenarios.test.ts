/**
 * Readable scenarios over the real ConsensusDriver (and its PbftCore) in the simulator. Every scenario also runs the safety checker
 * (no two honest nodes decide different blocks at a height; every certificate verifies under that height's
 * validator set) and the double-vote checker.
 */
import { describe, expect, it } from "vitest";
import { verifyCertificate } from "../../src/consensus/index.js";
import type { Cluster } from "./cluster.js";
import { cluster, leaderOf, minHeight } from "./helpers.js";

function expectSafe(c: Cluster): void {
  expect(c.safetyViolations).toEqual([]);
  expect(c.doubleVotes).toEqual([]);
}

describe("sim scenarios", async () => {
  it("normal case: 4 honest replicas commit block after block in view 0", async () => {
    const c = cluster(4, 1);
    expect(await c.runUntil(() => minHeight(c.nodes) >= 10, 200)).toBe(true);
    expectSafe(c);
    // Every block of every node carries a certificate of view 0 and the same hashes.
    for (let h = 1; h <= 10; h++) {
      const hashes = new Set(c.nodes.map((nd) => Buffer.from(nd.chain[h]!.hash).toString("hex")));
      expect(hashes.size).toBe(1);
      expect(c.nodes[0]!.chain[h]!.certificate?.view).toBe(0);
    }
    expect(c.now).toBeLessThan(120);
  });

  it("leader crash: the others change view past it and keep committing", async () => {
    const c = cluster(4, 2);
    await c.runUntil(() => minHeight(c.nodes) >= 2, 100);
    const leader = c.nodes[leaderOf(c.nodes[1]!.height + 1, 4)]!;
    c.crash(leader, Number.POSITIVE_INFINITY);
    const others = c.nodes.filter((nd) => nd !== leader);
    const start = minHeight(others);
    expect(await c.runUntil(() => minHeight(others) >= start + 8, 2000)).toBe(true);
    expectSafe(c);
    // Heights whose view-0 leader is the crashed node were decided in a later view.
    const viaViewChange = others[0]!.chain.slice(start + 1).filter((b) => (b.certificate?.view ?? 0) > 0);
    expect(viaViewChange.length).toBeGreaterThan(0);
    // It comes back, catches up through sync, and takes part again.
    c.heal();
    const target = minHeight(others) + 3;
    expect(await c.runUntil(() => minHeight(c.nodes) >= target, 1000)).toBe(true);
    expectSafe(c);
  });

  it("equivocating leader: evidence, view change, no fork", async () => {
    for (let seed = 1; seed <= 5; seed++) {
      const c = cluster(4, seed, { byzantine: ["equivocate"], byzantineIndexes: [1] });
      const honest = c.nodes.filter((nd) => !nd.byz);
      // Whether a replica sees both proposals of one round depends on the seed's timing: the honest nodes go on
      // committing until one does (the equivocator leads every fourth height).
      expect(await c.runUntil(() => minHeight(honest) >= 8 && c.evidenceSeen > 0, 3000)).toBe(true);
      expectSafe(c);
    }
  });

  it("partition of the leader, then heal: the majority continues, the leader catches up", async () => {
    const c = cluster(4, 3);
    await c.runUntil(() => minHeight(c.nodes) >= 2, 100);
    const leader = leaderOf(c.nodes[0]!.height + 1, 4);
    c.setPartition(c.nodes.map((nd) => (nd.index === leader ? 1 : 0)));
    const majority = c.nodes.filter((nd) => nd.index !== leader);
    const isolated = c.nodes[leader]!;
    const stuckAt = isolated.height;
    expect(await c.runUntil(() => minHeight(majority) >= stuckAt + 6, 2000)).toBe(true);
    expect(isolated.height).toBeLessThanOrEqual(stuckAt + 1);
    c.setPartition(null);
    const target = minHeight(majority) + 3;
    expect(await c.runUntil(() => minHeight(c.nodes) >= target, 1000)).toBe(true);
    expectSafe(c);
  });

  it("a replica that restarts mid-round (after its Commit, before the block) rejoins without double voting", async () => {
    for (let seed = 1; seed <= 10; seed++) {
      const c = cluster(4, seed, { faults: { loss: 0.05, duplicate: 0.05, delayMin: 1, delayMax: 4 } });
      let crashes = 0;
      // Right after its Commit for a height it has not committed yet: the block is decided, not on its disk.
      c.onSend = (nd, msg) => {
        if (msg.type === "commit" && msg.height > nd.height && nd.index === 2 && crashes < 5 && nd.host) {
          crashes++;
          c.crash(nd, 3);
        }
      };
      expect(await c.runUntil(() => minHeight(c.nodes) >= 10, 3000)).toBe(true);
      expect(crashes).toBeGreaterThan(0);
      expectSafe(c);
    }
  });

  it("validator added at height 3 and another removed at height 8", async () => {
    const c = cluster(4, 4, {
      extraNodes: 1,
      validatorChanges: [
        { height: 3, validators: [0, 1, 2, 3, 4] },
        { height: 8, validators: [1, 2, 3, 4] },
      ],
    });
    expect(await c.runUntil(() => minHeight(c.nodes) >= 14, 3000)).toBe(true);
    expectSafe(c);
    const chain = c.nodes[1]!.chain;
    const signers = (h: number) =>
      new Set(
        chain[h]!.certificate!.signatures.map((s) =>
          c.nodes.findIndex((nd) => Buffer.compare(nd.nodeId, s.nodeId) === 0),
        ),
      );
    const crypto = c.keys.cryptoFor(c.nodes[1]!.key);
    for (let h = 1; h <= 14; h++) {
      // Certificates verify under the set in force at their height (5 validators → quorum 4 from h=4 to 8).
      expect(verifyCertificate(chain[h]!.certificate!, c.validatorsAt(h), crypto).ok).toBe(true);
      if (h <= 3) expect(signers(h).has(4)).toBe(false);
      if (h >= 9) expect(signers(h).has(0)).toBe(false);
    }
    expect([4, 5, 6, 7, 8].some((h) => signers(h).has(4))).toBe(true);
    expect(c.validatorsAt(4)).toHaveLength(5);
    expect(c.validatorsAt(9)).toHaveLength(4);
    // The removed node still follows the chain as an observer.
    expect(c.nodes[0]!.height).toBeGreaterThanOrEqual(14);
  });
});
