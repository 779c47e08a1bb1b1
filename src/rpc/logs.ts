import { keccak256 } from "../crypto/index.js";
import type { Log } from "../types/index.js";
import { bytesEqual } from "../util/hex.js";
import { BLOOM_BYTES, formatEthLog, type Json } from "./ethFormat.js";
import type { RpcBlock } from "./interface.js";
import { type ParamParser, paramFail, parseFixedData } from "./params.js";

/** Log filter criteria, parsed (eth_getLogs, eth_newFilter, logs subscriptions). */
export interface LogCriteria {
  /** Empty = any address. */
  addresses: Uint8Array[];
  /** Per position: null = any topic, else one of these. At most 4 positions. */
  topics: (Uint8Array[] | null)[];
}

const ADDRESSES_MAX = 1000;
const TOPIC_ALTERNATIVES_MAX = 1000;

/** Parse `address` (string | string[]) and `topics` of a filter object; no recursion beyond two levels. */
export function parseLogCriteria(obj: Record<string, unknown>): LogCriteria {
  const addresses: Uint8Array[] = [];
  const a = obj.address;
  if (typeof a === "string") addresses.push(withField("address", () => parseFixedData(a, 20)));
  else if (Array.isArray(a)) {
    if (a.length > ADDRESSES_MAX) paramFail(`field address: more than ${ADDRESSES_MAX} addresses`);
    a.forEach((x, i) => {
      addresses.push(withField(`address[${i}]`, () => parseFixedData(x, 20)));
    });
  } else if (a !== undefined && a !== null)
    paramFail("field address: expected an address or an array of addresses");

  const topics: (Uint8Array[] | null)[] = [];
  const t = obj.topics;
  if (Array.isArray(t)) {
    if (t.length > 4) paramFail("field topics: at most 4 topic positions");
    t.forEach((pos, i) => {
      if (pos === null || pos === undefined) topics.push(null);
      else if (typeof pos === "string")
        topics.push([withField(`topics[${i}]`, () => parseFixedData(pos, 32))]);
      else if (Array.isArray(pos)) {
        if (pos.length > TOPIC_ALTERNATIVES_MAX) paramFail(`field topics[${i}]: too many alternatives`);
        if (pos.length === 0) topics.push(null);
        else {
          const alts: Uint8Array[] = [];
          let anyNull = false;
          pos.forEach((x, j) => {
            if (x === null) anyNull = true;
            else alts.push(withField(`topics[${i}][${j}]`, () => parseFixedData(x, 32)));
          });
          topics.push(anyNull ? null : alts);
        }
      } else paramFail(`field topics[${i}]: expected null, a topic, or an array of topics`);
    });
  } else if (t !== undefined && t !== null) paramFail("field topics: expected an array");
  return { addresses, topics };
}

function withField<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof Error) paramFail(`field ${name}: ${err.message}`);
    throw err;
  }
}

export function matchLog(c: LogCriteria, log: Log): boolean {
  if (c.addresses.length > 0 && !c.addresses.some((a) => bytesEqual(a, log.address))) return false;
  for (let i = 0; i < c.topics.length; i++) {
    const alts = c.topics[i];
    if (!alts) continue;
    const topic = log.topics[i];
    if (!topic) return false;
    if (!alts.some((x) => bytesEqual(x, topic))) return false;
  }
  return true;
}

function bloomHas(bloom: Uint8Array, value: Uint8Array): boolean {
  if (bloom.length !== BLOOM_BYTES) return true;
  const h = keccak256(value);
  for (let i = 0; i < 6; i += 2) {
    const bit = ((h[i]! << 8) | h[i + 1]!) & 0x7ff;
    const byte = BLOOM_BYTES - 1 - (bit >> 3);
    if ((bloom[byte]! & (1 << (bit & 7))) === 0) return false;
  }
  return true;
}

/** False when the block bloom proves no log of the block can match. */
export function bloomMayMatch(c: LogCriteria, bloom: Uint8Array): boolean {
  if (c.addresses.length > 0 && !c.addresses.some((a) => bloomHas(bloom, a))) return false;
  for (const alts of c.topics) {
    if (alts && !alts.some((t) => bloomHas(bloom, t))) return false;
  }
  return true;
}

/**
 * The matching logs of one block, formatted, with block-wide log indexes. `formatted`: a cache by log index for
 * calls over the same block (each log is then one object, shared by every filter and subscription it matches).
 */
export function blockLogs(
  c: LogCriteria,
  block: RpcBlock,
  receipts: { logs: Log[] }[],
  out: Json[],
  maxResults: number,
  formatted?: Json[],
): void {
  let logIndex = 0;
  for (let txIndex = 0; txIndex < receipts.length; txIndex++) {
    const r = receipts[txIndex]!;
    const txHash = block.transactionHashes[txIndex];
    for (const log of r.logs) {
      if (txHash && matchLog(c, log)) {
        if (out.length >= maxResults) return;
        const json =
          formatted?.[logIndex] ??
          formatEthLog(log, {
            blockNumber: block.header.number,
            blockHash: block.hash,
            txHash,
            txIndex,
            logIndex,
            blockTimestampMs: block.header.timestampMs,
          });
        if (formatted !== undefined) formatted[logIndex] = json;
        out.push(json);
      }
      logIndex++;
    }
  }
}

export const logFilterParam = (name: string): ParamParser<Record<string, unknown>> => ({
  name,
  optional: false,
  parse: (v) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) paramFail("expected a filter object");
    return v as Record<string, unknown>;
  },
});
