/**
 * A 4-validator cluster of PbftCore at height 1 for the core's unit tests: signed messages of every kind, prepared
 * certificates, and a replica of any node. Leader of (height 1, view v) is node (1 + v) mod 4.
 */
import { expect } from "vitest";
import {
  defaultPbftConfig,
  type HardState,
  messageDigest,
  type NewView,
  type PbftConfig,
  PbftCore,
  type PbftMessage,
  type PreparedCertificate,
  prepareDigest,
  type Ready,
  type ViewChange,
} from "../../src/consensus/index.js";
import { encodeToyBlock, toyBlockHash } from "../sim/block.js";
import { KeyRegistry, type SimKey, sha256 } from "../sim/simCrypto.js";

export const reg = new KeyRegistry("fast");
export const keys: SimKey[] = [0, 1, 2, 3].map((i) => reg.create(42, i));
export const [k0, k1, k2, k3] = keys as [SimKey, SimKey, SimKey, SimKey];
export const outsider = reg.create(42, 99);
export const validators = keys.map((k) => ({ nodeId: k.nodeId, weight: 1 }));
export const GENESIS = new Uint8Array(32);

export function core(
  me: SimKey,
  config: Partial<PbftConfig> = {},
  hardState: HardState | null = null,
): PbftCore {
  return new PbftCore(
    { ...defaultPbftConfig, nodeId: me.nodeId, viewTimeoutTicks: 10, resendTicks: 1000, ...config },
    { crypto: reg.cryptoFor(me) },
    { committedHeight: 0, committedHash: GENESIS, validators, hardState },
  );
}

/** A hard state at height 1, view 0 with nothing voted, but for `over`. */
export function hardState(over: Partial<HardState>): HardState {
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

/** A core restarted after block `committedHeight` (hash `committedHash`) was committed. */
export function coreAfter(
  me: SimKey,
  committedHeight: number,
  committedHash: Uint8Array,
  hardState: HardState | null,
): PbftCore {
  return new PbftCore(
    { ...defaultPbftConfig, nodeId: me.nodeId, viewTimeoutTicks: 10, resendTicks: 1000 },
    { crypto: reg.cryptoFor(me) },
    { committedHeight, committedHash, validators, hardState },
  );
}

export function signed<M extends PbftMessage>(key: SimKey, msg: Omit<M, "signature" | "sender">): M {
  const full = { ...msg, sender: key.nodeId, signature: new Uint8Array(32) } as unknown as M;
  return { ...full, signature: key.sign(messageDigest(sha256, full)) };
}

export function block(nonce: number): { payload: Uint8Array; blockHash: Uint8Array } {
  const payload = encodeToyBlock({ height: 1, parentHash: GENESIS, proposer: 1, nonce, valid: true });
  return { payload, blockHash: toyBlockHash(payload) };
}

export function prePrepare(nonce: number, key: SimKey, view = 0): PbftMessage {
  return signed(key, { type: "prePrepare", height: 1, view, ...block(nonce) } as never);
}

export function vote(type: "prepare" | "commit", key: SimKey, blockHash: Uint8Array, view = 0): PbftMessage {
  return signed(key, { type, height: 1, view, blockHash } as never);
}

/** A prepared certificate of block(nonce) in `view`, signed by `signers`. */
export function preparedCert(
  nonce: number,
  view: number,
  signers: SimKey[] = keys.slice(0, 3),
): PreparedCertificate {
  const { payload, blockHash } = block(nonce);
  const digest = prepareDigest(sha256, 1, view, blockHash);
  return {
    height: 1,
    view,
    blockHash,
    payload,
    prepares: signers.map((k) => ({ nodeId: k.nodeId, signature: k.sign(digest) })),
  };
}

export function viewChange(
  key: SimKey,
  toView: number,
  prepared: PreparedCertificate | null = null,
): ViewChange {
  return signed<ViewChange>(key, { type: "viewChange", height: 1, toView, prepared });
}

export function newView(leader: SimKey, view: number, viewChanges: ViewChange[]): NewView {
  return signed<NewView>(leader, { type: "newView", height: 1, view, viewChanges });
}

export function take(c: PbftCore): Ready {
  const r = c.ready();
  c.advance(r);
  return r;
}

export function deliver(c: PbftCore, msg: PbftMessage, from = msg.sender): Ready {
  c.step({ type: "message", from, msg });
  return take(c);
}

export const reasons = (r: Ready) => r.rejections.map((x) => x.reason);
export const types = (r: Ready) => r.messages.map((m) => m.msg.type);

/** Ticks `c` up to `max` times; the number of ticks until a view change started, or null. */
export function ticksUntilViewChange(c: PbftCore, max: number): number | null {
  for (let t = 1; t <= max; t++) {
    c.tick();
    if (take(c).viewChangeStarted) return t;
  }
  return null;
}

/**
 * Node 2 has prepared block(1) in view 0 and sent its Commit (PrePrepare from node 1, executed, Prepares of nodes
 * 0, 1 and its own); not decided: only its own Commit counts.
 */
export function preparedAtNode2(config: Partial<PbftConfig> = {}): PbftCore {
  const c = core(k2, config);
  const { blockHash } = block(1);
  deliver(c, prePrepare(1, k1));
  c.step({ type: "blockExecuted", height: 1, blockHash, valid: true });
  take(c);
  deliver(c, vote("prepare", k1, blockHash));
  expect(types(deliver(c, vote("prepare", k0, blockHash)))).toEqual(["commit"]);
  return c;
}
