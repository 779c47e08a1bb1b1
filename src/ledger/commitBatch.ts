import { encodeBlock, encodeCertificate, encodeHeader } from "../codec/index.js";
import { keccak256, merkleRoot } from "../crypto/index.js";
import type { Hash, Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import { Bucket, bytesKey, HEAD_KEY, MetaKey, metaKey, numberKey, receiptKey, u64 } from "./buckets.js";
import { LedgerError } from "./errors.js";
import type { CommitInput } from "./interface.js";
import {
  encodeFramedList,
  encodeHashList,
  encodeHeadRecord,
  encodeTxIndexRecord,
  type HeadRecord,
} from "./records.js";
import { encodedReceipt } from "./roots.js";
import type { BatchOp } from "./store.js";

// The block part of a commit batch: the checks of a commit input against the head, and the writes of one block.

/** What checkCommit compares a block with: the ledger's chain and whether to recompute the roots. */
export interface CommitCheckContext {
  chainId: bigint;
  groupId: string;
  verifyRootsOnCommit: boolean;
}

/** Validates the commit input against the head; returns the encoded receipts. */
export function checkCommit(
  ctx: CommitCheckContext,
  input: CommitInput,
  head: HeadRecord | null,
  hash: Hash,
): Uint8Array[] {
  const { block, receipts } = input;
  const { header, transactions, certificate } = block;
  const number = header.number;
  const expected = head === null ? 0 : head.number + 1;
  if (number !== expected) {
    throw new LedgerError(
      "LEDGER_NOT_NEXT_BLOCK",
      `cannot commit block ${number}: the ledger head is ${head === null ? "empty (no genesis)" : head.number}, ` +
        `the next block must be ${expected}`,
      { number, expected },
    );
  }
  if (head !== null && !bytesEqual(header.parentHash, head.hash)) {
    throw new LedgerError(
      "LEDGER_PARENT_MISMATCH",
      `cannot commit block ${number}: parentHash ${bytesToHex(header.parentHash)} is not the head hash ` +
        bytesToHex(head.hash),
      { number },
    );
  }
  const invalid = (reason: string): LedgerError =>
    new LedgerError("LEDGER_INVALID_COMMIT", `cannot commit block ${number}: ${reason}`, {
      number,
      reason,
    });
  if (header.chainId !== ctx.chainId || header.groupId !== ctx.groupId) {
    throw invalid(
      `block is for chain id ${header.chainId} group "${header.groupId}", ` +
        `the ledger holds chain id ${ctx.chainId} group "${ctx.groupId}"`,
    );
  }
  if (certificate === null) throw invalid("no commit certificate");
  if (certificate.height !== number) throw invalid(`certificate is for height ${certificate.height}`);
  if (!bytesEqual(certificate.blockHash, hash)) {
    throw invalid(`certificate is for block ${bytesToHex(certificate.blockHash)}, not ${bytesToHex(hash)}`);
  }
  if (receipts.length !== transactions.length) {
    throw invalid(`${receipts.length} receipts for ${transactions.length} transactions`);
  }
  const seen = new Set<string>();
  transactions.forEach((tx, i) => {
    const hex = bytesToHex(tx.hash);
    if (seen.has(hex)) throw invalid(`transaction ${hex} appears twice`);
    seen.add(hex);
    if (!bytesEqual(receipts[i]!.txHash, tx.hash))
      throw invalid(`receipt ${i} is not for transaction ${hex}`);
  });
  const receiptBytes = receipts.map(encodedReceipt);
  if (ctx.verifyRootsOnCommit) {
    if (!bytesEqual(merkleRoot(transactions.map((tx) => tx.hash)), header.txRoot)) {
      throw invalid("header txRoot does not match the transactions");
    }
    if (!bytesEqual(merkleRoot(receiptBytes.map(keccak256)), header.receiptRoot)) {
      throw invalid("header receiptRoot does not match the receipts");
    }
  }
  return receiptBytes;
}

/**
 * Every write of one block, head pointer last (the order within a LevelDB batch is irrelevant to atomicity). Returns
 * the block's stored bytes (encodeBlock, with its certificate).
 */
export function pushBlockOps(
  ops: BatchOp[],
  input: CommitInput,
  d: { hash: Hash; txHashes: Hash[]; receiptBytes: Uint8Array[]; newHead: HeadRecord },
): Uint8Array {
  const { block, stateChanges } = input;
  const { header, transactions, certificate } = block;
  const number = header.number;
  const put = (key: Uint8Array, value: Uint8Array) => ops.push({ type: "put", key, value });
  put(numberKey(Bucket.header, number), encodeHeader(header));
  put(bytesKey(Bucket.hashToNumber, d.hash), u64(number));
  put(numberKey(Bucket.numberToHash, number), d.hash);
  const body = encodeBlock(block);
  put(numberKey(Bucket.body, number), body);
  put(numberKey(Bucket.certificate, number), encodeCertificate(certificate!));
  put(numberKey(Bucket.txHashes, number), encodeHashList(d.txHashes));
  transactions.forEach((tx, index) => {
    put(
      bytesKey(Bucket.txIndex, tx.hash),
      encodeTxIndexRecord({ number, index, sender: tx.sender, raw: tx.raw }),
    );
    put(receiptKey(number, index), d.receiptBytes[index]!);
  });
  for (const [key, value] of stateChanges) {
    const k = bytesKey(Bucket.state, key);
    if (value === null) ops.push({ type: "del", key: k });
    else put(k, value);
  }
  const nonces = input.nativeNonces ?? nativeNoncesOf(transactions);
  if (nonces.length > 0) {
    const numberBytes = u64(number);
    for (const nonce of nonces) put(bytesKey(Bucket.nativeNonce, nonce), numberBytes);
    put(numberKey(Bucket.nativeNoncesByBlock, number), encodeFramedList(nonces));
  }
  if (number === 0) put(metaKey(MetaKey.genesisHash), d.hash);
  put(HEAD_KEY, encodeHeadRecord(d.newHead));
  return body;
}

export function nativeNoncesOf(txs: Transaction[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const tx of txs) if (tx.type === TxType.Native) out.push(tx.nonce);
  return out;
}
