export { Bucket, describeKey, SCHEMA_VERSION } from "./buckets.js";
export { LedgerError, type LedgerErrorCode } from "./errors.js";
export type {
  BlockRef,
  BlockSummary,
  CommitInput,
  Ledger,
  LedgerBlock,
  LedgerHead,
  LedgerProof,
  LedgerStateReader,
  ReceiptLookup,
  StateChange,
  TxLookup,
} from "./interface.js";
export { type LedgerDeps, LevelLedger } from "./levelLedger.js";
export {
  defaultLedgerOptions,
  type LedgerOpenOptions,
  type LedgerOptions,
  NATIVE_NONCE_WINDOW_BLOCKS,
  STATE_HISTORY_BLOCKS,
} from "./options.js";
export { receiptLeaf, receiptRootOf, txRootOf } from "./roots.js";
