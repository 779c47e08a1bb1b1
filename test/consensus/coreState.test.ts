import { describe, expect, it } from "vitest";
import type { HardState } from "../../src/consensus/index.js";
import {
  block,
  core,
  deliver,
  keys,
  prePrepare,
  take,
  ticksUntilViewChange,
  viewChange,
  vote,
} from "./coreHelpers.js";

const [k0, k1, k2, k3] = keys as [(typeof keys)[0], (typeof keys)[0], (typeof keys)[0], (typeof keys)[0]];
const { blockHash } = block(1);

function hardState(over: Partial<HardState>): HardState {
  return {
    height: 1,
    view: 0,
    viewChanging: false,
    prePrepareVote: null,
    prepareVote: null,
    commitVote: null,
    prepared: null,
    newViewHash: null,
    ...over,
  };
}

describe("PbftCore: what a fresh or restarted core asks for", () => {
  it("a fresh replica has nothing to persist or do; the leader of (1, 0) asks for a proposal", () => {
    const r = take(core(k2));
    expect(r.persist).toBeNull();
    expect(r.requestProposal).toBeNull();
    expect(take(core(k1)).requestProposal).toMatchObject({ height: 1, view: 0 });
  });

  it("a leader restarted after it proposed does not ask again (one proposal per view)", () => {
    const c = core(k1, {}, hardState({ prePrepareVote: blockHash }));
    expect(take(c).requestProposal).toBeNull();
  });

  it("a leader restarted in a view change, or under a NewView's block, does not ask", () => {
    expect(take(core(k2, {}, hardState({ view: 1, viewChanging: true }))).requestProposal).toBeNull();
    expect(take(core(k3, {}, hardState({ view: 2, newViewHash: blockHash }))).requestProposal).toBeNull();
    expect(take(core(k3, {}, hardState({ view: 2 }))).requestProposal).toMatchObject({ height: 1, view: 2 });
  });

  it("restarted in a view change, its timer waits for a quorum of ViewChanges", () => {
    const c = core(k0, { viewTimeoutTicks: 5 }, hardState({ view: 1, viewChanging: true }));
    take(c);
    expect(ticksUntilViewChange(c, 60)).toBeNull();
    deliver(c, viewChange(k2, 1));
    deliver(c, viewChange(k3, 1));
    expect(ticksUntilViewChange(c, 60)).toBe(10); // 5 · 2^1, counted from the quorum
  });
});

describe("PbftCore: rejections", () => {
  it("each one is counted and recorded with the message's type, height and (target) view, up to rejectionsMax", () => {
    const c = core(k2, { rejectionsMax: 2 });
    take(c);
    deliver(c, viewChange(k0, 1));
    c.step({ type: "message", from: k0.nodeId, msg: viewChange(k0, 1) });
    c.step({ type: "message", from: k3.nodeId, msg: prePrepare(1, k3) });
    c.step({ type: "message", from: k3.nodeId, msg: prePrepare(2, k3) });
    const r = take(c);
    expect(r.rejections).toEqual([
      { reason: "DUPLICATE", type: "viewChange", height: 1, view: 1 },
      { reason: "WRONG_LEADER", type: "prePrepare", height: 1, view: 0 },
    ]);
    expect(c.counters.rejected).toBe(3);
  });

  it("a commit vote counts as its view's: commits of view 1 do not decide with those of view 0", () => {
    const c = core(k2);
    deliver(c, prePrepare(1, k1));
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    take(c);
    deliver(c, vote("commit", k0, blockHash, 0));
    deliver(c, vote("commit", k1, blockHash, 1));
    expect(deliver(c, vote("commit", k3, blockHash, 1)).commits).toHaveLength(0);
    expect(deliver(c, vote("commit", k0, blockHash, 1)).commits).toHaveLength(1);
    expect(c.counters.commits).toBe(1);
  });
});
