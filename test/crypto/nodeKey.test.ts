import { randomBytes } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import {
  CryptoError,
  NODE_KEY_CACHE_SIZE_MAX,
  NodeKey,
  nodeKeyCacheSize,
  VERIFIED_SIGNATURE_CACHE_SIZE_MAX,
  verifiedSignatureCacheSize,
  verifyNodeSignature,
} from "../../src/crypto/index.js";

describe("NodeKey (Ed25519)", () => {
  it("signs and verifies; nodeId is the 32-byte public key (checked against noble)", () => {
    for (let i = 0; i < 20; i++) {
      const key = NodeKey.generate();
      expect(key.nodeId.length).toBe(32);
      expect(key.seed.length).toBe(32);
      expect(key.nodeId).toEqual(ed25519.getPublicKey(key.seed));
      const msg = new Uint8Array(randomBytes(i * 10));
      const sig = key.sign(msg);
      expect(sig.length).toBe(64);
      expect(ed25519.verify(sig, msg, key.nodeId)).toBe(true);
      expect(verifyNodeSignature(key.nodeId, msg, sig)).toBe(true);
      expect(verifyNodeSignature(key.nodeId, msg, ed25519.sign(msg, key.seed))).toBe(true);
    }
  });

  it("fromSeed is deterministic", () => {
    const seed = new Uint8Array(32).fill(7);
    const a = NodeKey.fromSeed(seed);
    const b = NodeKey.fromSeed(seed);
    expect(a.nodeId).toEqual(b.nodeId);
    expect(a.sign(Uint8Array.of(1))).toEqual(b.sign(Uint8Array.of(1)));
    expect(() => NodeKey.fromSeed(new Uint8Array(31))).toThrow(CryptoError);
  });

  it("wrong key, wrong message, tampered or malformed signature → false, never a throw", () => {
    const key = NodeKey.generate();
    const other = NodeKey.generate();
    const msg = Uint8Array.of(1, 2, 3);
    const sig = key.sign(msg);
    expect(verifyNodeSignature(other.nodeId, msg, sig)).toBe(false);
    expect(verifyNodeSignature(key.nodeId, Uint8Array.of(1, 2, 4), sig)).toBe(false);
    const tampered = sig.slice();
    tampered[10] = (tampered[10] ?? 0) ^ 1;
    expect(verifyNodeSignature(key.nodeId, msg, tampered)).toBe(false);
    expect(verifyNodeSignature(key.nodeId, msg, sig.subarray(1))).toBe(false);
    expect(verifyNodeSignature(key.nodeId, msg, new Uint8Array(65))).toBe(false);
    expect(verifyNodeSignature(key.nodeId.subarray(1), msg, sig)).toBe(false);
    expect(verifyNodeSignature(new Uint8Array(33), msg, sig)).toBe(false);
    expect(verifyNodeSignature(new Uint8Array(32).fill(0xff), msg, sig)).toBe(false);
    expect(verifyNodeSignature(null as unknown as Uint8Array, msg, sig)).toBe(false);
  });

  it("keeps the public key cache bounded", () => {
    const msg = Uint8Array.of(9);
    const sig = new Uint8Array(64);
    for (let i = 0; i < NODE_KEY_CACHE_SIZE_MAX + 50; i++) {
      verifyNodeSignature(new Uint8Array(randomBytes(32)), msg, sig);
    }
    expect(nodeKeyCacheSize()).toBeLessThanOrEqual(NODE_KEY_CACHE_SIZE_MAX);
    const key = NodeKey.generate();
    expect(verifyNodeSignature(key.nodeId, msg, key.sign(msg))).toBe(true);
  });

  it("remembers a digest signature that verified, and only that exact (node, digest, signature) triple", () => {
    const key = NodeKey.generate();
    const other = NodeKey.generate();
    const digest = new Uint8Array(randomBytes(32));
    const sig = key.sign(digest);
    const before = verifiedSignatureCacheSize();
    expect(verifyNodeSignature(key.nodeId, digest, sig)).toBe(true);
    expect(verifiedSignatureCacheSize()).toBe(Math.min(before + 1, VERIFIED_SIGNATURE_CACHE_SIZE_MAX));
    expect(verifyNodeSignature(key.nodeId, digest, sig)).toBe(true); // remembered: not added twice
    expect(verifiedSignatureCacheSize()).toBe(Math.min(before + 1, VERIFIED_SIGNATURE_CACHE_SIZE_MAX));
    // The remembered signature proves nothing for another digest or another signer.
    const otherDigest = digest.slice();
    otherDigest[0] = (otherDigest[0] ?? 0) ^ 1;
    expect(verifyNodeSignature(key.nodeId, otherDigest, sig)).toBe(false);
    expect(verifyNodeSignature(other.nodeId, digest, sig)).toBe(false);
    const tampered = sig.slice();
    tampered[63] = (tampered[63] ?? 0) ^ 1;
    expect(verifyNodeSignature(key.nodeId, digest, tampered)).toBe(false);
    // Long messages are verified every time, never remembered.
    const long = new Uint8Array(65);
    const size = verifiedSignatureCacheSize();
    expect(verifyNodeSignature(key.nodeId, long, key.sign(long))).toBe(true);
    expect(verifiedSignatureCacheSize()).toBe(size);
  });

  it("keeps the verified-signature cache bounded", () => {
    const key = NodeKey.generate();
    for (let i = 0; i < VERIFIED_SIGNATURE_CACHE_SIZE_MAX + 10; i++) {
      const digest = new Uint8Array(32);
      new DataView(digest.buffer).setUint32(0, i);
      expect(verifyNodeSignature(key.nodeId, digest, key.sign(digest))).toBe(true);
    }
    expect(verifiedSignatureCacheSize()).toBe(VERIFIED_SIGNATURE_CACHE_SIZE_MAX);
  });
});
