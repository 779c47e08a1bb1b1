import { describe, expect, it } from "vitest";
import { type HardState, isBlankHardState } from "../../src/consensus/pbft/core/index.js";
import {
  block,
  core,
  coreAfter,
  deliver,
  hardState,
  k0,
  k1,
  k2,
  k3,
  keys,
  newView,
  outsider,
  prePrepare,
  reasons,
  signed,
  take,
  ticksUntilViewChange,
  viewChange,
  vote,
} from "./coreHelpers.js";

const { blockHash } = block(1);

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

  it("restarted after committing the height its hard state is of, with no early proposal: the next leader asks", () => {
    const c = coreAfter(
      k2,
      1,
      blockHash,
      hardState({ height: 1, prepareVote: blockHash, commitVote: blockHash }),
    );
    const r = take(c);
    expect(r.requestProposal).toEqual({ height: 2, view: 0, parentHash: blockHash }); // node 2 leads (2, 0)
    expect(r.persist).toBeNull();
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

describe("PbftCore: hasReady", () => {
  it("is false with nothing to hand out, true for each kind of output alone", () => {
    const c = core(k2, { resendTicks: 2, viewTimeoutTicks: 100, fetchCooldownTicks: 1 });
    take(c);
    expect(c.hasReady()).toBe(false);
    c.step({ type: "message", from: k3.nodeId, msg: prePrepare(1, k3) }); // a rejection only
    expect(c.hasReady()).toBe(true);
    take(c);
    c.step({ type: "message", from: k1.nodeId, msg: prePrepare(1, k1) }); // an execute only
    expect(c.hasReady()).toBe(true);
    expect(take(c).persist).toBeNull();
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    take(c);
    c.tick();
    take(c);
    c.tick(); // the resend of its Prepare only
    expect(c.hasReady()).toBe(true);
    expect(take(c).persist).toBeNull();
    for (const k of [k0, k1, k3])
      c.step({ type: "message", from: k.nodeId, msg: vote("commit", k, block(9).blockHash) });
    expect(c.hasReady()).toBe(true);
    const r = c.ready(); // a fetch request only (block 9 was never executed here)
    expect(r.fetchBlocks).not.toBeNull();
    expect(r.rejections).toEqual([]);
    expect(r.persist).toBeNull();
    c.advance(r);
    expect(take(core(k1)).persist).toBeNull(); // a request for a proposal only
    const leader = core(k1);
    expect(leader.hasReady()).toBe(true);
    const entering = core(k0); // entering a NewView: only the hard state to persist
    take(entering);
    entering.step({
      type: "message",
      from: k2.nodeId,
      msg: newView(
        k2,
        1,
        [k0, k2, k3].map((k) => viewChange(k, 1)),
      ),
    });
    expect(entering.hasReady()).toBe(true);
    const nvReady = take(entering);
    expect(nvReady.messages).toEqual([]);
    expect(nvReady.persist).not.toBeNull();
    const observer = core(outsider, { rejectionsMax: 0 }); // evidence only: an observer changes no view
    deliver(observer, prePrepare(1, k1));
    observer.step({ type: "message", from: k1.nodeId, msg: prePrepare(2, k1) });
    expect(observer.hasReady()).toBe(true);
    expect(take(observer)).toMatchObject({
      evidence: [[prePrepare(1, k1), prePrepare(2, k1)]],
      persist: null,
    });
  });

  it("ready() twice without advance(), or advance() without ready(), is a driver bug", () => {
    const c = core(k2);
    expect(() => c.advance(c.ready())).not.toThrow();
    expect(() => c.advance(c.ready())).not.toThrow();
    c.ready();
    expect(() => c.ready()).toThrow(/ready\(\) called twice/);
    const c2 = core(k2);
    expect(() => c2.advance(c2.ready())).not.toThrow();
    expect(() => c2.advance({} as never)).toThrow(/advance\(\) without ready/);
  });

  it("a malformed message is recorded as a message of unknown height and view", () => {
    const c = core(k2);
    take(c);
    c.step({ type: "message", from: k1.nodeId, msg: { type: "prepare" } as never });
    expect(take(c).rejections).toEqual([{ reason: "MALFORMED", type: "message", height: -1, view: -1 }]);
  });

  it("a view exactly futureViewWindow ahead is buffered, one more is too far", () => {
    const c = core(k0, { futureViewWindow: 3 });
    take(c);
    expect(reasons(deliver(c, prePrepare(1, k0, 3)))).toEqual(["FUTURE_VIEW_BUFFERED"]);
    expect(reasons(deliver(c, prePrepare(1, k1, 4)))).toEqual(["VIEW_TOO_FAR"]);
  });

  it("counts the view changes it started", () => {
    const c = core(k2);
    take(c);
    ticksUntilViewChange(c, 50);
    expect(c.counters.viewChanges).toBe(1);
  });
});

describe("PbftCore: validator changes", () => {
  const three = keys.slice(0, 3).map((k) => ({ nodeId: k.nodeId, weight: 1 }));

  it("a committed block's next validators are in force at the next height", () => {
    const leader = core(k1);
    take(leader);
    leader.step({ type: "proposal", height: 1, ...block(1), nextValidators: three });
    take(leader);
    deliver(leader, vote("prepare", k0, blockHash));
    deliver(leader, vote("prepare", k2, blockHash));
    deliver(leader, vote("commit", k0, blockHash));
    const r = deliver(leader, vote("commit", k2, blockHash));
    expect(r.commits[0]?.nextValidators).toEqual(three);
    expect(leader.status().validators).toEqual(three);
  });

  it("a block that leaves no validator (nobody leads): no proposal asked for, messages refused without a throw", () => {
    const c = core(k0);
    take(c);
    c.step({
      type: "synced",
      height: 1,
      blockHash,
      certificate: { height: 1, view: 0, blockHash, signatures: [] },
      nextValidators: [],
    });
    expect(take(c).requestProposal).toBeNull();
    expect(c.status()).toMatchObject({ height: 2, leader: null, validators: [] });
    const next = signed(k3, { type: "prePrepare", height: 3, view: 0, ...block(3) } as never);
    expect(reasons(deliver(c, next as never))).toEqual(["FUTURE_HEIGHT_BUFFERED"]);
  });

  it("a replica takes the next validators from its execution; a synced block's from the event", () => {
    const c = core(k2);
    deliver(c, prePrepare(1, k1));
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: true, nextValidators: three });
    take(c);
    for (const k of [k0, k1]) deliver(c, vote("prepare", k, blockHash));
    for (const k of [k0, k1]) deliver(c, vote("commit", k, blockHash));
    expect(c.status()).toMatchObject({ height: 2, validators: three });

    const s = core(k2);
    take(s);
    s.step({
      type: "synced",
      height: 1,
      blockHash,
      certificate: { height: 1, view: 0, blockHash, signatures: [] },
      nextValidators: three,
    });
    expect(s.status()).toMatchObject({ height: 2, validators: three });
  });
});

describe("PbftCore: a NewView for a higher view than the one it votes in", () => {
  it("forgets the votes of its old view", () => {
    const c = core(k0);
    deliver(c, prePrepare(1, k1));
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    expect(take(c).persist?.prepareVote).toEqual(blockHash);
    const nv = signed(k3, {
      type: "newView",
      height: 1,
      view: 2,
      viewChanges: [k1, k2, k3].map((k) => viewChange(k, 2)),
    } as never);
    const r = deliver(c, nv as never);
    expect(r.persist).toMatchObject({ view: 2, prepareVote: null });
    expect(deliver(c, prePrepare(7, k3, 2)).execute).toHaveLength(1);
  });

  it("accepts a NewView carrying the ViewChanges of every validator", () => {
    const c = core(k0);
    take(c);
    const nv = newView(
      k2,
      1,
      keys.map((k) => viewChange(k, 1)),
    );
    expect(reasons(deliver(c, nv))).toEqual([]);
    expect(c.status().view).toBe(1);
  });
});

describe("PbftCore: configuration", () => {
  it("refuses leaderPeriod 0 and viewTimeoutTicks 0; 1 is fine for both", () => {
    expect(() => core(k0, { leaderPeriod: 0 })).toThrow(/leaderPeriod >= 1/);
    expect(() => core(k0, { viewTimeoutTicks: 0 })).toThrow(/viewTimeoutTicks >= 1/);
    const c = core(k0, { leaderPeriod: 1, viewTimeoutTicks: 1 });
    take(c);
    c.tick();
    expect(take(c).viewChangeStarted).toMatchObject({ toView: 1, cause: "timeout" });
  });
});

describe("isBlankHardState: what the driver need not write", () => {
  it("is true only for view 0 with no vote, lock, NewView block or early proposal", () => {
    expect(isBlankHardState(hardState({ height: 7 }))).toBe(true);
    expect(isBlankHardState({ ...hardState({ height: 7 }), nextPrePrepareVote: undefined })).toBe(true); // older files
    const set: Partial<HardState>[] = [
      { view: 1 },
      { viewChanging: true },
      { prePrepareVote: blockHash },
      { prepareVote: blockHash },
      { commitVote: blockHash },
      { prepared: { height: 7, view: 0, blockHash, signatures: [] } as unknown as HardState["prepared"] },
      { newViewHash: blockHash },
      { nextPrePrepareVote: blockHash },
    ];
    for (const over of set)
      expect(isBlankHardState(hardState({ height: 7, ...over })), JSON.stringify(Object.keys(over))).toBe(
        false,
      );
  });

  it("a core right after committing a height holds a blank state; after its first vote it does not", () => {
    const c = core(k2);
    take(c);
    deliver(c, prePrepare(1, k1));
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    const voted = take(c);
    expect(voted.persist).not.toBeNull();
    expect(isBlankHardState(voted.persist as HardState)).toBe(false);
    deliver(c, vote("prepare", k1, blockHash));
    deliver(c, vote("prepare", k3, blockHash));
    deliver(c, vote("commit", k1, blockHash));
    const committed = deliver(c, vote("commit", k3, blockHash));
    expect(committed.commits).toHaveLength(1);
    expect(committed.persist?.height).toBe(2);
    expect(isBlankHardState(committed.persist as HardState)).toBe(true);
  });
});
