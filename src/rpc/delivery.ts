import type { Hash } from "../types/index.js";
import { errorMessage } from "../util/errors.js";
import type { Logger } from "../util/logger.js";
import type { ReceiptWaiters } from "./context.js";
import { formatEthHeader, type Json } from "./ethFormat.js";
import type { FilterManager } from "./filters.js";
import type { RpcNewBlockEvent } from "./interface.js";
import { blockLogs, type LogCriteria } from "./logs.js";
import { Slicer } from "./slicer.js";
import type { SubscriptionHub } from "./subscriptions.js";

/** Node events waiting for fan-out at most; beyond, the oldest pending-transaction events are dropped first. */
const EVENTS_MAX = 1024;

type DeliveryEvent = { kind: "block"; event: RpcNewBlockEvent } | { kind: "pending"; hashes: Hash[] };

/**
 * Delivers committed blocks and new pending transactions to receipt waiters, polling filters and WebSocket
 * subscriptions off the commit path: the node's listener only queues the event; the fan-out runs later, in order, in
 * slices of a few ms (see Slicer), so a client with thousands of filters or a slow WebSocket cannot delay a commit.
 */
export class Delivery {
  private readonly queue: DeliveryEvent[] = [];
  private running: Promise<void> | null = null;
  private droppedEvents = 0;
  private stopped = false;

  constructor(
    private readonly deps: {
      filters: FilterManager;
      hub: SubscriptionHub;
      receipts: ReceiptWaiters;
      blockGasLimit: () => bigint;
      logger: Logger;
    },
  ) {}

  onBlock(event: RpcNewBlockEvent): void {
    this.enqueue({ kind: "block", event });
  }

  onPending(hashes: Hash[]): void {
    this.enqueue({ kind: "pending", hashes });
  }

  /** Resolves once every queued event was delivered (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
  }

  get queued(): number {
    return this.queue.length;
  }

  private enqueue(e: DeliveryEvent): void {
    if (this.stopped) return;
    if (this.queue.length >= EVENTS_MAX) {
      const i = this.queue.findIndex((q) => q.kind === "pending");
      this.queue.splice(Math.max(i, 0), 1);
      if (this.droppedEvents++ % 100 === 0) {
        this.deps.logger.warn(
          { dropped: this.droppedEvents, max: EVENTS_MAX },
          "rpc notification queue full: dropping the oldest events (filters and subscriptions miss them)",
        );
      }
    }
    this.queue.push(e);
    this.running ??= this.drain().finally(() => {
      this.running = null;
    });
  }

  private async drain(): Promise<void> {
    const slicer = new Slicer();
    // Start in a later turn: the commit that queued the event finishes first.
    await slicer.pause();
    for (let e = this.queue.shift(); e; e = this.queue.shift()) {
      try {
        if (e.kind === "block") await this.deliverBlock(e.event, slicer);
        else {
          await this.deps.filters.onPending(e.hashes, slicer);
          await this.deps.hub.onPending(e.hashes, slicer);
        }
      } catch (err) {
        this.deps.logger.error({ err: errorMessage(err), kind: e.kind }, "rpc notification fan-out failed");
      }
      if (slicer.due()) await slicer.pause();
    }
  }

  private async deliverBlock(ev: RpcNewBlockEvent, slicer: Slicer): Promise<void> {
    this.deps.receipts.onBlock(ev.block, ev.receipts);
    // Each log formatted once for all filters and subscriptions that match it (1,000 filters: one copy, not 1,000).
    const formatted: Json[] = [];
    const logsFor = (c: LogCriteria): Json[] => {
      const out: Json[] = [];
      blockLogs(c, ev.block, ev.receipts, out, Number.MAX_SAFE_INTEGER, formatted);
      return out;
    };
    await this.deps.filters.onBlock(ev.block.hash, logsFor, slicer);
    await this.deps.hub.onBlock(formatEthHeader(ev.block, this.deps.blockGasLimit()), logsFor, slicer);
  }
}
