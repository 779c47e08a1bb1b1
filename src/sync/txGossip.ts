import type { Transport } from "../network/index.js";
import { type AddResult, isTxPoolPenalty, TxPoolError, type TxPoolInterface } from "../txpool/index.js";
import type { Transaction } from "../types/index.js";
import { errorMessage } from "../util/errors.js";
import { bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import { decodeTxBatch, encodeTxBatch, TX_BATCH_TXS_MAX } from "./wire.js";

export interface TxGossipOptions {
  /**
   * Batches of local clients' transactions are published at most once per this interval: the first tx after a
   * quiet interval goes out at once (with whatever arrived in the same event-loop turn), later ones wait for the
   * interval to end. So a lone tx is not delayed, and under load each member publishes one batch per interval.
   */
  flushIntervalMs: number;
  /** A batch is sent early once it holds this many bytes. */
  batchBytesMax: number;
  /** Bound of the outbound buffer (txs); beyond it new local txs are not gossiped (they still seal locally). */
  bufferTxsMax: number;
  /**
   * When a member connects (restart, new observer, healed link), it is sent up to this many pooled txs directly:
   * gossip only reaches peers connected at publish time, and a leader with an empty pool would stall its round.
   */
  catchUpTxsMax: number;
  /** Delay before that catch-up send, so the peer has finished starting (subscribed its handlers). */
  catchUpDelayMs: number;
  /**
   * Batches from one peer being admitted at once. A batch is up to TX_BATCH_TXS_MAX signature recoveries and state
   * reads: this bounds the work one peer can put on us at a time.
   */
  peerBatchesInFlightMax: number;
  /**
   * Further batches of that peer wait their turn, up to this many and peerBatchesQueuedBytesMax bytes; only beyond
   * that are they dropped. A dropped batch is lost for this node (gossipsub has marked it seen, so no other peer's
   * copy gets in): under CPU load an honest member's batches, one per flushIntervalMs, can outpace admission, and
   * dropping them left txs that no validator held (a nonce gap nobody could seal past).
   */
  peerBatchesQueuedMax: number;
  peerBatchesQueuedBytesMax: number;
  /** At most one warning per this interval about dropped batches (with the count since the last one). */
  dropWarnIntervalMs: number;
}

export const defaultTxGossipOptions: TxGossipOptions = {
  // 100 ms (was 50, 20 before): under load each member publishes half as many messages, and each costs every member
  // the same whatever it holds (noise, yamux, gossipsub, an admission turn); the first tx after a quiet interval is
  // not held (leading edge). 6 Dec, against 50 ms on an interval timer: consort4 3,000 transfers within noise (five
  // alternating rounds, 2.34 vs 2.37 CPU ms per tx); a lone transfer on an idle consort4 p50 51/49 -> 35/36 ms.
  flushIntervalMs: 100,
  batchBytesMax: 512 * 1024,
  bufferTxsMax: 50_000,
  catchUpTxsMax: 10_000,
  catchUpDelayMs: 1000,
  peerBatchesInFlightMax: 4,
  // 64 batches at one per 100 ms: 6 s of an honest member's flushes while this node's admission is stalled.
  peerBatchesQueuedMax: 64,
  peerBatchesQueuedBytesMax: 8 * 1024 * 1024,
  dropWarnIntervalMs: 10_000,
};

/** One peer's admission slots: batches being admitted, and the batches waiting for a slot (FIFO). */
interface PeerSlots {
  busy: number;
  waiting: { bytes: number; wake: (admit: boolean) => void }[];
  waitingBytes: number;
}

/**
 * Spreads transactions submitted to this node to every member in batches (gossipsub costs per message, not per
 * byte: PERF.md), and feeds batches from peers into the pool. Only locally submitted txs are re-published: gossipsub
 * itself forwards messages through the mesh, once this handler accepted them.
 *
 * What a peer can make us do is bounded: batches of at most TX_BATCH_TXS_MAX txs (decoding checks it), at most
 * peerBatchesInFlightMax of its batches admitted at once, a bounded FIFO of its batches waiting for that (beyond
 * it: dropped, ignored without blame), and a batch that does not decode or
 * carries a tx that can never be valid (bad signature, wrong chain or group, oversized) is rejected: not relayed,
 * and the peer penalized by the network (repeat offenders are banned). Honest members only publish txs their own
 * pool admitted, so they never send such a batch.
 */
export class TxGossip {
  private buffer: Uint8Array[] = [];
  private bufferBytes = 0;
  /** The pending flush (an immediate or a timeout), null when none is scheduled. */
  private flushScheduled: { cancel(): void } | null = null;
  /** When the last batch was published (performance.now() ms). */
  private lastFlushAtMs = Number.NEGATIVE_INFINITY;
  private unsubscribe: (() => void)[] = [];
  /** Pending catch-up sends, by peer (at most one per connected peer). */
  private readonly catchUpTimers = new Map<string, NodeJS.Timeout>();
  /** Admission slots by peer (hex node ID); absent while the peer has nothing in admission. */
  private readonly slots = new Map<string, PeerSlots>();
  private stopped = false;
  private lastDropWarnMs: number | null = null;
  private droppedSinceWarn = 0;
  readonly counters = {
    batchesOut: 0,
    batchesIn: 0,
    txsIn: 0,
    dropped: 0,
    catchUpTxsOut: 0,
    /** Peer batches that waited for one of that peer's admission slots. */
    batchesQueued: 0,
    /** Peer batches dropped because that peer's admission queue was full. */
    batchesDropped: 0,
    /** Peer batches rejected (malformed, or carrying a tx that can never be valid). */
    batchesRejected: 0,
  };

  constructor(
    private readonly opts: TxGossipOptions,
    private readonly deps: { transport: Transport; txpool: TxPoolInterface; logger: Logger },
  ) {}

  start(): void {
    this.unsubscribe.push(this.deps.txpool.onAdded((txs, origin) => origin === "local" && this.queue(txs)));
    this.unsubscribe.push(this.deps.transport.subscribe("txs", (from, data) => this.receive(from, data)));
    this.unsubscribe.push(
      this.deps.transport.onPeerChange((peer, connected) => this.onPeerChange(peer, connected)),
    );
  }

  stop(): void {
    this.stopped = true;
    for (const slots of this.slots.values()) for (const w of slots.waiting.splice(0)) w.wake(false);
    this.flushScheduled?.cancel();
    this.flushScheduled = null;
    for (const t of this.catchUpTimers.values()) clearTimeout(t);
    this.catchUpTimers.clear();
    for (const u of this.unsubscribe.splice(0)) u();
    this.flush();
  }

  private queue(txs: Transaction[]): void {
    for (const tx of txs) {
      if (this.buffer.length >= this.opts.bufferTxsMax) {
        this.counters.dropped++;
        continue;
      }
      this.buffer.push(tx.raw);
      this.bufferBytes += tx.raw.length;
      if (this.bufferBytes >= this.opts.batchBytesMax || this.buffer.length >= TX_BATCH_TXS_MAX) this.flush();
    }
    if (this.buffer.length > 0) this.scheduleFlush();
  }

  /** Publish at the end of this turn if the last batch is an interval old, else when the interval ends. */
  private scheduleFlush(): void {
    if (this.flushScheduled !== null || this.stopped) return;
    const waitMs = this.lastFlushAtMs + this.opts.flushIntervalMs - performance.now();
    if (waitMs <= 0) {
      const immediate = setImmediate(() => this.flush());
      this.flushScheduled = { cancel: () => clearImmediate(immediate) };
    } else {
      const timeout = setTimeout(() => this.flush(), waitMs);
      this.flushScheduled = { cancel: () => clearTimeout(timeout) };
    }
  }

  private flush(): void {
    this.flushScheduled?.cancel();
    this.flushScheduled = null;
    if (this.buffer.length > 0) this.lastFlushAtMs = performance.now();
    while (this.buffer.length > 0) {
      const batch = this.buffer.splice(0, TX_BATCH_TXS_MAX);
      this.bufferBytes -= batch.reduce((n, raw) => n + raw.length, 0);
      this.counters.batchesOut++;
      this.deps.transport
        .publish("txs", encodeTxBatch(batch))
        .catch((err: unknown) =>
          this.deps.logger.debug({ err: errorMessage(err) }, "tx gossip publish failed"),
        );
    }
    this.bufferBytes = 0;
  }

  private onPeerChange(peer: Uint8Array, connected: boolean): void {
    const key = bytesToHex(peer);
    const pending = this.catchUpTimers.get(key);
    if (pending) clearTimeout(pending);
    this.catchUpTimers.delete(key);
    if (!connected) return;
    this.catchUpTimers.set(
      key,
      setTimeout(() => {
        this.catchUpTimers.delete(key);
        void this.sendPoolTo(peer);
      }, this.opts.catchUpDelayMs),
    );
  }

  /** Sends the pooled txs to one peer, directly, in bounded batches (duplicates are cheap for the receiver). */
  private async sendPoolTo(peer: Uint8Array): Promise<void> {
    const txs = this.deps.txpool.pending(this.opts.catchUpTxsMax);
    let batch: Uint8Array[] = [];
    let bytes = 0;
    const send = async () => {
      if (batch.length === 0) return;
      const out = batch;
      batch = [];
      bytes = 0;
      this.counters.catchUpTxsOut += out.length;
      await this.deps.transport.sendDirect(peer, "txs", encodeTxBatch(out));
    };
    try {
      for (const tx of txs) {
        if (batch.length >= TX_BATCH_TXS_MAX || bytes + tx.raw.length > this.opts.batchBytesMax) await send();
        batch.push(tx.raw);
        bytes += tx.raw.length;
      }
      await send();
      if (txs.length > 0)
        this.deps.logger.debug({ peer: bytesToHex(peer), txs: txs.length }, "sent pool to peer");
    } catch (err) {
      this.deps.logger.debug({ peer: bytesToHex(peer), err: errorMessage(err) }, "pool catch-up send failed");
    }
  }

  private async receive(from: Uint8Array, data: Uint8Array): Promise<"accept" | "ignore" | "reject"> {
    const peer = bytesToHex(from);
    let raws: Uint8Array[];
    try {
      raws = decodeTxBatch(data);
    } catch (err) {
      this.counters.batchesRejected++;
      this.deps.logger.debug({ from: peer, err: errorMessage(err) }, "malformed tx batch");
      return "reject";
    }
    if (!(await this.acquireSlot(peer, data.length))) return "ignore";
    this.counters.batchesIn++;
    this.counters.txsIn += raws.length;
    let results: AddResult[];
    try {
      results = await this.deps.txpool.addBatch(raws, { origin: "peer" });
    } finally {
      this.releaseSlot(peer);
    }
    // Individual rejections (already known, nonce too low after a commit, a full pool…) are normal in gossip: no
    // blame. A tx that can never be valid is: an honest member checked it before sending it on.
    const invalid = results.find(
      (r) => !r.ok && r.error instanceof TxPoolError && isTxPoolPenalty(r.error.code),
    ) as { ok: false; error: TxPoolError } | undefined;
    if (invalid !== undefined) {
      this.counters.batchesRejected++;
      this.deps.logger.debug(
        { from: peer, code: invalid.error.code, err: invalid.error.message },
        "tx batch with an invalid tx rejected",
      );
      return "reject";
    }
    return "accept";
  }

  /**
   * Takes one of the peer's admission slots, waiting in its FIFO when all are busy. False when the batch is dropped
   * (the FIFO is full, or the node stops while it waits).
   */
  private async acquireSlot(peer: string, bytes: number): Promise<boolean> {
    if (this.stopped) return false;
    let slots = this.slots.get(peer);
    if (slots === undefined) {
      slots = { busy: 0, waiting: [], waitingBytes: 0 };
      this.slots.set(peer, slots);
    }
    if (slots.busy < this.opts.peerBatchesInFlightMax) {
      slots.busy++;
      return true;
    }
    if (
      slots.waiting.length >= this.opts.peerBatchesQueuedMax ||
      slots.waitingBytes + bytes > this.opts.peerBatchesQueuedBytesMax
    ) {
      this.noteDropped(peer, slots);
      return false;
    }
    this.counters.batchesQueued++;
    slots.waitingBytes += bytes;
    const waiting = slots.waiting;
    return new Promise<boolean>((wake) => waiting.push({ bytes, wake }));
  }

  /** Hands the slot to the peer's next waiting batch, or frees it. */
  private releaseSlot(peer: string): void {
    const slots = this.slots.get(peer);
    if (slots === undefined) return;
    const next = slots.waiting.shift();
    if (next !== undefined) {
      slots.waitingBytes -= next.bytes;
      next.wake(true);
      return;
    }
    slots.busy--;
    if (slots.busy === 0) this.slots.delete(peer);
  }

  /** A dropped batch loses its txs for this node: an operator must see it (rate-limited). */
  private noteDropped(peer: string, slots: PeerSlots): void {
    this.counters.batchesDropped++;
    this.droppedSinceWarn++;
    const now = Date.now();
    if (this.lastDropWarnMs !== null && now - this.lastDropWarnMs < this.opts.dropWarnIntervalMs) return;
    this.deps.logger.warn(
      {
        peer,
        dropped: this.droppedSinceWarn,
        waiting: slots.waiting.length,
        waitingBytes: slots.waitingBytes,
      },
      "tx gossip from a peer dropped: its admission queue is full (this node admits txs slower than they arrive)",
    );
    this.lastDropWarnMs = now;
    this.droppedSinceWarn = 0;
  }
}
