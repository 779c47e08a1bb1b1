import type { EVMResult, InterpreterStep, Message } from "@ethereumjs/evm";
import type { BlockEnv } from "../evmEnv.js";
import type { TxOutcome } from "../runEvm.js";
import { errorStringReason, gethErrorMessage } from "./gethWording.js";
import { hex, quantity, type ResultTracer, Subscriptions, type TopCall } from "./tracer.js";

/** geth's callTracer options. */
export interface CallTracerConfig {
  /** Only the top-level call, without sub-calls. */
  onlyTopCall: boolean;
}

interface Frame {
  type: string;
  from: string;
  to: string | null;
  value: bigint | null;
  gas: bigint;
  gasUsed: bigint;
  input: Uint8Array;
  output: Uint8Array | null;
  error: string | null;
  calls: Frame[];
}

const CALL_TYPES = new Set(["CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2"]);

/**
 * geth's callTracer: the call tree `{type, from, to, value, gas, gasUsed, input, output?, error?, revertReason?,
 * calls?}` (quantities as 0x-hex). The top frame's gas is the transaction's gas limit and its gasUsed the
 * transaction's (intrinsic gas included, refund deducted); a sub-frame's gas is what it was given and gasUsed what
 * it burnt. A reverted frame keeps its output (the revert data) and gets "execution reverted" plus the decoded
 * Error(string) reason; other failures drop the output. STATICCALL frames carry no value.
 */
export class CallTracer implements ResultTracer {
  private readonly subs = new Subscriptions();
  private top: Frame | null = null;
  private readonly stack: Frame[] = [];
  /** The last opcode run at each depth (0-based): the kind of the next sub-call from that depth. */
  private readonly lastOp: string[] = [];

  constructor(private readonly config: CallTracerConfig) {}

  attach(env: BlockEnv, top: TopCall): void {
    this.top = {
      type: top.to === null ? "CREATE" : "CALL",
      from: hex(top.from),
      to: top.to === null ? null : hex(top.to),
      value: top.value,
      gas: top.gasLimit,
      gasUsed: 0n,
      input: top.input,
      output: null,
      error: null,
      calls: [],
    };
    this.subs.on<InterpreterStep>(env, "step", (s) => {
      this.lastOp[s.depth] = s.opcode.name;
      // A creation's address is known once its init code runs: its sub-calls come from it.
      const frame = this.stack[s.depth];
      if (frame !== undefined && frame.to === null) frame.to = s.address.toString();
    });
    this.subs.on<Message>(env, "beforeMessage", (m) => this.enter(m));
    this.subs.on<EVMResult>(env, "afterMessage", (r) => this.exit(r));
  }

  private enter(m: Message): void {
    if (m.depth === 0) {
      this.stack.push(this.top!);
      return;
    }
    const parent = this.stack[this.stack.length - 1] ?? this.top!;
    const op = this.lastOp[m.depth - 1];
    const type = op !== undefined && CALL_TYPES.has(op) ? op : m.to === undefined ? "CREATE" : "CALL";
    const target = m.codeAddress ?? m.to;
    const frame: Frame = {
      type,
      // The running contract makes the call (for DELEGATECALL and CALLCODE too, as geth shows it).
      from: parent.to ?? parent.from,
      to: type === "CREATE" || type === "CREATE2" || target === undefined ? null : target.toString(),
      value: type === "STATICCALL" ? null : m.value,
      gas: m.gasLimit,
      gasUsed: 0n,
      input: m.data,
      output: null,
      error: null,
      calls: [],
    };
    if (!this.config.onlyTopCall) parent.calls.push(frame);
    this.stack.push(frame);
  }

  private exit(r: EVMResult): void {
    const frame = this.stack.pop();
    if (frame === undefined) return;
    if (r.createdAddress !== undefined && frame.to === null) frame.to = r.createdAddress.toString();
    if (frame === this.top) return; // finished from the outcome (gas used with intrinsic gas and refund)
    const exec = r.execResult;
    frame.gasUsed = exec.executionGasUsed;
    setResult(frame, exec.exceptionError?.error ?? null, exec.returnValue);
  }

  finish(outcome: TxOutcome): void {
    this.subs.clear();
    const top = this.top!;
    top.gasUsed = outcome.gasUsed;
    if (top.to === null && outcome.contractAddress !== null) top.to = hex(outcome.contractAddress);
    setResult(top, outcome.error, outcome.output);
  }

  result(): unknown {
    return format(this.top!);
  }
}

function setResult(frame: Frame, error: string | null, output: Uint8Array): void {
  frame.error = error === null ? null : gethErrorMessage(error);
  frame.output = error === null || error === "revert" ? output : null;
}

function format(f: Frame): Record<string, unknown> {
  const out: Record<string, unknown> = { from: f.from, gas: quantity(f.gas), gasUsed: quantity(f.gasUsed) };
  if (f.to !== null) out.to = f.to;
  out.input = hex(f.input);
  if (f.output !== null && f.output.length > 0) out.output = hex(f.output);
  if (f.error !== null) {
    out.error = f.error;
    const reason = f.output === null ? null : errorStringReason(f.output);
    if (reason !== null) out.revertReason = reason;
  }
  if (f.calls.length > 0) out.calls = f.calls.map(format);
  if (f.value !== null) out.value = quantity(f.value);
  out.type = f.type;
  return out;
}
