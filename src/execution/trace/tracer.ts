import type { BlockEnv } from "../evmEnv.js";
import type { EvmMessage, TxOutcome } from "../runEvm.js";

/** What a tracer is told of the top-level message before it runs. */
export type TopCall = Pick<EvmMessage, "from" | "to" | "value" | "input" | "gasLimit">;

/**
 * An observer of one top-level message (a transaction being replayed, or an eth_call): attached to the message's
 * EVM before the sender's nonce is incremented and before the message runs (it may read the pre-state and subscribe
 * to the EVM's step / beforeMessage / afterMessage events), told the outcome after; `finish` removes its listeners.
 * Tracers only read: results never depend on them.
 */
export interface EvmTracer {
  attach(env: BlockEnv, top: TopCall): void | Promise<void>;
  finish(outcome: TxOutcome): void | Promise<void>;
}

/** A tracer that produces a JSON-able result in geth's format once finished. */
export interface ResultTracer extends EvmTracer {
  result(): unknown;
}

type Listener = (data: never, resolve?: (result?: unknown) => void) => void;

/** EVM event subscriptions of one tracer, removed all at once. */
export class Subscriptions {
  private readonly offs: (() => void)[] = [];

  /** `f` is awaited by the EVM before it goes on (async reads of the state are safe); it must not throw. */
  on<T>(env: BlockEnv, event: "step" | "beforeMessage" | "afterMessage", f: (data: T) => unknown): void {
    const events = env.evm.events as unknown as {
      on(e: string, f: Listener): void;
      off(e: string, f: Listener): void;
    };
    // Two parameters: the EVM waits for `resolve`.
    const listener: Listener = (data, resolve) => {
      void Promise.resolve()
        .then(() => f(data as T))
        .catch(() => {})
        .then(() => resolve?.());
    };
    events.on(event, listener);
    this.offs.push(() => events.off(event, listener));
  }

  clear(): void {
    for (const off of this.offs.splice(0)) off();
  }
}

/** Lowercase 0x-hex of bytes. */
export function hex(b: Uint8Array): string {
  return `0x${Buffer.from(b).toString("hex")}`;
}

/** Minimal 0x-hex quantity. */
export function quantity(v: bigint | number): string {
  return `0x${v.toString(16)}`;
}

/** A 32-byte word as 0x and 64 hex digits (struct-log storage keys and values, as execution-apis' bytes32). */
export function hexWord(v: bigint): string {
  return `0x${v.toString(16).padStart(64, "0")}`;
}
