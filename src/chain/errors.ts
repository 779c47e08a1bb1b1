import { ConsortError } from "../util/errors.js";

export type ChainErrorCode =
  | "CHAIN_GENESIS_MISMATCH"
  | "CHAIN_BAD_PARENT"
  | "CHAIN_BAD_HEIGHT"
  | "CHAIN_BAD_TIMESTAMP"
  | "CHAIN_ROOT_MISMATCH"
  | "CHAIN_BAD_CERTIFICATE"
  | "CHAIN_BAD_PROPOSER"
  | "CHAIN_NOT_EXECUTED"
  /** The summed gas limits of a block's txs exceed block_gas_limit (the proposer misbehaved). */
  | "CHAIN_BLOCK_GAS_LIMIT_EXCEEDED"
  /** A compact proposal lists txs this node has not got and could not fetch (invalid for now). */
  | "CHAIN_MISSING_TXS";

/** A block that cannot join this chain, or a data dir that belongs to another chain. */
export class ChainError extends ConsortError<ChainErrorCode> {}
