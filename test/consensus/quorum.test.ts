import { describe, expect, it } from "vitest";
import {
  honestWeight,
  leaderIndex,
  maxFaultyWeight,
  quorumWeight,
  ValidatorSet,
} from "../../src/consensus/index.js";

describe("quorum math (FISCO 3.x updateQuorum: f = floor((W-1)/3), quorum = W - f)", () => {
  it.each([
    // W, f, quorum, f+1
    [1, 0, 1, 1],
    [2, 0, 2, 1],
    [3, 0, 3, 1],
    [4, 1, 3, 2],
    [5, 1, 4, 2],
    [6, 1, 5, 2],
    [7, 2, 5, 3],
    [8, 2, 6, 3],
    [9, 2, 7, 3],
    [10, 3, 7, 4],
    [13, 4, 9, 5],
    [100, 33, 67, 34],
  ])("W=%i → f=%i quorum=%i join=%i", (w, f, q, join) => {
    expect(maxFaultyWeight(w)).toBe(f);
    expect(quorumWeight(w)).toBe(q);
    expect(honestWeight(w)).toBe(join);
    // Two quorums always share more than f weight (one honest validator).
    expect(2 * q - w).toBeGreaterThan(f);
  });

  it("zero weight has no faults", () => {
    expect(maxFaultyWeight(0)).toBe(0);
  });

  it("weighted: quorum counts weight, not heads", () => {
    const id = (i: number) => new Uint8Array(32).fill(i);
    const set = new ValidatorSet([
      { nodeId: id(1), weight: 3 },
      { nodeId: id(2), weight: 1 },
      { nodeId: id(3), weight: 1 },
      { nodeId: id(4), weight: 2 },
      { nodeId: id(5), weight: 0 },
    ]);
    expect(set.total).toBe(7);
    expect(set.quorum).toBe(5);
    expect(set.honest).toBe(3);
    expect(set.has(id(5))).toBe(false);
    expect(set.has(id(4))).toBe(true);
    expect(set.weightOf(id(9))).toBe(0);
  });

  it.each([
    // height, view, leaderPeriod, n, index
    [0, 0, 1, 4, 0],
    [1, 0, 1, 4, 1],
    [5, 0, 1, 4, 1],
    [5, 2, 1, 4, 3],
    [5, 0, 2, 4, 2],
    [7, 1, 5, 4, 2],
    [9, 0, 5, 7, 1],
  ])("leader of (h=%i, v=%i, period=%i, n=%i) is index %i", (h, v, p, n, idx) => {
    expect(leaderIndex(h, v, p, n)).toBe(idx);
  });

  it("no validators: no leader", () => {
    expect(leaderIndex(3, 1, 1, 0)).toBe(-1);
    expect(new ValidatorSet([]).leader(3, 1, 1)).toBeNull();
  });
});
