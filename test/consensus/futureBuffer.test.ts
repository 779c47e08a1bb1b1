import { describe, expect, it } from "vitest";
import {
  defaultPbftConfig,
  messageDigest,
  type PbftConfig,
  type PbftMessage,
} from "../../src/consensus/index.js";
import { bufferFutureHeight, takeReplayable } from "../../src/consensus/pbft/core/futureBuffer.js";
import { type CoreState, createState } from "../../src/consensus/pbft/core/state.js";
import { KeyRegistry, type SimKey, sha256 } from "../sim/simCrypto.js";

const reg = new KeyRegistry("fast");
const keys: SimKey[] = [0, 1, 2, 3].map((i) => reg.create(7, i));
const validators = keys.map((k) => ({ nodeId: k.nodeId, weight: 1 }));

function state(
  futureBufferMax: number,
  futurePerSenderMax: number,
  bytes: Partial<Pick<PbftConfig, "futurePerSenderBytesMax" | "futureBufferBytesMax">> = {},
): CoreState {
  return createState(
    { ...defaultPbftConfig, nodeId: keys[2]!.nodeId, futureBufferMax, futurePerSenderMax, ...bytes },
    { crypto: reg.cryptoFor(keys[2]!) },
    { committedHeight: 0, committedHash: new Uint8Array(32), validators, hardState: null },
  );
}

/** A Prepare at height 2 (we are at 1) for a block named by `n`. */
function prepare(key: SimKey, n: number): PbftMessage {
  const msg = {
    type: "prepare" as const,
    height: 2,
    view: 0,
    blockHash: new Uint8Array(32).fill(n),
    sender: key.nodeId,
    signature: new Uint8Array(0),
  };
  return { ...msg, signature: key.sign(messageDigest(sha256, msg)) };
}

const MiB = 1024 * 1024;

/** A PrePrepare at height 2 carrying a block of `mib` MiB named by `n`. */
function prePrepare(key: SimKey, n: number, mib: number): PbftMessage {
  const msg = {
    type: "prePrepare" as const,
    height: 2,
    view: 0,
    blockHash: new Uint8Array(32).fill(n),
    payload: new Uint8Array(mib * MiB),
    sender: key.nodeId,
    signature: new Uint8Array(0),
  };
  return { ...msg, signature: key.sign(messageDigest(sha256, msg)) };
}

function buffered(s: CoreState, key: SimKey): number[] {
  return s.future
    .filter((b) => b.from === key.nodeId)
    .map((b) => (b.msg as { blockHash: Uint8Array }).blockHash[0]!);
}

describe("future-message buffer, bounded per sender", () => {
  it("a flooding member keeps only its newest futurePerSenderMax messages; the others' stay", () => {
    const s = state(1024, 4);
    bufferFutureHeight(s, keys[1]!.nodeId, prepare(keys[1]!, 100));
    for (let n = 0; n < 50; n++) bufferFutureHeight(s, keys[0]!.nodeId, prepare(keys[0]!, n));
    bufferFutureHeight(s, keys[3]!.nodeId, prepare(keys[3]!, 101));
    expect(buffered(s, keys[0]!)).toEqual([46, 47, 48, 49]);
    expect(buffered(s, keys[1]!)).toEqual([100]);
    expect(buffered(s, keys[3]!)).toEqual([101]);
    expect(s.counters.futureDropped).toBe(46);
  });

  it("when the whole buffer is full, the sender holding the most loses its oldest message", () => {
    const s = state(6, 4);
    for (let n = 0; n < 4; n++) bufferFutureHeight(s, keys[0]!.nodeId, prepare(keys[0]!, n));
    bufferFutureHeight(s, keys[1]!.nodeId, prepare(keys[1]!, 100));
    bufferFutureHeight(s, keys[1]!.nodeId, prepare(keys[1]!, 101));
    bufferFutureHeight(s, keys[3]!.nodeId, prepare(keys[3]!, 102)); // full: keys[0] (4) loses 0
    bufferFutureHeight(s, keys[3]!.nodeId, prepare(keys[3]!, 103)); // full: keys[0] (3) loses 1
    expect(buffered(s, keys[0]!)).toEqual([2, 3]);
    expect(buffered(s, keys[1]!)).toEqual([100, 101]);
    expect(buffered(s, keys[3]!)).toEqual([102, 103]);
    expect(s.future).toHaveLength(6);
  });

  it("when full and two senders hold the most, the one that buffered first loses its oldest", () => {
    const s = state(4, 4);
    bufferFutureHeight(s, keys[1]!.nodeId, prepare(keys[1]!, 10));
    bufferFutureHeight(s, keys[0]!.nodeId, prepare(keys[0]!, 20));
    bufferFutureHeight(s, keys[1]!.nodeId, prepare(keys[1]!, 11));
    bufferFutureHeight(s, keys[0]!.nodeId, prepare(keys[0]!, 21));
    bufferFutureHeight(s, keys[3]!.nodeId, prepare(keys[3]!, 30)); // full, 2 and 2: keys[1] came first
    expect(buffered(s, keys[1]!)).toEqual([11]);
    expect(buffered(s, keys[0]!)).toEqual([20, 21]);
    expect(buffered(s, keys[3]!)).toEqual([30]);
  });

  it("when full and every sender holds one message, the first one buffered goes", () => {
    const s = state(2, 4);
    for (const k of [keys[0]!, keys[1]!, keys[3]!]) bufferFutureHeight(s, k.nodeId, prepare(k, 1));
    expect(s.future.map((b) => b.from)).toEqual([keys[1]!.nodeId, keys[3]!.nodeId]);
    expect(s.counters.futureDropped).toBe(1);
  });

  it("an exact duplicate (a resend) is buffered once", () => {
    const s = state(1024, 4);
    const msg = prepare(keys[1]!, 5);
    for (let i = 0; i < 10; i++) bufferFutureHeight(s, keys[1]!.nodeId, msg);
    expect(buffered(s, keys[1]!)).toEqual([5]);
    expect(s.counters.futureDropped).toBe(0);
  });

  it("a message a flooding peer relayed first stays buffered for the member who delivered it too", () => {
    // Duplicates are per delivering peer: were they global, keys[0] relaying keys[1]'s message first would keep
    // keys[1]'s own copy out of the buffer, then push it out by flooding its own quota.
    const s = state(1024, 2);
    const fromMember = prepare(keys[1]!, 7);
    bufferFutureHeight(s, keys[0]!.nodeId, fromMember);
    bufferFutureHeight(s, keys[1]!.nodeId, fromMember);
    for (let n = 0; n < 5; n++) bufferFutureHeight(s, keys[0]!.nodeId, prepare(keys[0]!, n));
    expect(buffered(s, keys[0]!)).toEqual([3, 4]);
    expect(buffered(s, keys[1]!)).toEqual([7]);
  });

  it("replayed messages leave the per-sender count: the sender's room comes back", () => {
    const s = state(1024, 2);
    bufferFutureHeight(s, keys[0]!.nodeId, prepare(keys[0]!, 1));
    bufferFutureHeight(s, keys[0]!.nodeId, prepare(keys[0]!, 2));
    s.height = 2;
    expect(takeReplayable(s).map((b) => b.fromKey)).toHaveLength(2);
    expect(s.futureBySender.size).toBe(0);
    s.height = 1; // as if a new round of future messages came
    bufferFutureHeight(s, keys[0]!.nodeId, prepare(keys[0]!, 3));
    bufferFutureHeight(s, keys[0]!.nodeId, prepare(keys[0]!, 4));
    expect(buffered(s, keys[0]!)).toEqual([3, 4]);
    expect(s.counters.futureDropped).toBe(0);
  });
});

describe("future-message buffer, bounded in bytes", () => {
  it("a member sending large proposals keeps only its newest futurePerSenderBytesMax of them; the others' stay", () => {
    const s = state(1024, 128, { futurePerSenderBytesMax: 3 * MiB });
    bufferFutureHeight(s, keys[1]!.nodeId, prePrepare(keys[1]!, 100, 2));
    for (let n = 0; n < 10; n++) bufferFutureHeight(s, keys[0]!.nodeId, prePrepare(keys[0]!, n, 1));
    // Three of 1 MiB and their headers pass 3 MiB: two stay, however many messages the count would allow.
    expect(buffered(s, keys[0]!)).toEqual([8, 9]);
    expect(buffered(s, keys[1]!)).toEqual([100]);
    expect(s.futureBytes).toBe(4 * MiB + 3 * 256);
    expect(s.counters.futureDropped).toBe(8);
  });

  it("when the whole buffer is over its bytes, the sender holding the most bytes (not messages) loses its oldest", () => {
    const s = state(1024, 128, { futureBufferBytesMax: 5 * MiB });
    bufferFutureHeight(s, keys[0]!.nodeId, prePrepare(keys[0]!, 1, 2));
    bufferFutureHeight(s, keys[0]!.nodeId, prePrepare(keys[0]!, 2, 2));
    for (let n = 0; n < 6; n++) bufferFutureHeight(s, keys[1]!.nodeId, prepare(keys[1]!, 10 + n)); // small
    bufferFutureHeight(s, keys[3]!.nodeId, prePrepare(keys[3]!, 30, 1)); // over 5 MiB: keys[0] loses 1
    expect(buffered(s, keys[0]!)).toEqual([2]);
    expect(buffered(s, keys[1]!)).toHaveLength(6);
    expect(buffered(s, keys[3]!)).toEqual([30]);
    expect(s.futureBytes).toBeLessThanOrEqual(5 * MiB);
  });

  it("a message larger than a sender's whole allowance is not buffered, and pushes nothing out", () => {
    const s = state(1024, 128, { futurePerSenderBytesMax: 2 * MiB });
    bufferFutureHeight(s, keys[0]!.nodeId, prePrepare(keys[0]!, 1, 1));
    bufferFutureHeight(s, keys[0]!.nodeId, prePrepare(keys[0]!, 2, 2)); // 2 MiB + its header: over 2 MiB alone
    expect(buffered(s, keys[0]!)).toEqual([1]);
    expect(s.counters.futureDropped).toBe(1);
  });

  it("replayed and dropped messages give their bytes back", () => {
    const s = state(1024, 128, { futurePerSenderBytesMax: 3 * MiB });
    for (let n = 0; n < 4; n++) bufferFutureHeight(s, keys[0]!.nodeId, prePrepare(keys[0]!, n, 1));
    s.height = 2;
    takeReplayable(s);
    expect(s.futureBytes).toBe(0);
    expect(s.futureBytesBySender.size).toBe(0);
    s.height = 1;
    for (let n = 0; n < 2; n++) bufferFutureHeight(s, keys[0]!.nodeId, prePrepare(keys[0]!, 10 + n, 1));
    expect(buffered(s, keys[0]!)).toEqual([10, 11]);
  });
});
