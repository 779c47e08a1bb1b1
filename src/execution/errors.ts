import { ConsortError } from "../util/errors.js";

export type ExecutionErrorCode =
  /** "verify" mode: a transaction of the block is invalid now (meta: txIndex, txHash, reason, code). */
  | "EXEC_INVALID_BLOCK"
  /** The state reader (the ledger's LevelDB) failed. */
  | "EXEC_STATE_UNAVAILABLE"
  /** A stored state value could not be decoded: a corrupt database or a layout bug. */
  | "EXEC_STATE_CORRUPT"
  /** The genesis spec is not valid (unknown or invalid system config key, bad node list…). */
  | "EXEC_INVALID_GENESIS"
  /** An eth_call / estimateGas request is malformed. */
  | "EXEC_INVALID_CALL"
  /** An eth_call / estimateGas sends more value than its sender holds (meta: address, balance, value). */
  | "EXEC_INSUFFICIENT_FUNDS"
  /** An eth_call / estimateGas run exceeded its wall-clock budget (meta: timeBudgetMs). Message in geth's wording. */
  | "EXEC_CALL_TIMEOUT"
  /** The EVM threw an internal error (not a revert): a bug in the EVM or in our state manager. */
  | "EXEC_INTERNAL";

export class ExecutionError extends ConsortError<ExecutionErrorCode> {}

/** Why a transaction cannot be included in a block now. */
export type RejectCode =
  | "WRONG_CHAIN_ID"
  | "WRONG_GROUP_ID"
  | "NONCE_TOO_LOW"
  | "NONCE_TOO_HIGH"
  | "NONCE_MAX"
  | "NATIVE_NONCE_REUSED"
  | "BLOCK_LIMIT_EXPIRED"
  | "BLOCK_LIMIT_TOO_FAR"
  | "INSUFFICIENT_BALANCE"
  | "INTRINSIC_GAS_TOO_LOW"
  | "TX_GAS_LIMIT_EXCEEDED"
  | "BLOCK_GAS_LIMIT_REACHED"
  | "BLOCK_TX_COUNT_LIMIT_REACHED"
  | "INIT_CODE_TOO_LARGE"
  | "SENDER_HAS_CODE"
  | "FEE_CAP_BELOW_TIP"
  /** The sender is frozen or abolished (governance account status). */
  | "ACCOUNT_NOT_NORMAL"
  | "EXECUTION_FAILED";

/** Codes after which the same transaction may become valid in a later block (keep it in the pool). */
export const RETRYABLE_REJECT_CODES: ReadonlySet<RejectCode> = new Set<RejectCode>([
  "NONCE_TOO_HIGH",
  "INSUFFICIENT_BALANCE",
  "BLOCK_GAS_LIMIT_REACHED",
  "BLOCK_TX_COUNT_LIMIT_REACHED",
]);
