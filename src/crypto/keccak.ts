import { keccak_256 } from "@noble/hashes/sha3.js";
import type { Hash } from "../types/index.js";

/** Ethereum's keccak-256 (not NIST SHA3-256). */
export function keccak256(data: Uint8Array): Hash {
  return keccak_256(data);
}

/** keccak256 of the empty byte string: also the Merkle root of an empty list. */
export const KECCAK256_EMPTY: Hash = keccak256(new Uint8Array(0));
