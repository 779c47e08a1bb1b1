import { gethErrorMessage } from "../execution/index.js";
import { ReceiptStatus } from "../types/index.js";
import { ConsortError } from "../util/errors.js";
import { RpcError } from "./errors.js";
import type { RpcBackend, RpcCallRequest, RpcCallResult, RpcStateBlock } from "./interface.js";
import { revertError } from "./revert.js";

/**
 * Bounds the eth_call / eth_estimateGas / FISCO call executions running at once (they share the node's thread
 * with consensus): at most `max` run, at most `queueMax` wait in FIFO order, beyond that the call is refused with
 * -32005 "too many concurrent calls".
 */
export class CallLimiter {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    readonly max: number,
    readonly queueMax: number,
  ) {}

  /** Executions running now. */
  get running(): number {
    return this.active;
  }

  /** Executions waiting for a slot. */
  get queued(): number {
    return this.queue.length;
  }

  /** Run `f` when a slot is free; throws RPC_LIMIT_EXCEEDED at once when the queue is full. */
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.active < this.max) {
      this.active++;
    } else {
      if (this.queue.length >= this.queueMax) {
        throw new RpcError("RPC_LIMIT_EXCEEDED", "too many concurrent calls", {
          running: this.active,
          queued: this.queue.length,
        });
      }
      // The releasing call hands its slot over: `active` stays the same.
      await new Promise<void>((resolve) => this.queue.push(resolve));
    }
    try {
      return await f();
    } finally {
      const next = this.queue.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** Executor error code of a call that ran out of its wall-clock budget (src/execution EXEC_CALL_TIMEOUT). */
const CALL_TIMEOUT_CODE = "EXEC_CALL_TIMEOUT";

/**
 * backend.call with the executor's timeout as geth's -32000 "execution aborted (timeout = 1s)". The backend keeps
 * the executor's message (already geth-worded); other errors pass through.
 */
export async function backendCall(
  backend: RpcBackend,
  req: RpcCallRequest,
  block: RpcStateBlock,
): Promise<RpcCallResult> {
  try {
    return await backend.call(req, block);
  } catch (err) {
    if (err instanceof ConsortError && err.code === CALL_TIMEOUT_CODE) {
      const msg = err.message.startsWith("execution aborted") ? err.message : "execution aborted (timeout)";
      throw new RpcError("RPC_TIMEOUT", msg, err.meta);
    }
    throw err;
  }
}

/** True when a failed call's error is a revert (also when the backend gave no error, e.g. older backends). */
export function isRevert(res: RpcCallResult): boolean {
  return res.error === undefined || res.error === null || res.error === "revert";
}

/**
 * The JSON-RPC error of a failed call: a revert is code 3 "execution reverted[: reason]" with the revert data; an
 * exceptional halt (out of gas, invalid opcode, …) is -32000 with geth's message and no data.
 */
export function callFailure(res: RpcCallResult): RpcError {
  if (res.status === ReceiptStatus.Success) throw new TypeError("callFailure of a successful call");
  if (isRevert(res)) return revertError(res.output);
  return new RpcError("RPC_EXECUTION_FAILED", gethErrorMessage(res.error!));
}
