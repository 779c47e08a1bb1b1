import type { Hash } from "../types/index.js";
import { bytesEqual, bytesToHex, hexToBytes } from "../util/hex.js";
import { keccak256 } from "./keccak.js";

/**
 * Binary keccak256 Merkle tree with domain separation (RFC 6962 style):
 *   leaf hash = keccak256(0x00 || data), inner node = keccak256(0x01 || left || right).
 * A level with an odd count promotes its last node unchanged to the next level.
 * The root of an empty list is keccak256("") (the empty byte string); the root of one leaf is its leaf hash.
 * The root does not commit to the leaf count: a verifier that needs the index exactly should also check
 * proof.leafCount against what it knows (e.g. the block's transaction count).
 */

/** A JSON-able inclusion proof: siblings from the leaf level up, as 0x-hex. */
export interface MerkleProof {
  index: number;
  leafCount: number;
  siblings: string[];
}

const LEAF_PREFIX = 0x00;
const NODE_PREFIX = 0x01;

export function merkleLeafHash(data: Uint8Array): Hash {
  const buf = new Uint8Array(1 + data.length);
  buf[0] = LEAF_PREFIX;
  buf.set(data, 1);
  return keccak256(buf);
}

function nodeHash(left: Uint8Array, right: Uint8Array): Hash {
  const buf = new Uint8Array(1 + left.length + right.length);
  buf[0] = NODE_PREFIX;
  buf.set(left, 1);
  buf.set(right, 1 + left.length);
  return keccak256(buf);
}

function nextLevel(level: Hash[]): Hash[] {
  const next: Hash[] = [];
  for (let i = 0; i < level.length; i += 2) {
    const left = level[i]!;
    const right = level[i + 1];
    next.push(right === undefined ? left : nodeHash(left, right));
  }
  return next;
}

export function merkleRoot(leaves: Uint8Array[]): Hash {
  if (leaves.length === 0) return keccak256(new Uint8Array(0));
  let level = leaves.map(merkleLeafHash);
  while (level.length > 1) level = nextLevel(level);
  return level[0]!;
}

export function merkleProof(leaves: Uint8Array[], index: number): MerkleProof {
  if (!Number.isInteger(index) || index < 0 || index >= leaves.length) {
    throw new RangeError(`merkle proof index ${index} out of range 0..${leaves.length - 1}`);
  }
  const siblings: string[] = [];
  let level = leaves.map(merkleLeafHash);
  let i = index;
  while (level.length > 1) {
    const sibling = level[i ^ 1];
    if (sibling !== undefined) siblings.push(bytesToHex(sibling));
    level = nextLevel(level);
    i >>= 1;
  }
  return { index, leafCount: leaves.length, siblings };
}

/** Checks that `leaf` (the data, not its hash) is at proof.index of a tree with `root`. False on malformed proofs. */
export function verifyMerkleProof(root: Hash, leaf: Uint8Array, proof: MerkleProof): boolean {
  if (typeof proof !== "object" || proof === null || !Array.isArray(proof.siblings)) return false;
  const { index, leafCount, siblings } = proof;
  if (!Number.isSafeInteger(leafCount) || !Number.isSafeInteger(index) || index < 0 || index >= leafCount) {
    return false;
  }
  if (siblings.length > 64) return false;
  let hash = merkleLeafHash(leaf);
  let i = index;
  let count = leafCount;
  let used = 0;
  while (count > 1) {
    const isPromoted = i % 2 === 0 && i === count - 1;
    if (!isPromoted) {
      const hex = siblings[used++];
      if (typeof hex !== "string") return false;
      let sibling: Uint8Array;
      try {
        sibling = hexToBytes(hex);
      } catch {
        return false;
      }
      if (sibling.length !== 32) return false;
      hash = i % 2 === 0 ? nodeHash(hash, sibling) : nodeHash(sibling, hash);
    }
    i = Math.floor(i / 2);
    count = Math.ceil(count / 2);
  }
  return used === siblings.length && bytesEqual(hash, root);
}
