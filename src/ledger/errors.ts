import { ConsortError } from "../util/errors.js";

export type LedgerErrorCode =
  /** The data directory belongs to another chain id / group id. */
  | "LEDGER_CHAIN_MISMATCH"
  /** The data directory was written by an incompatible storage layout version. */
  | "LEDGER_SCHEMA_MISMATCH"
  /** A stored record cannot be decoded or is missing where the layout requires it. `meta.key` names it. */
  | "LEDGER_CORRUPT"
  /** Another process (or another ledger in this process) has the data directory open. */
  | "LEDGER_LOCKED"
  /** The data directory cannot be created or opened for another reason (permissions, disk). */
  | "LEDGER_OPEN_FAILED"
  /** A write failed because the data directory's disk is full (ENOSPC): the node must stop until space is freed. */
  | "LEDGER_DISK_FULL"
  /** An operation after close(). */
  | "LEDGER_CLOSED"
  /** commitBlock with a block that is not head + 1 (or 0 on an empty store). */
  | "LEDGER_NOT_NEXT_BLOCK"
  /** commitBlock with a block whose parentHash is not the head's hash. */
  | "LEDGER_PARENT_MISMATCH"
  /** commitBlock with inconsistent input: certificate, receipts, roots, chain id / group id. `meta.reason`. */
  | "LEDGER_INVALID_COMMIT"
  /** getStateAt / stateReaderAt for a block older than the state history window (`stateHistoryBlocks`). */
  | "LEDGER_STATE_PRUNED"
  /** getStateAt / stateReaderAt for a block that is not committed (above the head, negative, not an integer). */
  | "LEDGER_STATE_UNKNOWN_BLOCK";

export class LedgerError extends ConsortError<LedgerErrorCode> {}
