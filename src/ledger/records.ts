import type { Address, Hash } from "../types/index.js";
import { readU64, writeU64 } from "./buckets.js";

/**
 * Fixed-layout records of the ledger's own indexes (the block, header, receipt and certificate records are codec
 * encodings). Decoders throw a plain Error on malformed bytes; the ledger turns it into LEDGER_CORRUPT naming the key.
 */

export interface HeadRecord {
  number: number;
  hash: Hash;
  txCount: number;
  /** Committed transactions whose receipt has status Failed (FISCO getTotalTransactionCount). */
  failedTxCount: number;
}

/** Before failedTxCount: read as 0 failed (counted from the next commit on). */
const HEAD_RECORD_LENGTH_V1 = 8 + 32 + 8;
const HEAD_RECORD_LENGTH = HEAD_RECORD_LENGTH_V1 + 8;

export function encodeHeadRecord(r: HeadRecord): Uint8Array {
  const out = new Uint8Array(HEAD_RECORD_LENGTH);
  writeU64(out, 0, r.number);
  out.set(r.hash, 8);
  writeU64(out, 40, r.txCount);
  writeU64(out, 48, r.failedTxCount);
  return out;
}

export function decodeHeadRecord(b: Uint8Array): HeadRecord {
  if (b.length === HEAD_RECORD_LENGTH_V1) {
    return { number: readU64(b, 0), hash: b.slice(8, 40), txCount: readU64(b, 40), failedTxCount: 0 };
  }
  expectLength(b, HEAD_RECORD_LENGTH, "head record");
  return {
    number: readU64(b, 0),
    hash: b.slice(8, 40),
    txCount: readU64(b, 40),
    failedTxCount: readU64(b, 48),
  };
}

export interface TxIndexRecord {
  number: number;
  index: number;
  sender: Address;
  raw: Uint8Array;
}

const TX_INDEX_FIXED = 8 + 4 + 20;

export function encodeTxIndexRecord(r: TxIndexRecord): Uint8Array {
  const out = new Uint8Array(TX_INDEX_FIXED + r.raw.length);
  writeU64(out, 0, r.number);
  new DataView(out.buffer).setUint32(8, r.index);
  out.set(r.sender, 12);
  out.set(r.raw, TX_INDEX_FIXED);
  return out;
}

export function decodeTxIndexRecord(b: Uint8Array): TxIndexRecord {
  if (b.length <= TX_INDEX_FIXED) throw new Error(`tx index record of ${b.length} bytes is too short`);
  return {
    number: readU64(b, 0),
    index: new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(8),
    sender: b.slice(12, 32),
    raw: b.slice(TX_INDEX_FIXED),
  };
}

export function decodeNumber(b: Uint8Array): number {
  expectLength(b, 8, "height");
  return readU64(b, 0);
}

export function decodeHash(b: Uint8Array): Hash {
  expectLength(b, 32, "hash");
  return b.slice();
}

export function encodeHashList(hashes: Hash[]): Uint8Array {
  const out = new Uint8Array(hashes.length * 32);
  for (let i = 0; i < hashes.length; i++) out.set(hashes[i]!, i * 32);
  return out;
}

export function decodeHashList(b: Uint8Array): Hash[] {
  if (b.length % 32 !== 0) throw new Error(`hash list of ${b.length} bytes is not a multiple of 32`);
  const out: Hash[] = [];
  for (let i = 0; i < b.length; i += 32) out.push(b.slice(i, i + 32));
  return out;
}

/** u32 count, then (u32 length, bytes) per item. */
export function encodeFramedList(items: Uint8Array[]): Uint8Array {
  let length = 4;
  for (const item of items) length += 4 + item.length;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  view.setUint32(0, items.length);
  let offset = 4;
  for (const item of items) {
    view.setUint32(offset, item.length);
    out.set(item, offset + 4);
    offset += 4 + item.length;
  }
  return out;
}

export function decodeFramedList(b: Uint8Array): Uint8Array[] {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 4) throw new Error("framed list shorter than its count");
  const count = view.getUint32(0);
  const out: Uint8Array[] = [];
  let offset = 4;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > b.length) throw new Error(`framed list truncated at item ${i}`);
    const length = view.getUint32(offset);
    if (offset + 4 + length > b.length) throw new Error(`framed list item ${i} truncated`);
    out.push(b.slice(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  if (offset !== b.length) throw new Error(`framed list has ${b.length - offset} trailing bytes`);
  return out;
}

export function encodeU32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

export function decodeU32(b: Uint8Array): number {
  expectLength(b, 4, "u32");
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);
}

function expectLength(b: Uint8Array, length: number, what: string): void {
  if (b.length !== length) throw new Error(`${what} has ${b.length} bytes, expected ${length}`);
}
