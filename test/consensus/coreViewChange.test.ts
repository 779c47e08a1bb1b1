import { describe, expect, it } from "vitest";
import {
  defaultPbftConfig,
  type NewView,
  type PbftConfig,
  PbftCore,
  type PbftMessage,
  type PrePrepare,
  type Ready,
  type ViewChange,
} from "../../src/consensus/index.js";
import { VALID_BLOCKS_MAX, VERIFIED_CACHE_MAX } from "../../src/consensus/pbft/core/state.js";
import type { SimKey } from "../sim/simCrypto.js";
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
  preparedAtNode2,
  preparedCert,
  reasons,
  reg,
  signed,
  take,
  ticksUntilViewChange,
  types,
  validators,
  viewChange,
  vote,
} from "./coreHelpers.js";

/** A core at height 1 whose signature checks are counted (`verifies`). */
function countingCore(me: SimKey, config: Partial<PbftConfig> = {}) {
  const crypto = reg.cryptoFor(me);
  const counted = { verifies: 0 };
  const c = new PbftCore(
    { ...defaultPbftConfig, nodeId: me.nodeId, viewTimeoutTicks: 10, resendTicks: 1000, ...config },
    {
      crypto: {
        ...crypto,
        verify: (id, digest, signature) => {
          counted.verifies++;
          return crypto.verify(id, digest, signature);
        },
      },
    },
    { committedHeight: 0, committedHash: GENESIS, validators, hardState: null },
  );
  return { c, counted };
}

describe("PbftCore view change: the new leader", () => {
  it("with a quorum of ViewChanges and nothing prepared: sends a NewView of those ViewChanges and asks for a proposal", () => {
    const c = core(k2); // leader of (1, 1)
    take(c);
    expect(ticksUntilViewChange(c, 50)).toBe(10);
    expect(deliver(c, viewChange(k0, 1)).messages).toHaveLength(0); // 2 of 3
    const r = deliver(c, viewChange(k3, 1));
    expect(reasons(r)).toEqual([]);
    expect(types(r)).toEqual(["newView"]);
    const nv = r.messages[0]!.msg as NewView;
    expect(r.messages[0]!.to).toBeNull();
    expect(nv).toMatchObject({ height: 1, view: 1, sender: k2.nodeId });
    expect(nv.viewChanges.map((vc) => vc.sender).sort()).toEqual([k0, k2, k3].map((k) => k.nodeId).sort());
    expect(r.requestProposal).toEqual({ height: 1, view: 1, parentHash: GENESIS });
    expect(r.persist).toMatchObject({ view: 1, viewChanging: false, newViewHash: null });
    expect(c.status()).toMatchObject({ view: 1, viewChanging: false });

    // Another replica accepts that NewView and enters view 1.
    const other = core(k0);
    take(other);
    const r2 = deliver(other, nv);
    expect(reasons(r2)).toEqual([]);
    expect(other.status()).toMatchObject({ view: 1, viewChanging: false });
    expect(r2.persist).toMatchObject({ view: 1, viewChanging: false, newViewHash: null });
  });

  it("re-proposes the block it prepared: PrePrepare of the same block in the new view, executed again", () => {
    const c = preparedAtNode2();
    expect(ticksUntilViewChange(c, 50)).toBe(10);
    deliver(c, viewChange(k0, 1));
    const r = deliver(c, viewChange(k3, 1));
    expect(types(r)).toEqual(["newView", "prePrepare"]);
    const nv = r.messages[0]!.msg as NewView;
    const own = nv.viewChanges.find((vc) => vc.sender === k2.nodeId)!;
    expect(own.prepared).toMatchObject({ height: 1, view: 0, blockHash: block(1).blockHash });
    const pp = r.messages[1]!.msg as PrePrepare;
    expect(pp).toMatchObject({ height: 1, view: 1, sender: k2.nodeId, blockHash: block(1).blockHash });
    expect(r.execute).toEqual([{ height: 1, view: 1, parentHash: GENESIS, ...block(1) }]);
    expect(r.requestProposal).toBeNull();
    expect(r.persist?.newViewHash).toEqual(block(1).blockHash);

    // A replica entering this NewView must take only that block in view 1.
    const other = core(k0);
    take(other);
    expect(deliver(other, nv).persist?.newViewHash).toEqual(block(1).blockHash);
    expect(deliver(other, pp).execute).toHaveLength(1);
  });

  it("picks the prepared certificate of the highest view among the ViewChanges", () => {
    const c = core(k3); // leader of (1, 2)
    take(c);
    deliver(c, viewChange(k0, 2, preparedCert(1, 0)));
    const joined = deliver(c, viewChange(k1, 2, preparedCert(2, 1)));
    expect(joined.viewChangeStarted).toMatchObject({ toView: 2, cause: "joinHigherView" });
    expect(types(joined)).toEqual(["viewChange", "newView", "prePrepare"]);
    expect((joined.messages[2]!.msg as PrePrepare).blockHash).toEqual(block(2).blockHash);
    expect(joined.persist?.newViewHash).toEqual(block(2).blockHash);
  });

  it("a replica that is not the new leader sends no NewView on a quorum", () => {
    const c = core(k0);
    take(c);
    ticksUntilViewChange(c, 50);
    deliver(c, viewChange(k1, 1));
    const r = deliver(c, viewChange(k3, 1));
    expect(types(r)).toEqual([]);
    expect(c.status()).toMatchObject({ view: 1, viewChanging: true });
  });
});

describe("PbftCore view change: checking ViewChanges", () => {
  it.each([
    [
      "a second ViewChange of a sender for the same view",
      (c: ReturnType<typeof core>) => {
        deliver(c, viewChange(k0, 1));
        return viewChange(k0, 1);
      },
      "DUPLICATE",
    ],
    [
      "a bad signature",
      () => ({ ...viewChange(k0, 1), signature: new Uint8Array(64).fill(3) }),
      "BAD_SIGNATURE",
    ],
    [
      "a prepared certificate of the target view",
      () => viewChange(k0, 1, preparedCert(1, 1)),
      "BAD_CERTIFICATE",
    ],
    [
      "a prepared certificate without quorum",
      () => viewChange(k0, 1, preparedCert(1, 0, [k0, k1])),
      "BAD_CERTIFICATE",
    ],
  ])("%s is rejected", (_name, make, reason) => {
    const c = core(k2);
    take(c);
    ticksUntilViewChange(c, 50);
    const msg = make(c) as ViewChange;
    const r = deliver(c, msg);
    expect(reasons(r)).toEqual([reason]);
    expect(r.messages).toHaveLength(0);
  });

  it("a valid prepared certificate from a view below the target is accepted and counts", () => {
    const c = core(k2);
    take(c);
    ticksUntilViewChange(c, 50);
    expect(reasons(deliver(c, viewChange(k0, 1, preparedCert(1, 0))))).toEqual([]);
    const r = deliver(c, viewChange(k3, 1));
    expect(types(r)).toEqual(["newView", "prePrepare"]);
  });

  it("one ViewChange for a higher view (less than f + 1) does not move a node", () => {
    const c = core(k2);
    take(c);
    const r = deliver(c, viewChange(k0, 5));
    expect(r.viewChangeStarted).toBeNull();
    expect(c.status()).toMatchObject({ view: 0, viewChanging: false });
  });

  it("joins the lowest view that f + 1 others ask for", () => {
    const c = core(k0);
    take(c);
    deliver(c, viewChange(k1, 4));
    const r = deliver(c, viewChange(k2, 2));
    expect(r.viewChangeStarted).toMatchObject({ toView: 2, cause: "joinHigherView" });
    expect((r.messages[0]!.msg as ViewChange).toView).toBe(2);
  });

  it("a ViewChange for the current view while not changing views is old (the peer missed the NewView)", () => {
    const c = core(k2);
    take(c);
    expect(reasons(deliver(c, { ...viewChange(k0, 0) }))).toEqual(["OLD_VIEW"]);
  });
});

describe("PbftCore view change: checking a NewView (at node 0, view 1, leader node 2)", () => {
  const vcs = () => [viewChange(k0, 1), viewChange(k2, 1), viewChange(k3, 1)];

  it.each([
    ["from a node that is not the view's leader", () => newView(k3, 1, vcs()), "WRONG_LEADER"],
    [
      "with a bad signature",
      () => ({ ...newView(k2, 1, vcs()), signature: new Uint8Array(64) }),
      "BAD_SIGNATURE",
    ],
    ["with ViewChanges of less than a quorum", () => newView(k2, 1, vcs().slice(0, 2)), "BAD_NEW_VIEW"],
    [
      "with a ViewChange for another view",
      () => newView(k2, 1, [viewChange(k0, 1), viewChange(k2, 1), viewChange(k3, 2)]),
      "BAD_NEW_VIEW",
    ],
    [
      "with one signer twice",
      () => newView(k2, 1, [viewChange(k0, 1), viewChange(k2, 1), viewChange(k2, 1)]),
      "BAD_NEW_VIEW",
    ],
    [
      "with a ViewChange of a non-validator",
      () => newView(k2, 1, [viewChange(k0, 1), viewChange(k2, 1), viewChange(outsider, 1)]),
      "BAD_NEW_VIEW",
    ],
    [
      "with more ViewChanges than validators",
      () => newView(k2, 1, [...vcs(), viewChange(k1, 1), viewChange(outsider, 1)]),
      "BAD_NEW_VIEW",
    ],
    [
      "with more ViewChanges than validators, before any of them is checked",
      () =>
        newView(k2, 1, [
          { ...viewChange(k1, 1), signature: new Uint8Array(64) },
          ...vcs(),
          viewChange(k1, 1),
        ]),
      "BAD_NEW_VIEW",
    ],
    [
      "with a quorum of ViewChanges plus one of a non-validator",
      () => newView(k2, 1, [...vcs(), viewChange(outsider, 1)]),
      "BAD_NEW_VIEW",
    ],
    [
      "with a ViewChange of another height",
      () => newView(k2, 1, [viewChange(k0, 1), viewChange(k2, 1), { ...viewChange(k3, 1), height: 2 }]),
      "BAD_NEW_VIEW",
    ],
    [
      "with a badly signed ViewChange",
      () =>
        newView(k2, 1, [
          viewChange(k0, 1),
          viewChange(k2, 1),
          { ...viewChange(k3, 1), signature: new Uint8Array(64) },
        ]),
      "BAD_SIGNATURE",
    ],
    [
      "with a ViewChange carrying a bad prepared certificate",
      () =>
        newView(k2, 1, [viewChange(k0, 1), viewChange(k2, 1), viewChange(k3, 1, preparedCert(1, 0, [k3]))]),
      "BAD_CERTIFICATE",
    ],
  ])("%s is rejected", (_name, make, reason) => {
    const c = core(k0);
    take(c);
    const r = deliver(c, make());
    expect(reasons(r)).toEqual([reason]);
    expect(c.status()).toMatchObject({ view: 0, viewChanging: false });
  });

  it("entering it replays the buffered messages of that view", () => {
    const c = core(k0);
    take(c);
    const pp = prePrepare(5, k2, 1);
    expect(deliver(c, pp).execute).toHaveLength(0); // view 1 > 0: buffered
    const r = deliver(c, newView(k2, 1, vcs()));
    expect(r.execute).toEqual([{ height: 1, view: 1, parentHash: GENESIS, ...block(5) }]);
  });

  it("a NewView of the view it is already in (not changing) is a duplicate", () => {
    const c = core(k0);
    take(c);
    deliver(c, newView(k2, 1, vcs()));
    expect(reasons(deliver(c, newView(k2, 1, vcs())))).toEqual(["DUPLICATE"]);
  });

  it("while changing to view 1, its NewView is entered and the own votes of view 0 are forgotten", () => {
    const c = preparedAtNode2();
    ticksUntilViewChange(c, 50); // node 2 now in view 1, changing; leader of view 2 is node 3
    ticksUntilViewChange(c, 50); // not moving alone
    const vcs2 = [viewChange(k0, 2), viewChange(k1, 2), viewChange(k3, 2)];
    const r = deliver(c, newView(k3, 2, vcs2));
    expect(reasons(r)).toEqual([]);
    expect(r.persist).toMatchObject({ view: 2, viewChanging: false, prepareVote: null, commitVote: null });
    // It may now prepare a different block in view 2.
    const r2 = deliver(c, prePrepare(7, k3, 2));
    expect(r2.execute).toHaveLength(1);
  });
});

describe("PbftCore view change: views only go up", () => {
  const vcs1 = () => [viewChange(k0, 1), viewChange(k2, 1), viewChange(k3, 1)];
  const vcs2 = () => [viewChange(k0, 2), viewChange(k1, 2), viewChange(k3, 2)];

  it("a valid NewView of a view below the current one is refused: the node never goes back to an older view", () => {
    const c = core(k0);
    take(c);
    const nv1 = newView(k2, 1, vcs1());
    deliver(c, nv1);
    expect(reasons(deliver(c, newView(k3, 2, vcs2())))).toEqual([]);
    const r = deliver(c, nv1);
    expect(reasons(r)).toEqual(["DUPLICATE"]);
    expect(r.persist).toBeNull();
    expect(c.status()).toMatchObject({ view: 2, viewChanging: false });
  });

  it("a ViewChange for a view below the current one is old: refused, and its sender gets the NewView", () => {
    const c = core(k0);
    take(c);
    const nv2 = newView(k3, 2, vcs2());
    deliver(c, nv2);
    const r = deliver(c, viewChange(k1, 1));
    expect(reasons(r)).toEqual(["OLD_VIEW"]);
    expect(r.messages).toEqual([{ to: k1.nodeId, msg: nv2 }]);
  });

  it("a refused NewView steps nothing again: the messages waiting for the view stay buffered", () => {
    const c = core(k0);
    take(c);
    ticksUntilViewChange(c, 50); // view 1, changing
    expect(reasons(deliver(c, prePrepare(4, k2, 1)))).toEqual(["FUTURE_VIEW_BUFFERED"]);
    const bad: [NewView, string][] = [
      [newView(k3, 1, vcs1()), "WRONG_LEADER"],
      [{ ...newView(k2, 1, vcs1()), signature: new Uint8Array(32) }, "BAD_SIGNATURE"],
      [newView(k2, 1, vcs1().slice(0, 2)), "BAD_NEW_VIEW"],
    ];
    for (const [nv, reason] of bad) {
      const r = deliver(c, nv);
      expect(reasons(r)).toEqual([reason]);
      expect(r.execute).toEqual([]);
    }
    expect(deliver(c, newView(k2, 1, vcs1())).execute).toEqual([
      { height: 1, view: 1, parentHash: GENESIS, ...block(4) },
    ]);
  });
});

describe("PbftCore view change: Commits of older views still decide", () => {
  const { blockHash } = block(1);

  it("after it started a view change", () => {
    const c = core(k2);
    deliver(c, prePrepare(1, k1));
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    take(c);
    deliver(c, vote("commit", k0, blockHash));
    deliver(c, vote("commit", k1, blockHash));
    expect(ticksUntilViewChange(c, 50)).toBe(10);
    const r = deliver(c, vote("commit", k3, blockHash));
    expect(r.commits.map((x) => x.certificate.view)).toEqual([0]);
  });

  it("after it entered a NewView", () => {
    const c = core(k0);
    deliver(c, prePrepare(1, k1));
    c.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    take(c);
    deliver(c, vote("commit", k1, blockHash));
    deliver(c, vote("commit", k3, blockHash));
    deliver(c, newView(k2, 1, [viewChange(k1, 1), viewChange(k2, 1), viewChange(k3, 1)]));
    expect(c.status().view).toBe(1);
    const r = deliver(c, vote("commit", k2, blockHash));
    expect(r.commits.map((x) => x.certificate.view)).toEqual([0]);
  });
});

describe("PbftCore view change: the cache of checked ViewChanges", () => {
  it("a NewView's ViewChanges that were checked on receipt are not verified again", () => {
    const { c, counted } = countingCore(k0);
    take(c);
    deliver(c, viewChange(k1, 1));
    deliver(c, viewChange(k3, 1)); // f + 1: joins view 1
    expect(c.status()).toMatchObject({ view: 1, viewChanging: true });
    counted.verifies = 0;
    const r = deliver(c, newView(k2, 1, [viewChange(k1, 1), viewChange(k3, 1), viewChange(k2, 1)]));
    expect(reasons(r)).toEqual([]);
    expect(counted.verifies).toBe(2); // the NewView's signature and k2's ViewChange
  });

  it(`is emptied when it reaches VERIFIED_CACHE_MAX (${VERIFIED_CACHE_MAX}) entries`, () => {
    const { c, counted } = countingCore(k0, { futureViewWindow: 2 * VERIFIED_CACHE_MAX });
    take(c);
    // One sender's ViewChanges for as many views: each one checked and cached (f + 1 is never reached).
    for (let v = 1; v <= VERIFIED_CACHE_MAX + 1; v++)
      c.step({ type: "message", from: k1.nodeId, msg: viewChange(k1, v) });
    expect(reasons(take(c))).toEqual([]);
    expect(counted.verifies).toBe(VERIFIED_CACHE_MAX + 1);
    // The last one went into an emptied cache: the first one is checked again (its sender keeps only its
    // highest views, so it is not a duplicate).
    counted.verifies = 0;
    deliver(c, viewChange(k1, 1));
    expect(counted.verifies).toBe(1);
  });
});

describe("PbftCore view change: ViewChanges are per height", () => {
  it("ViewChanges of a decided height do not count towards joining a view at the next one", () => {
    const c = core(k0);
    take(c);
    deliver(c, viewChange(k1, 3)); // f + 1 is two: not enough alone
    c.step({
      type: "synced",
      height: 1,
      blockHash: block(1).blockHash,
      certificate: { height: 1, view: 0, blockHash: block(1).blockHash, signatures: [] },
    });
    take(c);
    const atHeight2 = signed(k2, { type: "viewChange", height: 2, toView: 3, prepared: null } as never);
    const r = deliver(c, atHeight2 as PbftMessage);
    expect(r.viewChangeStarted).toBeNull();
    expect(c.status()).toMatchObject({ height: 2, view: 0 });
  });
});

describe("PbftCore view change: timer", () => {
  it("the doubling of the view timeout stops at viewTimeoutDoublingsMax", () => {
    const c = core(k0, { viewTimeoutTicks: 10, viewTimeoutDoublingsMax: 1 });
    take(c);
    deliver(c, viewChange(k1, 2));
    deliver(c, viewChange(k2, 2)); // joins view 2 with a quorum asking for it: the timer runs
    expect(c.status()).toMatchObject({ view: 2, viewChanging: true });
    expect(ticksUntilViewChange(c, 100)).toBe(20); // 10 · 2^min(2, 1)
  });

  it("a node outside the validator set never starts a view change and sends nothing on ticks", () => {
    const c = core(outsider, { resendTicks: 3 });
    take(c);
    for (let t = 0; t < 50; t++) {
      c.tick();
      const r = take(c);
      expect(r.viewChangeStarted).toBeNull();
      expect(r.messages).toHaveLength(0);
    }
    expect(c.status()).toMatchObject({ view: 0, viewChanging: false });
  });
});

describe("PbftCore view change: the blocks executed valid at a height", () => {
  /**
   * An observer taken through views 1..last of height 1; in view v the leader proposes block(nonceOf(v)), which the
   * observer executes valid.
   */
  function observerThroughViews(last: number, nonceOf = (view: number) => view): PbftCore {
    const c = core(outsider);
    take(c);
    for (let v = 1; v <= last; v++) {
      const leader = keys[(1 + v) % keys.length]!;
      const vcs = keys.filter((k) => k !== leader).map((k) => viewChange(k, v));
      expect(reasons(deliver(c, newView(leader, v, vcs)))).toEqual([]);
      expect(deliver(c, prePrepare(nonceOf(v), leader, v)).execute).toHaveLength(1);
      c.step({ type: "blockExecuted", height: 1, blockHash: block(nonceOf(v)).blockHash, valid: true });
      take(c);
    }
    return c;
  }

  /** Commits of block(nonce) in `view` from three validators. */
  function commitQuorum(c: PbftCore, nonce: number, view = nonce): Ready {
    for (const k of [k0, k1, k2])
      c.step({ type: "message", from: k.nodeId, msg: vote("commit", k, block(nonce).blockHash, view) });
    return take(c);
  }

  it(`keeps the latest ${VALID_BLOCKS_MAX}: the current view's block commits from memory, the oldest is fetched`, () => {
    const views = VALID_BLOCKS_MAX + 1;
    const latest = commitQuorum(observerThroughViews(views), views);
    expect(latest.commits.map((x) => x.blockHash)).toEqual([block(views).blockHash]);
    expect(latest.fetchBlocks).toBeNull();

    const oldest = commitQuorum(observerThroughViews(views), 1);
    expect(oldest.commits).toEqual([]);
    expect(oldest.fetchBlocks).toMatchObject({ fromHeight: 1 });
    // The second oldest is still there.
    expect(commitQuorum(observerThroughViews(views), 2).commits).toHaveLength(1);
  });

  it("a block proposed again in a later view takes no second place: nothing is evicted for it", () => {
    const full = VALID_BLOCKS_MAX;
    // The last view re-proposes the block of the view before it.
    const c = observerThroughViews(full + 1, (v) => (v === full + 1 ? full : v));
    expect(commitQuorum(c, 1).commits.map((x) => x.blockHash)).toEqual([block(1).blockHash]);
  });
});
