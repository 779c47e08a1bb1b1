import type { Address, BlockHeader, Hash } from "../types/index.js";
import { bytesEqual } from "../util/hex.js";
import { headerFromMessage, headerMessage } from "./block.js";
import {
  checkArray,
  checkBytes,
  decodePb,
  encodePb,
  fail,
  fixedBytes,
  type PbMessage,
  repeated,
} from "./fields.js";
import { codecLimits } from "./options.js";
import { pb } from "./schema.js";

/** One transaction of a compact proposal: what identifies it (hash) and who signed it (sender, checked on fetch). */
export interface CompactTx {
  hash: Hash;
  sender: Address;
}

/** A proposal without transaction bytes: the header plus each transaction's hash and sender, in block order. */
export interface CompactBlock {
  header: BlockHeader;
  transactions: CompactTx[];
}

/** Header + (hash, sender) per tx. Deterministic: the same block always gives the same bytes. */
export function encodeCompactBlock(b: {
  header: BlockHeader;
  transactions: readonly CompactTx[];
}): Uint8Array {
  const T = "CompactBlock";
  if (typeof b !== "object" || b === null) fail("CODEC_INVALID_FIELD", T, "", "not an object");
  const txs = checkArray(b.transactions, "transactions", T, codecLimits.blockTxCountMax) as CompactTx[];
  return encodePb(pb.CompactBlock, {
    header: headerMessage(b.header),
    transactions: txs.map((tx, i) => ({
      hash: checkBytes(tx?.hash, `transactions[${i}].hash`, T, 32),
      sender: checkBytes(tx?.sender, `transactions[${i}].sender`, T, 20),
    })),
  });
}

/**
 * Decodes a compact proposal from a peer: bounded, every field checked, and only the one canonical encoding is
 * accepted (re-encoding must give the same bytes), so a proposal has exactly one byte form.
 */
export function decodeCompactBlock(bytes: Uint8Array): CompactBlock {
  const T = "CompactBlock";
  const m = decodePb(pb.CompactBlock, bytes, T, codecLimits.blockBytesMax);
  if (m.header === undefined || m.header === null) fail("CODEC_MISSING_FIELD", T, "header", "missing");
  const header = headerFromMessage(m.header as PbMessage);
  const entries = repeated(m, "transactions", T, codecLimits.blockTxCountMax) as PbMessage[];
  const transactions = entries.map((entry, i) => ({
    hash: fixedBytes(entry, "hash", `${T}.transactions[${i}]`, 32),
    sender: fixedBytes(entry, "sender", `${T}.transactions[${i}]`, 20),
  }));
  const block = { header, transactions };
  if (!bytesEqual(encodeCompactBlock(block), bytes)) {
    fail("CODEC_NON_CANONICAL", T, "", "not the canonical encoding");
  }
  return block;
}
