import { receiptRootOf, txRootOf } from "../ledger/index.js";
import type { Receipt, Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import { applyTx } from "./applyTx.js";
import { logsBloom } from "./bloom.js";
import { callGasCap, runCall, searchGas } from "./call.js";
import { ExecutionError, RETRYABLE_REJECT_CODES } from "./errors.js";
import { type BlockEnv, createEnv, type EvmConfig, evmConfigOf } from "./evmEnv.js";
import type {
  BlockContext,
  CallRequest,
  CallResult,
  ExecutedBlock,
  RejectedTx,
  StateReader,
  SystemConfig,
} from "./interface.js";
import { defaultExecutorOptions, type ExecutorOptions } from "./options.js";
import { StateOverlay } from "./overlay.js";
import type { TxOutcome } from "./runEvm.js";
import { StateCache } from "./stateCache.js";
import {
  accountKey,
  CONSENSUS_NODES_KEY,
  codeKey,
  computeStateRoot,
  decodeAccount,
  EMPTY_CODE_HASH,
  KEY_PREFIX,
  storageKey,
} from "./stateLayout.js";
import { readSystemConfigFrom } from "./systemContracts.js";
import { type EvmTracer, type ResultTracer, traceBlockTxs } from "./trace/index.js";
import { type CheckState, checkTx, nativeNoncesSeenBefore, reject } from "./txChecks.js";
import { EvmYielder } from "./yielder.js";

/** What running a block's txs gave (Executor.runTxs). */
interface BlockRun {
  kept: Transaction[];
  rejected: RejectedTx[];
  receipts: Receipt[];
  block: CheckState;
}

/** Executed blocks the state cache remembers, to follow the chain from a parent to its child (pipelining). */
const STATE_CACHE_BLOCKS = 8;

/**
 * Executes blocks of transactions on the flat state (see stateLayout.ts) with @ethereumjs/evm's runCall:
 * one overlay per block, one state root per block, no fees. Instances hold no per-block state: blocks, calls
 * and estimates may run concurrently, each on its own overlay and EVM (taken from a pool of idle ones for as long as
 * it runs: evmEnv.ts). What they share is a cache of the committed state (stateCache.ts), keyed by state root, so it
 * never answers for another state than the one a block runs on.
 *
 * Per transaction: checks (txChecks.ts: chain, nonce or native replay fields, gas limits, balance ≥ value), then
 * applyTx.ts: the sender's nonce increment (Ethereum txs only: native txs use no account nonce), then either the
 * plain-transfer fast path (recipient without code and not a precompile: no EVM) or evm.runCall. Contract
 * addresses: Ethereum txs keccak256(rlp([sender, nonce]))[12:]; native txs CREATE2-style
 * keccak256(0xff ‖ sender ‖ txHash ‖ keccak256(initCode))[12:] (the tx hash is the salt).
 * Blocks run under an EvmYielder (yielder.ts): they yield to the event loop every few ms, with no deadline.
 * eth_call / estimateGas: call.ts, under a wall-clock CallWatchdog (callWatchdog.ts).
 */
export class Executor {
  private readonly opts: ExecutorOptions;
  private readonly log: Logger;
  private readonly evmConfig: EvmConfig;
  private readonly stateCache: StateCache;

  constructor(opts: Partial<ExecutorOptions>, deps: { logger: Logger }) {
    this.opts = { ...defaultExecutorOptions, ...opts };
    this.log = deps.logger;
    this.evmConfig = evmConfigOf(this.opts);
    this.stateCache = new StateCache({
      entries: this.opts.stateCacheEntries,
      bytes: this.opts.stateCacheBytes,
      blocks: STATE_CACHE_BLOCKS,
    });
  }

  async executeBlock(
    state: StateReader,
    blockCtx: BlockContext,
    txs: Transaction[],
    mode: "build" | "verify",
  ): Promise<ExecutedBlock> {
    const startedMs = performance.now();
    const overlay = new StateOverlay(state, this.stateCache.viewAt(blockCtx.parentStateRoot));
    const cfg = await readSystemConfigFrom((k) => overlay.get(k), blockCtx.number);
    // GASLIMIT shows the on-chain block_gas_limit, whatever the caller put in the context.
    const ctx: BlockContext = { ...blockCtx, gasLimit: cfg.blockGasLimit };
    const yielder =
      this.opts.blockYieldIntervalMs === null ? undefined : new EvmYielder(this.opts.blockYieldIntervalMs);
    const env = await createEnv(this.evmConfig, overlay, ctx, yielder);
    let run: BlockRun;
    try {
      await this.prefetch(overlay, txs);
      run = await this.runTxs(env, ctx, cfg, txs, mode, yielder);
    } finally {
      env.release();
    }
    const { kept, rejected, receipts, block } = run;

    const stateChanges = await overlay.changes();
    const stateRoot = computeStateRoot(ctx.parentStateRoot, stateChanges);
    this.stateCache.recordExecuted(ctx.parentStateRoot, stateRoot, stateChanges);
    let validatorsChanged = false;
    let configChanged = false;
    for (const [key] of stateChanges) {
      if (key[0] === KEY_PREFIX.systemConfig) configChanged = true;
      else if (key.length === 1 && key[0] === Number.parseInt(CONSENSUS_NODES_KEY, 16))
        validatorsChanged = true;
    }
    this.log.debug(
      {
        number: ctx.number,
        mode,
        txs: kept.length,
        rejected: rejected.length,
        gasUsed: block.cumulativeGas.toString(),
        changes: stateChanges.length,
        ms: Math.round(performance.now() - startedMs),
        yields: yielder?.yields,
        longestRunMs: yielder === undefined ? undefined : Math.round(yielder.longestRunMs),
        yieldedMs: yielder === undefined ? undefined : Math.round(yielder.awayMs),
      },
      "block executed",
    );
    return {
      transactions: kept,
      rejected,
      receipts,
      stateRoot,
      gasUsed: block.cumulativeGas,
      stateChanges,
      txRoot: txRootOf(kept),
      receiptRoot: receiptRootOf(receipts),
      validatorsChanged,
      configChanged,
    };
  }

  /** The block's txs in order on `env`: checked, applied, a receipt each (build mode drops invalid ones). */
  private async runTxs(
    env: BlockEnv,
    ctx: BlockContext,
    cfg: SystemConfig,
    txs: Transaction[],
    mode: "build" | "verify",
    yielder: EvmYielder | undefined,
  ): Promise<BlockRun> {
    const kept: Transaction[] = [];
    const rejected: RejectedTx[] = [];
    const receipts: Receipt[] = [];
    const block: CheckState = {
      cumulativeGas: 0n,
      nativeNonces: new Set<string>(),
      nativeNoncesSeenBefore: await nativeNoncesSeenBefore(ctx, txs),
    };

    for (let i = 0; i < txs.length; i++) {
      const tx = txs[i]!;
      await yielder?.tick(); // between txs too: a block of many short txs runs no long loop
      let rejection =
        kept.length >= cfg.txCountLimit
          ? reject(
              "BLOCK_TX_COUNT_LIMIT_REACHED",
              `the block already holds tx_count_limit=${cfg.txCountLimit} txs`,
            )
          : await checkTx(env, ctx, cfg, tx, block, this.opts.nativeBlockLimitRange);
      let outcome: TxOutcome | null = null;
      if (rejection === null) {
        try {
          outcome = await applyTx(env, tx);
        } catch (err) {
          if (err instanceof ExecutionError && err.code !== "EXEC_INTERNAL") throw err;
          this.log.warn({ txHash: bytesToHex(tx.hash), err: String(err) }, "transaction execution failed");
          rejection = reject(
            "EXECUTION_FAILED",
            `EVM error: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
      if (rejection !== null || outcome === null) {
        const r = rejection ?? reject("EXECUTION_FAILED", "no outcome");
        if (mode === "verify") {
          throw new ExecutionError(
            "EXEC_INVALID_BLOCK",
            `tx ${i} (${bytesToHex(tx.hash)}) is invalid: ${r.reason}`,
            {
              txIndex: i,
              txHash: bytesToHex(tx.hash),
              code: r.code,
              reason: r.reason,
            },
          );
        }
        rejected.push({ tx, code: r.code, reason: r.reason, retryable: RETRYABLE_REJECT_CODES.has(r.code) });
        continue;
      }
      if (tx.type === TxType.Native) block.nativeNonces.add(bytesToHex(tx.nonce));
      block.cumulativeGas += outcome.gasUsed;
      kept.push(tx);
      receipts.push({
        txHash: tx.hash,
        status: outcome.status,
        gasUsed: outcome.gasUsed,
        cumulativeGasUsed: block.cumulativeGas,
        logs: outcome.logs,
        contractAddress: outcome.contractAddress,
        output: outcome.status === 0 ? outcome.output : new Uint8Array(0),
        logsBloom: logsBloom(outcome.logs),
      });
    }
    return { kept, rejected, receipts, block };
  }

  /**
   * eth_call: runs `req` on `state` (the last committed block) in the context `ctx` (normally the next block's:
   * number = head + 1), writes nothing. The caller's balance is topped up to `value` when short (no fees exist).
   * The gas limit is capped at `callGasLimitMax`. The run is aborted with EXEC_CALL_TIMEOUT ("execution aborted
   * (timeout = 1s)") after `timeBudgetMs` (default `callTimeBudgetMs`) of wall-clock time, and yields to the event
   * loop every `callYieldIntervalMs`. A failed run has status 0 and `error` = the EVM's error ("revert",
   * "out of gas", "invalid opcode: INVALID", …).
   */
  async call(
    state: StateReader,
    req: CallRequest,
    ctx: BlockContext,
    opts: { timeBudgetMs?: number } = {},
  ): Promise<CallResult> {
    const budgetMs = opts.timeBudgetMs ?? this.opts.callTimeBudgetMs;
    return runCall(this.evmConfig, this.opts, state, req, ctx, budgetMs);
  }

  /** The most gas eth_call / estimateGas may use (`callGasLimitMax`): larger requested limits are lowered to it. */
  get callGasLimitMax(): bigint {
    return this.opts.callGasLimitMax;
  }

  /**
   * eth_estimateGas: the smallest gas limit (up to callGasLimitMax) with which the call succeeds; when it
   * fails even with the maximum, returns that failing result (status 0) so RPC can report the revert.
   * Each run has its own time budget (see `call`); EXEC_CALL_TIMEOUT of any run is thrown.
   */
  async estimateGas(
    state: StateReader,
    req: CallRequest,
    ctx: BlockContext,
  ): Promise<{ gas: bigint; result: CallResult }> {
    const cap = callGasCap(req, this.opts.callGasLimitMax);
    return searchGas((gasLimit) => this.call(state, { ...req, gasLimit }, ctx), cap);
  }

  /** debug_traceCall / eth_createAccessList: `call` with `tracer` attached to the message (src/execution/trace). */
  async traceCall(
    state: StateReader,
    req: CallRequest,
    ctx: BlockContext,
    tracer: EvmTracer,
  ): Promise<CallResult> {
    return runCall(this.evmConfig, this.opts, state, req, ctx, this.opts.callTimeBudgetMs, tracer);
  }

  /**
   * debug_traceTransaction / debug_traceBlock*: replays the committed block `ctx` (its `txs`) on its parent's state
   * and returns the results of fresh tracers on the txs at `targets`. Bounded like a call (callTimeBudgetMs).
   */
  async traceBlock(
    parentState: StateReader,
    ctx: BlockContext,
    txs: readonly Transaction[],
    targets: readonly number[],
    makeTracer: () => ResultTracer,
  ): Promise<unknown[]> {
    const budgetMs = this.opts.callTimeBudgetMs;
    return traceBlockTxs(this.evmConfig, this.opts, parentState, ctx, txs, targets, makeTracer, budgetMs);
  }

  /**
   * Loads what the block will surely read, in batches (results never depend on it): the senders' and recipients'
   * accounts and the slots of the txs' access lists, then the recipients' code. Other slots are not derivable
   * before running; the state cache holds those the previous blocks read.
   */
  private async prefetch(overlay: StateOverlay, txs: Transaction[]): Promise<void> {
    const keys: string[] = [];
    for (const tx of txs) {
      keys.push(accountKey(tx.sender));
      if (tx.to !== null) keys.push(accountKey(tx.to));
      if (tx.type === TxType.AccessList || tx.type === TxType.FeeMarket) {
        for (const item of tx.accessList) {
          for (const slot of item.storageKeys) keys.push(storageKey(item.address, slot));
        }
      }
    }
    await overlay.prefetch(keys, this.opts.prefetchConcurrency);
    const codes: string[] = [];
    for (const tx of txs) {
      const raw = tx.to === null ? null : overlay.peek(accountKey(tx.to));
      if (raw === null || raw === undefined) continue;
      let codeHash: Uint8Array;
      try {
        codeHash = decodeAccount(raw).codeHash;
      } catch {
        continue; // a corrupt account fails where execution reads it, not here
      }
      if (!bytesEqual(codeHash, EMPTY_CODE_HASH)) codes.push(codeKey(codeHash));
    }
    await overlay.prefetch(codes, this.opts.prefetchConcurrency);
  }
}
