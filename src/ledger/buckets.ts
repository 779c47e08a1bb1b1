import { bytesToHex } from "../util/hex.js";

/**
 * One-byte key prefixes of the LevelDB layout (after Lodestar's `Bucket`). Numbers in keys are 8-byte big-endian,
 * so keys of one bucket sort by height. Never renumber: bump SCHEMA_VERSION instead.
 */
export const Bucket = {
  /** meta/<ascii name> → schema version, chain id, group id, genesis hash. */
  meta: 0x00,
  /** head → number u64 | hash 32 | total tx count u64. */
  head: 0x01,
  /** header/<number> → codec encodeHeader. */
  header: 0x02,
  /** hashToNumber/<hash 32> → number u64. */
  hashToNumber: 0x03,
  /** numberToHash/<number> → hash 32. */
  numberToHash: 0x04,
  /** body/<number> → codec encodeBlock (header, txs raw + sender, certificate). */
  body: 0x05,
  /** certificate/<number> → codec encodeCertificate. */
  certificate: 0x06,
  /** txHashes/<number> → concatenated 32-byte tx hashes, in block order. */
  txHashes: 0x07,
  /** receipt/<number>/<index u32> → codec encodeReceipt. */
  receipt: 0x08,
  /** txIndex/<tx hash 32> → number u64 | index u32 | sender 20 | raw tx. */
  txIndex: 0x09,
  /** state/<executor's key> → value. */
  state: 0x0a,
  /** nativeNonce/<nonce> → number u64 of the block that carried it (last NATIVE_NONCE_WINDOW_BLOCKS blocks only). */
  nativeNonce: 0x0b,
  /** nativeNoncesByBlock/<number> → framed list of that block's nonces (to prune the index). */
  nativeNoncesByBlock: 0x0c,
  /**
   * stateUndo/<state key length u16><state key><number u64> → the key's value before block <number> changed it:
   * 0x00 (absent) or 0x01 ‖ value. Kept for the last `stateHistoryBlocks` blocks; the entries of one key sort by
   * height, so the first entry above height h holds the key's value at h (see `stateUndoKey`).
   */
  stateUndo: 0x0d,
  /** stateUndoByBlock/<number> → framed list of the state keys block <number> changed (to prune stateUndo). */
  stateUndoByBlock: 0x0e,
} as const;
export type Bucket = (typeof Bucket)[keyof typeof Bucket];

export const SCHEMA_VERSION = 1;

export const MetaKey = {
  schemaVersion: "schemaVersion",
  chainId: "chainId",
  groupId: "groupId",
  genesisHash: "genesisHash",
  /**
   * u64 S: the stateUndo entries of every block from S to the head are present (S = head + 1: no history). Absent in
   * a store written before the state history existed: read as head + 1.
   */
  stateHistoryFrom: "stateHistoryFrom",
} as const;
export type MetaKey = (typeof MetaKey)[keyof typeof MetaKey];

const TWO_32 = 0x1_0000_0000;

export function writeU64(out: Uint8Array, offset: number, value: number): void {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setUint32(offset, Math.floor(value / TWO_32));
  view.setUint32(offset + 4, value >>> 0);
}

export function readU64(bytes: Uint8Array, offset: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const value = view.getUint32(offset) * TWO_32 + view.getUint32(offset + 4);
  if (!Number.isSafeInteger(value)) throw new Error(`u64 at offset ${offset} exceeds 2^53`);
  return value;
}

export function u64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  writeU64(out, 0, value);
  return out;
}

export function metaKey(name: MetaKey): Uint8Array {
  const out = new Uint8Array(1 + name.length);
  out[0] = Bucket.meta;
  for (let i = 0; i < name.length; i++) out[1 + i] = name.charCodeAt(i);
  return out;
}

export const HEAD_KEY = new Uint8Array([Bucket.head]);

/** bucket byte + 8-byte height. */
export function numberKey(bucket: Bucket, number: number): Uint8Array {
  const out = new Uint8Array(9);
  out[0] = bucket;
  writeU64(out, 1, number);
  return out;
}

/** bucket byte + arbitrary bytes (hash, nonce, state key). */
export function bytesKey(bucket: Bucket, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + bytes.length);
  out[0] = bucket;
  out.set(bytes, 1);
  return out;
}

export function receiptKey(number: number, index: number): Uint8Array {
  const out = new Uint8Array(13);
  out[0] = Bucket.receipt;
  writeU64(out, 1, number);
  new DataView(out.buffer).setUint32(9, index);
  return out;
}

/** Largest state key the undo log accepts (its length is a u16 in `stateUndoKey`). */
export const STATE_KEY_LENGTH_MAX = 0xffff;

/**
 * bucket byte + u16 length of the state key + state key + 8-byte height. The length prefix keeps the entries of one
 * key contiguous even when another key extends it, so a range read over [key|h, key|max] sees only that key.
 */
export function stateUndoKey(stateKey: Uint8Array, number: number): Uint8Array {
  const out = new Uint8Array(1 + 2 + stateKey.length + 8);
  out[0] = Bucket.stateUndo;
  out[1] = (stateKey.length >>> 8) & 0xff;
  out[2] = stateKey.length & 0xff;
  out.set(stateKey, 3);
  writeU64(out, 3 + stateKey.length, number);
  return out;
}

const BUCKET_NAMES = new Map<number, string>(Object.entries(Bucket).map(([name, byte]) => [byte, name]));
const NUMBER_BUCKETS = new Set<number>([
  Bucket.header,
  Bucket.numberToHash,
  Bucket.body,
  Bucket.certificate,
  Bucket.txHashes,
  Bucket.nativeNoncesByBlock,
  Bucket.stateUndoByBlock,
]);

/** Human-readable key for errors and logs: "header/12", "txIndex/0xab…", "receipt/12/3", "meta/chainId". */
export function describeKey(key: Uint8Array): string {
  const bucket = key[0];
  const name = bucket === undefined ? "?" : (BUCKET_NAMES.get(bucket) ?? `bucket${bucket}`);
  const rest = key.subarray(1);
  try {
    if (bucket === Bucket.meta) return `${name}/${String.fromCharCode(...rest)}`;
    if (bucket === Bucket.head) return name;
    if (bucket !== undefined && NUMBER_BUCKETS.has(bucket) && rest.length === 8) {
      return `${name}/${readU64(rest, 0)}`;
    }
    if (bucket === Bucket.receipt && rest.length === 12) {
      return `${name}/${readU64(rest, 0)}/${new DataView(rest.buffer, rest.byteOffset).getUint32(8)}`;
    }
    if (bucket === Bucket.stateUndo && rest.length >= 10) {
      const length = (rest[0]! << 8) | rest[1]!;
      if (rest.length === 2 + length + 8) {
        return `${name}/${bytesToHex(rest.subarray(2, 2 + length))}/${readU64(rest, 2 + length)}`;
      }
    }
  } catch {
    // fall through to hex
  }
  return `${name}/${bytesToHex(rest)}`;
}
