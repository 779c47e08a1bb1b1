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
  logs: LogFilterSpec | null;
}

/** A random 16-byte id as a hex quantity (geth style). */
export function newId(): string {
  return `0x${randomBytes(16).toString("hex").replace(/^0+/, "") || "0"}`;
}

/**
 * Installed polling filters (eth_newFilter & co). Filled from the backend's events, drained by eth_getFilterChanges.
 * Bounded: `maxFilters` filters over all clients and `maxPerOwner` per principal, `bufferMax` items each (oldest
 * dropped), removed after `idleTimeoutMs` without a poll.
 */
export class FilterManager {
  private readonly filters = new Map<string, Filter>();
  private readonly perOwner = new Map<string, number>();

  constructor(
    private readonly opts: {
      maxFilters: number;
      maxPerOwner?: number;
      bufferMax: number;
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
    this.filters.set(id, { kind, owner, lastPollMs: this.nowMs(), buffer: [], logs });
    this.perOwner.set(owner, (this.perOwner.get(owner) ?? 0) + 1);
    return id;
  }

  uninstall(id: string): boolean {
    const f = this.filters.get(id);
    if (!f) return false;
    this.filters.delete(id);
    const n = (this.perOwner.get(f.owner) ?? 1) - 1;
    if (n <= 0) this.perOwner.delete(f.owner);
    else this.perOwner.set(f.owner, n);
    return true;
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

  private push(f: Filter, items: unknown[]): void {
    for (const item of items) f.buffer.push(item);
    const excess = f.buffer.length - this.opts.bufferMax;
    if (excess > 0) f.buffer.splice(0, excess);
  }
}
