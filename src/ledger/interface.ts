import type { MerkleProof } from "../crypto/index.js";
import type { Block, BlockHeader, CommitCertificate, Hash, Receipt, Transaction } from "../types/index.js";

/** One flat-state write: the executor owns the key layout; `null` deletes the key. */
export type StateChange = [key: Uint8Array, value: Uint8Array | null];

/** A block by height or by its 32-byte hash. */
export type BlockRef = number | Hash;

export interface LedgerHead {
  number: number;
  hash: Hash;
}

export interface CommitInput {
  /** The block with its commit certificate (genesis: a certificate with no signatures). */
  block: Block;
  /** One receipt per transaction, in block order. */
  receipts: Receipt[];
  /** The block's state diff (applied in order: a later change to the same key wins). */
  stateChanges: StateChange[];
  /** Nonces of the block's native transactions; derived from block.transactions when omitted. */
  nativeNonces?: Uint8Array[];
}

/** A committed block without its transactions (eth_getBlockByNumber(…, false), sync certificates). */
export interface BlockSummary {
  hash: Hash;
  header: BlockHeader;
  certificate: CommitCertificate;
  txHashes: Hash[];
}

/** A committed block with its transactions: also a `Block`. */
export interface LedgerBlock extends BlockSummary {
  transactions: Transaction[];
}

export interface TxLookup {
  tx: Transaction;
  blockNumber: number;
  blockHash: Hash;
  /** The block's timestamp (ms). */
  timestampMs: number;
  index: number;
}

export interface ReceiptLookup extends TxLookup {
  receipt: Receipt;
}

/**
 * Inclusion proof of a transaction (leaf = tx hash) or a receipt (leaf = keccak256(encodeReceipt(receipt))):
 * `verifyMerkleProof(root, leaf, proof)` holds, and `root` is the header's txRoot / receiptRoot.
 */
export interface LedgerProof {
  blockNumber: number;
  blockHash: Hash;
  index: number;
  leaf: Uint8Array;
  root: Hash;
  proof: MerkleProof;
}

/**
 * Read access to the flat state at one block (structurally the executor's StateReader, plus a batched read): what
 * `Ledger.stateReaderAt` returns and the ledger itself is (for the head).
 */
export interface LedgerStateReader {
  getState(key: Uint8Array): Promise<Uint8Array | undefined>;
  getManyState(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]>;
}

/**
 * The committed chain as other modules see it. Returned objects may be shared with a cache: do not mutate them.
 * Reads of unknown blocks / transactions return null; reads after close() throw LEDGER_CLOSED.
 */
export interface Ledger {
  /** The last committed block; null before genesis is committed. */
  head(): LedgerHead | null;
  /** Height of the head; -1 before genesis. */
  height(): number;
  /** Hash of block 0 once committed. */
  genesisHash(): Hash | null;
  /** All of one block (header, body, receipts, indexes, state diff, nonce index, head) in ONE synced batch. */
  commitBlock(input: CommitInput): Promise<void>;

  getHeader(ref: BlockRef): Promise<BlockHeader | null>;
  getBlock(ref: BlockRef): Promise<LedgerBlock | null>;
  getBlock(ref: BlockRef, opts: { withTransactions: true }): Promise<LedgerBlock | null>;
  getBlock(ref: BlockRef, opts: { withTransactions: false }): Promise<BlockSummary | null>;
  getBlock(ref: BlockRef, opts?: { withTransactions?: boolean }): Promise<LedgerBlock | BlockSummary | null>;
  /** The block exactly as stored (codec encodeBlock bytes, with certificate): what sync serves to peers. */
  getBlockBytes(ref: BlockRef): Promise<Uint8Array | null>;
  getBlockHash(number: number): Promise<Hash | null>;
  getBlockNumber(hash: Hash): Promise<number | null>;

  getTransaction(hash: Hash): Promise<TxLookup | null>;
  getReceipt(hash: Hash): Promise<ReceiptLookup | null>;
  /** Receipts of a committed block in transaction order; [] for an unknown block. */
  getBlockReceipts(ref: BlockRef): Promise<Receipt[]>;
  getTxProof(hash: Hash): Promise<LedgerProof | null>;
  getReceiptProof(hash: Hash): Promise<LedgerProof | null>;

  getState(key: Uint8Array): Promise<Uint8Array | undefined>;
  getManyState(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]>;

  /**
   * The value of a state key right after block `blockNumber` (any block from `oldestStateBlock()` to the head).
   * Throws LEDGER_STATE_PRUNED for an older block (outside the `stateHistoryBlocks` window, or before the history
   * was enabled), LEDGER_STATE_UNKNOWN_BLOCK above the head.
   */
  getStateAt(key: Uint8Array, blockNumber: number): Promise<Uint8Array | undefined>;
  getManyStateAt(keys: Uint8Array[], blockNumber: number): Promise<(Uint8Array | undefined)[]>;
  /**
   * The state right after block `blockNumber`, for the executor and the execution readers. Checks the block now
   * (throws like getStateAt) and again at every read: a reader kept while the window moves past it starts throwing
   * LEDGER_STATE_PRUNED.
   */
  stateReaderAt(blockNumber: number): LedgerStateReader;
  /** Lowest block whose state getStateAt can return (the head when the history is off); -1 before genesis. */
  oldestStateBlock(): number;
  /** The configured state history window (blocks); 0 = head only. */
  stateHistoryBlocks(): number;

  /**
   * True if a native transaction with this nonce is in one of the last NATIVE_NONCE_WINDOW_BLOCKS blocks: those up
   * to the head, or with `windowEndHeight` (above the head: a pipelined block's uncommitted parent) those up to that
   * height that are committed.
   */
  hasNativeNonce(nonce: Uint8Array, windowEndHeight?: number): Promise<boolean>;
  hasNativeNonces(nonces: Uint8Array[], windowEndHeight?: number): Promise<boolean[]>;
  /** Transactions in all committed blocks (genesis included). */
  totalTransactionCount(): number;
  /** Committed transactions whose receipt failed (status 0), since this count was kept (store format of issue 16). */
  failedTransactionCount(): number;
  /** Idempotent; waits for the commits called before it, refuses later calls (LEDGER_CLOSED). */
  close(): Promise<void>;
}
