import { ConsortError } from "../util/errors.js";

/**
 * Why the pool refused a transaction. Messages follow geth's wording (ethers and viem map on the text):
 * "already known", "nonce too low", "nonce too high", "replacement transaction underpriced",
 * "transaction underpriced", "insufficient funds for gas * price + value", "txpool is full", "account limit exceeded", "oversized data",
 * "exceeds block gas limit", "intrinsic gas too low". Native (FISCO-style) rejections have their own wording.
 */
export type TxPoolErrorCode =
  | "TXPOOL_ALREADY_KNOWN"
  | "TXPOOL_NONCE_TOO_LOW"
  | "TXPOOL_NONCE_TOO_HIGH"
  | "TXPOOL_UNDERPRICED"
  | "TXPOOL_INSUFFICIENT_FUNDS"
  /** The pool is at countMax or bytesMax and no larger holder has a tx to evict (see makeRoom in admission.ts). */
  | "TXPOOL_FULL"
  /** The sender holds its whole share: txpool.senderCountMax / senderBytesMax / nativeSenderCountMax. */
  | "TXPOOL_SENDER_LIMIT"
  | "TXPOOL_OVERSIZED"
  | "TXPOOL_GAS_LIMIT"
  /** Undecodable, bad signature, wrong chain id, fee fields inconsistent (wraps the CodecError as `cause`). */
  | "TXPOOL_INVALID"
  | "TXPOOL_BLOCK_LIMIT"
  | "TXPOOL_NONCE_USED"
  | "TXPOOL_WRONG_GROUP"
  /** On-chain permissions refuse it (frozen account, deploy or method ACL, frozen contract): the message names the rule. */
  | "TXPOOL_NOT_PERMITTED"
  /** Bad pool options at startup (meta.field names the option). */
  | "TXPOOL_OPTIONS";

export class TxPoolError extends ConsortError<TxPoolErrorCode> {}

/** Codes that mean "the sender (or relaying peer) sent something that can never be valid". */
export function isTxPoolPenalty(code: TxPoolErrorCode): boolean {
  return code === "TXPOOL_INVALID" || code === "TXPOOL_OVERSIZED" || code === "TXPOOL_WRONG_GROUP";
}
