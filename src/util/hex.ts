import { ConsortError } from "./errors.js";

export type HexErrorCode = "HEX_INVALID";

const HEX_RE = /^(0x)?([0-9a-fA-F]{2})*$/;

/** Bytes → "0x…" lower-case hex ("0x" for empty). */
export function bytesToHex(bytes: Uint8Array): string {
  return `0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex")}`;
}

/** "0x…" (or bare) even-length hex → bytes; throws HEX_INVALID naming `what` otherwise. */
export function hexToBytes(hex: string, what = "hex string"): Uint8Array {
  if (typeof hex !== "string" || !HEX_RE.test(hex)) {
    throw new ConsortError<HexErrorCode>("HEX_INVALID", `${what} is not even-length hex`, { what });
  }
  const body = hex.startsWith("0x") ? hex.slice(2) : hex;
  return new Uint8Array(Buffer.from(body, "hex"));
}

/** Minimal-hex quantity as Ethereum JSON-RPC wants it: 0 → "0x0", 26 → "0x1a". */
export function toQuantity(value: bigint | number): string {
  return `0x${value.toString(16)}`;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Big-endian unsigned bytes of a bigint, minimal length (0 → empty). */
export function bigintToBytes(value: bigint): Uint8Array {
  if (value < 0n) throw new ConsortError<HexErrorCode>("HEX_INVALID", "negative value cannot be encoded");
  if (value === 0n) return new Uint8Array(0);
  let hex = value.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return new Uint8Array(Buffer.from(hex, "hex"));
}

export function bytesToBigint(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  if (bytes.length <= 6) {
    // Nonces, gas, small values: exact in a double (< 2^48), no hex string on the way (a hot path of tx decoding).
    let n = 0;
    for (let i = 0; i < bytes.length; i++) n = n * 256 + (bytes[i] as number);
    return BigInt(n);
  }
  return BigInt(bytesToHex(bytes));
}
