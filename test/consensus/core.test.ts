import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  commitDigest,
  defaultPbftConfig,
  type HardState,
  messageDigest,
  PbftCore,
  type PbftMessage,
  type Ready,
  verifyCertificate,
} from "../../src/consensus/index.js";
import type { CommitCertificate } from "../../src/types/index.js";
import { encodeToyBlock, toyBlockHash } from "../sim/block.js";
import { KeyRegistry, type SimKey, sha256 } from "../sim/simCrypto.js";

const reg = new KeyRegistry("fast");
const keys: SimKey[] = [0, 1, 2, 3].map((i) => reg.create(42, i));
const outsider = reg.create(42, 99);
const validators = keys.map((k) => ({ nodeId: k.nodeId, weight: 1 }));
const GENESIS = new Uint8Array(32);

/** Node 2 (a replica at height 1; leader of (1, 0) is node 1). */
function replica(hardState: HardState | null = null, me = 2): PbftCore {
  return new PbftCore(
    { ...defaultPbftConfig, nodeId: keys[me]!.nodeId, viewTimeoutTicks: 10, resendTicks: 1000 },
    { crypto: reg.cryptoFor(keys[me]!) },
    { committedHeight: 0, committedHash: GENESIS, validators, hardState },
  );
}

function signed<M extends PbftMessage>(key: SimKey, msg: Omit<M, "signature" | "sender">): M {
  const full = { ...msg, sender: key.nodeId, signature: new Uint8Array(32) } as unknown as M;
  return { ...full, signature: key.sign(messageDigest(sha256, full)) };
}

function block(nonce: number): { payload: Uint8Array; blockHash: Uint8Array } {
  const payload = encodeToyBlock({ height: 1, parentHash: GENESIS, proposer: 1, nonce, valid: true });
  return { payload, blockHash: toyBlockHash(payload) };
}

function prePrepare(nonce: number, key = keys[1]!, view = 0): PbftMessage {
  return signed(key, { type: "prePrepare", height: 1, view, ...block(nonce) } as never);
}

function vote(type: "prepare" | "commit", key: SimKey, blockHash: Uint8Array, view = 0): PbftMessage {
  return signed(key, { type, height: 1, view, blockHash } as never);
}

function take(core: PbftCore): Ready {
  const r = core.ready();
  core.advance(r);
  return r;
}

function deliver(core: PbftCore, msg: PbftMessage, from = msg.sender): Ready {
  core.step({ type: "message", from, msg });
  return take(core);
}

describe("PbftCore: normal case at a replica", () => {
  it("PrePrepare → execute → Prepare (persisted first) → prepared → Commit → commitBlock with a valid certificate", () => {
    const core = replica();
    take(core);
    const pp = prePrepare(1);
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
    deliver(core, prePrepare(1));
    core.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
    take(core);
    for (const k of [keys[0]!, keys[1]!, keys[3]!])
      core.step({ type: "message", from: k.nodeId, msg: vote("commit", k, blockHash, 3) });
    expect(take(core).commits[0]?.certificate.view).toBe(3);
  });
});

describe("PbftCore: bad peer input is rejected with a reason, never thrown", () => {
  const reasons = (r: Ready) => r.rejections.map((x) => x.reason);

  it.each([
    ["non-validator", () => prePrepare(1, outsider), "NOT_VALIDATOR"],
    ["wrong leader", () => prePrepare(1, keys[3]!), "WRONG_LEADER"],
    ["bad signature", () => ({ ...prePrepare(1), signature: new Uint8Array(32).fill(7) }), "BAD_SIGNATURE"],
    ["absurd height", () => ({ ...prePrepare(1), height: 1e12 }), "FUTURE_HEIGHT_TOO_FAR"],
    ["absurd view", () => prePrepare(1, keys[1]!, 1e9), "VIEW_TOO_FAR"],
    ["negative view", () => ({ ...prePrepare(1), view: -1 }), "MALFORMED"],
    ["unknown type", () => ({ ...prePrepare(1), type: "hello" }) as unknown as PbftMessage, "MALFORMED"],
    ["missing fields", () => ({ type: "prepare" }) as unknown as PbftMessage, "MALFORMED"],
    ["null", () => null as unknown as PbftMessage, "MALFORMED"],
    ["a string", () => "hello" as unknown as PbftMessage, "MALFORMED"],
    [
      "newView with null inside",
      () => ({ ...prePrepare(1), type: "newView", viewChanges: [null] }) as unknown as PbftMessage,
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
    deliver(core, prePrepare(1));
    expect(reasons(deliver(core, prePrepare(1)))).toEqual(["DUPLICATE"]);
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
    deliver(core, prePrepare(1));
    const r = deliver(core, prePrepare(2));
    expect(r.evidence).toHaveLength(1);
    expect(r.viewChangeStarted).toMatchObject({ toView: 1, cause: "equivocation" });
    expect(r.messages.map((m) => m.msg.type)).toEqual(["viewChange"]);
    expect(r.persist).toMatchObject({ view: 1, viewChanging: true });
  });

  it("invalid block: view change at once", () => {
    const core = replica();
    deliver(core, prePrepare(1));
    core.step({ type: "blockExecuted", height: 1, blockHash: block(1).blockHash, valid: false });
    expect(take(core).viewChangeStarted).toMatchObject({ toView: 1, cause: "invalidBlock" });
  });

  it("timeout → view change; then the timer waits for a quorum of ViewChanges, and doubles", () => {
    const core = replica();
    take(core);
    const ticksUntilViewChange = (max: number): number | null => {
      for (let t = 1; t <= max; t++) {
        core.tick();
        if (take(core).viewChangeStarted) return t;
      }
      return null;
    };
    expect(ticksUntilViewChange(100)).toBe(10);
    expect(ticksUntilViewChange(200)).toBeNull(); // alone in view 1: no racing ahead
    for (const k of [keys[0]!, keys[3]!])
      deliver(core, signed(k, { type: "viewChange", height: 1, toView: 1, prepared: null } as never));
    expect(ticksUntilViewChange(100)).toBe(20); // view 1: 10 · 2^1
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
    const hs: HardState = {
      height: 1,
      view: 0,
      viewChanging: false,
      prePrepareVote: null,
      prepareVote: blockHash,
      commitVote: null,
      prepared: null,
      newViewHash: null,
    };
    const core = replica(hs);
    const r0 = take(core);
    expect(r0.messages.map((m) => m.msg.type)).toEqual(["prepare"]); // re-sends the same vote
    const r = deliver(core, prePrepare(2));
    expect(r.rejections.map((x) => x.reason)).toEqual(["ALREADY_VOTED"]);
    expect(r.execute).toHaveLength(0);
  });

  it("remembers the block its view's NewView mandates (a forgetful replica could prepare another)", () => {
    const hs: HardState = {
      height: 1,
      view: 2,
      viewChanging: false,
      prePrepareVote: null,
      prepareVote: null,
      commitVote: null,
      prepared: null,
      newViewHash: block(1).blockHash,
    };
    const core = replica(hs);
    take(core);
    const r = deliver(core, prePrepare(2, keys[3]!, 2)); // the leader of (1, 2) is node 3
    expect(r.rejections.map((x) => x.reason)).toEqual(["NEW_VIEW_MISMATCH"]);
    expect(r.execute).toHaveLength(0);
    expect(deliver(core, prePrepare(1, keys[3]!, 2)).execute).toHaveLength(0); // after the view change: view 3
  });

  it("a hard state of an older height is ignored; of a newer height is a driver bug", () => {
    const hs: HardState = {
      height: 0,
      view: 5,
      viewChanging: true,
      prePrepareVote: null,
      prepareVote: null,
      commitVote: null,
      prepared: null,
      newViewHash: null,
    };
    expect(replica(hs).status().view).toBe(0);
    expect(() => replica({ ...hs, height: 3 })).toThrow(/hard state is ahead/);
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
