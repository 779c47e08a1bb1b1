import { Account, Address as EthAddress } from "@ethereumjs/util";
import type { AccessListItem, Address } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";
import { CallWatchdog } from "./callWatchdog.js";
import { ExecutionError } from "./errors.js";
import { type BlockEnv, createEnv, type EvmConfig } from "./evmEnv.js";
import type { BlockContext, CallRequest, CallResult, StateReader } from "./interface.js";
import { intrinsicGasOf } from "./intrinsicGas.js";
import type { ExecutorOptions } from "./options.js";
import { StateOverlay } from "./overlay.js";
import { runEvm, type TxOutcome } from "./runEvm.js";
import type { EvmTracer } from "./trace/tracer.js";

const ZERO_ADDRESS: Address = new Uint8Array(20);
const INVALID_OPCODE = 0xfe;

/** The options the eth_call / estimateGas path reads. */
export type CallOptions = Pick<
  ExecutorOptions,
  "callGasLimitMax" | "callTimeBudgetMs" | "callYieldIntervalMs"
>;

/** geth's name of an opcode in "invalid opcode: …" (0xfe is INVALID; others are "opcode 0x.. not defined"). */
function invalidOpcodeName(op: number | null): string {
  if (op === null || op === INVALID_OPCODE) return "INVALID";
  return `opcode 0x${op.toString(16)} not defined`;
}

/** The request's gas limit, lowered to `callGasLimitMax` (which is also the default). */
export function callGasCap(req: CallRequest, callGasLimitMax: bigint): bigint {
  return req.gasLimit === undefined || req.gasLimit > callGasLimitMax ? callGasLimitMax : req.gasLimit;
}

/**
 * One eth_call run under a CallWatchdog of `budgetMs`; see `Executor.call`. Writes nothing to `state`. The message
 * runs with the request's gas price (GASPRICE; 0 when absent) and access list (warm, and charged as intrinsic gas).
 * `tracer` (debug_traceCall, eth_createAccessList) is attached to the EVM before the message and sees its outcome.
 */
export async function runCall(
  config: EvmConfig,
  opts: CallOptions,
  state: StateReader,
  req: CallRequest,
  ctx: BlockContext,
  budgetMs: number,
  tracer?: EvmTracer,
): Promise<CallResult> {
  const watchdog = new CallWatchdog(budgetMs, opts.callYieldIntervalMs);
  const data = req.data ?? new Uint8Array(0);
  const value = req.value ?? 0n;
  if (value < 0n) throw new ExecutionError("EXEC_INVALID_CALL", "value must be >= 0");
  const gasLimit = callGasCap(req, opts.callGasLimitMax);
  const accessList = req.accessList ?? [];
  const intrinsic = intrinsicGasOf(data, req.to === null, accessList);
  if (gasLimit < intrinsic) {
    throw new ExecutionError(
      "EXEC_INVALID_CALL",
      `intrinsic gas too low: need ${intrinsic}, have ${gasLimit}`,
      {
        intrinsic: intrinsic.toString(),
      },
    );
  }
  const overlay = new StateOverlay(state);
  // A tracer adds listeners to the EVM: it gets an EVM of its own, never one that goes back to the pool.
  const env = await createEnv(config, overlay, ctx, watchdog, tracer === undefined ? "pooled" : "fresh");
  try {
    return await runMessage(env, req, tracer, { gasLimit, intrinsic, data, value, accessList });
  } finally {
    env.release();
  }
}

async function runMessage(
  env: BlockEnv,
  req: CallRequest,
  tracer: EvmTracer | undefined,
  checked: {
    gasLimit: bigint;
    intrinsic: bigint;
    data: Uint8Array;
    value: bigint;
    accessList: AccessListItem[];
  },
): Promise<CallResult> {
  const { overlay } = env;
  const { gasLimit, intrinsic, data, value, accessList } = checked;
  overlay.checkpoint();
  const from = req.from ?? ZERO_ADDRESS;
  const message = {
    from,
    to: req.to,
    value,
    input: data,
    gasLimit,
    intrinsic,
    gasPrice: req.gasPrice ?? 0n,
    salt: undefined,
    accessList,
    skipBalance: true,
  };
  await tracer?.attach(env, message);
  const sender = new EthAddress(from);
  const account = (await env.sm.getAccount(sender)) ?? new Account();
  checkValueCovered(from, account.balance, value);
  account.nonce += 1n;
  await env.sm.putAccount(sender, account);
  let outcome: TxOutcome;
  try {
    outcome = await runEvm(env, message);
    await tracer?.finish(outcome);
  } catch (err) {
    if (err instanceof ExecutionError) throw err;
    throw new ExecutionError(
      "EXEC_INTERNAL",
      `EVM failure: ${err instanceof Error ? err.message : String(err)}`,
      {},
      { cause: err },
    );
  } finally {
    while (overlay.depth > 0) overlay.revert();
  }
  const { haltOpcode, ...result } = outcome;
  if (result.error === "invalid opcode") result.error = `invalid opcode: ${invalidOpcodeName(haltOpcode)}`;
  return result;
}

/**
 * A call may not send more than its sender holds, as a transaction may not (geth checks it for eth_call and
 * eth_estimateGas alike, in its words): a call that pretends otherwise would estimate a transfer the pool refuses.
 * Fees are never charged, so the value is all a sender must cover.
 */
function checkValueCovered(from: Address, balance: bigint, value: bigint): void {
  if (balance >= value) return;
  const address = bytesToHex(from);
  throw new ExecutionError(
    "EXEC_INSUFFICIENT_FUNDS",
    `insufficient funds for gas * price + value: address ${address} have ${balance} want ${value}`,
    { address, balance: balance.toString(), value: value.toString() },
  );
}

/**
 * eth_estimateGas's search: `call(gasLimit)` runs the request with that limit. Returns the smallest limit up to
 * `cap` that succeeds, or `cap` with the failing result when the call fails even with `cap`. EXEC_CALL_TIMEOUT of
 * any run is thrown; other errors of a bisection run count as failure.
 */
export async function searchGas(
  call: (gasLimit: bigint) => Promise<CallResult>,
  cap: bigint,
): Promise<{ gas: bigint; result: CallResult }> {
  const first = await call(cap);
  if (first.status === 0) return { gas: cap, result: first };
  let lo = first.gasUsed - 1n;
  let hi = cap;
  // Most calls succeed with gasUsed (+ the 1/64 EIP-150 reserve): try that before bisecting.
  const guess = first.gasUsed + first.gasUsed / 63n + 1n;
  if (guess < hi) {
    const r = await call(guess);
    if (r.status === 1) hi = guess;
    else lo = guess;
  }
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    const r = await call(mid).catch((err: unknown) => {
      if (err instanceof ExecutionError && err.code === "EXEC_CALL_TIMEOUT") throw err;
      return null;
    });
    if (r !== null && r.status === 1) hi = mid;
    else lo = mid;
  }
  return { gas: hi, result: first };
}
