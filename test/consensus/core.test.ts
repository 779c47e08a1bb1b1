import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  commitDigest,
  type HardState,
  type PbftMessage,
  verifyCertificate,
} from "../../src/consensus/index.js";
import { EVIDENCE_MAX } from "../../src/consensus/pbft/core/state.js";
import type { CommitCertificate } from "../../src/types/index.js";
import { type SimKey, sha256 } from "../sim/simCrypto.js";
import {
  block,
  coreAfter,
  core as coreOf,
  deliver,
  GENESIS,
  hardState,
  k0,
  k1,
  k2,
  k3,
  keys,
  outsider,
  prePrepare,
  reasons,
  reg,
  signed,
  take,
  ticksUntilViewChange,
  types,
  validators,
  vote,
} from "./coreHelpers.js";

/** Node 2 (a replica at height 1; leader of (1, 0) is node 1). */
function replica(hs: HardState | null = null) {
  return coreOf(k2, {}, hs);
}

describe("PbftCore: normal case at a replica", () => {
  it("PrePrepare → execute → Prepare (persisted first) → prepared → Commit → commitBlock with a valid certificate", () => {
    const core = replica();
    take(core);
    const pp = prePrepare(1, k1);
    const { blockHash } = block(1);
    const r1 = deliver(core, pp);
    expect(r1.execute).toEqual([
      { height: 1, view: 0, parentHash: GENESIS, blockHash, payload: block(1).payload },
    ]);
    expect(r1.messages).toHaveLength(0);

    core.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    const r2 = take(core);
    expect(r2.messages.map((m) => m.msg.type)).toEqual(["prepare"]);
    expect(r2.persist?.prepareVote).toEqual(blockHash); // write-ahead: the vote is in the same Ready's persist

    deliver(core, vote("prepare", keys[1]!, blockHash));
    const r3 = deliver(core, vote("prepare", keys[0]!, blockHash));
    expect(r3.messages.map((m) => m.msg.type)).toEqual(["commit"]);
    expect(r3.persist?.commitVote).toEqual(blockHash);
    expect(r3.persist?.prepared?.prepares.length).toBe(3);

    deliver(core, vote("commit", keys[1]!, blockHash));
    const r4 = deliver(core, vote("commit", keys[3]!, blockHash));
    expect(r4.commits).toHaveLength(1);
    const cert = r4.commits[0]!.certificate;
    expect(cert).toMatchObject({ height: 1, view: 0 });
    expect(verifyCertificate(cert, validators, reg.cryptoFor(keys[0]!))).toEqual({ ok: true });
    expect(r4.persist).toMatchObject({ height: 2, view: 0, prepareVote: null, commitVote: null });
    expect(core.status().height).toBe(2);
  });

  it("a commit quorum in any view decides a block this node executed", () => {
    const core = replica();
    const { blockHash } = block(1);
    deliver(core, prePrepare(1, k1));
    core.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    take(core);
    for (const k of [keys[0]!, keys[1]!, keys[3]!])
      core.step({ type: "message", from: k.nodeId, msg: vote("commit", k, blockHash, 3) });
    expect(take(core).commits[0]?.certificate.view).toBe(3);
  });
});

describe("PbftCore: what a vote needs to count", () => {
  const { blockHash } = block(1);
  const forged = (type: "prepare" | "commit", k: SimKey) => ({
    ...vote(type, k, blockHash),
    signature: new Uint8Array(32).fill(5),
  });

  it("badly signed Prepares and Commits are refused and never counted, however many", () => {
    const core = replica();
    deliver(core, prePrepare(1, k1));
    core.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    take(core);
    for (const k of [k0, k1, k3]) {
      const r = deliver(core, forged("prepare", k));
      expect(reasons(r)).toEqual(["BAD_SIGNATURE"]);
      expect(r.messages).toEqual([]); // no quorum of Prepares: no Commit
    }
    for (const k of [k0, k1, k3]) expect(deliver(core, forged("commit", k)).commits).toEqual([]);
    expect(core.status().height).toBe(1);
    // The genuine votes of the same validators still count.
    deliver(core, vote("prepare", k0, blockHash));
    expect(types(deliver(core, vote("prepare", k1, blockHash)))).toEqual(["commit"]);
  });

  it("a Prepare quorum before the block is executed does not prepare it: the Commit waits for the execution", () => {
    const core = replica();
    deliver(core, prePrepare(1, k1));
    for (const k of [k0, k1, k3]) expect(deliver(core, vote("prepare", k, blockHash)).messages).toEqual([]);
    core.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    expect(types(take(core))).toEqual(["prepare", "commit"]);
  });

  it("a Prepare quorum for a block executed invalid prepares nothing", () => {
    const obs = coreOf(outsider); // an observer changes no view: its round keeps the refused block
    deliver(obs, prePrepare(1, k1));
    obs.step({ type: "blockExecuted", height: 1, blockHash, valid: false });
    take(obs);
    for (const k of [k0, k1, k3]) deliver(obs, vote("prepare", k, blockHash));
    expect(obs.hardState().prepared).toBeNull();
  });

  it("once prepared, further Prepares change nothing: no second Commit, nothing to persist", () => {
    const core = replica();
    deliver(core, prePrepare(1, k1));
    core.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    take(core);
    deliver(core, vote("prepare", k0, blockHash));
    expect(types(deliver(core, vote("prepare", k1, blockHash)))).toEqual(["commit"]);
    const r = deliver(core, vote("prepare", k3, blockHash));
    expect(r.messages).toEqual([]);
    expect(r.persist).toBeNull();
    expect(core.hardState().prepared?.prepares).toHaveLength(3);
  });

  it("restarted with its Prepare vote, it prepares and commits once the block it voted for is executed", () => {
    const core = replica(hardState({ prepareVote: blockHash }));
    expect(types(take(core))).toEqual(["prepare"]);
    deliver(core, prePrepare(1, k1));
    for (const k of [k0, k1]) expect(deliver(core, vote("prepare", k, blockHash)).messages).toEqual([]);
    core.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    const r = take(core);
    expect(types(r)).toEqual(["prepare", "commit"]);
    expect(r.persist?.prepared?.blockHash).toEqual(blockHash);
  });
});

describe("PbftCore: bad peer input is rejected with a reason, never thrown", () => {
  it.each([
    ["non-validator", () => prePrepare(1, outsider), "NOT_VALIDATOR"],
    ["wrong leader", () => prePrepare(1, keys[3]!), "WRONG_LEADER"],
    [
      "bad signature",
      () => ({ ...prePrepare(1, k1), signature: new Uint8Array(32).fill(7) }),
      "BAD_SIGNATURE",
    ],
    ["absurd height", () => ({ ...prePrepare(1, k1), height: 1e12 }), "FUTURE_HEIGHT_TOO_FAR"],
    ["absurd view", () => prePrepare(1, keys[1]!, 1e9), "VIEW_TOO_FAR"],
    ["negative view", () => ({ ...prePrepare(1, k1), view: -1 }), "MALFORMED"],
    ["unknown type", () => ({ ...prePrepare(1, k1), type: "hello" }) as unknown as PbftMessage, "MALFORMED"],
    ["missing fields", () => ({ type: "prepare" }) as unknown as PbftMessage, "MALFORMED"],
    ["null", () => null as unknown as PbftMessage, "MALFORMED"],
    ["a string", () => "hello" as unknown as PbftMessage, "MALFORMED"],
    [
      "newView with null inside",
      () => ({ ...prePrepare(1, k1), type: "newView", viewChanges: [null] }) as unknown as PbftMessage,
      "MALFORMED",
    ],
  ])("%s", (_name, make, reason) => {
    const core = replica();
    take(core);
    const r = deliver(core, make(), keys[1]!.nodeId);
    expect(reasons(r)).toContain(reason);
    expect(r.messages).toHaveLength(0);
    expect(r.execute).toHaveLength(0);
  });

  it("duplicates are ignored without re-verification", () => {
    const core = replica();
    deliver(core, prePrepare(1, k1));
    expect(reasons(deliver(core, prePrepare(1, k1)))).toEqual(["DUPLICATE"]);
  });

  it("random objects as messages never throw", () => {
    const core = replica();
    const bytes = fc.uint8Array({ maxLength: 40 });
    const num = fc.oneof(fc.integer(), fc.double(), fc.constant(Number.MAX_SAFE_INTEGER + 2));
    const msg = fc.record({
      type: fc.constantFrom("prePrepare", "prepare", "commit", "viewChange", "newView", "x"),
      height: num,
      view: num,
      toView: num,
      blockHash: bytes,
      payload: bytes,
      sender: fc.constantFrom(...keys.map((k) => k.nodeId), new Uint8Array(3)),
      signature: bytes,
      prepared: fc.constantFrom(
        null,
        undefined,
        {},
        { height: 1, view: 0, blockHash: new Uint8Array(32), payload: new Uint8Array(0), prepares: [{}] },
      ),
      viewChanges: fc.constantFrom(undefined, [], [{}], [null]),
    });
    fc.assert(
      fc.property(msg, (m) => {
        core.step({ type: "message", from: keys[0]!.nodeId, msg: m as unknown as PbftMessage });
        core.tick();
        take(core);
      }),
      { numRuns: 3000 },
    );
  });
});

describe("PbftCore: view change triggers", () => {
  it("equivocating leader: evidence kept, view change at once", () => {
    const core = replica();
    deliver(core, prePrepare(1, k1));
    const r = deliver(core, prePrepare(2, k1));
    expect(r.evidence).toHaveLength(1);
    expect(reasons(r)).toEqual(["EQUIVOCATION"]);
    expect(r.viewChangeStarted).toMatchObject({ toView: 1, cause: "equivocation" });
    expect(r.messages.map((m) => m.msg.type)).toEqual(["viewChange"]);
    expect(r.persist).toMatchObject({ view: 1, viewChanging: true });
  });

  it("an observer records an equivocating leader's PrePrepares as evidence (at most EVIDENCE_MAX a Ready), and never asks for a view change", () => {
    const obs = coreOf(outsider);
    take(obs);
    expect(deliver(obs, prePrepare(1, k1)).execute).toHaveLength(1);
    for (let n = 2; n <= EVIDENCE_MAX + 2; n++)
      obs.step({ type: "message", from: k1.nodeId, msg: prePrepare(n, k1) });
    const r = take(obs);
    expect(reasons(r)).toEqual(Array(EVIDENCE_MAX + 1).fill("EQUIVOCATION"));
    expect(r.evidence).toHaveLength(EVIDENCE_MAX);
    expect(r.evidence[0]).toEqual([prePrepare(1, k1), prePrepare(2, k1)]);
    expect(r.viewChangeStarted).toBeNull();
    expect(r.messages).toEqual([]);
    expect(obs.status()).toMatchObject({ view: 0, viewChanging: false });
    // Nor on a block it found invalid.
    obs.step({ type: "blockExecuted", height: 1, blockHash: block(1).blockHash, valid: false });
    expect(take(obs).viewChangeStarted).toBeNull();
  });

  it("invalid block: view change at once", () => {
    const core = replica();
    deliver(core, prePrepare(1, k1));
    core.step({ type: "blockExecuted", height: 1, blockHash: block(1).blockHash, valid: false });
    expect(take(core).viewChangeStarted).toMatchObject({ toView: 1, cause: "invalidBlock" });
  });

  it("timeout → view change; then the timer waits for a quorum of ViewChanges, and doubles", () => {
    const core = replica();
    take(core);
    expect(ticksUntilViewChange(core, 100)).toBe(10);
    expect(ticksUntilViewChange(core, 200)).toBeNull(); // alone in view 1: no racing ahead
    for (const k of [keys[0]!, keys[3]!])
      deliver(core, signed(k, { type: "viewChange", height: 1, toView: 1, prepared: null } as never));
    expect(ticksUntilViewChange(core, 100)).toBe(20); // view 1: 10 · 2^1
  });

  it("f + 1 ViewChanges for a higher view make a node join it", () => {
    const core = replica();
    take(core);
    const vc = (k: SimKey) =>
      signed(k, { type: "viewChange", height: 1, toView: 3, prepared: null } as never);
    expect(deliver(core, vc(keys[0]!)).viewChangeStarted).toBeNull();
    expect(deliver(core, vc(keys[1]!)).viewChangeStarted).toMatchObject({
      toView: 3,
      cause: "joinHigherView",
    });
  });
});

describe("PbftCore: restart from hard state", () => {
  it("never prepares a different block in a view it already voted in", () => {
    const { blockHash } = block(1);
    const core = replica(hardState({ prepareVote: blockHash }));
    const r0 = take(core);
    expect(r0.messages.map((m) => m.msg.type)).toEqual(["prepare"]); // re-sends the same vote
    const r = deliver(core, prePrepare(2, k1));
    expect(r.rejections.map((x) => x.reason)).toEqual(["ALREADY_VOTED"]);
    expect(r.execute).toHaveLength(0);
  });

  it("remembers the block its view's NewView mandates (a forgetful replica could prepare another)", () => {
    const core = replica(hardState({ view: 2, newViewHash: block(1).blockHash }));
    take(core);
    const r = deliver(core, prePrepare(2, keys[3]!, 2)); // the leader of (1, 2) is node 3
    expect(r.rejections.map((x) => x.reason)).toEqual(["NEW_VIEW_MISMATCH"]);
    expect(r.viewChangeStarted).toEqual({ height: 1, toView: 3, cause: "badProposal" });
    expect(r.execute).toHaveLength(0);
    expect(deliver(core, prePrepare(1, keys[3]!, 2)).execute).toHaveLength(0); // after the view change: view 3
  });

  it("a hard state of an older height is ignored; of a newer height is a driver bug", () => {
    const hs = hardState({ height: 0, view: 5, viewChanging: true });
    expect(replica(hs).status().view).toBe(0);
    expect(() => replica({ ...hs, height: 3 })).toThrow(/hard state is ahead/);
  });

  it("a hard state several heights old (the last height this node voted at) is ignored", () => {
    const c = coreAfter(k2, 5, block(5).blockHash, hardState({ height: 2, view: 3, viewChanging: true }));
    expect(c.status()).toMatchObject({ height: 6, view: 0, viewChanging: false });
    expect(take(c).messages).toEqual([]);
  });
});

describe("verifyCertificate", () => {
  const hash = new Uint8Array(32).fill(9);
  const sig = (k: SimKey, view = 0) => ({
    nodeId: k.nodeId,
    signature: k.sign(commitDigest(sha256, 4, view, hash)),
  });
  const crypto = reg.cryptoFor(keys[0]!);
  const cert = (signatures: CommitCertificate["signatures"]): CommitCertificate => ({
    height: 4,
    view: 0,
    blockHash: hash,
    signatures,
  });

  it.each([
    ["quorum", [sig(keys[0]!), sig(keys[1]!), sig(keys[2]!)], { ok: true }],
    ["no quorum", [sig(keys[0]!), sig(keys[1]!)], { ok: false, reason: "NO_QUORUM" }],
    [
      "duplicate signer",
      [sig(keys[0]!), sig(keys[0]!), sig(keys[1]!)],
      { ok: false, reason: "DUPLICATE_SIGNER" },
    ],
    ["outsider", [sig(keys[0]!), sig(keys[1]!), sig(outsider)], { ok: false, reason: "NOT_VALIDATOR" }],
    [
      "signature of another view",
      [sig(keys[0]!), sig(keys[1]!), sig(keys[2]!, 1)],
      { ok: false, reason: "BAD_SIGNATURE" },
    ],
  ])("%s", (_name, sigs, expected) => {
    expect(verifyCertificate(cert(sigs as never), validators, crypto)).toMatchObject(expected);
  });

  it("genesis carries an empty certificate", () => {
    expect(
      verifyCertificate({ height: 0, view: 0, blockHash: hash, signatures: [] }, validators, crypto).ok,
    ).toBe(true);
    expect(
      verifyCertificate(
        { height: 0, view: 0, blockHash: hash, signatures: [sig(keys[0]!)] },
        validators,
        crypto,
      ),
    ).toMatchObject({ ok: false });
  });
});
