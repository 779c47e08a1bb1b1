import type { InterpreterStep, Message } from "@ethereumjs/evm";
import { bytesToBigInt, Address as EthAddress } from "@ethereumjs/util";
import { hexToBytes } from "../../util/hex.js";
import type { BlockEnv } from "../evmEnv.js";
import type { TxOutcome } from "../runEvm.js";
import { TraceError } from "./errors.js";
import { gethErrorMessage } from "./gethWording.js";
import { hex, hexWord, type ResultTracer, Subscriptions } from "./tracer.js";

/** geth's struct logger options (debug_trace* TraceConfig without a tracer). */
export interface StructLoggerConfig {
  enableMemory: boolean;
  /** Each step's `returnData`: what the frame's last sub-call returned (RETURNDATACOPY's source), when any. */
  enableReturnData: boolean;
  disableStack: boolean;
  disableStorage: boolean;
  /** Stop logging after this many steps (0 = no limit of its own). */
  limit: number;
}

const CALL_OPS = new Set(["CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"]);
const CALL_STIPEND = 2300n;

type StructLog = Record<string, unknown>;

const EMPTY = new Uint8Array(0);

interface AfterMessage {
  createdAddress?: unknown;
  execResult: { returnValue: Uint8Array; exceptionError?: { error: string } };
}

/**
 * The return data a finished sub-call leaves its caller (EIP-211, as geth's interpreter keeps it): its output, or
 * its revert data; nothing after another failure, nor after a successful creation (the code is no return data).
 */
function returnDataOf(r: AfterMessage): Uint8Array {
  const err = r.execResult.exceptionError?.error;
  if (err !== undefined) return err === "revert" ? r.execResult.returnValue : EMPTY;
  return r.createdAddress === undefined ? r.execResult.returnValue : EMPTY;
}

/**
 * Bytes of struct logs one trace may hold, roughly (their strings). maxLogs alone let a call with 64 KiB of memory,
 * traced with enableMemory, copy ~180 KB per step: 100,000 steps would be 18 GB, far past the heap.
 */
export const STRUCT_LOGS_BYTES_MAX = 64 * 1024 * 1024;

/** The struct-log bytes of one trace request, shared by the loggers of a block trace's transactions. */
export interface StructLogBudget {
  usedBytes: number;
}
/** A log's fields besides its stack, memory and storage, and each string's own overhead, roughly. */
const LOG_BASE_BYTES = 120;
const STRING_OVERHEAD_BYTES = 16;

/**
 * The struct (opcode) logger in the format of execution-apis' OpcodeTransactionTrace, as geth writes it since
 * go-ethereum#34093 (2026): `{gas, failed, returnValue, structLogs}`, each log `{pc, op, gas, gasCost, depth,
 * stack?, memory?, returnData?, storage?, refund?, error?}`: stack as 0x-quantities; memory (when any) as 0x-prefixed
 * 32-byte words; storage (SLOAD/SSTORE steps only: the slots of the running contract seen so far) with 0x-prefixed
 * 32-byte keys and values; return data as 0x-hex. Before that change geth wrote memory words and storage without 0x.
 * A CALL's gasCost includes the gas it forwards, as in geth. At most `maxLogs` logs, of about STRUCT_LOGS_BYTES_MAX
 * in all (over a block trace's transactions when they share `budget`), are kept: a longer trace fails with
 * TRACE_LIMIT (set `limit` to get a prefix).
 */
export class StructLogger implements ResultTracer {
  private readonly subs = new Subscriptions();
  private readonly logs: StructLog[] = [];
  /** Storage seen per contract (address hex → slot → value). */
  private readonly storage = new Map<string, Map<string, string>>();
  /** Index of the last log at each depth (1-based depth). */
  private readonly lastAtDepth: number[] = [];
  /** Per depth (1-based): what the frame's last sub-call returned (EIP-211 return data), empty before any. */
  private readonly returnDataAt: Uint8Array[] = [];
  private outcome: TxOutcome | null = null;
  private overflow = false;

  constructor(
    private readonly config: StructLoggerConfig,
    private readonly maxLogs: number,
    private readonly budget: StructLogBudget = { usedBytes: 0 },
  ) {}

  attach(env: BlockEnv): void {
    this.subs.on<InterpreterStep>(env, "step", (step) => this.onStep(env, step));
    this.subs.on<Message>(env, "beforeMessage", (m) => this.onMessage(m));
    this.subs.on<AfterMessage>(env, "afterMessage", (r) => {
      const err = r.execResult.exceptionError?.error;
      const depth = this.depthStack.pop() ?? 1;
      if (depth > 1) this.returnDataAt[depth - 1] = returnDataOf(r);
      if (err === undefined || err === "revert") return;
      const at = this.lastAtDepth[depth];
      const log = at === undefined ? undefined : this.logs[at];
      if (log !== undefined && log.error === undefined) log.error = gethErrorMessage(err);
    });
  }

  private readonly depthStack: number[] = [];

  private onMessage(m: Message): void {
    const depth = m.depth + 1;
    this.depthStack.push(depth);
    this.returnDataAt[depth] = EMPTY;
    if (depth === 1) return;
    // geth's gasCost of a CALL includes the gas it forwards (without the value stipend).
    const at = this.lastAtDepth[depth - 1];
    const log = at === undefined ? undefined : this.logs[at];
    if (log !== undefined && CALL_OPS.has(log.op as string)) {
      const stipend =
        m.value > 0n && log.op !== "DELEGATECALL" && log.op !== "STATICCALL" ? CALL_STIPEND : 0n;
      log.gasCost = Number(BigInt(log.gasCost as number) + m.gasLimit - stipend);
    }
  }

  private async onStep(env: BlockEnv, step: InterpreterStep): Promise<void> {
    if (this.config.limit > 0 && this.logs.length >= this.config.limit) return;
    if (this.logs.length >= this.maxLogs || this.budget.usedBytes > STRUCT_LOGS_BYTES_MAX) {
      this.overflow = true;
      return;
    }
    let bytes = LOG_BASE_BYTES;
    const depth = step.depth + 1;
    const op = step.opcode.name;
    const log: StructLog = {
      pc: step.pc,
      op,
      gas: Number(step.gasLeft),
      gasCost: Number(step.opcode.dynamicFee ?? BigInt(step.opcode.fee)),
      depth,
    };
    if (!this.config.disableStack) {
      const stack = step.stack.map((v) => `0x${v.toString(16)}`);
      for (const v of stack) bytes += v.length + STRING_OVERHEAD_BYTES;
      log.stack = stack;
    }
    // Memory is word-sized in the EVM; none yet: no field (geth omits it when empty).
    if (this.config.enableMemory && step.memory.length > 0) {
      const words: string[] = [];
      for (let i = 0; i + 32 <= step.memory.length; i += 32) {
        words.push(hex(step.memory.subarray(i, i + 32)));
      }
      log.memory = words;
      bytes += words.length * (66 + STRING_OVERHEAD_BYTES);
    }
    const returnData = this.config.enableReturnData ? this.returnDataAt[depth] : undefined;
    if (returnData !== undefined && returnData.length > 0) {
      log.returnData = hex(returnData);
      bytes += returnData.length * 2 + STRING_OVERHEAD_BYTES;
    }
    if (!this.config.disableStorage && (op === "SLOAD" || op === "SSTORE") && step.stack.length > 0) {
      const address = step.address.toString();
      let slots = this.storage.get(address);
      if (slots === undefined) {
        slots = new Map();
        this.storage.set(address, slots);
      }
      const key = hexWord(step.stack[step.stack.length - 1]!);
      if (op === "SSTORE") {
        if (step.stack.length > 1) slots.set(key, hexWord(step.stack[step.stack.length - 2]!));
      } else {
        const value = await env.sm.getStorage(new EthAddress(step.address.bytes), hexToBytes(key));
        slots.set(key, hexWord(bytesToBigInt(value)));
      }
      log.storage = Object.fromEntries(slots);
      bytes += slots.size * 2 * (66 + STRING_OVERHEAD_BYTES);
    }
    if (step.gasRefund > 0n) log.refund = Number(step.gasRefund);
    this.lastAtDepth[depth] = this.logs.length;
    this.logs.push(log);
    this.budget.usedBytes += bytes;
  }

  finish(outcome: TxOutcome): void {
    this.subs.clear();
    this.outcome = outcome;
  }

  result(): unknown {
    if (this.overflow) {
      const what =
        this.logs.length >= this.maxLogs
          ? `more than ${this.maxLogs} struct logs`
          : `more than ${STRUCT_LOGS_BYTES_MAX / 1024 / 1024} MiB of struct logs (memory and storage copies count)`;
      throw new TraceError(
        "TRACE_LIMIT",
        `trace too large: ${what} (set "limit", disable memory or storage, or use the callTracer)`,
        { maxLogs: this.maxLogs, maxBytes: STRUCT_LOGS_BYTES_MAX },
      );
    }
    const o = this.outcome;
    const failed = o === null || o.status === 0;
    const returnValue = o === null || (failed && o.error !== "revert") ? new Uint8Array(0) : o.output;
    return { gas: Number(o?.gasUsed ?? 0n), failed, returnValue: hex(returnValue), structLogs: this.logs };
  }
}
