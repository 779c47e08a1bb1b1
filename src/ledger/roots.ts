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

export function receiptLeaf(receipt: Receipt): Hash {
  return keccak256(encodeReceipt(receipt));
}

export function receiptRootOf(receipts: readonly Receipt[]): Hash {
  return merkleRoot(receipts.map(receiptLeaf));
}
