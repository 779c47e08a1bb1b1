import { randomBytes } from "node:crypto";
import type { Hash } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";
import { RpcError } from "./errors.js";
import type { Json } from "./ethFormat.js";
import type { LogCriteria } from "./logs.js";
import type { Pauser } from "./slicer.js";

export type FilterKind = "block" | "pendingTransactions" | "logs";

export interface LogFilterSpec {
  criteria: LogCriteria;
  /** As given to eth_newFilter, for eth_getFilterLogs. */
  fromBlock: unknown;
  toBlock: unknown;
}

interface Filter {
  kind: FilterKind;
  /** The installing principal's quota key. */
  owner: string;
  lastPollMs: number;
  /** Block hashes, pending tx hashes (hex) or formatted logs since the last poll; bounded. */
  buffer: unknown[];
  /** What `buffer` holds, as `approxBytes` counts it. */
  bytes: number;
  logs: LogFilterSpec | null;
}

/** A random 16-byte id as a hex quantity (geth style). */
export function newId(): string {
  return `0x${randomBytes(16).toString("hex").replace(/^0+/, "") || "0"}`;
}

/**
 * Bytes all filters' buffers hold at most, each filter's items counted in full (a log shared by several filters is
 * counted by each: an upper bound). Counting items alone let 1,000 match-all log filters of one principal each hold
 * 10,000 logs of up to hundreds of KiB of data: gigabytes.
 */
export const FILTER_BUFFERS_BYTES_MAX = 256 * 1024 * 1024;

/**
 * Installed polling filters (eth_newFilter & co). Filled from the backend's events, drained by eth_getFilterChanges.
 * Bounded: `maxFilters` filters over all clients and `maxPerOwner` per principal, `bufferMax` items each and
 * `bufferBytesMax` over all of them (the filter being filled drops its oldest), removed after `idleTimeoutMs`
 * without a poll.
 */
export class FilterManager {
  private readonly filters = new Map<string, Filter>();
  private readonly perOwner = new Map<string, number>();
  private bufferedBytes = 0;

  constructor(
    private readonly opts: {
      maxFilters: number;
      maxPerOwner?: number;
      bufferMax: number;
      bufferBytesMax?: number;
      idleTimeoutMs: number;
    },
    private readonly nowMs: () => number = () => Date.now(),
  ) {}

  get size(): number {
    return this.filters.size;
  }

  install(kind: FilterKind, logs: LogFilterSpec | null = null, owner = "anonymous"): string {
    this.expire();
    if (this.filters.size >= this.opts.maxFilters) {
      throw new RpcError("RPC_LIMIT_EXCEEDED", `too many filters installed (max ${this.opts.maxFilters})`);
    }
    const perOwnerMax = this.opts.maxPerOwner ?? Number.MAX_SAFE_INTEGER;
    if ((this.perOwner.get(owner) ?? 0) >= perOwnerMax) {
      throw new RpcError(
        "RPC_LIMIT_EXCEEDED",
        `too many filters installed by this principal (max ${perOwnerMax}): uninstall some with eth_uninstallFilter`,
      );
    }
    const id = newId();
    this.filters.set(id, { kind, owner, lastPollMs: this.nowMs(), buffer: [], bytes: 0, logs });
    this.perOwner.set(owner, (this.perOwner.get(owner) ?? 0) + 1);
    return id;
  }

  uninstall(id: string): boolean {
    const f = this.filters.get(id);
    if (!f) return false;
    this.filters.delete(id);
    this.bufferedBytes -= f.bytes;
    const n = (this.perOwner.get(f.owner) ?? 1) - 1;
    if (n <= 0) this.perOwner.delete(f.owner);
    else this.perOwner.set(f.owner, n);
    return true;
  }

  /**
   * The filter's log spec (eth_getFilterLogs); throws "filter not found". Not a poll: it leaves the buffer as it is,
   * so it does not keep the filter alive either (as geth): a client that never drains a filter would otherwise hold
   * its buffer forever.
   */
  logSpec(id: string): LogFilterSpec {
    const f = this.get(id);
    if (!f.logs) throw new RpcError("RPC_NOT_FOUND", "filter not found");
    return f.logs;
  }

  /** Items since the last poll (eth_getFilterChanges); throws "filter not found". */
  changes(id: string): unknown[] {
    const f = this.get(id);
    f.lastPollMs = this.nowMs();
    const out = f.buffer;
    f.buffer = [];
    this.bufferedBytes -= f.bytes;
    f.bytes = 0;
    return out;
  }

  async onBlock(blockHash: Hash, logsFor: (c: LogCriteria) => Json[], pauser: Pauser): Promise<void> {
    const hashHex = bytesToHex(blockHash);
    for (const f of this.filters.values()) {
      if (f.kind === "block") this.push(f, [hashHex]);
      else if (f.kind === "logs" && f.logs) this.push(f, logsFor(f.logs.criteria));
      if (pauser.due()) await pauser.pause();
    }
  }

  async onPending(hashes: Hash[], pauser: Pauser): Promise<void> {
    let hexes: string[] | null = null;
    for (const f of this.filters.values()) {
      if (f.kind !== "pendingTransactions") continue;
      hexes ??= hashes.map(bytesToHex);
      this.push(f, hexes);
      if (pauser.due()) await pauser.pause();
    }
  }

  /** Remove filters idle for longer than idleTimeoutMs. */
  expire(): void {
    const cutoff = this.nowMs() - this.opts.idleTimeoutMs;
    for (const [id, f] of this.filters) if (f.lastPollMs < cutoff) this.uninstall(id);
  }

  private get(id: string): Filter {
    const f = this.filters.get(id);
    if (!f) throw new RpcError("RPC_NOT_FOUND", "filter not found");
    return f;
  }

  /** Bytes the filters' buffers hold (tests, metrics). */
  get bytes(): number {
    return this.bufferedBytes;
  }

  private push(f: Filter, items: unknown[]): void {
    for (const item of items) {
      f.buffer.push(item);
      const n = approxBytes(item);
      f.bytes += n;
      this.bufferedBytes += n;
    }
    const bytesMax = this.opts.bufferBytesMax ?? FILTER_BUFFERS_BYTES_MAX;
    let drop = Math.max(0, f.buffer.length - this.opts.bufferMax);
    let dropped = 0;
    for (let i = 0; i < drop; i++) dropped += approxBytes(f.buffer[i]);
    while (drop < f.buffer.length && this.bufferedBytes - dropped > bytesMax) {
      dropped += approxBytes(f.buffer[drop]);
      drop++;
    }
    if (drop === 0) return;
    f.buffer.splice(0, drop);
    f.bytes -= dropped;
    this.bufferedBytes -= dropped;
  }
}

/**
 * Sizes of formatted logs already counted. A block's log is one object shared by every filter it matches
 * (blockLogs), pushed into each and counted again when dropped: sized once, not once per filter.
 */
const objectBytes = new WeakMap<object, number>();

/** What a buffered item (a hex string, or a formatted log of hex strings) holds, roughly: its strings' lengths. */
function approxBytes(item: unknown): number {
  if (typeof item === "string") return item.length + 16;
  if (typeof item !== "object" || item === null) return 8;
  const known = objectBytes.get(item);
  if (known !== undefined) return known;
  let n = 16;
  for (const v of Array.isArray(item) ? item : Object.values(item)) n += approxBytes(v);
  objectBytes.set(item, n);
  return n;
}
