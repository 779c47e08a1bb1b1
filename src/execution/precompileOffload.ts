import { Worker } from "node:worker_threads";
import {
  type AddPrecompile,
  EVMError,
  type ExecResult,
  getActivePrecompiles,
  type PrecompileFunc,
  type PrecompileInput,
} from "@ethereumjs/evm";
import { Address as EthAddress } from "@ethereumjs/util";
import { consortEvmParams, SCHEDULE_EIPS } from "./gasSchedule.js";

/**
 * A precompile runs to its end without yielding, and for modexp, the bn256 pairing and blake2f the length of ONE
 * call is bounded only by the gas given to it (one blake2f call of 900,000 rounds is ~0.3 s of CPU). Such calls run
 * in a worker thread while the event loop stays free; small ones run inline (a worker round trip would cost more
 * than they do). Same code in both places (@ethereumjs/evm's functions, same hardfork): results never depend on
 * where a call ran. When the worker cannot be used (it failed to start or died), calls run inline.
 */

const MODEXP = "0000000000000000000000000000000000000005";
const PAIRING = "0000000000000000000000000000000000000008";
const BLAKE2F = "0000000000000000000000000000000000000009";

/** Operand length (bytes) above which a modexp call goes to the worker: 32-byte operands take well under 1 ms. */
const MODEXP_INLINE_BYTES_MAX = 32n;
/** blake2f rounds above which a call goes to the worker (~0.4 µs a round). */
const BLAKE2F_INLINE_ROUNDS_MAX = 2000;
/** Pairs above which a pairing call goes to the worker (~5-10 ms a pair). */
const PAIRING_INLINE_PAIRS_MAX = 0;

function wordAt(data: Uint8Array, offset: number): bigint {
  let v = 0n;
  for (let i = offset; i < offset + 32; i++) v = (v << 8n) | BigInt(data[i] ?? 0);
  return v;
}

/** True when one call of the precompile at `address` with `data` may run long enough to go to the worker. */
export function isHeavyCall(address: string, data: Uint8Array): boolean {
  switch (address) {
    case MODEXP:
      return (
        wordAt(data, 0) > MODEXP_INLINE_BYTES_MAX ||
        wordAt(data, 32) > MODEXP_INLINE_BYTES_MAX ||
        wordAt(data, 64) > MODEXP_INLINE_BYTES_MAX
      );
    case PAIRING:
      return Math.floor(data.length / 192) > PAIRING_INLINE_PAIRS_MAX;
    case BLAKE2F: {
      if (data.length !== 213) return false; // refused at once
      const rounds = ((data[0]! << 24) | (data[1]! << 16) | (data[2]! << 8) | data[3]!) >>> 0;
      return rounds > BLAKE2F_INLINE_ROUNDS_MAX;
    }
    default:
      return false;
  }
}

interface WorkerAnswer {
  id: number;
  returnValue?: Uint8Array;
  executionGasUsed?: bigint;
  error?: string | null;
  failed?: string;
}

/** One worker thread per process, started on first use; kept referenced only while calls are in flight. */
class PrecompileWorker {
  private worker: Worker | null = null;
  private broken = false;
  private nextId = 0;
  private readonly pending = new Map<
    number,
    { resolve: (a: WorkerAnswer) => void; reject: (e: Error) => void }
  >();

  constructor(private readonly hardfork: string) {}

  /** The worker's answer, or null when the worker is unusable (the caller runs the call inline). */
  async run(address: string, data: Uint8Array, gasLimit: bigint): Promise<WorkerAnswer | null> {
    const worker = this.ensure();
    if (worker === null) return null;
    const id = this.nextId++;
    if (this.pending.size === 0) worker.ref();
    try {
      return await new Promise<WorkerAnswer>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        worker.postMessage({ id, address, data, gasLimit });
      });
    } catch {
      return null;
    } finally {
      this.pending.delete(id);
      if (this.pending.size === 0) this.worker?.unref();
    }
  }

  private ensure(): Worker | null {
    if (this.broken) return null;
    if (this.worker !== null) return this.worker;
    try {
      const worker = new Worker(new URL("./precompileWorker.mjs", import.meta.url), {
        // The worker's Common gets the same gas schedule as the EVMs (gas is charged by the precompile itself).
        workerData: { hardfork: this.hardfork, params: consortEvmParams(), eips: [...SCHEDULE_EIPS] },
      });
      worker.unref();
      worker.on("message", (a: WorkerAnswer) => this.pending.get(a.id)?.resolve(a));
      worker.on("error", (err) => this.fail(err));
      worker.on("exit", () => this.fail(new Error("precompile worker exited")));
      this.worker = worker;
      return worker;
    } catch {
      this.broken = true;
      return null;
    }
  }

  private fail(err: Error): void {
    this.broken = true;
    this.worker = null;
    for (const p of this.pending.values()) p.reject(err);
  }
}

const workers = new Map<string, PrecompileWorker>();

/**
 * Custom precompiles replacing modexp (0x05), pairing (0x08) and blake2f (0x09) for an EVM of `hardfork`: heavy
 * calls run in the worker thread, others inline, both with @ethereumjs/evm's own functions.
 */
export function offloadedPrecompiles(hardfork: string, common: PrecompileInput["common"]): AddPrecompile[] {
  let worker = workers.get(hardfork);
  if (worker === undefined) {
    worker = new PrecompileWorker(hardfork);
    workers.set(hardfork, worker);
  }
  const stock = getActivePrecompiles(common);
  return [MODEXP, PAIRING, BLAKE2F].map((address) => {
    const inline = stock.get(address);
    if (inline === undefined) throw new Error(`no stock precompile at ${address}`);
    const fn: PrecompileFunc = async (input) => {
      if (!isHeavyCall(address, input.data)) return inline(input);
      const answer = await worker.run(address, input.data, input.gasLimit);
      if (answer === null || answer.failed !== undefined) return inline(input);
      return toExecResult(answer);
    };
    return { address: new EthAddress(Buffer.from(address, "hex")), function: fn };
  });
}

function toExecResult(a: WorkerAnswer): ExecResult {
  return {
    returnValue: a.returnValue ?? new Uint8Array(0),
    executionGasUsed: a.executionGasUsed ?? 0n,
    ...(a.error === null || a.error === undefined ? {} : { exceptionError: new EVMError(a.error as never) }),
  };
}
