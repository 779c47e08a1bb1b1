import { TxPoolError } from "./errors.js";

export interface TxPoolOptions {
  chainId: bigint;
  groupId: string;
  /**
   * Transactions held at most. FISCO's txpool.limit is 15000; we default to 100_000 so load bursts (bench, SDK
   * batch sends) queue instead of failing. A decoded plain transfer costs about 1–1.5 KB of heap: ~150 MB at the cap.
   */
  countMax: number;
  /** Sum of raw transaction bytes held at most (256 MiB). */
  bytesMax: number;
  /** Largest raw transaction accepted (128 KiB; geth's txMaxSize is 128 KiB too). Checked before decoding. */
  txBytesMax: number;
  /** Native txs: accepted while height < blockLimit <= height + blockLimitWindow (FISCO: 1000). */
  blockLimitWindow: number;
  /**
   * Ethereum txs: nonce must be in [accountNonce, accountNonce + nonceGapMax). Also bounds the pending txs of one
   * Ethereum sender to nonceGapMax. Default 1024 (not geth's 64-slot queue): a load generator or an SDK batch
   * from ONE account must be able to keep more than a block's worth of txs in flight.
   */
  nonceGapMax: number;
  /** Native txs pending from one sender at most (native txs have no nonce window to bound them). */
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
}

export const defaultTxPoolOptions: Omit<TxPoolOptions, "chainId" | "groupId"> = {
  countMax: 100_000,
  bytesMax: 256 * 1024 * 1024,
  txBytesMax: 128 * 1024,
  blockLimitWindow: 1000,
  nonceGapMax: 1024,
  nativeSenderCountMax: 100_000,
  ttlMs: 600_000,
  minGasPrice: 0n,
  priceBumpPercent: 10,
  feesCharged: false,
  pendingViewMax: 10_000,
};

export type TxPoolOptionsInput = Pick<TxPoolOptions, "chainId" | "groupId"> & Partial<TxPoolOptions>;

/** Fills defaults and checks ranges; throws TXPOOL_OPTIONS naming the field. */
export function resolveTxPoolOptions(input: TxPoolOptionsInput): TxPoolOptions {
  const opts: TxPoolOptions = { ...defaultTxPoolOptions, ...stripUndefined(input) } as TxPoolOptions;
  const positiveInts = [
    "countMax",
    "bytesMax",
    "txBytesMax",
    "blockLimitWindow",
    "nonceGapMax",
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
  if (!Number.isSafeInteger(opts.priceBumpPercent) || opts.priceBumpPercent < 0) {
    throw new TxPoolError("TXPOOL_OPTIONS", "txpool.priceBumpPercent must be a non-negative integer", {
      field: "priceBumpPercent",
    });
  }
  if (opts.txBytesMax > opts.bytesMax) {
    throw new TxPoolError("TXPOOL_OPTIONS", "txpool.txBytesMax must not exceed txpool.bytesMax", {
      field: "txBytesMax",
    });
  }
  if (typeof opts.groupId !== "string" || opts.groupId.length === 0) {
    throw new TxPoolError("TXPOOL_OPTIONS", "txpool.groupId must be a non-empty string", {
      field: "groupId",
    });
  }
  return opts;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
