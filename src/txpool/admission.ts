import type { EthereumTx, NativeTx, Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";
import { ConsortError, errorMessage } from "../util/errors.js";
import { TxPoolError, type TxPoolErrorCode } from "./errors.js";
import { effectiveGasPrice, gasFeeCap, INITCODE_BYTES_MAX, intrinsicGas } from "./gas.js";
import type { TxPoolDeps } from "./interface.js";
import type { TxPoolOptions } from "./options.js";
import { type Entry, keyOf, type PendingSet, type SenderQueue } from "./pending.js";

/**
 * The admission rules: what a tx must satisfy alone (static), against committed state (reads), and against the pool
 * (nonces, per-sender bounds, room). Throws TxPoolError with geth's wording where geth has one.
 */

const TIP_ABOVE_FEE_CAP = "max priority fee per gas higher than max fee per gas";

/** Results of the async reads an admission needs; absent when not needed. */
export interface StateReads {
  accountNonce?: bigint;
  balance?: bigint;
  nonceInLedger?: boolean;
}

export function reject(
  code: TxPoolErrorCode,
  message: string,
  meta: Record<string, unknown> = {},
): TxPoolError {
  return new TxPoolError(code, message, meta);
}

export function alreadyKnown(key: string): TxPoolError {
  return reject("TXPOOL_ALREADY_KNOWN", "already known", { hash: `0x${key}` });
}

export function nonceUsed(tx: NativeTx): TxPoolError {
  return reject("TXPOOL_NONCE_USED", "nonce already used", { nonce: `0x${keyOf(tx.nonce)}` });
}

/** Maps a decoding failure to geth's wording. */
export function invalidTx(err: unknown): TxPoolError {
  const codecCode = err instanceof ConsortError ? err.code : undefined;
  if (codecCode === "CODEC_INVALID_FIELD" && (err as ConsortError).meta.field === "maxPriorityFeePerGas") {
    return new TxPoolError("TXPOOL_INVALID", TIP_ABOVE_FEE_CAP, { codecCode }, { cause: err });
  }
  // geth: a signature or chain id the signer rejects is "invalid sender: …"
  const message =
    codecCode === "CODEC_WRONG_CHAIN_ID" || codecCode === "CODEC_INVALID_SIGNATURE"
      ? `invalid sender: ${errorMessage(err)}`
      : `invalid transaction: ${errorMessage(err)}`;
  return new TxPoolError("TXPOOL_INVALID", message, { codecCode }, { cause: err });
}

/** Rules that depend on the tx alone (and dynamic config): no pool state. */
export function validateStatic(tx: Transaction, opts: TxPoolOptions, deps: TxPoolDeps): void {
  if (tx.raw.length > opts.txBytesMax) {
    throw reject("TXPOOL_OVERSIZED", `oversized data: transaction size ${tx.raw.length}`);
  }
  if (tx.chainId !== opts.chainId) {
    throw reject("TXPOOL_INVALID", "invalid sender: invalid chain id for signer", {
      chainId: tx.chainId.toString(),
    });
  }
  if (tx.type === TxType.Native) {
    if (tx.groupId !== opts.groupId) {
      throw reject("TXPOOL_WRONG_GROUP", `invalid group id: expected ${opts.groupId}, got ${tx.groupId}`);
    }
    checkBlockLimit(tx, deps.chain.height(), opts.blockLimitWindow);
  }
  if (tx.to === null && tx.input.length > INITCODE_BYTES_MAX) {
    throw reject(
      "TXPOOL_OVERSIZED",
      `max initcode size exceeded: code size ${tx.input.length} limit ${INITCODE_BYTES_MAX}`,
    );
  }
  const gasLimitMax = deps.txGasLimit();
  if (tx.gasLimit > gasLimitMax) {
    throw reject("TXPOOL_GAS_LIMIT", `exceeds block gas limit: gas ${tx.gasLimit}, limit ${gasLimitMax}`);
  }
  const intrinsic = intrinsicGas(tx);
  if (tx.gasLimit < intrinsic) {
    throw reject(
      "TXPOOL_GAS_LIMIT",
      `intrinsic gas too low: gas ${tx.gasLimit}, minimum needed ${intrinsic}`,
    );
  }
  if (tx.type === TxType.FeeMarket && tx.maxPriorityFeePerGas > tx.maxFeePerGas) {
    throw reject("TXPOOL_INVALID", TIP_ABOVE_FEE_CAP);
  }
  const minPrice = typeof opts.minGasPrice === "function" ? opts.minGasPrice() : opts.minGasPrice;
  const price = effectiveGasPrice(tx);
  if (price < minPrice) {
    throw reject(
      "TXPOOL_UNDERPRICED",
      `transaction underpriced: gas price ${price}, minimum needed ${minPrice}`,
    );
  }
}

export function checkBlockLimit(tx: NativeTx, height: number, window: number): void {
  if (tx.blockLimit <= height) {
    throw reject("TXPOOL_BLOCK_LIMIT", `block limit expired: blockLimit ${tx.blockLimit}, height ${height}`);
  }
  if (tx.blockLimit > height + window) {
    throw reject(
      "TXPOOL_BLOCK_LIMIT",
      `block limit too far ahead: blockLimit ${tx.blockLimit}, max ${height + window}`,
    );
  }
}

/** What the sender's balance must cover. */
export function txCost(tx: Transaction, opts: TxPoolOptions): bigint {
  return opts.feesCharged ? tx.value + tx.gasLimit * gasFeeCap(tx) : tx.value;
}

export function checkBalance(tx: Transaction, reads: StateReads, opts: TxPoolOptions): void {
  const cost = txCost(tx, opts);
  if (cost === 0n) return;
  const balance = reads.balance ?? 0n;
  if (balance < cost) {
    throw reject(
      "TXPOOL_INSUFFICIENT_FUNDS",
      `insufficient funds for gas * price + value: balance ${balance}, tx cost ${cost}`,
      { balance: balance.toString(), cost: cost.toString() },
    );
  }
}

/**
 * Nonce rules of an Ethereum tx against the sender's base (the next nonce committed state expects): not below it,
 * at most `nonceGapMax` above the sender's next free nonce (txs behind a gap cannot be sealed, so at most that many
 * of a sender's txs wait on a gap), and a same-nonce replacement only with geth's price bump.
 */
export function checkEthereumNonce(
  pending: PendingSet,
  opts: TxPoolOptions,
  tx: EthereumTx,
  base: bigint,
  queue: SenderQueue | undefined,
  checkGap = true,
): void {
  if (tx.nonce < base) {
    throw reject("TXPOOL_NONCE_TOO_LOW", `nonce too low: next nonce ${base}, tx nonce ${tx.nonce}`);
  }
  const existing = queue?.byNonce.get(tx.nonce);
  if (existing !== undefined) {
    if (!canReplace(pending, opts, existing, tx)) {
      throw reject("TXPOOL_UNDERPRICED", "replacement transaction underpriced", {
        nonce: tx.nonce.toString(),
      });
    }
    return;
  }
  if (!checkGap) return;
  const next = queue === undefined ? base : pending.nextFreeNonce(queue, base);
  if (tx.nonce - next > BigInt(opts.nonceGapMax)) {
    throw reject(
      "TXPOOL_NONCE_TOO_HIGH",
      `nonce too high: next nonce ${next}, tx nonce ${tx.nonce}, gap limit ${opts.nonceGapMax}`,
      { next: next.toString(), nonce: tx.nonce.toString(), nonceGapMax: opts.nonceGapMax },
    );
  }
}

/** geth's rule: not in a proposal, and the price bumped by priceBumpPercent (strictly higher when it was 0). */
function canReplace(pending: PendingSet, opts: TxPoolOptions, existing: Entry, tx: Transaction): boolean {
  if (pending.inFlight.has(existing.key)) return false;
  const oldPrice = effectiveGasPrice(existing.tx);
  const newPrice = effectiveGasPrice(tx);
  return newPrice > oldPrice && newPrice * 100n >= oldPrice * BigInt(100 + opts.priceBumpPercent);
}

/**
 * The per-sender share: pending txs, their bytes, and native txs. `replacing` is the tx a same-nonce replacement
 * takes out (its count and bytes are freed).
 */
export function checkSenderShare(
  opts: TxPoolOptions,
  tx: Transaction,
  queue: SenderQueue | undefined,
  replacing: Entry | undefined,
): void {
  const senderHex = `0x${keyOf(tx.sender)}`;
  const count = (queue?.count ?? 0) + (replacing === undefined ? 1 : 0);
  if (count > opts.senderCountMax) {
    throw reject("TXPOOL_SENDER_LIMIT", `account limit exceeded: ${queue?.count ?? 0} pending`, {
      sender: senderHex,
      limit: opts.senderCountMax,
      option: "txpool.senderCountMax",
    });
  }
  const bytes = (queue?.bytes ?? 0) + tx.raw.length - (replacing?.size ?? 0);
  if (bytes > opts.senderBytesMax) {
    throw reject("TXPOOL_SENDER_LIMIT", `account limit exceeded: ${queue?.bytes ?? 0} bytes pending`, {
      sender: senderHex,
      limit: opts.senderBytesMax,
      option: "txpool.senderBytesMax",
    });
  }
  if (tx.type === TxType.Native && (queue?.native.size ?? 0) >= opts.nativeSenderCountMax) {
    throw reject("TXPOOL_SENDER_LIMIT", `account limit exceeded: ${queue?.native.size ?? 0} native pending`, {
      sender: senderHex,
      limit: opts.nativeSenderCountMax,
      option: "txpool.nativeSenderCountMax",
    });
  }
}

/** An insert evicts at most this many txs to make room (a large tx may need several small ones to go). */
const EVICTIONS_PER_INSERT_MAX = 16;

/**
 * Makes room for `count` more txs of `size` more bytes, or throws "txpool is full".
 *
 * Eviction rule: while the pool is over a bound, the sender holding the MOST pending txs loses its newest tx (its
 * highest Ethereum nonce, so what remains stays sealable; or its newest native tx), never one in flight, and only
 * if that sender would still hold more than the newcomer's sender after the add. So a full pool always takes a tx
 * from a sender with fewer pending txs than the largest holder (the flooder pays), and refuses one from the largest
 * holder itself: a flood cannot push other senders' txs out, and two senders cannot evict each other back and forth.
 * Returns the evicted entries (already removed).
 */
export function makeRoom(
  pending: PendingSet,
  opts: TxPoolOptions,
  size: number,
  count: number,
  queue: SenderQueue | undefined,
): Entry[] {
  const evicted: Entry[] = [];
  const over = () => pending.size() + count > opts.countMax || pending.totalBytes + size > opts.bytesMax;
  while (over()) {
    const victim = evicted.length < EVICTIONS_PER_INSERT_MAX ? pickVictim(pending, queue, count) : undefined;
    if (victim === undefined) {
      throw reject("TXPOOL_FULL", "txpool is full", {
        count: pending.size(),
        bytes: pending.totalBytes,
        evicted: evicted.length,
      });
    }
    pending.remove(victim);
    evicted.push(victim);
  }
  return evicted;
}

function pickVictim(pending: PendingSet, queue: SenderQueue | undefined, count: number): Entry | undefined {
  const largest = pending.largestSenders();
  const ownAfter = (queue?.count ?? 0) + count;
  if (largest.count <= ownAfter) return undefined;
  for (const senderKey of largest.senders) {
    const q = pending.sender(senderKey);
    const victim = q === undefined ? undefined : pending.evictionCandidate(q);
    if (victim !== undefined) return victim;
  }
  return undefined;
}
