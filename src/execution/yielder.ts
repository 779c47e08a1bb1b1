import type { EVMOpts } from "@ethereumjs/evm";

type CustomOpcode = NonNullable<EVMOpts["customOpcodes"]>[number];

/** What an EVM's hooks call on every JUMPDEST and before every message (CallWatchdog for calls, EvmYielder for blocks). */
export interface EvmTicker {
  /** undefined on the fast path; a promise when the run should wait (yield to the event loop). */
  tick(): Promise<void> | undefined;
  /** The custom opcodes that call `tick` (JUMPDEST). */
  opcodes(): CustomOpcode[];
}

const JUMPDEST = 0x5b;
/** JUMPDEST's gas (1 in every fork since Frontier). */
const JUMPDEST_GAS = 1;
/** The clock is read every this many JUMPDESTs (a loop iteration runs at least one). */
const JUMPDEST_CHECK_INTERVAL = 64;

/**
 * Keeps block execution from holding the event loop: every `yieldIntervalMs` of running it lets timers and I/O
 * (consensus, RPC, gossip, sync) run, by resolving on setImmediate. Ticks on JUMPDEST (every loop iteration runs
 * one), before each message (CALL/CREATE…, which covers loop-free recursion) and between transactions.
 * Yield only: no deadline, so a block's result never depends on time (the block gas limit bounds its work).
 * The custom JUMPDEST costs the same gas and has no effect: only the timing of the run changes.
 */
export class EvmYielder implements EvmTicker {
  private jumpdests = 0;
  private lastYieldMs = performance.now();
  /** How often the run yielded, and the longest stretch between two yields (ms): for logs and benchmarks. */
  yields = 0;
  longestRunMs = 0;

  constructor(private readonly yieldIntervalMs: number) {}

  private onJumpdest(): Promise<void> | undefined {
    if (++this.jumpdests % JUMPDEST_CHECK_INTERVAL !== 0) return undefined;
    return this.tick();
  }

  tick(): Promise<void> | undefined {
    const ranMs = performance.now() - this.lastYieldMs;
    if (ranMs < this.yieldIntervalMs) return undefined;
    if (ranMs > this.longestRunMs) this.longestRunMs = ranMs;
    this.yields++;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        this.lastYieldMs = performance.now();
        resolve();
      }),
    );
  }

  opcodes(): CustomOpcode[] {
    return [
      {
        opcode: JUMPDEST,
        opcodeName: "JUMPDEST",
        baseFee: JUMPDEST_GAS,
        logicFunction: () => this.onJumpdest(),
      },
    ];
  }
}
