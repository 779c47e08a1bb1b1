import { encodeReceipt } from "../codec/index.js";
import { keccak256, merkleRoot } from "../crypto/index.js";
import type { Hash, Receipt } from "../types/index.js";

/**
 * How header roots are computed, shared by the executor, the block builder and the ledger's proofs:
 *   txRoot      = merkleRoot([tx.hash for each tx])                          (leaf = the 32-byte tx hash)
 *   receiptRoot = merkleRoot([keccak256(encodeReceipt(r)) for each receipt]) (leaf = the receipt's hash)
 * (crypto's merkleRoot hashes each leaf again with a 0x00 domain prefix.)
 */
export function txRootOf(txs: readonly { hash: Hash }[]): Hash {
  return merkleRoot(txs.map((tx) => tx.hash));
}

/**
 * Each receipt's encoding, made once: for its leaf when the block's receipt root is computed (execution), then for
 * its record when the block is committed. Receipts are never mutated after execution; entries go with them.
 */
const encodings = new WeakMap<Receipt, Uint8Array>();

export function encodedReceipt(receipt: Receipt): Uint8Array {
  let bytes = encodings.get(receipt);
  if (bytes === undefined) {
    bytes = encodeReceipt(receipt);
    encodings.set(receipt, bytes);
  }
  return bytes;
}

export function receiptLeaf(receipt: Receipt): Hash {
  return keccak256(encodedReceipt(receipt));
}

export function receiptRootOf(receipts: readonly Receipt[]): Hash {
  return merkleRoot(receipts.map(receiptLeaf));
}
