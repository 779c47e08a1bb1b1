import { describe, expect, it } from "vitest";
import type { Commit, ViewChange } from "../../src/consensus/index.js";
import { CommitStore, highestPrepared, Tally, ViewChangeStore } from "../../src/consensus/pbft/core/round.js";
import { block, keys, preparedCert, viewChange, vote } from "./coreHelpers.js";

const [k0, k1, k2] = keys as [(typeof keys)[0], (typeof keys)[0], (typeof keys)[0]];
const hex = (k: (typeof keys)[0]) => Buffer.from(k.nodeId).toString("hex");
const h1 = block(1).blockHash;
const h2 = block(2).blockHash;
const commit = (k: (typeof keys)[0], hash: Uint8Array, view = 0) => vote("commit", k, hash, view) as Commit;

describe("Tally: votes of one kind in one view", () => {
  it("keeps the first vote of a sender and sums weights per block hash", () => {
    const t = new Tally<Commit>();
    expect(t.add(hex(k0), commit(k0, h1), 2)).toBe(2);
    expect(t.add(hex(k1), commit(k1, h1), 1)).toBe(3);
    expect(t.add(hex(k0), commit(k0, h2), 5)).toBe(3); // a second vote of k0 is ignored: h1's weight
    expect(t.weightOf(h1)).toBe(3);
    expect(t.weightOf(h2)).toBe(0);
    expect(t.get(hex(k0))?.blockHash).toEqual(h1);
    expect(t.get(hex(k2))).toBeUndefined();
  });

  it("quorumVote: a vote for the first hash that reaches the quorum; signaturesFor: only that hash's signers", () => {
    const t = new Tally<Commit>();
    t.add(hex(k0), commit(k0, h2), 1);
    t.add(hex(k1), commit(k1, h1), 1);
    t.add(hex(k2), commit(k2, h1), 1);
    expect(t.quorumVote(3)).toBeNull();
    expect(t.quorumVote(2)?.sender).toEqual(k1.nodeId);
    expect(t.quorumVote(1)?.sender).toEqual(k0.nodeId);
    expect(t.signaturesFor(h1).map((s) => s.nodeId)).toEqual([k1.nodeId, k2.nodeId]);
  });
});

describe("CommitStore: commits of every view of a height", () => {
  it("keeps one tally per view; pruneBelow drops the views below", () => {
    const store = new CommitStore();
    store.votes(0).add(hex(k0), commit(k0, h1), 1);
    store.votes(2).add(hex(k1), commit(k1, h1, 2), 1);
    store.votes(3).add(hex(k2), commit(k2, h1, 3), 1);
    store.pruneBelow(2);
    expect(store.get(0, hex(k0))).toBeUndefined();
    expect(store.get(2, hex(k1))).toBeDefined();
    expect(store.get(3, hex(k2))).toBeDefined();
    store.clear();
    expect(store.get(3, hex(k2))).toBeUndefined();
  });
});

describe("highestPrepared", () => {
  const withPrepared = (view: number, nonce: number): ViewChange =>
    viewChange(k0, 5, preparedCert(nonce, view));

  it("the certificate of the highest view; the first one among equal views; null without any", () => {
    expect(highestPrepared([viewChange(k0, 5), viewChange(k1, 5)])).toBeNull();
    expect(
      highestPrepared([withPrepared(1, 1), viewChange(k1, 5), withPrepared(3, 3), withPrepared(2, 2)])?.view,
    ).toBe(3);
    expect(highestPrepared([viewChange(k1, 5), withPrepared(2, 7), withPrepared(2, 8)])?.blockHash).toEqual(
      block(7).blockHash,
    );
  });
});

describe("ViewChangeStore: the ViewChanges of a height", () => {
  it("has / forView by sender and target view", () => {
    const store = new ViewChangeStore(4);
    store.add(hex(k0), viewChange(k0, 1));
    store.add(hex(k1), viewChange(k1, 2));
    expect(store.has(hex(k0), 1)).toBe(true);
    expect(store.has(hex(k0), 2)).toBe(false);
    expect(store.has(hex(k2), 1)).toBe(false);
    expect(store.forView(1).map((vc) => vc.sender)).toEqual([k0.nodeId]);
    expect(store.forView(3)).toEqual([]);
  });

  it("keeps at most perSenderMax target views per sender: the highest", () => {
    const store = new ViewChangeStore(2);
    for (const v of [3, 1, 5, 4]) store.add(hex(k0), viewChange(k0, v));
    expect([1, 3, 4, 5].filter((v) => store.has(hex(k0), v))).toEqual([4, 5]);
    store.add(hex(k1), viewChange(k1, 1));
    expect(store.has(hex(k1), 1)).toBe(true); // another sender's room is its own
  });

  it("pruneBelow drops the targets below a view, and senders left with none", () => {
    const store = new ViewChangeStore(4);
    store.add(hex(k0), viewChange(k0, 1));
    store.add(hex(k0), viewChange(k0, 3));
    store.add(hex(k1), viewChange(k1, 2));
    store.pruneBelow(3);
    expect(store.has(hex(k0), 1)).toBe(false);
    expect(store.has(hex(k0), 3)).toBe(true);
    expect(store.has(hex(k1), 2)).toBe(false);
    expect(store.sendersAtOrAbove(0)).toEqual([hex(k0)]);
    expect(store.highestAbove(0, "")).toEqual(new Map([[hex(k0), 3]]));
  });

  it("sendersAtOrAbove: each sender once, if any of its targets is at or above the view", () => {
    const store = new ViewChangeStore(4);
    store.add(hex(k0), viewChange(k0, 1));
    store.add(hex(k0), viewChange(k0, 2));
    store.add(hex(k1), viewChange(k1, 1));
    store.add(hex(k2), viewChange(k2, 3));
    expect(store.sendersAtOrAbove(2)).toEqual([hex(k0), hex(k2)]);
    expect(store.sendersAtOrAbove(1)).toEqual([hex(k0), hex(k1), hex(k2)]);
    expect(store.sendersAtOrAbove(4)).toEqual([]);
  });

  it("highestAbove: per other sender, its highest target strictly above the view", () => {
    const store = new ViewChangeStore(4);
    store.add(hex(k0), viewChange(k0, 2));
    store.add(hex(k0), viewChange(k0, 4));
    store.add(hex(k0), viewChange(k0, 3));
    store.add(hex(k1), viewChange(k1, 1));
    store.add(hex(k2), viewChange(k2, 6));
    expect(store.highestAbove(1, hex(k2))).toEqual(new Map([[hex(k0), 4]]));
    expect(store.highestAbove(0, "")).toEqual(
      new Map([
        [hex(k0), 4],
        [hex(k1), 1],
        [hex(k2), 6],
      ]),
    );
    expect(store.highestAbove(4, "")).toEqual(new Map([[hex(k2), 6]]));
  });

  it("a target view 0 counts above view -1 (the lowest view is 0)", () => {
    const store = new ViewChangeStore(4);
    store.add(hex(k0), viewChange(k0, 0));
    expect(store.highestAbove(-1, "")).toEqual(new Map([[hex(k0), 0]]));
  });
});
