import { createPrivateKey, createPublicKey, type KeyObject, randomBytes, sign, verify } from "node:crypto";
import type { NodeId } from "../types/index.js";
import { CryptoError } from "./errors.js";

/**
 * Node signing keys: Ed25519 through node:crypto (OpenSSL; ~15x faster than pure JS for verify).
 * The node ID is the raw 32-byte public key (libp2p embeds the same key in the peer ID).
 */

const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

export const NODE_ID_LENGTH = 32;
export const NODE_SEED_LENGTH = 32;
export const NODE_SIGNATURE_LENGTH = 64;
/** Bound of the nodeId → KeyObject cache used by verifyNodeSignature (validator sets are small). */
export const NODE_KEY_CACHE_SIZE_MAX = 1024;
/**
 * Bound of the cache of (node, digest, signature) triples that verified. Each PBFT vote is checked by the gossip
 * validator before relay, again by the consensus core, and once more in the commit certificate: one Ed25519 verify
 * (~60 µs) instead of three. 4096 entries: the votes of a few hundred heights of a 10-validator chain.
 */
export const VERIFIED_SIGNATURE_CACHE_SIZE_MAX = 4096;
/** Only short messages (digests) are remembered: the key holds them whole. */
const VERIFIED_MESSAGE_BYTES_MAX = 64;

export class NodeKey {
  readonly nodeId: NodeId;
  readonly seed: Uint8Array;
  private readonly privateKey: KeyObject;

  private constructor(seed: Uint8Array) {
    this.seed = new Uint8Array(seed);
    this.privateKey = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, this.seed]),
      format: "der",
      type: "pkcs8",
    });
    const spki = createPublicKey(this.privateKey).export({ format: "der", type: "spki" });
    this.nodeId = new Uint8Array(spki.subarray(spki.length - NODE_ID_LENGTH));
  }

  static generate(): NodeKey {
    return new NodeKey(new Uint8Array(randomBytes(NODE_SEED_LENGTH)));
  }

  static fromSeed(seed: Uint8Array): NodeKey {
    if (!(seed instanceof Uint8Array) || seed.length !== NODE_SEED_LENGTH) {
      throw new CryptoError("CRYPTO_INVALID_KEY", "Ed25519 seed must be 32 bytes", { length: seed?.length });
    }
    return new NodeKey(seed);
  }

  /** Ed25519 signature (64 B) over the message (no pre-hashing). */
  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.privateKey));
  }
}

/** Bounded cache nodeId (hex) → public KeyObject; Map keeps insertion order, the oldest entry is evicted. */
const publicKeyCache = new Map<string, KeyObject>();

function publicKeyObject(nodeId: NodeId): KeyObject | null {
  const id = Buffer.from(nodeId.buffer, nodeId.byteOffset, nodeId.byteLength).toString("hex");
  const cached = publicKeyCache.get(id);
  if (cached) return cached;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.concat([SPKI_ED25519_PREFIX, nodeId]), format: "der", type: "spki" });
  } catch {
    return null;
  }
  if (publicKeyCache.size >= NODE_KEY_CACHE_SIZE_MAX) {
    const oldest = publicKeyCache.keys().next().value;
    if (oldest !== undefined) publicKeyCache.delete(oldest);
  }
  publicKeyCache.set(id, key);
  return key;
}

/** Verifies an Ed25519 signature by a node. Returns false (never throws) on malformed key or signature. */
export function verifyNodeSignature(nodeId: NodeId, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(nodeId instanceof Uint8Array) || nodeId.length !== NODE_ID_LENGTH) return false;
  if (!(signature instanceof Uint8Array) || signature.length !== NODE_SIGNATURE_LENGTH) return false;
  if (!(message instanceof Uint8Array)) return false;
  const remembered =
    message.length <= VERIFIED_MESSAGE_BYTES_MAX ? verifiedKey(nodeId, message, signature) : null;
  if (remembered !== null && verifiedSignatures.has(remembered)) return true;
  const key = publicKeyObject(nodeId);
  if (key === null) return false;
  let valid: boolean;
  try {
    valid = verify(null, message, key, signature);
  } catch {
    return false;
  }
  if (valid && remembered !== null) remember(remembered);
  return valid;
}

/** Triples that verified, whole (a signature is only known good together with its signer and message). */
const verifiedSignatures = new Set<string>();

function verifiedKey(nodeId: NodeId, message: Uint8Array, signature: Uint8Array): string {
  return `${hexOf(nodeId)}:${hexOf(message)}:${hexOf(signature)}`;
}

function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

function remember(key: string): void {
  if (verifiedSignatures.size >= VERIFIED_SIGNATURE_CACHE_SIZE_MAX) {
    const oldest = verifiedSignatures.values().next().value;
    if (oldest !== undefined) verifiedSignatures.delete(oldest);
  }
  verifiedSignatures.add(key);
}

/** Number of cached public keys (for tests and metrics). */
export function nodeKeyCacheSize(): number {
  return publicKeyCache.size;
}

/** Number of remembered verified signatures (for tests). */
export function verifiedSignatureCacheSize(): number {
  return verifiedSignatures.size;
}
