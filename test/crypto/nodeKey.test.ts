import { randomBytes } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import {
  CryptoError,
  NODE_KEY_CACHE_SIZE_MAX,
  NodeKey,
  nodeKeyCacheSize,
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
});
