import { hexToBytes } from "../util/hex.js";
import { invalidParams } from "./errors.js";

/**
 * Hand-written, non-recursive param validators. Each parser names its param ("block tag", "address", …) and throws
 * -32602 "invalid params: param N (name): why". Nothing here walks an unbounded structure.
 */
export interface ParamParser<T> {
  readonly name: string;
  /** An optional param may be missing or null; `parse` then gets undefined. */
  readonly optional: boolean;
  parse(value: unknown): T;
}

export class ParamError extends Error {}

function fail(why: string): never {
  throw new ParamError(why);
}

export type BlockTag = "latest" | "earliest" | "pending" | "safe" | "finalized" | number;

const TAGS = new Set(["latest", "earliest", "pending", "safe", "finalized"]);
const QUANTITY_RE = /^0x[0-9a-fA-F]+$/;
const DATA_RE = /^0x([0-9a-fA-F]{2})*$/;

function parseQuantityString(value: unknown, maxBits: number): bigint {
  if (typeof value !== "string") fail(`expected a hex quantity string, got ${typeName(value)}`);
  if (!QUANTITY_RE.test(value)) fail("expected a hex quantity like 0x1a");
  if (value.length - 2 > maxBits / 4 && value.slice(2).replace(/^0+/, "").length > maxBits / 4) {
    fail(`quantity too large (more than ${maxBits} bits)`);
  }
  return BigInt(value);
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

export const p = {
  /** A 256-bit quantity. */
  quantity(name: string): ParamParser<bigint> {
    return { name, optional: false, parse: (v) => parseQuantityString(v, 256) };
  },
  /** A safe-integer quantity (block numbers, counts, indexes): "0x…" or a JSON number. */
  uint(name: string): ParamParser<number> {
    return { name, optional: false, parse: parseUint };
  },
  optUint(name: string): ParamParser<number | undefined> {
    return { name, optional: true, parse: (v) => (v === undefined ? undefined : parseUint(v)) };
  },
  blockTag(name = "block tag"): ParamParser<BlockTag> {
    return { name, optional: false, parse: parseBlockTag };
  },
  /**
   * Block tag that defaults to "latest" when omitted (eth_call, eth_getBalance, …). Accepts EIP-1898 objects and a
   * block hash given as a plain 32-byte hex string.
   */
  optBlockTag(name = "block tag"): ParamParser<BlockTag | Uint8Array> {
    return {
      name,
      optional: true,
      parse: (v) => {
        if (v === undefined) return "latest";
        if (typeof v === "object" && v !== null && !Array.isArray(v)) return parseBlockSelector(v);
        // 32 bytes of hex is a block hash, not a number (geth's BlockNumberOrHash; ethers sends hashes so).
        if (typeof v === "string" && v.length === 66 && DATA_RE.test(v)) return hexToBytes(v);
        return parseBlockTag(v);
      },
    };
  },
  /**
   * A storage slot as geth's decodeStorageKey takes it: hex of at most 32 bytes, with or without 0x, odd length
   * allowed, left-padded to 32 bytes ("0x1", "0x00…01" and "1" are the same slot).
   */
  storageKey(name = "storage slot"): ParamParser<Uint8Array> {
    return { name, optional: false, parse: parseStorageKey };
  },
  hash(name: string): ParamParser<Uint8Array> {
    return { name, optional: false, parse: (v) => parseFixedData(v, 32) };
  },
  address(name = "address"): ParamParser<Uint8Array> {
    return { name, optional: false, parse: (v) => parseFixedData(v, 20) };
  },
  data(name: string, maxBytes: number): ParamParser<Uint8Array> {
    return { name, optional: false, parse: (v) => parseData(v, maxBytes) };
  },
  bool(name: string): ParamParser<boolean> {
    return { name, optional: false, parse: parseBool };
  },
  optBool(name: string, dflt: boolean): ParamParser<boolean> {
    return { name, optional: true, parse: (v) => (v === undefined ? dflt : parseBool(v)) };
  },
  string(name: string, maxLength: number): ParamParser<string> {
    return {
      name,
      optional: false,
      parse: (v) => {
        if (typeof v !== "string") fail(`expected a string, got ${typeName(v)}`);
        if (v.length > maxLength) fail(`longer than ${maxLength} characters`);
        return v;
      },
    };
  },
  optString(name: string, maxLength: number): ParamParser<string | undefined> {
    return {
      name,
      optional: true,
      parse: (v) => {
        if (v === undefined) return undefined;
        if (typeof v !== "string") fail(`expected a string, got ${typeName(v)}`);
        if (v.length > maxLength) fail(`longer than ${maxLength} characters`);
        return v;
      },
    };
  },
  /** Any object (validated by the handler, field by field). */
  object(name: string): ParamParser<Record<string, unknown>> {
    return {
      name,
      optional: false,
      parse: (v) => {
        if (typeof v !== "object" || v === null || Array.isArray(v))
          fail(`expected an object, got ${typeName(v)}`);
        return v as Record<string, unknown>;
      },
    };
  },
  optObject(name: string): ParamParser<Record<string, unknown> | undefined> {
    return {
      name,
      optional: true,
      parse: (v) => {
        if (v === undefined) return undefined;
        if (typeof v !== "object" || v === null || Array.isArray(v))
          fail(`expected an object, got ${typeName(v)}`);
        return v as Record<string, unknown>;
      },
    };
  },
  /** Anything (the handler checks it). */
  any(name: string, optional = false): ParamParser<unknown> {
    return { name, optional, parse: (v) => v };
  },
};

export function parseUint(v: unknown): number {
  if (typeof v === "number") {
    if (!Number.isSafeInteger(v) || v < 0) fail("expected a non-negative integer");
    return v;
  }
  const n = parseQuantityString(v, 64);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) fail("quantity too large");
  return Number(n);
}

export function parseBlockTag(v: unknown): BlockTag {
  if (typeof v === "string" && TAGS.has(v)) return v as BlockTag;
  if (typeof v === "string" && QUANTITY_RE.test(v)) {
    const n = v.slice(2).replace(/^0+/, "").length > 14 ? Number.POSITIVE_INFINITY : Number(v);
    if (!Number.isSafeInteger(n)) fail("block number too large");
    return n;
  }
  fail("expected a hex quantity or one of latest|earliest|pending|safe|finalized");
}

function parseStorageKey(v: unknown): Uint8Array {
  if (typeof v !== "string") fail(`expected a hex string, got ${typeName(v)}`);
  const digits = v.startsWith("0x") || v.startsWith("0X") ? v.slice(2) : v;
  if (!/^[0-9a-fA-F]*$/.test(digits)) fail(`invalid hex in storage key: ${JSON.stringify(v.slice(0, 80))}`);
  if (digits.length > 64) fail("storage key too long (want at most 32 bytes)");
  return hexToBytes(`0x${digits.padStart(64, "0")}`);
}

/** EIP-1898: { blockNumber } or { blockHash, requireCanonical? }. */
function parseBlockSelector(v: object): BlockTag | Uint8Array {
  const o = v as Record<string, unknown>;
  if (o.blockHash !== undefined && o.blockNumber !== undefined) {
    fail("cannot specify both BlockHash and BlockNumber, choose one or the other");
  }
  if (o.blockHash !== undefined) return parseFixedData(o.blockHash, 32);
  if (o.blockNumber !== undefined) return parseBlockTag(o.blockNumber);
  fail("expected a block tag, or an object with blockNumber or blockHash");
}

export function parseFixedData(v: unknown, size: number): Uint8Array {
  if (typeof v !== "string") fail(`expected a ${size}-byte hex string, got ${typeName(v)}`);
  if (v.length !== 2 + size * 2 || !DATA_RE.test(v)) fail(`expected a 0x-prefixed ${size}-byte hex string`);
  return hexToBytes(v);
}

export function parseData(v: unknown, maxBytes: number): Uint8Array {
  if (typeof v !== "string") fail(`expected a hex data string, got ${typeName(v)}`);
  if (v.length > 2 + maxBytes * 2) fail(`longer than ${maxBytes} bytes`);
  if (!DATA_RE.test(v)) fail("expected 0x-prefixed even-length hex data");
  return hexToBytes(v);
}

function parseBool(v: unknown): boolean {
  if (typeof v !== "boolean") fail(`expected a boolean, got ${typeName(v)}`);
  return v;
}

/** Parse field `key` of a param object; errors name "param N (name).key". */
export function field<T>(obj: Record<string, unknown>, key: string, parse: (v: unknown) => T): T | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  try {
    return parse(v);
  } catch (err) {
    if (err instanceof ParamError) throw new ParamError(`field ${key}: ${err.message}`);
    throw err;
  }
}

export type ParsedParams<P extends readonly ParamParser<unknown>[]> = {
  [K in keyof P]: P[K] extends ParamParser<infer T> ? T : never;
};

/** Validate a params array (or absent params) against parsers; throws -32602 naming the failing param. */
export function parseParams<P extends readonly ParamParser<unknown>[]>(
  parsers: P,
  params: unknown,
): ParsedParams<P> {
  let list: unknown[];
  if (params === undefined || params === null) list = [];
  else if (Array.isArray(params)) list = params;
  else throw invalidParams("params must be an array");
  if (list.length > parsers.length) {
    throw invalidParams(`too many arguments, want at most ${parsers.length}`);
  }
  const out: unknown[] = [];
  for (let i = 0; i < parsers.length; i++) {
    const parser = parsers[i]!;
    let v = list[i];
    if (v === null && parser.optional) v = undefined;
    if (v === undefined && !parser.optional) {
      throw invalidParams(`missing value for required argument ${i} (${parser.name})`);
    }
    try {
      out.push(parser.parse(v));
    } catch (err) {
      if (err instanceof ParamError) throw invalidParams(`param ${i} (${parser.name}): ${err.message}`);
      throw err;
    }
  }
  return out as ParsedParams<P>;
}

/** Throw a ParamError from a handler's field checks. */
export { fail as paramFail };
