import { availableParallelism } from "node:os";
import { RECOVERY_THREADS_MAX } from "../crypto/index.js";
import { definedOnly } from "../util/objects.js";
import { TxPoolError } from "./errors.js";

export interface TxPoolOptions {
  chainId: bigint;
  groupId: string;
  /**
   * Transactions held at most. FISCO's txpool.limit is 15000; we default to 100_000 so load bursts (bench, SDK
   * batch sends) queue instead of failing. A decoded plain transfer costs about 1–1.5 KB of heap: ~150 MB at the cap.
   * The one default: node.json's `txpool.countMax` only overrides it when set. When full, see makeRoom
   * (admission.ts) for what is evicted.
   */
  countMax: number;
  /** Sum of raw transaction bytes held at most (256 MiB). */
  bytesMax: number;
  /** Largest raw transaction accepted (128 KiB; geth's txMaxSize is 128 KiB too). Checked before decoding. */
  txBytesMax: number;
  /** Native txs: accepted while height < blockLimit <= height + blockLimitWindow (FISCO: 1000). */
  blockLimitWindow: number;
  /**
   * Pending txs one sender may hold (Ethereum and native together): its share of the pool. 4096 = four full blocks
   * at the default tx_count_limit (1000), so a load generator or an SDK batch from ONE account keeps blocks full,
   * while filling the default pool (countMax) takes at least 25 senders. Over it: TXPOOL_SENDER_LIMIT,
   * "account limit exceeded: N pending".
   */
  senderCountMax: number;
  /**
   * Raw bytes one sender may hold (16 MiB): 128 of the largest txs (txBytesMax), or 4096 txs of 4 KiB. Filling the
   * default bytesMax takes at least 16 senders.
   */
  senderBytesMax: number;
  /**
   * Ethereum txs: a nonce more than this far above the sender's next free nonce (the committed nonce plus its
   * consecutive pooled txs) is refused, "nonce too high". Txs behind a gap cannot be sealed, so at most this many
   * of a sender's txs wait for a missing nonce. 256 (geth queues 64 per account): a client that spreads consecutive
   * nonces over several nodes with hundreds of requests in flight has them arrive out of order by about that much.
   */
  nonceGapMax: number;
  /**
   * Native txs one sender may hold (within senderCountMax). Native txs have no nonce order, so nothing else bounds
   * how many of them a sender keeps waiting; lower it to reserve a sender's share for Ethereum txs.
   */
  nativeSenderCountMax: number;
  /** Drop transactions that stayed longer than this (FISCO txs_expiration_time: 600 s). In-flight txs are kept. */
  ttlMs: number;
  /** Minimum effective gas price (zero-fee chain: 0). A function is read on every add (system config is dynamic). */
  minGasPrice: bigint | (() => bigint);
  /** Same (sender, nonce) replaces a pending tx only if its price is at least this many percent higher (geth: 10). */
  priceBumpPercent: number;
  /**
   * true: the balance must cover value + gasLimit * price (geth). false (default, zero-fee chain whose executor
   * charges no gas): the balance must cover value only.
   */
  feesCharged: boolean;
  /** Upper bound of `pending()` views. */
  pendingViewMax: number;
  /**
   * Admissions (decode, sender recovery, checks) run at most this long per event-loop turn (LoopSlicer); the rest
   * wait for the next turn. Ingestion is not on the critical path of consensus: under load, a proposal's
   * execution, votes and disk reads get the loop between slices instead of queueing behind every batch and request
   * that arrived. 0: no limit.
   */
  admissionSliceMs: number;
  /**
   * Worker threads that recover the senders of admitted txs (RecoveryThreads, src/crypto): the native recovery is
   * ~65 µs of every tx, the largest single item of a busy node's event loop, which also serves RPC, gossip and
   * consensus. 0: recover on the event loop. The default takes one of the machine's other cores when it has one.
   */
  recoveryThreads: number;
}

export const defaultTxPoolOptions: Omit<TxPoolOptions, "chainId" | "groupId"> = {
  countMax: 100_000,
  bytesMax: 256 * 1024 * 1024,
  txBytesMax: 128 * 1024,
  blockLimitWindow: 1000,
  senderCountMax: 4096,
  senderBytesMax: 16 * 1024 * 1024,
  nonceGapMax: 256,
  nativeSenderCountMax: 4096,
  ttlMs: 600_000,
  minGasPrice: 0n,
  priceBumpPercent: 10,
  feesCharged: false,
  pendingViewMax: 10_000,
  admissionSliceMs: 4,
  recoveryThreads: availableParallelism() > 1 ? 1 : 0,
};

export type TxPoolOptionsInput = Pick<TxPoolOptions, "chainId" | "groupId"> & Partial<TxPoolOptions>;

/** Fills defaults and checks ranges; throws TXPOOL_OPTIONS naming the field. */
export function resolveTxPoolOptions(input: TxPoolOptionsInput): TxPoolOptions {
  const opts: TxPoolOptions = { ...defaultTxPoolOptions, ...definedOnly(input) } as TxPoolOptions;
  const positiveInts = [
    "countMax",
    "bytesMax",
    "txBytesMax",
    "blockLimitWindow",
    "senderCountMax",
    "senderBytesMax",
    "nativeSenderCountMax",
    "ttlMs",
    "pendingViewMax",
  ] as const;
  for (const field of positiveInts) {
    const v = opts[field];
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new TxPoolError("TXPOOL_OPTIONS", `txpool.${field} must be a positive integer`, { field });
    }
  }
  for (const field of ["priceBumpPercent", "nonceGapMax", "admissionSliceMs"] as const) {
    if (!Number.isSafeInteger(opts[field]) || opts[field] < 0) {
      throw new TxPoolError("TXPOOL_OPTIONS", `txpool.${field} must be a non-negative integer`, { field });
    }
  }
  if (
    !Number.isSafeInteger(opts.recoveryThreads) ||
    opts.recoveryThreads < 0 ||
    opts.recoveryThreads > RECOVERY_THREADS_MAX
  ) {
    throw new TxPoolError(
      "TXPOOL_OPTIONS",
      `txpool.recoveryThreads must be an integer in 0..${RECOVERY_THREADS_MAX}`,
      { field: "recoveryThreads" },
    );
  }
  const notAbove = [
    ["senderCountMax", "countMax"],
    ["nativeSenderCountMax", "senderCountMax"],
    ["senderBytesMax", "bytesMax"],
    ["txBytesMax", "senderBytesMax"],
  ] as const;
  const given = definedOnly(input);
  for (const [field, bound] of notAbove) {
    // A share left at its default follows a smaller pool bound (a 100-tx pool gives each sender up to 100).
    if (!(field in given) && opts[field] > opts[bound]) opts[field] = opts[bound];
    if (opts[field] > opts[bound]) {
      throw new TxPoolError("TXPOOL_OPTIONS", `txpool.${field} must not exceed txpool.${bound}`, { field });
    }
  }
  if (typeof opts.groupId !== "string" || opts.groupId.length === 0) {
    throw new TxPoolError("TXPOOL_OPTIONS", "txpool.groupId must be a non-empty string", {
      field: "groupId",
    });
  }
  return opts;
}
