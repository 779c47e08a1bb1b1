import { describe, expect, it } from "vitest";
import type { PbftMessage } from "../../src/consensus/index.js";
import {
  block,
  core,
  deliver,
  GENESIS,
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
  viewChange,
} from "./coreHelpers.js";

/** The core does not read the certificate of a synced block (the chain verified it). */
function synced(height: number, blockHash = block(height).blockHash) {
  return {
    type: "synced" as const,
    height,
    blockHash,
    certificate: { height, view: 0, blockHash, signatures: [] },
  };
}

/** A PrePrepare at `height` (leader of (height, view) is node (height + view) mod 4). */
function prePrepareAt(height: number, view = 0, nonce = 5): PbftMessage {
  const leader = keys[(height + view) % 4]!;
  return signed(leader, { type: "prePrepare", height, view, ...block(nonce) } as never);
}

describe("PbftCore: messages of a later height", () => {
  // Without pipelining: with it, a PrePrepare of (height + 1, view 0) is taken early (corePipeline.test.ts).
  it("are buffered, ask to fetch the blocks in between, and are stepped once the core gets there", () => {
    const c = core(k0, { fetchCooldownTicks: 1, pipeline: false });
    take(c);
    const pp = prePrepareAt(2);
    const r = deliver(c, pp, k3.nodeId);
    expect(reasons(r)).toEqual(["FUTURE_HEIGHT_BUFFERED"]);
    expect(r.execute).toHaveLength(0);
    expect(r.fetchBlocks).toEqual({ fromHeight: 1, peers: [k3.nodeId] });
    c.step(synced(1));
    expect(take(c).execute).toEqual([{ height: 2, view: 0, parentHash: block(1).blockHash, ...block(5) }]);
  });

  it("beyond futureHeightWindow: refused, yet the peer is asked for blocks", () => {
    const c = core(k0, { futureHeightWindow: 2 });
    take(c);
    const r = deliver(c, prePrepareAt(4), k3.nodeId);
    expect(reasons(r)).toEqual(["FUTURE_HEIGHT_TOO_FAR"]);
    expect(r.fetchBlocks?.peers).toEqual([k3.nodeId]);
    expect(reasons(deliver(c, prePrepareAt(3), k3.nodeId))).toEqual(["FUTURE_HEIGHT_BUFFERED"]);
    c.step(synced(1));
    c.step(synced(2));
    c.step(synced(3));
    // The one of height 3 was stepped at height 3; the one of height 4 was never kept.
    expect(take(c).execute.map((e) => e.height)).toEqual([3]);
    expect(c.status().height).toBe(4);
  });

  it("a non-validator's message of a later height, relayed by a non-validator, asks for nothing", () => {
    const c = core(k0);
    take(c);
    const msg = signed(outsider, {
      type: "prepare",
      height: 2,
      view: 0,
      blockHash: block(1).blockHash,
    } as never);
    expect(deliver(c, msg as PbftMessage, outsider.nodeId).fetchBlocks).toBeNull();
    const c2 = core(k0);
    take(c2);
    expect(deliver(c2, msg as PbftMessage, k1.nodeId).fetchBlocks?.peers).toEqual([k1.nodeId]); // relayed by a validator
    const c3 = core(k0, { pipeline: false });
    take(c3);
    expect(deliver(c3, prePrepareAt(2), outsider.nodeId).fetchBlocks?.peers).toEqual([outsider.nodeId]); // signed by one
  });

  it("those of a view above the new height's view wait; those below the new height are dropped", () => {
    const c = core(k0);
    take(c);
    deliver(c, prePrepareAt(2, 1, 6), k3.nodeId); // height 2, view 1: not yet
    c.step(synced(1));
    const moved = take(c);
    expect(moved.execute).toEqual([]);
    expect(reasons(moved)).toEqual([]); // left in the buffer, not stepped (and buffered) again
    const vcs = [viewChange(k1, 1), viewChange(k2, 1), viewChange(k3, 1)].map((vc) => ({ ...vc, height: 2 }));
    const resigned = vcs.map((vc) => signed(keys.find((k) => k.nodeId === vc.sender)!, vc as never));
    const nv = signed(k3, { type: "newView", height: 2, view: 1, viewChanges: resigned } as never);
    const r = deliver(c, nv as PbftMessage);
    expect(reasons(r)).toEqual([]);
    expect(r.execute).toEqual([{ height: 2, view: 1, parentHash: block(1).blockHash, ...block(6) }]);
  });
});

describe("PbftCore: messages of a later view at the same height", () => {
  it("wait while the core is changing views, and are stepped when it enters their view", () => {
    const c = core(k0);
    take(c);
    const pp2 = prePrepare(8, k3, 2);
    expect(reasons(deliver(c, pp2))).toEqual(["FUTURE_VIEW_BUFFERED"]);
    const nv1 = newView(k2, 1, [viewChange(k0, 1), viewChange(k2, 1), viewChange(k3, 1)]);
    expect(deliver(c, nv1).execute).toEqual([]); // view 1: the PrePrepare of view 2 still waits
    const nv2 = newView(k3, 2, [viewChange(k0, 2), viewChange(k1, 2), viewChange(k3, 2)]);
    expect(deliver(c, nv2).execute).toEqual([{ height: 1, view: 2, parentHash: GENESIS, ...block(8) }]);
  });

  it("a PrePrepare of the current view during a view change waits too", () => {
    const c = core(k0, { viewTimeoutTicks: 3 });
    take(c);
    for (let t = 0; t < 3; t++) c.tick();
    expect(take(c).viewChangeStarted).toMatchObject({ toView: 1 });
    const pp = prePrepare(4, k2, 1);
    expect(reasons(deliver(c, pp))).toEqual(["FUTURE_VIEW_BUFFERED"]);
    const nv = newView(k2, 1, [viewChange(k0, 1), viewChange(k2, 1), viewChange(k3, 1)]);
    expect(deliver(c, nv).execute).toEqual([{ height: 1, view: 1, parentHash: GENESIS, ...block(4) }]);
  });
});

describe("PbftCore: buffered messages after the core moved on", () => {
  it("ViewChanges of a later height are stepped when the core gets there, whatever their view", () => {
    const c = core(k0);
    take(c);
    for (const k of [k1, k3]) {
      const vc = signed(k, { type: "viewChange", height: 2, toView: 3, prepared: null } as never);
      deliver(c, vc as PbftMessage);
    }
    c.step(synced(1));
    expect(take(c).viewChangeStarted).toMatchObject({ height: 2, toView: 3, cause: "joinHigherView" });
  });

  it("a NewView of a later height is entered when the core gets there", () => {
    const c = core(k0);
    take(c);
    const vcs = [k1, k2, k3].map((k) =>
      signed(k, { type: "viewChange", height: 2, toView: 1, prepared: null } as never),
    );
    const nv = signed(k3, { type: "newView", height: 2, view: 1, viewChanges: vcs } as never);
    expect(reasons(deliver(c, nv as PbftMessage))).toEqual(["FUTURE_HEIGHT_BUFFERED"]);
    c.step(synced(1));
    expect(take(c).persist).toMatchObject({ height: 2, view: 1, viewChanging: false });
  });

  it("those of a height still ahead stay in the buffer when the core moves up one height", () => {
    const c = core(k0, { pipeline: false, fetchCooldownTicks: 0 });
    take(c);
    for (const msg of [
      prePrepareAt(3),
      signed(k3, { type: "viewChange", height: 3, toView: 1, prepared: null } as never),
    ])
      expect(reasons(deliver(c, msg as PbftMessage, k3.nodeId))).toEqual(["FUTURE_HEIGHT_BUFFERED"]);
    c.step(synced(1));
    const r = take(c);
    expect(reasons(r)).toEqual([]);
    expect(r.fetchBlocks).toBeNull();
    c.step(synced(2));
    expect(take(c).execute).toEqual([{ height: 3, view: 0, parentHash: block(2).blockHash, ...block(5) }]);
  });

  it("a message left behind by two heights is dropped, and frees its sender's room", () => {
    // Without pipelining: with it, the PrePrepare of height 4 below would be taken early, not buffered.
    const c = core(k0, { futurePerSenderMax: 1, pipeline: false });
    take(c);
    deliver(c, prePrepareAt(2, 1, 6), k3.nodeId); // waits for view 1 of height 2, which never comes
    c.step(synced(1));
    c.step(synced(2));
    take(c);
    expect(reasons(deliver(c, prePrepareAt(4), k3.nodeId))).toEqual(["FUTURE_HEIGHT_BUFFERED"]);
    expect(c.counters.futureDropped).toBe(0);
  });
});
