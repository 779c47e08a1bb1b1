import type protobuf from "protobufjs";
import { bigintToBytes, bytesToBigint } from "../util/hex.js";
import { CodecError, type CodecErrorCode } from "./errors.js";
import { codecLimits } from "./options.js";

/**
 * Shared helpers: protobuf decode with typed errors, and field validation both ways.
 * Every error names the type and the field (`meta: { type, field }`).
 */

export type PbMessage = Record<string, unknown>;

const UINT256_MAX = (1n << 256n) - 1n;

export function fail(
  code: CodecErrorCode,
  type: string,
  field: string,
  message: string,
  cause?: unknown,
): never {
  const where = field ? `${type}.${field}` : type;
  throw new CodecError(
    code,
    `${where}: ${message}`,
    { type, field },
    cause === undefined ? undefined : { cause },
  );
}

/** Decodes protobuf bytes; maps protobufjs errors to CODEC_TRUNCATED / CODEC_MALFORMED. */
export function decodePb(
  pbType: protobuf.Type,
  bytes: Uint8Array,
  type: string,
  sizeBytesMax: number,
): PbMessage {
  if (!(bytes instanceof Uint8Array)) fail("CODEC_MALFORMED", type, "", "input is not bytes");
  if (bytes.length > sizeBytesMax) {
    fail("CODEC_TOO_LARGE", type, "", `${bytes.length} bytes exceeds the bound of ${sizeBytesMax}`);
  }
  try {
    return pbType.decode(bytes) as unknown as PbMessage;
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    const truncated = /index out of range|out of range/i.test(text);
    fail(truncated ? "CODEC_TRUNCATED" : "CODEC_MALFORMED", type, "", `invalid protobuf (${text})`, err);
  }
}

export function encodePb(pbType: protobuf.Type, value: PbMessage): Uint8Array {
  // Copy: protobufjs returns a Buffer that may be a slice of Node's shared pool.
  return new Uint8Array(pbType.encode(value).finish());
}

// ---- decode side ----

function rawBytes(msg: PbMessage, field: string, type: string): Uint8Array {
  const value = msg[field];
  if (value === undefined || value === null) return new Uint8Array(0);
  // protobufjs' default for an absent bytes field is an empty array.
  if (Array.isArray(value) && value.length === 0) return new Uint8Array(0);
  if (!(value instanceof Uint8Array)) fail("CODEC_MALFORMED", type, field, "not bytes");
  return value;
}

/** A bytes field of exactly `length` bytes (absent = empty = missing). */
export function fixedBytes(msg: PbMessage, field: string, type: string, length: number): Uint8Array {
  const value = rawBytes(msg, field, type);
  if (value.length === 0 && length > 0)
    fail("CODEC_MISSING_FIELD", type, field, `missing (want ${length} bytes)`);
  if (value.length !== length)
    fail("CODEC_INVALID_FIELD", type, field, `${value.length} bytes, want ${length}`);
  return new Uint8Array(value);
}

/** A bytes field of 0..max bytes. */
export function varBytes(msg: PbMessage, field: string, type: string, max: number): Uint8Array {
  const value = rawBytes(msg, field, type);
  if (value.length > max) fail("CODEC_TOO_LARGE", type, field, `${value.length} bytes exceeds ${max}`);
  return new Uint8Array(value);
}

/** Empty = null, else exactly 20 bytes. */
export function optionalAddress(msg: PbMessage, field: string, type: string): Uint8Array | null {
  const value = rawBytes(msg, field, type);
  if (value.length === 0) return null;
  if (value.length !== 20) fail("CODEC_INVALID_FIELD", type, field, `${value.length} bytes, want 20 or 0`);
  return new Uint8Array(value);
}

/** A uint256 quantity as minimal big-endian bytes (no leading zero byte; 0 = empty). */
export function quantity(msg: PbMessage, field: string, type: string): bigint {
  const value = rawBytes(msg, field, type);
  return quantityFromBytes(value, field, type);
}

export function quantityFromBytes(value: Uint8Array, field: string, type: string): bigint {
  if (value.length > codecLimits.quantityBytesMax) {
    fail("CODEC_INVALID_FIELD", type, field, `quantity of ${value.length} bytes exceeds 32`);
  }
  if (value.length > 0 && value[0] === 0)
    fail("CODEC_NON_CANONICAL", type, field, "quantity has a leading zero byte");
  return bytesToBigint(value);
}

interface LongLike {
  low: number;
  high: number;
}

/** A uint64/uint32 field as a safe integer number. */
export function safeNumber(msg: PbMessage, field: string, type: string): number {
  const value = msg[field];
  if (value === undefined || value === null) return 0;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value) || value < 0)
      fail("CODEC_INVALID_FIELD", type, field, "not a safe integer");
    return value;
  }
  const long = value as LongLike;
  if (typeof long.low !== "number" || typeof long.high !== "number") {
    fail("CODEC_MALFORMED", type, field, "not an integer");
  }
  const high = long.high >>> 0;
  if (high > 0x1fffff) fail("CODEC_INVALID_FIELD", type, field, "exceeds Number.MAX_SAFE_INTEGER");
  return high * 0x1_0000_0000 + (long.low >>> 0);
}

export function stringField(msg: PbMessage, field: string, type: string, maxLength: number): string {
  const value = msg[field];
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") fail("CODEC_MALFORMED", type, field, "not a string");
  if (value.length > maxLength)
    fail("CODEC_TOO_LARGE", type, field, `${value.length} chars exceeds ${maxLength}`);
  return value;
}

export function repeated(msg: PbMessage, field: string, type: string, max: number): unknown[] {
  const value = msg[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail("CODEC_MALFORMED", type, field, "not a list");
  if (value.length > max) fail("CODEC_TOO_LARGE", type, field, `${value.length} entries exceed ${max}`);
  return value;
}

// ---- encode side: the same rules, so we never write what we could not read back ----

export function checkBytes(value: unknown, field: string, type: string, length: number): Uint8Array {
  if (!(value instanceof Uint8Array)) fail("CODEC_INVALID_FIELD", type, field, "not a Uint8Array");
  if (value.length !== length)
    fail("CODEC_INVALID_FIELD", type, field, `${value.length} bytes, want ${length}`);
  return value;
}

export function checkVarBytes(value: unknown, field: string, type: string, max: number): Uint8Array {
  if (!(value instanceof Uint8Array)) fail("CODEC_INVALID_FIELD", type, field, "not a Uint8Array");
  if (value.length > max) fail("CODEC_TOO_LARGE", type, field, `${value.length} bytes exceeds ${max}`);
  return value;
}

export function checkOptionalAddress(value: unknown, field: string, type: string): Uint8Array {
  if (value === null) return new Uint8Array(0);
  return checkBytes(value, field, type, 20);
}

export function quantityToBytes(value: unknown, field: string, type: string): Uint8Array {
  if (typeof value !== "bigint" || value < 0n || value > UINT256_MAX) {
    fail("CODEC_INVALID_FIELD", type, field, "not a bigint in 0..2^256-1");
  }
  return bigintToBytes(value);
}

export function checkNumber(value: unknown, field: string, type: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
    fail("CODEC_INVALID_FIELD", type, field, "not a non-negative safe integer");
  }
  return value;
}

export function checkString(value: unknown, field: string, type: string, maxLength: number): string {
  if (typeof value !== "string") fail("CODEC_INVALID_FIELD", type, field, "not a string");
  if (value.length > maxLength)
    fail("CODEC_TOO_LARGE", type, field, `${value.length} chars exceeds ${maxLength}`);
  return value;
}

export function checkArray(value: unknown, field: string, type: string, max: number): unknown[] {
  if (!Array.isArray(value)) fail("CODEC_INVALID_FIELD", type, field, "not an array");
  if (value.length > max) fail("CODEC_TOO_LARGE", type, field, `${value.length} entries exceed ${max}`);
  return value;
}
