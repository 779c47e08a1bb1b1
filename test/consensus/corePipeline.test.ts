/**
 * Pipelining (PROTOCOL.md "Pipelining"): the leader of (h + 1, 0) proposes on top of its executed block of h
 * before h commits; replicas execute that proposal early; nobody votes on h + 1 before h commits.
 * Four validators; leader of (height, view) is node (height + view) mod 4: (1, 0) → node 1, (2, 0) → node 2.
 */
import { describe, expect, it } from "vitest";
import type { PbftCore, PbftMessage, Ready } from "../../src/consensus/index.js";
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
  prePrepare,
  reasons,
  signed,
  take,
  types,
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

/** A core at height 1 that executed block b1 (proposed by node 1) valid and sent its Prepare. */
function executedHeight1(me = k0, config = {}): PbftCore {
  const c = core(me, config);
  take(c);
  deliver(c, prePrepare(1, k1));
  c.step({ type: "blockExecuted", height: 1, parentHash: GENESIS, blockHash: b1.blockHash, valid: true });
  return c;
}

/** Commits of height 1 from three validators: the block is decided. */
function commitQuorum(c: PbftCore, blockHash = b1.blockHash): Ready {
  for (const k of [k1, k2, k3])
    c.step({ type: "message", from: k.nodeId, msg: vote("prepare", k, blockHash) });
  for (const k of [k1, k2, k3])
    c.step({ type: "message", from: k.nodeId, msg: vote("commit", k, blockHash) });
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
    c.step({ type: "proposal", height: 2, parentHash: GENESIS, ...b2 });
    const r = take(c);
    expect(reasons(r)).toEqual(["STALE_EVENT"]);
    expect(r.messages).toEqual([]);
    expect(r.persist).toBeNull();
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
    // Sync says another block was decided at height 1.
    const other = block(9).blockHash;
    c.step({
      type: "synced",
      height: 1,
      blockHash: other,
      certificate: { height: 1, view: 0, blockHash: other, signatures: [] },
    });
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

  it("a PrePrepare of (h + 1, 0) from another node than its leader is buffered as before", () => {
    const c = executedHeight1();
    take(c);
    const r = deliver(c, prePrepare2(b2.blockHash, b2.payload, k3));
    expect(reasons(r)).toEqual(["FUTURE_HEIGHT_BUFFERED"]);
    expect(r.execute).toEqual([]);
  });
});
