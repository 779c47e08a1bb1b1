import { randomBytes } from "node:crypto";
import type { Hash } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";
import { RpcError } from "./errors.js";
import type { Json } from "./ethFormat.js";
import type { LogCriteria } from "./logs.js";

export type FilterKind = "block" | "pendingTransactions" | "logs";

export interface LogFilterSpec {
  criteria: LogCriteria;
  /** As given to eth_newFilter, for eth_getFilterLogs. */
  fromBlock: unknown;
  toBlock: unknown;
}

interface Filter {
  kind: FilterKind;
  lastPollMs: number;
  /** Block hashes, pending tx hashes (hex) or formatted logs since the last poll; bounded. */
  buffer: unknown[];
  logs: LogFilterSpec | null;
}

/** A random 16-byte id as a hex quantity (geth style). */
export function newId(): string {
  return `0x${randomBytes(16).toString("hex").replace(/^0+/, "") || "0"}`;
}

/**
 * Installed polling filters (eth_newFilter & co). Filled from the backend's events, drained by eth_getFilterChanges.
 * Bounded: `maxFilters` filters, `bufferMax` items each (oldest dropped), removed after `idleTimeoutMs` without a poll.
 */
export class FilterManager {
  private readonly filters = new Map<string, Filter>();

  constructor(
    private readonly opts: { maxFilters: number; bufferMax: number; idleTimeoutMs: number },
    private readonly nowMs: () => number = () => Date.now(),
  ) {}

  get size(): number {
    return this.filters.size;
  }

  install(kind: FilterKind, logs: LogFilterSpec | null = null): string {
    this.expire();
    if (this.filters.size >= this.opts.maxFilters) {
      throw new RpcError("RPC_LIMIT_EXCEEDED", `too many filters installed (max ${this.opts.maxFilters})`);
    }
    const id = newId();
    this.filters.set(id, { kind, lastPollMs: this.nowMs(), buffer: [], logs });
    return id;
  }

  uninstall(id: string): boolean {
    return this.filters.delete(id);
  }

  /** The filter's log spec (eth_getFilterLogs); throws "filter not found". */
  logSpec(id: string): LogFilterSpec {
    const f = this.get(id);
    if (!f.logs) throw new RpcError("RPC_NOT_FOUND", "filter not found");
    f.lastPollMs = this.nowMs();
    return f.logs;
  }

  /** Items since the last poll (eth_getFilterChanges); throws "filter not found". */
  changes(id: string): unknown[] {
    const f = this.get(id);
    f.lastPollMs = this.nowMs();
    const out = f.buffer;
    f.buffer = [];
    return out;
  }

  onBlock(blockHash: Hash, logsFor: (c: LogCriteria) => Json[]): void {
    const hashHex = bytesToHex(blockHash);
    for (const f of this.filters.values()) {
      if (f.kind === "block") this.push(f, [hashHex]);
      else if (f.kind === "logs" && f.logs) this.push(f, logsFor(f.logs.criteria));
    }
  }

  onPending(hashes: Hash[]): void {
    let hexes: string[] | null = null;
    for (const f of this.filters.values()) {
      if (f.kind !== "pendingTransactions") continue;
      hexes ??= hashes.map(bytesToHex);
      this.push(f, hexes);
    }
  }

  /** Remove filters idle for longer than idleTimeoutMs. */
  expire(): void {
    const cutoff = this.nowMs() - this.opts.idleTimeoutMs;
    for (const [id, f] of this.filters) if (f.lastPollMs < cutoff) this.filters.delete(id);
  }

  private get(id: string): Filter {
    const f = this.filters.get(id);
    if (!f) throw new RpcError("RPC_NOT_FOUND", "filter not found");
    return f;
  }

  private push(f: Filter, items: unknown[]): void {
    for (const item of items) f.buffer.push(item);
    const excess = f.buffer.length - this.opts.bufferMax;
    if (excess > 0) f.buffer.splice(0, excess);
  }
}
