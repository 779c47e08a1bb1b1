import { describe, expect, it } from "vitest";
import { defaultPbftConfig, type PbftConfig, PbftCore, type PbftMessage } from "../../src/consensus/index.js";
import { HELPED_MAX } from "../../src/consensus/pbft/core/state.js";
import {
  block,
  core,
  deliver,
  GENESIS,
  hardState,
  k0,
  k1,
  k2,
  k3,
  newView,
  outsider,
  prePrepare,
  preparedAtNode2,
  reasons,
  reg,
  signed,
  take,
  ticksUntilViewChange,
  types,
  viewChange,
  vote,
} from "./coreHelpers.js";

const { blockHash } = block(1);
/** The core does not read the certificate of a synced block (the chain verified it). */
const emptyCert = { height: 1, view: 0, blockHash, signatures: [] };

/** Node 2 decided block(1) at height 1 and is at height 2. */
function decidedAtNode2(config: Partial<PbftConfig> = {}): PbftCore {
  const c = preparedAtNode2(config);
  deliver(c, vote("commit", k1, blockHash));
  expect(deliver(c, vote("commit", k0, blockHash)).commits).toHaveLength(1);
  return c;
}

function tickN(c: PbftCore, n: number): PbftMessage[][] {
  const out: PbftMessage[][] = [];
  for (let i = 0; i < n; i++) {
    c.tick();
    out.push(take(c).messages.map((m) => m.msg));
  }
  return out;
}

describe("PbftCore catch-up: resending own messages", () => {
  it("every resendTicks a replica resends its Prepare and Commit of the view, the same messages", () => {
    const c = core(k2, { resendTicks: 3, viewTimeoutTicks: 100 });
    deliver(c, prePrepare(1, k1));
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    const prepare = take(c).messages[0]!.msg;
    deliver(c, vote("prepare", k1, blockHash));
    const commit = deliver(c, vote("prepare", k0, blockHash)).messages[0]!.msg;
    const sent = tickN(c, 6);
    expect(sent.map((m) => m.length)).toEqual([0, 0, 2, 0, 0, 2]);
    expect(sent[2]).toEqual([prepare, commit]);
  });

  it("the leader also resends its PrePrepare", () => {
    const c = core(k1, { resendTicks: 2, viewTimeoutTicks: 100 });
    take(c);
    c.step({ type: "proposal", height: 1, ...block(1) });
    const sent = take(c).messages.map((m) => m.msg);
    expect(sent.map((m) => m.type)).toEqual(["prePrepare", "prepare"]);
    expect(tickN(c, 2)[1]).toEqual(sent);
  });

  it("in a view change it resends only its ViewChange", () => {
    const c = core(k2, { resendTicks: 4, viewTimeoutTicks: 10 });
    take(c);
    ticksUntilViewChange(c, 10);
    const sent = tickN(c, 4);
    expect(sent[3]!.map((m) => m.type)).toEqual(["viewChange"]);
    expect(sent[3]![0]).toMatchObject({ toView: 1, sender: k2.nodeId });
  });

  it("after a restart in a view change it sends its ViewChange again", () => {
    const r = take(core(k2, {}, hardState({ view: 2, viewChanging: true })));
    expect(types(r)).toEqual(["viewChange"]);
    expect(r.messages[0]!.msg).toMatchObject({ toView: 2, height: 1 });
  });

  it("after a restart with a Commit vote it sends that Commit again, and counts it", () => {
    const c = core(k2, {}, hardState({ prepareVote: blockHash, commitVote: blockHash }));
    const r = take(c);
    expect(types(r)).toEqual(["prepare", "commit"]);
    expect(r.messages[1]!.msg).toMatchObject({ blockHash, view: 0 });
    deliver(c, prePrepare(1, k1));
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    take(c);
    deliver(c, vote("commit", k1, blockHash));
    expect(deliver(c, vote("commit", k0, blockHash)).commits).toHaveLength(1); // own + 2
  });
});

describe("PbftCore catch-up: helping a peer one height behind", () => {
  it("answers a message of the last height with its Commit, once per peer until resendTicks pass", () => {
    const c = decidedAtNode2({ resendTicks: 5, viewTimeoutTicks: 100 });
    const r = deliver(c, vote("prepare", k3, blockHash));
    expect(reasons(r)).toEqual(["OLD_HEIGHT"]);
    expect(r.messages).toHaveLength(1);
    expect(r.messages[0]!.to).toEqual(k3.nodeId);
    expect(r.messages[0]!.msg).toMatchObject({ type: "commit", height: 1, sender: k2.nodeId, blockHash });
    expect(deliver(c, vote("commit", k3, blockHash)).messages).toHaveLength(0); // helped already
    expect(deliver(c, vote("prepare", k0, blockHash)).messages[0]?.to).toEqual(k0.nodeId);
    tickN(c, 1);
    expect(deliver(c, vote("prepare", k3, blockHash)).messages).toHaveLength(0); // not yet resendTicks
    tickN(c, 4);
    expect(deliver(c, vote("prepare", k3, blockHash)).messages).toHaveLength(1);
    const older = signed(k1, { type: "prepare", height: 0, view: 0, blockHash } as never) as PbftMessage;
    expect(deliver(c, older).messages).toHaveLength(0); // two heights behind: our Commit is of no use to it
  });

  it(`answers at most HELPED_MAX (${HELPED_MAX}) peers until resendTicks pass (the sender of an old message is not checked)`, () => {
    const c = decidedAtNode2({ resendTicks: 5, viewTimeoutTicks: 100 });
    const claimed = (i: number) =>
      ({ ...vote("prepare", k3, blockHash), sender: Uint8Array.of(9, i >> 8, i & 0xff) }) as PbftMessage;
    for (let i = 0; i < HELPED_MAX + 10; i++) c.step({ type: "message", from: k3.nodeId, msg: claimed(i) });
    const r = take(c);
    expect(r.messages).toHaveLength(HELPED_MAX);
    expect(new Set(r.messages.map((m) => m.to![2]! + 256 * m.to![1]!)).size).toBe(HELPED_MAX);
    tickN(c, 5);
    expect(deliver(c, claimed(HELPED_MAX + 20)).messages).toHaveLength(1);
  });

  it("does not answer a Commit of the last height: that is the tail of the quorum, which gossip completes", () => {
    const c = decidedAtNode2({ resendTicks: 5, viewTimeoutTicks: 100 });
    const late = deliver(c, vote("commit", k3, blockHash));
    expect(reasons(late)).toEqual(["OLD_HEIGHT"]);
    expect(late.messages).toHaveLength(0);
    // The same peer still at its Prepare (or asking for a view change) is behind: it gets our Commit.
    expect(deliver(c, vote("prepare", k3, blockHash)).messages[0]?.to).toEqual(k3.nodeId);
  });

  it("does not help after a sync (it has no Commit of that height)", () => {
    const c = core(k2);
    take(c);
    c.step({ type: "synced", height: 1, blockHash, certificate: emptyCert });
    expect(take(c).persist?.height).toBe(2);
    const r = deliver(c, vote("prepare", k3, blockHash));
    expect(reasons(r)).toEqual(["OLD_HEIGHT"]);
    expect(r.messages).toHaveLength(0);
  });

  it("a synced event of another height is stale", () => {
    const c = core(k2);
    take(c);
    c.step({ type: "synced", height: 2, blockHash, certificate: emptyCert });
    expect(take(c).rejections).toEqual([{ reason: "STALE_EVENT", type: "synced", height: 2, view: 0 }]);
    expect(c.status().height).toBe(1);
  });
});

describe("PbftCore catch-up: helping a peer in an older view", () => {
  const vcs = () => [viewChange(k0, 1), viewChange(k2, 1), viewChange(k3, 1)];
  const b3 = block(3).blockHash;
  /** k0 moved to view 1 by k2's NewView, executed k2's block 3 there and voted: what it would send a laggard. */
  const inView1 = () => {
    const c = core(k0);
    take(c);
    const nv = newView(k2, 1, vcs());
    deliver(c, nv);
    const pp = prePrepare(3, k2, 1);
    deliver(c, pp);
    c.step({ type: "blockExecuted", height: 1, blockHash: b3, valid: true });
    const prepare = take(c).messages[0]!.msg;
    return { c, nv, pp, prepare };
  };

  it("sends it the NewView and its own votes of the new view, once", () => {
    const { c, nv, pp, prepare } = inView1();
    const r = deliver(c, vote("prepare", k3, blockHash, 0));
    expect(reasons(r)).toEqual(["OLD_VIEW"]);
    expect(r.messages.every((m) => m.to === k3.nodeId)).toBe(true);
    expect(r.messages.map((m) => m.msg)).toEqual([nv, pp, prepare]);
    expect(deliver(c, viewChange(k3, 0 as never)).messages).toHaveLength(0);
  });

  it("each peer in the older view is helped, and gets this node's Commit of the view too", () => {
    const { c, nv, pp, prepare } = inView1();
    deliver(c, vote("prepare", k2, b3, 1));
    const commit = deliver(c, vote("prepare", k3, b3, 1)).messages[0]!.msg;
    expect(commit).toMatchObject({ type: "commit", view: 1 });
    for (const k of [k3, k1]) {
      const r = deliver(c, vote("prepare", k, blockHash, 0));
      expect(r.messages).toEqual([nv, pp, prepare, commit].map((msg) => ({ to: k.nodeId, msg })));
    }
  });

  it("an old-view ViewChange also gets the NewView", () => {
    const c = core(k0);
    take(c);
    deliver(c, newView(k2, 1, vcs()));
    const r = deliver(c, { ...viewChange(k1, 1) });
    expect(reasons(r)).toEqual(["OLD_VIEW"]);
    expect(r.messages.map((m) => m.msg.type)).toEqual(["newView"]);
  });

  it("without a NewView (restarted in view 2) it has nothing to send", () => {
    const c = core(k0, {}, hardState({ view: 2 }));
    take(c);
    const r = deliver(c, vote("prepare", k3, blockHash, 0));
    expect(reasons(r)).toEqual(["OLD_VIEW"]);
    expect(r.messages).toHaveLength(0);
  });

  it("does not answer its own old messages, nor while it is changing views itself", () => {
    const c = core(k0);
    take(c);
    deliver(c, newView(k2, 1, vcs()));
    expect(deliver(c, vote("prepare", k0, blockHash, 0)).messages).toHaveLength(0);
    ticksUntilViewChange(c, 100);
    expect(c.status()).toMatchObject({ view: 2, viewChanging: true });
    expect(deliver(c, vote("prepare", k3, blockHash, 0)).messages).toHaveLength(0);
  });
});

describe("PbftCore catch-up: fetching a decided block it lacks", () => {
  it("a commit quorum for a block it never executed asks to fetch from the voters, then waits fetchCooldownTicks", () => {
    const c = core(k2, { fetchCooldownTicks: 5, viewTimeoutTicks: 100 });
    take(c);
    c.step({ type: "message", from: k0.nodeId, msg: vote("commit", k0, blockHash) });
    c.step({ type: "message", from: k1.nodeId, msg: vote("commit", k1, blockHash) });
    c.step({ type: "message", from: k3.nodeId, msg: vote("commit", k3, blockHash) });
    const r = take(c);
    expect(r.commits).toHaveLength(0);
    expect(r.fetchBlocks).toEqual({ fromHeight: 1, peers: [k0.nodeId] });
    expect(c.status().height).toBe(1);

    // Within the cooldown: no new request; after it, the next commit quorum asks again.
    c.tick();
    take(c);
    expect(deliver(c, vote("commit", k2, blockHash)).fetchBlocks).toBeNull();
    for (let t = 0; t < 4; t++) c.tick();
    take(c);
    c.step({ type: "message", from: k3.nodeId, msg: vote("commit", k3, blockHash, 1) });
    c.step({ type: "message", from: k1.nodeId, msg: vote("commit", k1, blockHash, 1) });
    c.step({ type: "message", from: k0.nodeId, msg: vote("commit", k0, blockHash, 1) });
    expect(take(c).fetchBlocks).toEqual({ fromHeight: 1, peers: [k3.nodeId] });
    c.step({ type: "synced", height: 1, blockHash, certificate: emptyCert });
    expect(take(c).persist?.height).toBe(2);
  });

  it("a commit quorum for the block it is still executing waits for the execution instead of fetching it", () => {
    const c = core(k2, { viewTimeoutTicks: 100 });
    take(c);
    deliver(c, prePrepare(1, k1)); // executing block(1) from here on
    for (const k of [k0, k1, k3])
      c.step({ type: "message", from: k.nodeId, msg: vote("commit", k, blockHash) });
    const r = take(c);
    expect(r.fetchBlocks).toBeNull();
    expect(r.commits).toHaveLength(0);
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    expect(take(c).commits.map((x) => x.height)).toEqual([1]);
  });

  it("a commit quorum for another block than the one executing still fetches it", () => {
    const c = core(k2, { viewTimeoutTicks: 100 });
    take(c);
    deliver(c, prePrepare(1, k1));
    const other = block(2).blockHash;
    for (const k of [k0, k1, k3]) c.step({ type: "message", from: k.nodeId, msg: vote("commit", k, other) });
    expect(take(c).fetchBlocks).toEqual({ fromHeight: 1, peers: [k0.nodeId] });
  });

  // Execution is no longer pending: nothing here would ever commit that block, the certified copy must come from a
  // peer (this node's execution disagrees with the quorum's). An observer changes no view: its round still holds
  // the refused block when the quorum commits it.
  it.each([
    ["a replica", k2],
    ["an observer", outsider],
  ])("%s whose execution refused the block fetches the quorum's copy on its commit quorum", (_who, key) => {
    const c = core(key, { viewTimeoutTicks: 100 });
    take(c);
    deliver(c, prePrepare(1, k1));
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: false });
    take(c);
    for (const k of [k0, k1, k3])
      c.step({ type: "message", from: k.nodeId, msg: vote("commit", k, blockHash) });
    expect(take(c).fetchBlocks).toEqual({ fromHeight: 1, peers: [k0.nodeId] });
  });

  it("after the fetch, a repeated, conflicting or minority Commit asks for no other fetch", () => {
    const c = core(outsider, { fetchCooldownTicks: 1, viewTimeoutTicks: 100 });
    take(c);
    const missing = block(9).blockHash;
    for (const k of [k0, k1, k3])
      c.step({ type: "message", from: k.nodeId, msg: vote("commit", k, missing) });
    expect(take(c).fetchBlocks).toEqual({ fromHeight: 1, peers: [k0.nodeId] });
    tickN(c, 2); // past the cooldown
    const again = [
      vote("commit", k0, missing), // a duplicate
      vote("commit", k1, block(8).blockHash), // conflicting with k1's own
      vote("commit", k2, block(8).blockHash), // the last validator, for another block
    ];
    for (const msg of again) {
      const r = deliver(c, msg);
      expect(r.fetchBlocks).toBeNull();
    }
  });

  it("more commits in the same round add their senders to the request, once each", () => {
    const c = core(k2, { viewTimeoutTicks: 100 });
    take(c);
    for (const k of [k0, k1, k3])
      c.step({ type: "message", from: k.nodeId, msg: vote("commit", k, blockHash, 1) });
    for (const k of [k3, k1, k0, k2])
      c.step({ type: "message", from: k.nodeId, msg: vote("commit", k, blockHash) });
    expect(take(c).fetchBlocks).toEqual({ fromHeight: 1, peers: [k0.nodeId, k3.nodeId] });
  });

  it("asks at most 8 peers in one request", () => {
    const many = Array.from({ length: 12 }, (_, i) => reg.create(42, 10 + i));
    const set = many.map((k) => ({ nodeId: k.nodeId, weight: 1 }));
    const c = new PbftCore(
      { ...defaultPbftConfig, nodeId: many[0]!.nodeId, viewTimeoutTicks: 100 },
      { crypto: reg.cryptoFor(many[0]!) },
      { committedHeight: 0, committedHash: GENESIS, validators: set, hardState: null },
    );
    take(c);
    // quorum of 12 is 9: one view per sender group, each reaching a quorum names its first voter.
    for (let view = 0; view < 10; view++) {
      const voters = [...many.slice(view), ...many.slice(0, view)].slice(0, 9);
      for (const k of voters)
        c.step({ type: "message", from: k.nodeId, msg: vote("commit", k, blockHash, view) });
    }
    const peers = take(c).fetchBlocks?.peers ?? [];
    expect(peers).toHaveLength(8);
    expect(peers).toEqual(many.slice(0, 8).map((k) => k.nodeId));
  });
});

describe("PbftCore: events that do not fit the state", () => {
  it("a proposal: of another height, at a replica, twice, or against a NewView's block", () => {
    const leader = core(k1);
    expect(take(leader).requestProposal).toMatchObject({ height: 1, view: 0 });
    leader.step({ type: "proposal", height: 2, ...block(1) });
    expect(reasons(take(leader))).toEqual(["STALE_EVENT"]);
    leader.step({ type: "proposal", height: 1, ...block(1) });
    expect(types(take(leader))).toEqual(["prePrepare", "prepare"]);
    leader.step({ type: "proposal", height: 1, ...block(2) });
    expect(reasons(take(leader))).toEqual(["ALREADY_VOTED"]);

    const replica = core(k2);
    take(replica);
    replica.step({ type: "proposal", height: 1, ...block(1) });
    expect(reasons(take(replica))).toEqual(["NOT_LEADER"]);
  });

  it("a proposal of a height neither current nor next, or arriving during a view change, is stale: nothing signed", () => {
    const leader = core(k1);
    take(leader);
    for (const height of [0, 3]) {
      leader.step({ type: "proposal", height, ...block(1) });
      const r = take(leader);
      expect(r.rejections).toEqual([{ reason: "STALE_EVENT", type: "proposal", height, view: 0 }]);
      expect(r.messages).toEqual([]);
    }
    expect(ticksUntilViewChange(leader, 50)).toBe(10); // view 1 (led by node 2)
    leader.step({ type: "proposal", height: 1, ...block(1) });
    const r = take(leader);
    expect(r.rejections).toEqual([{ reason: "STALE_EVENT", type: "proposal", height: 1, view: 1 }]);
    expect(r.messages).toEqual([]);
  });

  it("a proposal built on another parent is stale: nothing signed, nor asked twice", () => {
    const leader = core(k1);
    expect(take(leader).requestProposal).toEqual({ height: 1, view: 0, parentHash: GENESIS });
    leader.step({ type: "proposal", height: 1, parentHash: block(7).blockHash, ...block(1) });
    const r = take(leader);
    expect(reasons(r)).toEqual(["STALE_EVENT"]);
    expect(r.messages).toEqual([]);
    expect(r.persist).toBeNull();
    // The request on its parent is still out: its answer is proposed.
    expect(r.requestProposal).toBeNull();
    leader.step({ type: "proposal", height: 1, parentHash: GENESIS, ...block(1) });
    expect(take(leader).messages.map((m) => m.msg.type)).toEqual(["prePrepare", "prepare"]);
    // A leader that already proposed in this view (restarted) does not ask again.
    const restarted = core(k1, {}, hardState({ prePrepareVote: blockHash }));
    take(restarted);
    restarted.step({ type: "proposal", height: 1, parentHash: block(7).blockHash, ...block(2) });
    const r2 = take(restarted);
    expect(reasons(r2)).toEqual(["STALE_EVENT"]);
    expect(r2.requestProposal).toBeNull();
  });

  it("a leader that took a PrePrepare of its own for the view (relayed back) proposes nothing else there", () => {
    const leader = core(k1);
    take(leader);
    expect(deliver(leader, prePrepare(1, k1), k3.nodeId).execute).toHaveLength(1);
    leader.step({ type: "proposal", height: 1, ...block(2) });
    const r = take(leader);
    expect(reasons(r)).toEqual(["ALREADY_VOTED"]);
    expect(r.messages).toEqual([]);
  });

  it("a leader restarted in a view whose NewView mandates a block proposes no other", () => {
    const leader = core(k3, {}, hardState({ view: 2, newViewHash: blockHash })); // node 3 leads (1, 2)
    take(leader);
    leader.step({ type: "proposal", height: 1, ...block(2) });
    const r = take(leader);
    expect(reasons(r)).toEqual(["NEW_VIEW_MISMATCH"]);
    expect(r.messages).toEqual([]);
  });

  it("blockExecuted of a height neither current nor next is stale, even for the block being executed", () => {
    const c = core(k2);
    deliver(c, prePrepare(1, k1));
    c.step({ type: "blockExecuted", height: 3, blockHash, valid: true });
    const r = take(c);
    expect(r.rejections).toEqual([{ reason: "STALE_EVENT", type: "blockExecuted", height: 3, view: 0 }]);
    expect(r.messages).toEqual([]);
  });

  it("blockExecuted: of another block is stale, a second one a duplicate", () => {
    const c = core(k2);
    deliver(c, prePrepare(1, k1));
    c.step({ type: "blockExecuted", height: 1, blockHash: block(2).blockHash, valid: true });
    expect(reasons(take(c))).toEqual(["STALE_EVENT"]);
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    expect(types(take(c))).toEqual(["prepare"]);
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    expect(reasons(take(c))).toEqual(["DUPLICATE"]);
  });

  it("an observer (not a validator) follows the votes to a commit without voting", () => {
    const c = core(outsider);
    take(c);
    deliver(c, prePrepare(1, k1));
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    expect(take(c).messages).toHaveLength(0);
    for (const k of [k0, k1, k2]) expect(deliver(c, vote("prepare", k, blockHash)).messages).toHaveLength(0);
    deliver(c, vote("commit", k0, blockHash));
    deliver(c, vote("commit", k1, blockHash));
    const r = deliver(c, vote("commit", k3, blockHash));
    expect(r.commits).toHaveLength(1);
    expect(r.commits[0]!.certificate.signatures).toHaveLength(3);
    expect(c.status().height).toBe(2);
  });

  it("a Prepare from a validator that already voted another block conflicts", () => {
    const c = core(k2);
    deliver(c, prePrepare(1, k1));
    deliver(c, vote("prepare", k0, blockHash));
    expect(reasons(deliver(c, vote("prepare", k0, block(2).blockHash)))).toEqual(["CONFLICTING_VOTE"]);
    expect(reasons(deliver(c, vote("prepare", k0, blockHash)))).toEqual(["DUPLICATE"]);
    expect(reasons(deliver(c, { ...vote("commit", k3, blockHash), signature: new Uint8Array(64) }))).toEqual([
      "BAD_SIGNATURE",
    ]);
  });
});
