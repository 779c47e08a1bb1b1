/** Options of the Executor. */
export interface ExecutorOptions {
  /**
   * EVM hardfork. Cancun (FISCO BCOS 3.10+ is Cancun-level; solc's evmVersion "cancun" matches).
   * Only Cancun: the flat state relies on EIP-6780 (SELFDESTRUCT deletes only same-tx contracts), and Prague
   * would need EIP-2935/7623/7702 handling that runCall leaves to runTx.
   */
  hardfork: "cancun";
  /** Use the native libsecp256k1 binding for the ecrecover precompile (0x01) instead of @noble (~20x faster). */
  nativeEcrecover: boolean;
  /**
   * Native txs are valid in block N while N - 1 < blockLimit <= N - 1 + nativeBlockLimitRange (FISCO's check
   * against the committed head, range 1000).
   */
  nativeBlockLimitRange: number;
  /** Gas given to eth_call / estimateGas when the request names none, and the most they may use. */
  callGasLimitMax: bigint;
  /**
   * Wall-clock budget of one eth_call / estimateGas run or debug_trace* replay (ms): past it the run is aborted with
   * EXEC_CALL_TIMEOUT. A safety net only: a call is bounded by its gas (at most the block gas limit and
   * callGasLimitMax), and the budget is set well above what that gas can cost (~3 s for 50M gas of a tight loop on
   * a loaded 2-core machine), so an endless loop ends "out of gas" as on geth. Calls yield to the event loop every
   * callYieldIntervalMs, so consensus keeps running meanwhile.
   */
  callTimeBudgetMs: number;
  /** A running eth_call yields to the event loop (timers, I/O) at least this often (ms). */
  callYieldIntervalMs: number;
  /**
   * Block execution (build and verify) yields to the event loop (timers, I/O) at least this often (ms), so RPC,
   * gossip, sync and consensus timers keep running while a block executes. Yield only: no deadline, results never
   * depend on time. null: the stock interpreter, never yielding (for benchmarks comparing the overhead).
   */
  blockYieldIntervalMs: number | null;
  /** Concurrent state reads when prefetching a block's accounts and slots from a reader without a batched read. */
  prefetchConcurrency: number;
  /**
   * Values of the committed state kept across blocks (stateCache.ts: accounts, code, storage slots), so a block
   * does not read again from LevelDB what the previous blocks read or wrote. 0 disables the cache.
   */
  stateCacheEntries: number;
  /** Bytes of values that cache keeps at most. */
  stateCacheBytes: number;
}

export const defaultExecutorOptions: ExecutorOptions = {
  hardfork: "cancun",
  nativeEcrecover: true,
  nativeBlockLimitRange: 1000,
  callGasLimitMax: 50_000_000n,
  callTimeBudgetMs: 10_000,
  callYieldIntervalMs: 5,
  blockYieldIntervalMs: 5,
  prefetchConcurrency: 64,
  stateCacheEntries: 100_000,
  stateCacheBytes: 32 * 1024 * 1024,
};
