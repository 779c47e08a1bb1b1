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
  /** The parent is neither the head nor a block executed here (not yet, or replaced by a committed block). */
  | "CHAIN_UNKNOWN_PARENT"
  /** An uncommitted parent changes the validator set or the system config: build on it after its commit. */
  | "CHAIN_PARENT_NOT_PIPELINEABLE"
  /** Commit of a block whose parent is not the head (not committed yet, or replaced). */
  | "CHAIN_PARENT_NOT_HEAD"
  /** A pipelined block repeats a tx of its uncommitted parents. */
  | "CHAIN_DUPLICATE_TX"
  /** A compact proposal lists txs this node has not got and could not fetch (invalid for now). */
  | "CHAIN_MISSING_TXS";

/** A block that cannot join this chain, or a data dir that belongs to another chain. */
export class ChainError extends ConsortError<ChainErrorCode> {}
