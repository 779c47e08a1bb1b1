import { Worker } from "node:worker_threads";
import type { Address, Hash } from "../types/index.js";
import { CryptoError } from "./errors.js";
import { checkRecoveryInput, countThreadRecoveries, recoverAddress } from "./secp256k1.js";

/** Bytes of one request in a batch: message hash (32), r||s (64), recovery id (1). recoverBatch.mjs reads them. */
const ITEM_BYTES = 97;
/** Bytes of one answer: a status byte (1 = recovered), the address (20). */
const ANSWER_BYTES = 21;
/** Requests in one message to a worker at most. */
const BATCH_ITEMS_MAX = 256;
/**
 * Messages a worker holds unanswered at most. A message costs the event loop ~20 µs whatever it carries; under load
 * a request (an RPC call) often comes alone in its loop turn, so the requests wait while the worker is busy with
 * two messages and go out together with its next answer: few large messages when busy, one at once when idle.
 */
const BATCHES_IN_FLIGHT_MAX = 2;

/**
 * What `close` sends a worker: finish the message at hand, then close your port and end (recoveryWorker.mjs). On
 * Node 24 `worker.terminate()` on a worker that had used the native secp256k1 binding aborted the whole process now
 * and then (V8 "Check failed: (location_) != nullptr"): 5 to 8 of 25 runs of 40 start/recover/close cycles, none of
 * 50 with workers that end themselves. Node 20 never did.
 */
export const CLOSE_MESSAGE = "close";
/** How long `close` waits for a worker to end itself before it terminates it (a hung or foreign worker script). */
export const WORKER_EXIT_WAIT_MS = 2000;

/** Thread counts accepted (0: every recovery on the calling thread). */
export const RECOVERY_THREADS_MAX = 16;
/** Default bound of recoveries queued or in flight; past it a recovery runs on the calling thread (backpressure). */
export const RECOVERY_PENDING_MAX_DEFAULT = 8192;

export interface RecoveryThreadsOptions {
  /** Worker threads (0..RECOVERY_THREADS_MAX); 0 recovers on the calling thread. */
  threads: number;
  /** Recoveries queued or in flight at most (default RECOVERY_PENDING_MAX_DEFAULT). */
  pendingMax?: number;
  /** Told once when a worker fails (it did not start, crashed or exited): its work and all later work run inline. */
  onWorkerFailure?: (err: Error) => void;
  /** The worker script (default: recoveryWorker.mjs beside this module). Tests give stand-ins that speak its protocol. */
  workerUrl?: URL;
  /** Passed to each worker as its workerData (for a stand-in). */
  workerData?: unknown;
  /** How long `close` waits for a worker to end itself (default WORKER_EXIT_WAIT_MS). */
  exitWaitMs?: number;
}

export interface RecoveryThreadsStats {
  threads: number;
  /** Recoveries answered by a worker thread. */
  inThreads: number;
  /** Recoveries made on the calling thread: no usable worker, the pending bound reached, or after close. */
  inline: number;
  /** Messages sent to the workers (each up to BATCH_ITEMS_MAX recoveries). */
  batches: number;
  /** Workers running now (loaded and not failed or stopped). */
  online: number;
}

interface Waiting {
  msgHash: Hash;
  signature: Uint8Array;
  recovery: number;
  resolve: (address: Address) => void;
  reject: (err: Error) => void;
}

interface Slot {
  worker: Worker;
  /** Batches sent and not answered, by message id. */
  batches: Map<number, Waiting[]>;
  inFlight: number;
  /** The worker has loaded its script (its 'online' event). */
  online: boolean;
  dead: boolean;
  /** The thread has ended (its 'exit' event). */
  exited: boolean;
}

/**
 * Recovers transaction senders on worker threads, so the event loop that serves RPC, gossip and consensus does not
 * spend ~65 µs of native secp256k1 on each transaction it admits (the largest single item of a busy validator's
 * main thread: docs/benchmarks.md). Requests made in one event-loop turn go to a worker as one message (the
 * least-loaded one; while every worker holds BATCHES_IN_FLIGHT_MAX unanswered, they wait for the next answer),
 * answered in order; the caller's promise gets the address or a CRYPTO_INVALID_SIGNATURE error,
 * as `recoverAddress` would give. Same binding, same checks in both places: a sender never depends on where it
 * was recovered. Workers start on first use, or at `start`, and never keep the process alive on their own. When a worker fails,
 * its unanswered requests and every later one are recovered inline; so are requests past `pendingMax`, and after
 * `close`.
 */
export class RecoveryThreads {
  readonly threads: number;
  private readonly pendingMax: number;
  private readonly onWorkerFailure: (err: Error) => void;
  private readonly workerUrl: URL;
  private readonly workerData: unknown;
  private readonly exitWaitMs: number;
  private slots: Slot[] | null = null;
  private queue: Waiting[] = [];
  private flushScheduled = false;
  private pending = 0;
  private nextBatchId = 0;
  private closed = false;
  private failureReported = false;
  private counts = { inThreads: 0, inline: 0, batches: 0 };

  constructor(opts: RecoveryThreadsOptions) {
    const { threads, pendingMax = RECOVERY_PENDING_MAX_DEFAULT } = opts;
    if (!Number.isSafeInteger(threads) || threads < 0 || threads > RECOVERY_THREADS_MAX) {
      throw new CryptoError(
        "CRYPTO_INVALID_INPUT",
        `recovery threads must be an integer in 0..${RECOVERY_THREADS_MAX}, got ${threads}`,
        { threads },
      );
    }
    if (!Number.isSafeInteger(pendingMax) || pendingMax < 1) {
      throw new CryptoError(
        "CRYPTO_INVALID_INPUT",
        `pendingMax must be a positive integer, got ${pendingMax}`,
        {
          pendingMax,
        },
      );
    }
    this.threads = threads;
    this.pendingMax = pendingMax;
    this.onWorkerFailure = opts.onWorkerFailure ?? (() => {});
    this.workerUrl = opts.workerUrl ?? new URL("./recoveryWorker.mjs", import.meta.url);
    this.workerData = opts.workerData;
    this.exitWaitMs = opts.exitWaitMs ?? WORKER_EXIT_WAIT_MS;
    if (!Number.isFinite(this.exitWaitMs) || this.exitWaitMs < 0) {
      throw new CryptoError("CRYPTO_INVALID_INPUT", `exitWaitMs must be ≥ 0, got ${this.exitWaitMs}`, {
        exitWaitMs: this.exitWaitMs,
      });
    }
  }

  /** The signer's address, as `recoverAddress` gives it; rejects with CRYPTO_INVALID_SIGNATURE when not recoverable. */
  recoverAddress(msgHash: Hash, signature: Uint8Array, recovery: number): Promise<Address> {
    try {
      checkRecoveryInput(msgHash, signature, recovery);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.closed || this.pending >= this.pendingMax || !this.workerSlots().some((slot) => !slot.dead)) {
      return this.inline(msgHash, signature, recovery);
    }
    this.pending++;
    return new Promise<Address>((resolve, reject) => {
      this.queue.push({ msgHash, signature, recovery, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // At the end of this turn: the requests of every request and gossip batch this turn handled go together.
        setImmediate(() => this.flush());
      }
    });
  }

  /**
   * Starts the workers now instead of at the first recovery (a node calls it at start-up: loading a worker and its
   * native binding took ~1 s of the first transaction's admission on a busy machine). They load in their own
   * threads; `stats().online` counts those running.
   */
  start(): void {
    if (!this.closed) this.workerSlots();
  }

  stats(): RecoveryThreadsStats {
    const online = (this.slots ?? []).filter((slot) => slot.online && !slot.dead).length;
    return { threads: this.threads, ...this.counts, online };
  }

  /** Stops the workers; what they had not answered, and every later request, is recovered inline. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.flush();
    const slots = this.slots ?? [];
    await Promise.all(slots.map((slot) => this.stop(slot)));
  }

  /** Asks a worker to end (CLOSE_MESSAGE) and waits for it; terminates it past exitWaitMs. */
  private async stop(slot: Slot): Promise<void> {
    this.retire(slot);
    if (slot.exited) return;
    const exited = new Promise<void>((resolve) => slot.worker.once("exit", () => resolve()));
    slot.worker.ref(); // the process waits for its own threads to end
    slot.worker.postMessage(CLOSE_MESSAGE);
    const timer = setTimeout(() => void slot.worker.terminate(), this.exitWaitMs);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private inline(msgHash: Hash, signature: Uint8Array, recovery: number): Promise<Address> {
    this.counts.inline++;
    try {
      return Promise.resolve(recoverAddress(msgHash, signature, recovery));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Recovers on this thread what was queued or sent (its `pending` count already taken back). */
  private settleInline(items: Waiting[]): void {
    for (const w of items) this.inline(w.msgHash, w.signature, w.recovery).then(w.resolve, w.reject);
  }

  /** Every worker slot, dead ones included (started on first use). */
  private workerSlots(): Slot[] {
    if (this.slots === null) this.slots = this.spawnWorkers();
    return this.slots;
  }

  private spawnWorkers(): Slot[] {
    const slots: Slot[] = [];
    for (let i = 0; i < this.threads; i++) {
      let worker: Worker;
      try {
        worker = new Worker(this.workerUrl, { workerData: this.workerData });
      } catch (err) {
        this.reportFailure(err);
        break;
      }
      worker.unref();
      const slot: Slot = {
        worker,
        batches: new Map(),
        inFlight: 0,
        online: false,
        dead: false,
        exited: false,
      };
      worker.once("online", () => {
        slot.online = true;
      });
      worker.on("message", (answer: { id: number; answers: Uint8Array }) => this.onAnswer(slot, answer));
      worker.on("error", (err) => this.onDeath(slot, err));
      worker.on("exit", (code) => {
        slot.exited = true;
        this.onDeath(slot, new Error(`recovery worker exited (code ${code})`));
      });
      slots.push(slot);
    }
    return slots;
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0) {
      const slot = this.leastLoaded();
      if (slot === null) {
        const items = this.queue.splice(0);
        this.pending -= items.length;
        this.settleInline(items);
        return;
      }
      if (slot.batches.size >= BATCHES_IN_FLIGHT_MAX) return; // the next answer flushes
      const items = this.queue.splice(0, BATCH_ITEMS_MAX);
      const packed = new Uint8Array(items.length * ITEM_BYTES);
      items.forEach((w, i) => {
        packed.set(w.msgHash, i * ITEM_BYTES);
        packed.set(w.signature, i * ITEM_BYTES + 32);
        packed[i * ITEM_BYTES + 96] = w.recovery;
      });
      const id = this.nextBatchId++;
      if (slot.batches.size === 0) slot.worker.ref(); // an answer is awaited: keep the process alive for it
      slot.batches.set(id, items);
      slot.inFlight += items.length;
      this.counts.batches++;
      slot.worker.postMessage({ id, items: packed }, [packed.buffer]);
    }
  }

  /** The live worker with the fewest unanswered messages (then requests), or null: recover inline. */
  private leastLoaded(): Slot | null {
    if (this.closed) return null;
    let best: Slot | null = null;
    for (const slot of this.workerSlots()) {
      if (slot.dead) continue;
      if (
        best === null ||
        slot.batches.size < best.batches.size ||
        (slot.batches.size === best.batches.size && slot.inFlight < best.inFlight)
      ) {
        best = slot;
      }
    }
    return best;
  }

  private onAnswer(slot: Slot, { id, answers }: { id: number; answers: Uint8Array }): void {
    const items = slot.batches.get(id);
    if (items === undefined) return;
    this.forget(slot, id, items);
    this.counts.inThreads += items.length;
    countThreadRecoveries(items.length);
    if (this.queue.length > 0 && !this.flushScheduled) this.flush();
    items.forEach((w, i) => {
      const at = i * ANSWER_BYTES;
      if (answers[at] === 1) w.resolve(answers.slice(at + 1, at + ANSWER_BYTES));
      else w.reject(new CryptoError("CRYPTO_INVALID_SIGNATURE", "public key could not be recovered"));
    });
  }

  private forget(slot: Slot, id: number, items: Waiting[]): void {
    slot.batches.delete(id);
    slot.inFlight -= items.length;
    this.pending -= items.length;
    if (slot.batches.size === 0) slot.worker.unref();
  }

  private onDeath(slot: Slot, err: Error): void {
    if (slot.dead) return;
    if (!this.closed) this.reportFailure(err);
    this.retire(slot);
    if (this.queue.length > 0 && !this.flushScheduled) this.flush(); // to another worker, or inline
  }

  /** The slot takes no more work; what it had not answered is recovered inline. */
  private retire(slot: Slot): void {
    slot.dead = true;
    for (const [id, items] of [...slot.batches]) {
      this.forget(slot, id, items);
      this.settleInline(items);
    }
  }

  private reportFailure(err: unknown): void {
    if (this.failureReported) return;
    this.failureReported = true;
    this.onWorkerFailure(err instanceof Error ? err : new Error(String(err)));
  }
}
