import type { Transport } from "../network/index.js";
import { type AddResult, isTxPoolPenalty, TxPoolError, type TxPoolInterface } from "../txpool/index.js";
import type { Transaction } from "../types/index.js";
import { errorMessage } from "../util/errors.js";
import { bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import { decodeTxBatch, encodeTxBatch, TX_BATCH_TXS_MAX } from "./wire.js";

export interface TxGossipOptions {
  /** Transactions from local clients are batched for at most this long before they are gossiped. */
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
   * Batches from one peer being admitted at once; more are dropped (ignored: not relayed, no blame) until one
   * finishes. A batch is up to TX_BATCH_TXS_MAX signature recoveries and state reads: this bounds the work one
   * peer can queue on us. 4: an honest member flushes one batch per flushIntervalMs, admitted well within that.
   */
  peerBatchesInFlightMax: number;
}

export const defaultTxGossipOptions: TxGossipOptions = {
  // 50 ms (was 20): ~2.5× fewer gossip messages per tx on every member (gossipsub costs per message); the extra
  // delay is small next to a block time. Benchmarked on consort4 (bench, 28 Nov): within noise, slightly ahead.
  flushIntervalMs: 50,
  batchBytesMax: 512 * 1024,
  bufferTxsMax: 50_000,
  catchUpTxsMax: 10_000,
  catchUpDelayMs: 1000,
  peerBatchesInFlightMax: 4,
};

/**
 * Spreads transactions submitted to this node to every member in batches (gossipsub costs per message, not per
 * byte: PERF.md), and feeds batches from peers into the pool. Only locally submitted txs are re-published: gossipsub
 * itself forwards messages through the mesh, once this handler accepted them.
 *
 * What a peer can make us do is bounded: batches of at most TX_BATCH_TXS_MAX txs (decoding checks it), at most
 * peerBatchesInFlightMax of its batches admitted at once (beyond: dropped), and a batch that does not decode or
 * carries a tx that can never be valid (bad signature, wrong chain or group, oversized) is rejected: not relayed,
 * and the peer penalized by the network (repeat offenders are banned). Honest members only publish txs their own
 * pool admitted, so they never send such a batch.
 */
export class TxGossip {
  private buffer: Uint8Array[] = [];
  private bufferBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void)[] = [];
  /** Pending catch-up sends, by peer (at most one per connected peer). */
  private readonly catchUpTimers = new Map<string, NodeJS.Timeout>();
  /** Batches being admitted, by peer (hex node ID). */
  private readonly inFlight = new Map<string, number>();
  readonly counters = {
    batchesOut: 0,
    batchesIn: 0,
    txsIn: 0,
    dropped: 0,
    catchUpTxsOut: 0,
    /** Peer batches dropped because that peer had peerBatchesInFlightMax in admission. */
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
    this.timer = setInterval(() => this.flush(), this.opts.flushIntervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    for (const t of this.catchUpTimers.values()) clearTimeout(t);
    this.catchUpTimers.clear();
    for (const u of this.unsubscribe) u();
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
  }

  private flush(): void {
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
    const busy = this.inFlight.get(peer) ?? 0;
    if (busy >= this.opts.peerBatchesInFlightMax) {
      this.counters.batchesDropped++;
      return "ignore";
    }
    let raws: Uint8Array[];
    try {
      raws = decodeTxBatch(data);
    } catch (err) {
      this.counters.batchesRejected++;
      this.deps.logger.debug({ from: peer, err: errorMessage(err) }, "malformed tx batch");
      return "reject";
    }
    this.counters.batchesIn++;
    this.counters.txsIn += raws.length;
    this.inFlight.set(peer, busy + 1);
    let results: AddResult[];
    try {
      results = await this.deps.txpool.addBatch(raws, { origin: "peer" });
    } finally {
      const n = (this.inFlight.get(peer) ?? 1) - 1;
      if (n > 0) this.inFlight.set(peer, n);
      else this.inFlight.delete(peer);
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
}
