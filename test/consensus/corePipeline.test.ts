/**
 * Pipelining (PROTOCOL.md "Pipelining"): the leader of (h + 1, 0) proposes on top of its executed block of h
 * before h commits; replicas execute that proposal early; nobody votes on h + 1 before h commits.
 * Four validators; leader of (height, view) is node (height + view) mod 4: (1, 0) → node 1, (2, 0) → node 2.
 */
import { describe, expect, it } from "vitest";
import type { PbftCore, PbftMessage, Ready } from "../../src/consensus/index.js";
import { EVIDENCE_MAX } from "../../src/consensus/pbft/core/state.js";
import type { SimKey } from "../sim/simCrypto.js";
import {
  block,
  core,
  coreAfter,
  deliver,
  GENESIS,
  k0,
  k1,
  k2,
  k3,
  keys,
  newView,
  prePrepare,
  preparedCert,
  reasons,
  signed,
  take,
  ticksUntilViewChange,
  types,
  viewChange,
  vote,
} from "./coreHelpers.js";

const b1 = block(1);
/** The payload is opaque to the core: a height-2 block needs only another hash. */
const b2 = block(2);

function prePrepare2(blockHash = b2.blockHash, payload = b2.payload, key = k2): PbftMessage {
  return signed(key, { type: "prePrepare", height: 2, view: 0, blockHash, payload } as never);
}

/** The early execution of b2 on b1 finished (valid or not). */
function executed2(c: PbftCore, valid: boolean, parentHash = b1.blockHash): void {
  c.step({ type: "blockExecuted", height: 2, parentHash, blockHash: b2.blockHash, valid });
}

/** An answer to a proposal request for height 2 that the core must refuse as stale, signing and persisting nothing. */
function expectStaleProposal(c: PbftCore, parentHash: Uint8Array): void {
  c.step({ type: "proposal", height: 2, parentHash, ...b2 });
  const r = take(c);
  expect(r.rejections).toEqual([{ reason: "STALE_EVENT", type: "proposal", height: 2, view: 0 }]);
  expect(r.messages).toEqual([]);
  expect(r.persist).toBeNull();
}

/** A core at height 1 that executed block b1 (proposed by node 1) valid and sent its Prepare. */
function executedHeight1(me = k0, config = {}): PbftCore {
  const c = core(me, config);
  take(c);
  deliver(c, prePrepare(1, k1));
  c.step({ type: "blockExecuted", height: 1, parentHash: GENESIS, blockHash: b1.blockHash, valid: true });
  return c;
}

/** Sync says another block than b1 was decided at height 1; returns its hash. */
function syncedOther(c: PbftCore): Uint8Array {
  const other = block(9).blockHash;
  c.step({
    type: "synced",
    height: 1,
    blockHash: other,
    certificate: { height: 1, view: 0, blockHash: other, signatures: [] },
  });
  return other;
}

/** Commits of height 1 from three validators: the block is decided. */
function commitQuorum(c: PbftCore, blockHash = b1.blockHash, view = 0): Ready {
  for (const k of [k1, k2, k3])
    c.step({ type: "message", from: k.nodeId, msg: vote("prepare", k, blockHash, view) });
  for (const k of [k1, k2, k3])
    c.step({ type: "message", from: k.nodeId, msg: vote("commit", k, blockHash, view) });
  return take(c);
}

describe("PbftCore pipelining: the next leader", () => {
  it("asks for the proposal of h + 1 on its executed block of h as soon as that block is valid", () => {
    const c = executedHeight1(k2);
    const r = take(c);
    expect(r.requestProposal).toEqual({ height: 2, view: 0, parentHash: b1.blockHash });
    expect(types(r)).toEqual(["prepare"]); // its Prepare of height 1; nothing of height 2 yet
  });

  it("does not, with pipelining off, nor when it is not the next leader", () => {
    expect(take(executedHeight1(k2, { pipeline: false })).requestProposal).toBeNull();
    expect(take(executedHeight1(k3)).requestProposal).toBeNull();
  });

  it("does not when block h changes the validator set (h + 1 has another leader and quorum)", () => {
    const c = core(k2);
    take(c);
    deliver(c, prePrepare(1, k1));
    const nextValidators = keys.slice(0, 3).map((k) => ({ nodeId: k.nodeId, weight: 1 }));
    c.step({ type: "blockExecuted", height: 1, blockHash: b1.blockHash, valid: true, nextValidators });
    expect(take(c).requestProposal).toBeNull();
  });

  it("signs and broadcasts its PrePrepare of (h + 1, 0), persisted first, with no Prepare before h commits", () => {
    const c = executedHeight1(k2);
    take(c);
    c.step({ type: "proposal", height: 2, parentHash: b1.blockHash, ...b2 });
    const r = take(c);
    expect(r.messages.map((m) => [m.msg.type, m.msg.height])).toEqual([["prePrepare", 2]]);
    expect(r.persist?.height).toBe(1);
    expect(r.persist?.nextPrePrepareVote).toEqual(b2.blockHash);
    // h commits: the leader adopts its own proposal and sends its Prepare of height 2 in the same Ready.
    const after = commitQuorum(c);
    expect(after.commits.map((x) => x.height)).toEqual([1]);
    expect(after.messages.map((m) => [m.msg.type, m.msg.height])).toContainEqual(["prepare", 2]);
    expect(after.requestProposal).toBeNull(); // it proposed at (2, 0) already
    // Its signature at (2, 0) is now the current height's vote in the hard state.
    expect(after.persist).toMatchObject({
      height: 2,
      prePrepareVote: b2.blockHash,
      nextPrePrepareVote: null,
    });
    expect(c.counters.pipelined).toBe(1);
  });

  it("refuses an early proposal built on another parent (stale), and signs nothing", () => {
    const c = executedHeight1(k2);
    take(c);
    expectStaleProposal(c, GENESIS);
    // That answered the request: the right one coming after it was not asked for.
    expectStaleProposal(c, b1.blockHash);
  });

  it("refuses an early proposal naming no parent, or arriving once a view change started at h", () => {
    const c = executedHeight1(k2);
    take(c);
    c.step({ type: "proposal", height: 2, ...b2 });
    expect(reasons(take(c))).toEqual(["STALE_EVENT"]);
    const changing = executedHeight1(k2);
    take(changing);
    expect(ticksUntilViewChange(changing, 50)).toBe(10);
    expectStaleProposal(changing, b1.blockHash);
  });

  it("resends its early PrePrepare with its own messages", () => {
    const c = executedHeight1(k2, { resendTicks: 2, viewTimeoutTicks: 100 });
    take(c);
    c.step({ type: "proposal", height: 2, parentHash: b1.blockHash, ...b2 });
    const [early] = take(c).messages.map((m) => m.msg);
    c.tick();
    take(c);
    c.tick();
    expect(take(c).messages.map((m) => m.msg)).toContainEqual(early);
  });

  it("the validator set its early block names is in force after that block commits", () => {
    const three = keys.slice(0, 3).map((k) => ({ nodeId: k.nodeId, weight: 1 }));
    const c = executedHeight1(k2);
    take(c);
    c.step({ type: "proposal", height: 2, parentHash: b1.blockHash, ...b2, nextValidators: three });
    take(c);
    expect(commitQuorum(c).messages.map((m) => [m.msg.type, m.msg.height])).toContainEqual(["prepare", 2]);
    const at2 = (type: "prepare" | "commit", k: SimKey) =>
      signed(k, { type, height: 2, view: 0, blockHash: b2.blockHash } as never) as PbftMessage;
    for (const k of [k0, k1]) deliver(c, at2("prepare", k));
    deliver(c, at2("commit", k0));
    const r = deliver(c, at2("commit", k1));
    expect(r.commits.map((x) => [x.height, x.nextValidators])).toEqual([[2, three]]);
    expect(c.status()).toMatchObject({ height: 3, validators: three });
  });

  it("after a restart it never proposes another block at (h + 1, 0)", () => {
    const c = executedHeight1(k2);
    take(c);
    c.step({ type: "proposal", height: 2, parentHash: b1.blockHash, ...b2 });
    const saved = take(c).persist!;
    // Restart at the same height: no second request for (2, 0).
    const same = core(k2, {}, saved);
    same.step({ type: "message", from: k1.nodeId, msg: prePrepare(1, k1) });
    same.step({ type: "blockExecuted", height: 1, blockHash: b1.blockHash, valid: true });
    expect(take(same).requestProposal).toBeNull();
    // Nor once height 1 commits there (its early PrePrepare itself was lost with the crash).
    const committed = commitQuorum(same);
    expect(committed.commits.map((x) => x.height)).toEqual([1]);
    expect(committed.requestProposal).toBeNull();
    expect(committed.persist?.prePrepareVote).toEqual(b2.blockHash);
    // Restart after height 1 committed (the hard state still says height 1): (2, 0) is taken.
    const later = coreAfter(k2, 1, b1.blockHash, saved);
    const r = take(later);
    expect(r.requestProposal).toBeNull();
    expect(r.persist?.prePrepareVote).toEqual(b2.blockHash);
    later.step({ type: "proposal", height: 2, parentHash: b1.blockHash, ...block(3) });
    expect(reasons(take(later))).toEqual(["ALREADY_VOTED"]);
  });
});

describe("PbftCore pipelining: a replica", () => {
  it("executes the early PrePrepare on its executed block of h, and votes only once h commits", () => {
    const c = core(k0);
    take(c);
    deliver(c, prePrepare(1, k1));
    // The PrePrepare of (2, 0) arrives before block 1 is executed here: it waits.
    const early = deliver(c, prePrepare2());
    expect(early.execute).toEqual([]);
    expect(early.fetchBlocks).toBeNull(); // not a sign of being behind
    c.step({ type: "blockExecuted", height: 1, parentHash: GENESIS, blockHash: b1.blockHash, valid: true });
    const r = take(c);
    expect(r.execute).toEqual([{ height: 2, view: 0, parentHash: b1.blockHash, ...b2 }]);
    expect(types(r)).toEqual(["prepare"]); // of height 1
    executed2(c, true);
    expect(take(c).messages).toEqual([]); // no vote on height 2 yet
    const after = commitQuorum(c);
    expect(after.commits.map((x) => x.height)).toEqual([1]);
    const votes2 = after.messages.filter((m) => m.msg.height === 2).map((m) => m.msg.type);
    expect(votes2).toEqual(["prepare"]);
    expect(after.execute).toEqual([]); // executed already
    expect(c.counters.pipelined).toBe(1);
  });

  it("an early execution still running when h commits: its answer counts at h + 1", () => {
    const c = executedHeight1();
    take(c);
    expect(deliver(c, prePrepare2()).execute).toHaveLength(1);
    expect(commitQuorum(c).messages.filter((m) => m.msg.height === 2)).toEqual([]);
    executed2(c, true);
    expect(take(c).messages.map((m) => [m.msg.type, m.msg.height])).toEqual([["prepare", 2]]);
  });

  it("an early proposal found invalid: view change at h + 1 as soon as h commits", () => {
    const c = executedHeight1();
    take(c);
    deliver(c, prePrepare2());
    executed2(c, false);
    const r = commitQuorum(c);
    expect(r.viewChangeStarted).toEqual({ height: 2, toView: 1, cause: "invalidBlock" });
    expect(r.messages.filter((m) => m.msg.height === 2).map((m) => m.msg.type)).toEqual(["viewChange"]);
  });

  it("built on a block that was not decided: executed again on the decided one", () => {
    const c = executedHeight1();
    take(c);
    deliver(c, prePrepare2());
    executed2(c, true);
    take(c);
    const other = syncedOther(c);
    const r = take(c);
    expect(r.execute).toEqual([{ height: 2, view: 0, parentHash: other, ...b2 }]);
    expect(r.messages.filter((m) => m.msg.type === "prepare")).toEqual([]);
    expect(c.counters.pipelineRestepped).toBe(1);
    // The stale answer of the early execution is not taken for the new one.
    executed2(c, true);
    expect(reasons(take(c))).toEqual(["STALE_EVENT"]);
  });

  it("two PrePrepares of (h + 1, 0) from its leader: evidence now, view change at h + 1", () => {
    const c = executedHeight1();
    take(c);
    deliver(c, prePrepare2());
    const second = deliver(c, prePrepare2(block(3).blockHash, block(3).payload));
    expect(reasons(second)).toEqual(["EQUIVOCATION"]);
    expect(second.evidence).toHaveLength(1);
    const r = commitQuorum(c);
    expect(r.viewChangeStarted).toEqual({ height: 2, toView: 1, cause: "equivocation" });
  });

  it("a synced block of h that names a validator set: the early proposal is stepped again, not adopted", () => {
    const c = executedHeight1();
    take(c);
    deliver(c, prePrepare2());
    executed2(c, true);
    take(c);
    c.step({
      type: "synced",
      height: 1,
      blockHash: b1.blockHash,
      certificate: { height: 1, view: 0, blockHash: b1.blockHash, signatures: [] },
      nextValidators: keys.map((k) => ({ nodeId: k.nodeId, weight: 1 })),
    });
    const r = take(c);
    expect(r.execute).toEqual([{ height: 2, view: 0, parentHash: b1.blockHash, ...b2 }]);
    expect(r.messages).toEqual([]);
    expect(c.counters).toMatchObject({ pipelined: 0, pipelineRestepped: 1 });
  });

  it("a Prepare or Commit of (h + 1, 0) from its leader is no proposal: buffered", () => {
    const c = executedHeight1();
    take(c);
    for (const type of ["prepare", "commit"] as const) {
      const r = deliver(c, signed(k2, { type, height: 2, view: 0, blockHash: b2.blockHash } as never));
      expect(reasons(r)).toEqual(["FUTURE_HEIGHT_BUFFERED"]);
      expect(r.execute).toEqual([]);
    }
  });

  it(`its leader's repeated equivocation: at most EVIDENCE_MAX (${EVIDENCE_MAX}) pairs a Ready, each with the first PrePrepare`, () => {
    const c = executedHeight1();
    take(c);
    deliver(c, prePrepare2());
    for (let n = 3; n <= EVIDENCE_MAX + 3; n++)
      c.step({ type: "message", from: k2.nodeId, msg: prePrepare2(block(n).blockHash, block(n).payload) });
    const r = take(c);
    expect(reasons(r)).toEqual(Array(EVIDENCE_MAX + 1).fill("EQUIVOCATION"));
    expect(r.evidence).toHaveLength(EVIDENCE_MAX);
    expect(r.evidence[1]).toEqual([prePrepare2(), prePrepare2(block(4).blockHash, block(4).payload)]);
  });

  it("a PrePrepare of (h + 1, 0) from another node than its leader is buffered as before", () => {
    const c = executedHeight1();
    take(c);
    const r = deliver(c, prePrepare2(b2.blockHash, b2.payload, k3));
    expect(reasons(r)).toEqual(["FUTURE_HEIGHT_BUFFERED"]);
    expect(r.execute).toEqual([]);
  });
});

describe("PbftCore pipelining: what is not taken early", () => {
  it("a second copy of the early PrePrepare is a duplicate: not executed again", () => {
    const c = executedHeight1();
    take(c);
    expect(deliver(c, prePrepare2()).execute).toHaveLength(1);
    const again = deliver(c, prePrepare2());
    expect(reasons(again)).toEqual(["DUPLICATE"]);
    expect(again.execute).toEqual([]);
    expect(again.evidence).toEqual([]);
  });

  it("a PrePrepare of h + 2, or of (h + 1, view 1), from the next leader waits as a future message", () => {
    const c = executedHeight1();
    take(c);
    const h3 = signed(k2, { type: "prePrepare", height: 3, view: 0, ...block(3) } as never);
    const v1 = signed(k2, { type: "prePrepare", height: 2, view: 1, ...b2 } as never);
    for (const msg of [h3, v1] as PbftMessage[]) {
      const r = deliver(c, msg);
      expect(reasons(r)).toEqual(["FUTURE_HEIGHT_BUFFERED"]);
      expect(r.execute).toEqual([]);
    }
  });

  it("nothing early while a view change runs at h: no request, no execution", () => {
    const c = core(k2);
    take(c);
    deliver(c, prePrepare(1, k1));
    // Two others moved to view 1: this node joins (f + 1).
    deliver(c, viewChange(k0, 1));
    expect(deliver(c, viewChange(k3, 1)).viewChangeStarted).toMatchObject({ toView: 1 });
    c.step({ type: "blockExecuted", height: 1, parentHash: GENESIS, blockHash: b1.blockHash, valid: true });
    expect(take(c).requestProposal).toBeNull();
    // A replica whose block of h was executed valid before the view change started: the early PrePrepare waits.
    const replica = executedHeight1();
    take(replica);
    deliver(replica, viewChange(k2, 1));
    expect(deliver(replica, viewChange(k3, 1)).viewChangeStarted).toMatchObject({ toView: 1 });
    expect(deliver(replica, prePrepare2()).execute).toEqual([]);
  });

  it("an early PrePrepare with a bad signature is refused and not executed", () => {
    const c = executedHeight1();
    take(c);
    const forged = { ...prePrepare2(), signature: new Uint8Array(64) } as PbftMessage;
    const r = deliver(c, forged);
    expect(reasons(r)).toEqual(["BAD_SIGNATURE"]);
    expect(r.execute).toEqual([]);
    // The genuine one is still taken.
    expect(deliver(c, prePrepare2()).execute).toHaveLength(1);
  });

  it("an early execution is answered once: a second answer, or one for no early proposal, is stale", () => {
    const none = executedHeight1();
    take(none);
    executed2(none, true);
    expect(take(none).rejections).toEqual([
      { reason: "STALE_EVENT", type: "blockExecuted", height: 2, view: 0 },
    ]);

    const c = executedHeight1();
    take(c);
    deliver(c, prePrepare2());
    executed2(c, true);
    expect(reasons(take(c))).toEqual([]);
    executed2(c, false);
    expect(reasons(take(c))).toEqual(["STALE_EVENT"]);
    // The first answer stands: at h + 1 it votes for the block.
    const r = commitQuorum(c);
    expect(r.viewChangeStarted).toBeNull();
    expect(r.messages.filter((m) => m.msg.height === 2).map((m) => m.msg.type)).toEqual(["prepare"]);
  });

  it("an early execution's answer counts only for the block and parent it ran on", () => {
    const c = executedHeight1();
    take(c);
    deliver(c, prePrepare2());
    const wrongBlock = { type: "blockExecuted", height: 2, parentHash: b1.blockHash, valid: true } as const;
    c.step({ ...wrongBlock, blockHash: block(3).blockHash });
    c.step({ type: "blockExecuted", height: 2, blockHash: b2.blockHash, valid: true }); // no parent named
    c.step({ ...wrongBlock, parentHash: GENESIS, blockHash: b2.blockHash });
    expect(reasons(take(c))).toEqual(["STALE_EVENT", "STALE_EVENT", "STALE_EVENT"]);
    // Still pending: at h + 1 it waits for the real answer before voting.
    expect(commitQuorum(c).messages.filter((m) => m.msg.height === 2)).toEqual([]);
    executed2(c, true);
    expect(take(c).messages.map((m) => [m.msg.type, m.msg.height])).toEqual([["prepare", 2]]);
  });

  it("a proposal of h + 1 nobody asked for is stale: nothing signed", () => {
    const c = core(k2);
    take(c);
    deliver(c, prePrepare(1, k1));
    // Block 1 is not executed yet, so no early request went out.
    expectStaleProposal(c, b1.blockHash);
  });

  it("the early request still unanswered when h commits on that parent: not asked again; on another block: asked again", () => {
    const waiting = executedHeight1(k2);
    expect(take(waiting).requestProposal).toMatchObject({ height: 2 });
    expect(commitQuorum(waiting).requestProposal).toBeNull();
    // The answer arrives after the commit: proposed at the current height.
    waiting.step({ type: "proposal", height: 2, parentHash: b1.blockHash, ...b2 });
    expect(take(waiting).messages.map((m) => [m.msg.type, m.msg.height])).toContainEqual(["prePrepare", 2]);

    const overtaken = executedHeight1(k2);
    take(overtaken);
    const other = syncedOther(overtaken);
    expect(take(overtaken).requestProposal).toEqual({ height: 2, view: 0, parentHash: other });
    // The early answer, built on b1, comes after: stale, and the request on the decided block stands (a second
    // one would replace it in the driver and throw its build away).
    overtaken.step({ type: "proposal", height: 2, parentHash: b1.blockHash, ...b2 });
    const stale = take(overtaken);
    expect(reasons(stale)).toEqual(["STALE_EVENT"]);
    expect(stale.requestProposal).toBeNull();
    expect(stale.messages).toEqual([]);
    overtaken.step({ type: "proposal", height: 2, parentHash: other, ...block(10) });
    expect(types(take(overtaken))).toEqual(["prePrepare", "prepare"]);
  });
});

describe("PbftCore pipelining: block h executed valid again in a later view (re-proposed)", () => {
  /** Views 0 → 2 of height 1: node 3 leads view 2 and, bound by the prepared certificate, re-proposes b1. */
  function reproposedInView2(c: PbftCore): Ready {
    const prepared = preparedCert(1, 0);
    const vcs = [viewChange(k0, 2, prepared), viewChange(k1, 2), viewChange(k3, 2)];
    expect(reasons(deliver(c, newView(k3, 2, vcs)))).toEqual([]);
    expect(deliver(c, prePrepare(1, k3, 2)).execute).toEqual([
      { height: 1, view: 2, parentHash: GENESIS, ...b1 },
    ]);
    c.step({ type: "blockExecuted", height: 1, parentHash: GENESIS, blockHash: b1.blockHash, valid: true });
    return take(c);
  }

  it("the next leader's early request on b1 is still out: not asked again", () => {
    const c = executedHeight1(k2);
    expect(take(c).requestProposal).toEqual({ height: 2, view: 0, parentHash: b1.blockHash });
    expect(reproposedInView2(c).requestProposal).toBeNull();
    // Its answer is still taken.
    c.step({ type: "proposal", height: 2, parentHash: b1.blockHash, ...b2 });
    expect(types(take(c))).toEqual(["prePrepare"]);
  });

  it("a replica's early execution of h + 1 on b1 is not run again", () => {
    const c = executedHeight1(k0);
    take(c);
    expect(deliver(c, prePrepare2()).execute).toEqual([
      { height: 2, view: 0, parentHash: b1.blockHash, ...b2 },
    ]);
    expect(reproposedInView2(c).execute).toEqual([]);
    // The answer of the first execution still counts: adopted valid once h commits in view 2.
    executed2(c, true);
    take(c);
    expect(commitQuorum(c, b1.blockHash, 2).messages.map((m) => [m.msg.type, m.msg.height])).toContainEqual([
      "prepare",
      2,
    ]);
  });
});
