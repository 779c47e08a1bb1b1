import fc from "fast-check";
import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import {
  commitDigest,
  decodePbftMessage,
  encodePbftMessage,
  messageDigest,
  PBFT_PROTO,
  PbftError,
  type PbftMessage,
} from "../../src/consensus/index.js";
import { sha256 } from "../sim/simCrypto.js";

const b = (n: number, fill: number) => new Uint8Array(n).fill(fill);
const prepared = {
  height: 9,
  view: 1,
  blockHash: b(32, 1),
  payload: b(40, 2),
  prepares: [{ nodeId: b(32, 3), signature: b(64, 4) }],
};
const vc = {
  type: "viewChange" as const,
  height: 9,
  toView: 2,
  prepared,
  sender: b(32, 5),
  signature: b(64, 6),
};

const samples: PbftMessage[] = [
  {
    type: "prePrepare",
    height: 2 ** 40,
    view: 3,
    blockHash: b(32, 1),
    payload: b(300, 7),
    sender: b(32, 2),
    signature: b(64, 3),
  },
  {
    type: "prePrepare",
    height: 1,
    view: 0,
    blockHash: b(32, 1),
    payload: new Uint8Array(0),
    sender: b(32, 2),
    signature: b(64, 3),
  },
  { type: "prepare", height: 1, view: 0, blockHash: b(32, 1), sender: b(32, 2), signature: b(64, 3) },
  {
    type: "commit",
    height: Number.MAX_SAFE_INTEGER,
    view: 7,
    blockHash: b(32, 1),
    sender: b(32, 2),
    signature: b(64, 3),
  },
  vc,
  { ...vc, prepared: null },
  {
    type: "newView",
    height: 9,
    view: 2,
    viewChanges: [vc, { ...vc, prepared: null, sender: b(32, 8) }],
    sender: b(32, 9),
    signature: b(64, 1),
  },
];

describe("PBFT wire codec", () => {
  it.each(samples.map((m) => [m.type, m] as const))(
    "round-trips %s with the same signed digest",
    (_t, msg) => {
      const bytes = encodePbftMessage(msg);
      const back = decodePbftMessage(bytes);
      expect(back).toEqual(msg);
      expect(encodePbftMessage(back)).toEqual(bytes); // deterministic
      expect(messageDigest(sha256, back)).toEqual(messageDigest(sha256, msg));
    },
  );

  it("commit digest is domain separated and binds height, view and hash", () => {
    const d = commitDigest(sha256, 5, 1, b(32, 1));
    expect(d).toHaveLength(32);
    expect(commitDigest(sha256, 5, 2, b(32, 1))).not.toEqual(d);
    expect(commitDigest(sha256, 6, 1, b(32, 1))).not.toEqual(d);
    expect(commitDigest(sha256, 5, 1, b(32, 2))).not.toEqual(d);
    const prepare = samples[2] as Extract<PbftMessage, { type: "prepare" }>;
    expect(messageDigest(sha256, { ...prepare, type: "commit" })).not.toEqual(messageDigest(sha256, prepare));
  });

  it.each([
    ["empty (version 0)", new Uint8Array(0), "PBFT_WIRE_VERSION"],
    ["version 1, no body", Uint8Array.of(0x08, 0x01), "PBFT_WIRE_UNKNOWN_TYPE"],
    ["garbage", Uint8Array.of(1, 2, 3, 4, 5), "PBFT_WIRE_DECODE"],
    ["truncated", encodePbftMessage(samples[0]!).subarray(0, 50), "PBFT_WIRE_DECODE"],
    ["wrong version", Uint8Array.of(0x08, 0x02), "PBFT_WIRE_VERSION"],
  ])("%s bytes → typed error", (_name, bytes, code) => {
    expect(() => decodePbftMessage(bytes)).toThrow(PbftError);
    try {
      decodePbftMessage(bytes);
    } catch (err) {
      expect((err as PbftError).code).toBe(code);
    }
  });

  it("a message without signature: encode refuses, decode → PBFT_WIRE_INVALID_FIELD", () => {
    const msg = { ...samples[2]!, signature: new Uint8Array(0) };
    expect(() => encodePbftMessage(msg)).toThrow(
      expect.objectContaining({ code: "PBFT_WIRE_INVALID_FIELD" }),
    );
    const Envelope = protobuf.parse(PBFT_PROTO).root.lookupType("consort.pbft.Envelope");
    const { type: _t, signature: _s, ...fields } = samples[2] as Extract<PbftMessage, { type: "prepare" }>;
    const bytes = Envelope.encode(Envelope.fromObject({ version: 1, prepare: fields })).finish();
    expect(() => decodePbftMessage(bytes)).toThrow(
      expect.objectContaining({ code: "PBFT_WIRE_INVALID_FIELD" }),
    );
  });

  it("too large → PBFT_WIRE_TOO_LARGE", () => {
    expect(() => decodePbftMessage(new Uint8Array(100), 10)).toThrow(
      expect.objectContaining({ code: "PBFT_WIRE_TOO_LARGE" }),
    );
  });

  it("random bytes never throw anything but PbftError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodePbftMessage(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(PbftError);
          expect((err as PbftError).code).toMatch(/^PBFT_WIRE_/);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("mutated valid messages decode or fail with PbftError", () => {
    const base = encodePbftMessage(samples[6]!);
    fc.assert(
      fc.property(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 }), (i, v) => {
        const bytes = base.slice();
        bytes[i] = v;
        try {
          decodePbftMessage(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(PbftError);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
