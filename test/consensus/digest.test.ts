import { describe, expect, it } from "vitest";
import {
  commitDigest,
  messageDigest,
  newViewDigest,
  prePrepareDigest,
  prepareDigest,
  viewChangeDigest,
} from "../../src/consensus/index.js";
import { equalBytes, toHex } from "../../src/consensus/pbft/core/bytes.js";
import type { PreparedCertificate, ViewChange } from "../../src/consensus/pbft/core/types.js";

// The digests are what validators sign: their byte layout is a protocol constant (PROTOCOL.md). With the identity
// as "hash" the preimage itself comes out, so each layout is pinned byte by byte: a changed width, byte order,
// length prefix or domain tag shows up here before it splits a network of mixed versions.

const identity = (b: Uint8Array) => b.slice(); // a copy: the writer's scratch buffer is reused
const ascii = (s: string) => Buffer.from(s, "ascii").toString("hex");
const u64 = (n: number) => n.toString(16).padStart(16, "0");
const u8 = (n: number) => n.toString(16).padStart(2, "0");
const u32 = (n: number) => n.toString(16).padStart(8, "0");
const hexOf = (b: Uint8Array) => Buffer.from(b).toString("hex");
const lp = (b: Uint8Array) => u32(b.length) + hexOf(b);
const b = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe("digest preimages", () => {
  const hash = b(32, 0xab);
  const height = 2 ** 40 + 0x01020304; // both u64 halves non-zero
  it("commit and prepare: domain, u64 height, u64 view, length-prefixed hash", () => {
    expect(hexOf(commitDigest(identity, height, 0x0506, hash))).toBe(
      ascii("consort/pbft/commit/v1") + u64(height) + u64(0x0506) + lp(hash),
    );
    expect(hexOf(prepareDigest(identity, 1, 2, hash))).toBe(
      ascii("consort/pbft/prepare/v1") + u64(1) + u64(2) + lp(hash),
    );
  });

  it("prePrepare: the payload enters through its hash, then the sender", () => {
    const m = { height: 3, view: 4, blockHash: hash, payload: b(5, 1), sender: b(32, 2) };
    expect(hexOf(prePrepareDigest(identity, m))).toBe(
      ascii("consort/pbft/preprepare/v1") + u64(3) + u64(4) + lp(hash) + lp(b(5, 1)) + lp(b(32, 2)),
    );
  });

  it("viewChange with and without a prepared certificate", () => {
    const prepared: PreparedCertificate = {
      height: 3,
      view: 1,
      blockHash: hash,
      payload: b(2, 9),
      prepares: [],
    };
    const base = { height: 3, toView: 2, sender: b(32, 7) };
    expect(hexOf(viewChangeDigest(identity, { ...base, prepared: null }))).toBe(
      ascii("consort/pbft/viewchange/v1") + u64(3) + u64(2) + u8(0) + lp(b(32, 7)),
    );
    expect(hexOf(viewChangeDigest(identity, { ...base, prepared }))).toBe(
      ascii("consort/pbft/viewchange/v1") +
        u64(3) +
        u64(2) +
        "01" +
        u64(3) +
        u64(1) +
        lp(hash) +
        lp(b(2, 9)) +
        lp(b(32, 7)),
    );
  });

  it("newView: the count of view changes, then each one's sender and signature", () => {
    const vc = (s: number): ViewChange => ({
      type: "viewChange",
      height: 3,
      toView: 2,
      prepared: null,
      sender: b(32, s),
      signature: b(64, s + 1),
    });
    const m = { height: 3, view: 2, viewChanges: [vc(1), vc(3)], sender: b(32, 5) };
    expect(hexOf(newViewDigest(identity, m))).toBe(
      ascii("consort/pbft/newview/v1") +
        u64(3) +
        u64(2) +
        u64(2) +
        lp(b(32, 1)) +
        lp(b(64, 2)) +
        lp(b(32, 3)) +
        lp(b(64, 4)) +
        lp(b(32, 5)),
    );
  });

  it("messageDigest picks the digest of each type", () => {
    const sig = { sender: b(32, 1), signature: b(64, 2) };
    expect(messageDigest(identity, { type: "commit", height: 1, view: 2, blockHash: hash, ...sig })).toEqual(
      commitDigest(identity, 1, 2, hash),
    );
    expect(messageDigest(identity, { type: "prepare", height: 1, view: 2, blockHash: hash, ...sig })).toEqual(
      prepareDigest(identity, 1, 2, hash),
    );
    const pp = { type: "prePrepare" as const, height: 1, view: 2, blockHash: hash, payload: b(3, 3), ...sig };
    expect(messageDigest(identity, pp)).toEqual(prePrepareDigest(identity, pp));
    const vc = { type: "viewChange" as const, height: 1, toView: 2, prepared: null, ...sig };
    expect(messageDigest(identity, vc)).toEqual(viewChangeDigest(identity, vc));
    const nv = { type: "newView" as const, height: 1, view: 2, viewChanges: [vc], ...sig };
    expect(messageDigest(identity, nv)).toEqual(newViewDigest(identity, nv));
    expect(() => messageDigest(identity, { type: "bogus" } as never)).toThrow(/unreachable/);
  });

  it("a preimage larger than the 1 KiB scratch buffer is written whole", () => {
    const payloadHash = b(3000, 4); // "hash" = identity: the payload enters as itself
    const m = { height: 1, view: 0, blockHash: hash, payload: payloadHash, sender: b(32, 2) };
    const out = prePrepareDigest(identity, m);
    expect(out.length).toBe(26 + 16 + 36 + 3004 + 36);
    expect(hexOf(out.subarray(78, 78 + 3004))).toBe(lp(payloadHash));
    // and the next, small, digest is still right after the buffer grew
    expect(hexOf(commitDigest(identity, 1, 0, hash))).toBe(
      ascii("consort/pbft/commit/v1") + u64(1) + u64(0) + lp(hash),
    );
  });
});

describe("bytes helpers", () => {
  it("toHex and equalBytes", () => {
    expect(toHex(Uint8Array.of(0, 1, 0xab, 0xff))).toBe("0001abff");
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2, 3))).toBe(false);
    expect(equalBytes(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2))).toBe(false);
  });
});
