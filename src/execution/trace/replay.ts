import type { Transaction } from "../../types/index.js";
import { applyTx } from "../applyTx.js";
import { CallWatchdog } from "../callWatchdog.js";
import { type BlockEnv, createEnv, type EvmConfig } from "../evmEnv.js";
import type { BlockContext, StateReader } from "../interface.js";
import type { ExecutorOptions } from "../options.js";
import { StateOverlay } from "../overlay.js";
import type { ResultTracer } from "./tracer.js";

/**
 * Replays the committed transactions `txs` of the block `ctx` on its parent's state and traces the ones at
 * `targets` (ascending indexes) with a fresh tracer each; stops after the last target. Writes nothing. The whole
 * replay runs under one CallWatchdog of `budgetMs` (EXEC_CALL_TIMEOUT past it) and yields to the event loop like a
 * call. The txs were checked when the block was made, so they are applied without the block's admission checks.
 */
export async function traceBlockTxs(
  config: EvmConfig,
  opts: Pick<ExecutorOptions, "callYieldIntervalMs">,
  parentState: StateReader,
  ctx: BlockContext,
  txs: readonly Transaction[],
  targets: readonly number[],
  makeTracer: () => ResultTracer,
  budgetMs: number,
): Promise<unknown[]> {
  const watchdog = new CallWatchdog(budgetMs, opts.callYieldIntervalMs);
  const overlay = new StateOverlay(parentState);
  // Tracers add listeners to the EVM: an EVM of its own, never one that goes back to the pool.
  const env = await createEnv(config, overlay, ctx, watchdog, "fresh");
  try {
    return await replayUpTo(env, txs, targets, makeTracer);
  } finally {
    env.release();
  }
}

async function replayUpTo(
  env: BlockEnv,
  txs: readonly Transaction[],
  targets: readonly number[],
  makeTracer: () => ResultTracer,
): Promise<unknown[]> {
  const results: unknown[] = [];
  const last = targets[targets.length - 1] ?? -1;
  const wanted = new Set(targets);
  for (let i = 0; i <= last && i < txs.length; i++) {
    const tx = txs[i]!;
    if (!wanted.has(i)) {
      await applyTx(env, tx);
      continue;
    }
    const tracer = makeTracer();
    await tracer.attach(env, {
      from: tx.sender,
      to: tx.to,
      value: tx.value,
      input: tx.input,
      gasLimit: tx.gasLimit,
    });
    const outcome = await applyTx(env, tx);
    await tracer.finish(outcome);
    results.push(tracer.result());
  }
  return results;
}
