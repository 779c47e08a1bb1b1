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
/** The clock is read every this many JUMPDESTs (a loop iteration runs at least one)… */
const JUMPDEST_CHECK_INTERVAL = 64;
/**
 * …or as soon as this much gas was used in the frame since the last read (~1-3 ms at the schedule's rates): a loop
 * whose body is heavy (ten KECCAK256 of 4 KiB per JUMPDEST) otherwise held the event loop for ~0.5 s.
 */
const GAS_CHECK_INTERVAL = 30_000n;

/**
 * Keeps block execution from holding the event loop: every `yieldIntervalMs` of running it lets timers and I/O
 * (consensus, RPC, gossip, sync) run, by resolving on setImmediate. Ticks on JUMPDEST (every loop iteration runs
 * one), before each message (CALL/CREATE…, which covers loop-free recursion) and between transactions.
 * Yield only: no deadline, so a block's result never depends on time (the block gas limit bounds its work).
 * The custom JUMPDEST costs the same gas and has no effect: only the timing of the run changes.
 */
export class EvmYielder implements EvmTicker {
  private jumpdests = 0;
  /** The frame's gasLeft at the last clock read (frames differ: any increase also reads the clock). */
  private gasAtCheck = 0n;
  private lastYieldMs = performance.now();
  /** How often the run yielded, and the longest stretch between two yields (ms): for logs and benchmarks. */
  yields = 0;
  longestRunMs = 0;

  constructor(private readonly yieldIntervalMs: number) {}

  private onJumpdest(gasLeft: bigint): Promise<void> | undefined {
    const used = this.gasAtCheck - gasLeft;
    if (++this.jumpdests % JUMPDEST_CHECK_INTERVAL !== 0 && used >= 0n && used < GAS_CHECK_INTERVAL) {
      return undefined;
    }
    this.gasAtCheck = gasLeft;
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
        logicFunction: (runState) => this.onJumpdest(runState.gasLeft),
      },
    ];
  }
}
