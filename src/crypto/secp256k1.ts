import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { secp256k1 as nobleSecp256k1 } from "@noble/curves/secp256k1.js";
import type { Address } from "../types/index.js";
import { CryptoError } from "./errors.js";
import { keccak256 } from "./keccak.js";

/**
 * secp256k1 for accounts. The hot path is the native libsecp256k1 binding (~20x noble, see PERF.md), loaded as
 * `secp256k1/bindings` explicitly: plain `secp256k1` silently falls back to its JS implementation.
 * @noble/curves is the reference implementation (exported as noble*) for cross-checks.
 * Every function validates its input and throws CryptoError, never the binding's bare Error.
 */
const require = createRequire(import.meta.url);
const native = require("secp256k1/bindings") as typeof import("secp256k1");

/** The curve order n. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
/** n / 2: Ethereum (EIP-2) and Consort only accept transaction signatures with s <= n/2. */
export const SECP256K1_N_HALF = SECP256K1_N >> 1n;

/** n and n/2 as 32 big-endian bytes: range checks compare bytes (no bigint from every signature's r and s). */
const N_BYTES = Uint8Array.from(Buffer.from(SECP256K1_N.toString(16).padStart(64, "0"), "hex"));
const N_HALF_BYTES = Uint8Array.from(Buffer.from(SECP256K1_N_HALF.toString(16).padStart(64, "0"), "hex"));

/** Compares the 32 bytes of `bytes` from `offset` with the 32-byte `bound`: <0, 0, >0. */
function compare32(bytes: Uint8Array, offset: number, bound: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = (bytes[offset + i] as number) - (bound[i] as number);
    if (d !== 0) return d;
  }
  return 0;
}

/** True when the 32 bytes from `offset` are all zero. */
function isZero32(bytes: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 32; i++) if (bytes[offset + i] !== 0) return false;
  return true;
}

export interface RecoverableSignature {
  /** 64 B r || s, low-s. */
  signature: Uint8Array;
  recovery: 0 | 1;
}

function checkHash(msgHash: Uint8Array): void {
  if (!(msgHash instanceof Uint8Array) || msgHash.length !== 32) {
    throw new CryptoError("CRYPTO_INVALID_INPUT", "message hash must be 32 bytes", {
      length: msgHash?.length,
    });
  }
}

function checkPrivateKey(privateKey: Uint8Array): void {
  if (
    !(privateKey instanceof Uint8Array) ||
    privateKey.length !== 32 ||
    !native.privateKeyVerify(privateKey)
  ) {
    throw new CryptoError("CRYPTO_INVALID_KEY", "secp256k1 private key must be 32 bytes in 1..n-1", {
      length: privateKey?.length,
    });
  }
}

/** Shape check of a 64-byte r||s signature and a recovery id; r and s must be in 1..n-1. */
function checkSignature(signature: Uint8Array, recovery: number): void {
  if (!(signature instanceof Uint8Array) || signature.length !== 64) {
    throw new CryptoError("CRYPTO_INVALID_SIGNATURE", "signature must be 64 bytes r||s", {
      length: signature?.length,
    });
  }
  if (recovery !== 0 && recovery !== 1) {
    throw new CryptoError("CRYPTO_INVALID_SIGNATURE", "recovery id must be 0 or 1", { recovery });
  }
  if (
    isZero32(signature, 0) ||
    compare32(signature, 0, N_BYTES) >= 0 ||
    isZero32(signature, 32) ||
    compare32(signature, 32, N_BYTES) >= 0
  ) {
    throw new CryptoError("CRYPTO_INVALID_SIGNATURE", "signature r or s out of range 1..n-1");
  }
}

/** True when s (bytes 32..64 of r||s) is at most n/2. */
export function isLowS(signature: Uint8Array): boolean {
  return signature.length === 64 && compare32(signature, 32, N_HALF_BYTES) <= 0;
}

/** A random valid private key. */
export function generatePrivateKey(): Uint8Array {
  for (;;) {
    const key = new Uint8Array(randomBytes(32));
    if (native.privateKeyVerify(key)) return key;
  }
}

/** Signs a 32-byte hash (no further hashing) with the native binding: 64 B r||s, low-s (RFC 6979 nonce). */
export function secp256k1Sign(msgHash: Uint8Array, privateKey: Uint8Array): RecoverableSignature {
  checkHash(msgHash);
  checkPrivateKey(privateKey);
  let out: { signature: Uint8Array; recid: number };
  try {
    out = native.ecdsaSign(msgHash, privateKey);
  } catch (err) {
    throw new CryptoError("CRYPTO_INVALID_KEY", "secp256k1 signing failed", {}, { cause: err });
  }
  // libsecp256k1 always normalizes to low-s; recid 2/3 (r >= n) has probability ~2^-127.
  if (out.recid !== 0 && out.recid !== 1) {
    throw new CryptoError("CRYPTO_INVALID_SIGNATURE", "unsupported recovery id", { recid: out.recid });
  }
  return { signature: new Uint8Array(out.signature), recovery: out.recid };
}

/** Public-key recoveries attempted by this process (the native path): what "recover once per node" is checked by. */
let recoveryCount = 0;

/** Adds recoveries made on this process's worker threads (RecoveryThreads) to the count. */
export function countThreadRecoveries(count: number): void {
  recoveryCount += count;
}

/** How many secp256k1 recoveries this process has attempted so far, on any of its threads (tests, metrics). */
export function secp256k1RecoveryCount(): number {
  return recoveryCount;
}

/**
 * Recovers the 65-byte uncompressed public key (0x04 || x || y) with the native binding.
 * Accepts any s in 1..n-1 (like Ethereum's ecrecover precompile); transaction decoding checks low-s itself.
 */
export function secp256k1Recover(msgHash: Uint8Array, signature: Uint8Array, recovery: number): Uint8Array {
  checkHash(msgHash);
  checkSignature(signature, recovery);
  recoveryCount++;
  try {
    return new Uint8Array(native.ecdsaRecover(signature, recovery, msgHash, false));
  } catch (err) {
    throw new CryptoError(
      "CRYPTO_INVALID_SIGNATURE",
      "public key could not be recovered",
      {},
      { cause: err },
    );
  }
}

/** Verifies r||s against a public key (33 or 65 B); false on any malformed input. Rejects high-s. */
export function secp256k1Verify(msgHash: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (msgHash.length !== 32 || signature.length !== 64) return false;
  try {
    return native.ecdsaVerify(signature, msgHash, publicKey);
  } catch {
    return false;
  }
}

/** Public key of a private key: 65 B uncompressed by default. */
export function secp256k1PublicKey(privateKey: Uint8Array, compressed = false): Uint8Array {
  checkPrivateKey(privateKey);
  return new Uint8Array(native.publicKeyCreate(privateKey, compressed));
}

/**
 * Ethereum address: last 20 bytes of keccak256(x || y). Accepts 65 B (0x04 || x || y), 64 B (x || y)
 * or 33 B compressed keys.
 */
export function publicKeyToAddress(publicKey: Uint8Array): Address {
  let xy: Uint8Array;
  if (publicKey.length === 64) {
    xy = publicKey;
  } else if (publicKey.length === 65 && publicKey[0] === 0x04) {
    xy = publicKey.subarray(1);
  } else if (publicKey.length === 33) {
    try {
      xy = native.publicKeyConvert(publicKey, false).subarray(1);
    } catch (err) {
      throw new CryptoError("CRYPTO_INVALID_KEY", "invalid compressed public key", {}, { cause: err });
    }
  } else {
    throw new CryptoError("CRYPTO_INVALID_KEY", "public key must be 64, 65 (0x04…) or 33 bytes", {
      length: publicKey.length,
    });
  }
  return keccak256(xy).slice(12);
}

export function privateKeyToAddress(privateKey: Uint8Array): Address {
  return publicKeyToAddress(secp256k1PublicKey(privateKey, false));
}

/**
 * The checks `secp256k1Recover` makes of its input (hash 32 bytes, r||s in range, recovery id 0/1), for a caller
 * that recovers elsewhere (RecoveryThreads). Throws CryptoError.
 */
export function checkRecoveryInput(msgHash: Uint8Array, signature: Uint8Array, recovery: number): void {
  checkHash(msgHash);
  checkSignature(signature, recovery);
}

/** Recovers the signer's address (native binding). Throws CRYPTO_INVALID_SIGNATURE when recovery fails. */
export function recoverAddress(msgHash: Uint8Array, signature: Uint8Array, recovery: number): Address {
  return publicKeyToAddress(secp256k1Recover(msgHash, signature, recovery));
}

// ---- Reference implementation (@noble/curves, pure JS): for cross-checks and tests, not the hot path. ----

export function nobleSecp256k1Sign(msgHash: Uint8Array, privateKey: Uint8Array): RecoverableSignature {
  checkHash(msgHash);
  checkPrivateKey(privateKey);
  const sig = nobleSecp256k1.sign(msgHash, privateKey, { prehash: false, lowS: true, format: "recovered" });
  const recovery = sig[0];
  if (recovery !== 0 && recovery !== 1) {
    throw new CryptoError("CRYPTO_INVALID_SIGNATURE", "unsupported recovery id", { recovery });
  }
  return { signature: sig.slice(1), recovery };
}

export function nobleSecp256k1Recover(
  msgHash: Uint8Array,
  signature: Uint8Array,
  recovery: number,
): Uint8Array {
  checkHash(msgHash);
  checkSignature(signature, recovery);
  const sig65 = new Uint8Array(65);
  sig65[0] = recovery;
  sig65.set(signature, 1);
  try {
    return nobleSecp256k1.recoverPublicKey(sig65, msgHash, { prehash: false });
  } catch (err) {
    throw new CryptoError(
      "CRYPTO_INVALID_SIGNATURE",
      "public key could not be recovered",
      {},
      { cause: err },
    );
  }
}

export function nobleSecp256k1Verify(
  msgHash: Uint8Array,
  signature: Uint8Array,
  publicKey: Uint8Array,
): boolean {
  try {
    return nobleSecp256k1.verify(signature, msgHash, publicKey, { prehash: false, lowS: true });
  } catch {
    return false;
  }
}

export function nobleSecp256k1PublicKey(privateKey: Uint8Array, compressed = false): Uint8Array {
  checkPrivateKey(privateKey);
  return nobleSecp256k1.getPublicKey(privateKey, compressed);
}
