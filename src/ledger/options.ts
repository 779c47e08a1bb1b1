/** FISCO BCOS anti-replay window: a native nonce must be unique among the transactions of the last 1000 blocks. */
export const NATIVE_NONCE_WINDOW_BLOCKS = 1000;

/** At most this many old blocks' nonce lists are pruned per commit (the rest in the next commits). */
export const NATIVE_NONCE_PRUNE_BLOCKS_MAX = 16;

/** Bytes of recently committed blocks' stored bytes kept in memory (what sync serves and RPC measures). */
export const BODY_CACHE_BYTES = 8 * 1024 * 1024;

/** Default state history window: getStateAt answers for the last this-many blocks (plus the head). */
export const STATE_HISTORY_BLOCKS = 1024;

/** At most this many old blocks' undo entries are pruned per commit (the rest in the next commits). */
export const STATE_HISTORY_PRUNE_BLOCKS_MAX = 16;

export interface LedgerOptions {
  /** Directory of the LevelDB store; created if missing. */
  dataDir: string;
  /** The chain this node serves: an existing store written for another chain is refused. */
  chainId: bigint;
  groupId: string;
  /** Decoded headers kept in memory (entries). */
  headerCacheSize: number;
  /** Decoded full blocks kept in memory, bounded by their total transaction count (a block weighs txs + 1). */
  blockCacheTxsMax: number;
  /** Recompute txRoot / receiptRoot on commit and refuse a block whose header disagrees (costs ~2 keccak per tx). */
  verifyRootsOnCommit: boolean;
  /**
   * Native-tx anti-replay window (blocks): hasNativeNonce answers for the last this-many blocks, older entries are
   * pruned. FISCO's is 1000 (= the blockLimit range); only tests change it. Changing it on an existing store is safe.
   */
  nativeNonceWindowBlocks: number;
  /**
   * Native nonces of the window kept in memory (~60 B each). While the window fits, a replay check reads no LevelDB;
   * past it, every check does (admission: one read per native tx; a block: one batched read). The default holds the
   * default window of full default blocks (1,000 blocks × tx_count_limit 1,000: ~60 MiB at most), as FISCO keeps
   * its blockLimit window's nonces in memory. (It was 200,000: ~950 blocks of a sustained ~210-tx native load.)
   */
  nativeNonceMemoryEntriesMax: number;
  /**
   * State history window (blocks): each commit records the previous value of every key it changes, and getStateAt
   * answers for blocks head - stateHistoryBlocks .. head; older undo entries are pruned. 0 disables (head only).
   * Changing it on an existing store is safe: history restarts at the next commit if it was off, a smaller window is
   * pruned over the next commits.
   */
  stateHistoryBlocks: number;
  /**
   * Bytes of committed state values kept in memory for single-key reads at the head (stateReadCache.ts: admission,
   * permission checks, reads below a pipelined block's parents); 0 disables.
   */
  stateCacheBytes: number;
}

export type LedgerOpenOptions = Pick<LedgerOptions, "dataDir" | "chainId" | "groupId"> &
  Partial<Omit<LedgerOptions, "dataDir" | "chainId" | "groupId">>;

export const defaultLedgerOptions: Omit<LedgerOptions, "dataDir" | "chainId" | "groupId"> = {
  headerCacheSize: 1024,
  blockCacheTxsMax: 8192,
  verifyRootsOnCommit: true,
  nativeNonceWindowBlocks: NATIVE_NONCE_WINDOW_BLOCKS,
  nativeNonceMemoryEntriesMax: 1_000_000,
  stateHistoryBlocks: STATE_HISTORY_BLOCKS,
  stateCacheBytes: 16 * 1024 * 1024,
};
