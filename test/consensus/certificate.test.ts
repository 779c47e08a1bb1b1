import { describe, expect, it } from "vitest";
import {
  commitDigest,
  prepareDigest,
  ValidatorSet,
  verifyCertificate,
  verifyPreparedCertificate,
  verifyQuorumSignatures,
} from "../../src/consensus/index.js";
import { sameHash } from "../../src/consensus/pbft/core/certificate.js";
import type { PreparedCertificate } from "../../src/consensus/pbft/core/types.js";
import type { CertificateSignature, CommitCertificate } from "../../src/types/index.js";
import { KeyRegistry, type SimKey, sha256 } from "../sim/simCrypto.js";

// The certificate check is the one gate for blocks from consensus, sync and observers: each case below pins one
// reason (and its signer) so that a loosened comparison or a swapped branch shows up as a wrong answer.

const reg = new KeyRegistry("fast");
const keys: SimKey[] = [0, 1, 2, 3].map((i) => reg.create(7, i));
const outsider = reg.create(7, 99);
const crypto = reg.cryptoFor(keys[0]!);
const equal = keys.map((k) => ({ nodeId: k.nodeId, weight: 1 })); // total 4, quorum 3
const hash = new Uint8Array(32).fill(3);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

function commitSig(k: SimKey, height = 5, view = 1, blockHash = hash): CertificateSignature {
  return { nodeId: k.nodeId, signature: k.sign(commitDigest(sha256, height, view, blockHash)) };
}
function prepareSig(k: SimKey, height = 5, view = 1, blockHash = hash): CertificateSignature {
  return { nodeId: k.nodeId, signature: k.sign(prepareDigest(sha256, height, view, blockHash)) };
}
function cert(signatures: CertificateSignature[], over: Partial<CommitCertificate> = {}): CommitCertificate {
  return { height: 5, view: 1, blockHash: hash, signatures, ...over };
}
const q = (...ks: SimKey[]) => ks.map((k) => commitSig(k));

describe("verifyQuorumSignatures", () => {
  const set = new ValidatorSet(equal);
  const digest = commitDigest(sha256, 5, 1, hash);

  it("accepts all validators signing (as many signatures as validators)", () => {
    expect(verifyQuorumSignatures(q(...keys), digest, set, crypto)).toEqual({ ok: true });
  });

  it("refuses more signatures than validators before looking at them", () => {
    const five = [...q(...keys), commitSig(keys[0]!)];
    expect(verifyQuorumSignatures(five, digest, set, crypto)).toEqual({ ok: false, reason: "MALFORMED" });
  });

  it("refuses a non-array", () => {
    expect(verifyQuorumSignatures({ length: 0 } as never, digest, set, crypto)).toEqual({
      ok: false,
      reason: "MALFORMED",
    });
  });

  it.each([
    ["a null entry", null],
    ["a node id that is not bytes", { nodeId: hex(keys[1]!.nodeId), signature: new Uint8Array(32) }],
    ["a signature that is not bytes", { nodeId: keys[1]!.nodeId, signature: "00" }],
  ])("refuses %s", (_name, entry) => {
    const sigs = [commitSig(keys[0]!), entry as never, commitSig(keys[2]!)];
    expect(verifyQuorumSignatures(sigs, digest, set, crypto)).toEqual({ ok: false, reason: "MALFORMED" });
  });

  it("names the signer that is not a validator, and one whose weight is 0", () => {
    const zero = new ValidatorSet([...equal.slice(0, 3), { nodeId: keys[3]!.nodeId, weight: 0 }]);
    expect(verifyQuorumSignatures(q(keys[0]!, outsider), digest, set, crypto)).toEqual({
      ok: false,
      reason: "NOT_VALIDATOR",
      signer: hex(outsider.nodeId),
    });
    expect(verifyQuorumSignatures(q(keys[3]!, keys[0]!), digest, zero, crypto)).toEqual({
      ok: false,
      reason: "NOT_VALIDATOR",
      signer: hex(keys[3]!.nodeId),
    });
  });

  it("names the duplicate signer and the bad signature's signer", () => {
    expect(verifyQuorumSignatures(q(keys[1]!, keys[2]!, keys[1]!), digest, set, crypto)).toEqual({
      ok: false,
      reason: "DUPLICATE_SIGNER",
      signer: hex(keys[1]!.nodeId),
    });
    const forged = { nodeId: keys[2]!.nodeId, signature: keys[1]!.sign(digest) };
    expect(verifyQuorumSignatures([commitSig(keys[0]!), forged], digest, set, crypto)).toEqual({
      ok: false,
      reason: "BAD_SIGNATURE",
      signer: hex(keys[2]!.nodeId),
    });
  });

  it("sums weights: exactly the quorum passes, one short does not", () => {
    // weights 3,1,1,1: total 6, f = 1, quorum 5
    const weighted = new ValidatorSet(keys.map((k, i) => ({ nodeId: k.nodeId, weight: i === 0 ? 3 : 1 })));
    expect(weighted.quorum).toBe(5);
    expect(verifyQuorumSignatures(q(keys[0]!, keys[1]!, keys[2]!), digest, weighted, crypto)).toEqual({
      ok: true,
    });
    expect(verifyQuorumSignatures(q(keys[0]!, keys[1]!), digest, weighted, crypto)).toEqual({
      ok: false,
      reason: "NO_QUORUM",
    });
    // three light validators weigh 3 < 5 though they are three signers
    expect(verifyQuorumSignatures(q(keys[1]!, keys[2]!, keys[3]!), digest, weighted, crypto)).toEqual({
      ok: false,
      reason: "NO_QUORUM",
    });
  });

  it("an empty list has no quorum", () => {
    expect(verifyQuorumSignatures([], digest, set, crypto)).toEqual({ ok: false, reason: "NO_QUORUM" });
  });
});

describe("verifyCertificate", () => {
  it("accepts a quorum given as a list or as a ValidatorSet", () => {
    const c = cert(q(keys[0]!, keys[1]!, keys[2]!));
    expect(verifyCertificate(c, equal, crypto)).toEqual({ ok: true });
    expect(verifyCertificate(c, new ValidatorSet(equal), crypto)).toEqual({ ok: true });
  });

  it("checks the signatures over (height, view, blockHash) of the certificate", () => {
    const sigs = q(keys[0]!, keys[1]!, keys[2]!);
    for (const over of [{ height: 6 }, { view: 2 }, { blockHash: new Uint8Array(32).fill(4) }]) {
      expect(verifyCertificate(cert(sigs, over), equal, crypto)).toMatchObject({
        ok: false,
        reason: "BAD_SIGNATURE",
      });
    }
  });

  it.each([
    ["no certificate", null],
    ["a negative height", cert([], { height: -1 })],
    ["a fractional height", cert([], { height: 1.5 })],
    ["a height beyond safe integers", cert([], { height: Number.MAX_SAFE_INTEGER + 1 })],
    ["a string height", cert([], { height: "5" as never })],
    ["a negative view", cert([], { view: -1 })],
    ["a NaN view", cert([], { view: Number.NaN })],
    ["a hex block hash", cert([], { blockHash: hex(hash) as never })],
  ])("refuses %s as MALFORMED", (_name, c) => {
    expect(verifyCertificate(c as never, equal, crypto)).toEqual({ ok: false, reason: "MALFORMED" });
  });

  it("view 0 and height 1 are valid numbers", () => {
    const c = cert(
      keys.slice(0, 3).map((k) => commitSig(k, 1, 0)),
      { height: 1, view: 0 },
    );
    expect(verifyCertificate(c, equal, crypto)).toEqual({ ok: true });
  });

  it("genesis: only an empty certificate, whatever the validators", () => {
    expect(verifyCertificate(cert([], { height: 0, view: 0 }), equal, crypto)).toEqual({ ok: true });
    expect(verifyCertificate(cert([], { height: 0, view: 0 }), [], crypto)).toEqual({ ok: true });
    expect(
      verifyCertificate(cert([commitSig(keys[0]!, 0, 0)], { height: 0, view: 0 }), equal, crypto),
    ).toEqual({ ok: false, reason: "GENESIS_NOT_EMPTY" });
  });

  it("a non-genesis certificate with no signatures has no quorum", () => {
    expect(verifyCertificate(cert([]), equal, crypto)).toEqual({ ok: false, reason: "NO_QUORUM" });
  });
});

describe("verifyPreparedCertificate", () => {
  const set = new ValidatorSet(equal);
  const prepared = (over: Partial<PreparedCertificate> = {}): PreparedCertificate => ({
    height: 5,
    view: 1,
    blockHash: hash,
    payload: new Uint8Array([1, 2]),
    prepares: keys.slice(0, 3).map((k) => prepareSig(k)),
    ...over,
  });

  it("accepts a quorum of Prepare signatures at the expected height", () => {
    expect(verifyPreparedCertificate(prepared(), 5, set, crypto)).toEqual({ ok: true });
  });

  it("refuses Commit signatures in place of Prepare ones", () => {
    const c = prepared({ prepares: q(keys[0]!, keys[1]!, keys[2]!) });
    expect(verifyPreparedCertificate(c, 5, set, crypto)).toMatchObject({
      ok: false,
      reason: "BAD_SIGNATURE",
    });
  });

  it("refuses signatures over another view", () => {
    const c = prepared({ view: 2 });
    expect(verifyPreparedCertificate(c, 5, set, crypto)).toMatchObject({
      ok: false,
      reason: "BAD_SIGNATURE",
    });
  });

  it("refuses too few Prepares", () => {
    const c = prepared({ prepares: keys.slice(0, 2).map((k) => prepareSig(k)) });
    expect(verifyPreparedCertificate(c, 5, set, crypto)).toEqual({ ok: false, reason: "NO_QUORUM" });
  });

  it.each([
    ["no certificate", null, 5],
    ["another height", prepared(), 6],
    ["a negative view", prepared({ view: -1 }), 5],
    ["a hash that is not bytes", prepared({ blockHash: hex(hash) as never }), 5],
    ["a payload that is not bytes", prepared({ payload: [1, 2] as never }), 5],
    ["a missing payload", prepared({ payload: undefined as never }), 5],
  ])("refuses %s as MALFORMED", (_name, c, height) => {
    expect(verifyPreparedCertificate(c as never, height, set, crypto)).toEqual({
      ok: false,
      reason: "MALFORMED",
    });
  });
});

describe("sameHash", () => {
  it("compares bytes, refusing missing or different-length hashes", () => {
    const a = new Uint8Array([1, 2, 3]);
    expect(sameHash(a, new Uint8Array([1, 2, 3]))).toBe(true);
    expect(sameHash(a, new Uint8Array([1, 2, 4]))).toBe(false);
    expect(sameHash(a, new Uint8Array([0, 2, 3]))).toBe(false);
    expect(sameHash(a, new Uint8Array([1, 2]))).toBe(false);
    expect(sameHash(new Uint8Array([1, 2]), a)).toBe(false);
    expect(sameHash(a, null)).toBe(false);
    expect(sameHash(undefined, a)).toBe(false);
    expect(sameHash(new Uint8Array(0), new Uint8Array(0))).toBe(true);
  });
});
