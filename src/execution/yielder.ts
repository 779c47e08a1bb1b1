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
 * While a block runs, it keeps at least 4/5 of the event loop: after a yield that gave the loop `awayMs`, it runs
 * `awayMs × SLICE_PER_AWAY` before it yields again (at least `yieldIntervalMs`, at most RUN_MAX_MS).
 * A block is on the critical path of consensus; tx ingestion (RPC, gossip admission) is not. With a fixed 5 ms
 * slice, each yield under load handed ~30 ms of queued ingestion work the loop: a 476-transfer block took
 * 400–850 ms to verify while clients were submitting, against ~100 ms right after, and the chain committed few
 * blocks until the submissions stopped. On an idle loop `awayMs` is ~0 and the slice stays `yieldIntervalMs`.
 */
const SLICE_PER_AWAY = 4;
/** The longest slice a block runs without yielding (ms): what one RPC call or vote may wait, at worst, under load. */
const RUN_MAX_MS = 100;

/**
 * Keeps block execution from holding the event loop: every slice of running (`yieldIntervalMs`, longer while the
 * loop is busy: SLICE_PER_AWAY) it lets timers and I/O (consensus, RPC, gossip, sync) run, by resolving on
 * setImmediate. Ticks on JUMPDEST (every loop iteration runs one), before each message (CALL/CREATE…, which covers
 * loop-free recursion) and between transactions.
 * Yield only: no deadline, so a block's result never depends on time (the block gas limit bounds its work).
 * The custom JUMPDEST costs the same gas and has no effect: only the timing of the run changes.
 */
export class EvmYielder implements EvmTicker {
  private jumpdests = 0;
  /** The frame's gasLeft at the last clock read (frames differ: any increase also reads the clock). */
  private gasAtCheck = 0n;
  private lastYieldMs = performance.now();
  /** How long the run goes before its next yield (ms): yieldIntervalMs, longer after a yield that took long. */
  private sliceMs: number;
  /** How often the run yielded, and the longest stretch between two yields (ms): for logs and benchmarks. */
  yields = 0;
  longestRunMs = 0;
  /** Time the event loop had during those yields (ms). */
  awayMs = 0;

  constructor(private readonly yieldIntervalMs: number) {
    this.sliceMs = yieldIntervalMs;
  }

  private onJumpdest(gasLeft: bigint): Promise<void> | undefined {
    const used = this.gasAtCheck - gasLeft;
    if (++this.jumpdests % JUMPDEST_CHECK_INTERVAL !== 0 && used >= 0n && used < GAS_CHECK_INTERVAL) {
      return undefined;
    }
    this.gasAtCheck = gasLeft;
    return this.tick();
  }

  tick(): Promise<void> | undefined {
    const yieldedAtMs = performance.now();
    const ranMs = yieldedAtMs - this.lastYieldMs;
    if (ranMs < this.sliceMs) return undefined;
    if (ranMs > this.longestRunMs) this.longestRunMs = ranMs;
    this.yields++;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        this.lastYieldMs = performance.now();
        this.resumed(this.lastYieldMs - yieldedAtMs);
        resolve();
      }),
    );
  }

  private resumed(awayMs: number): void {
    this.awayMs += awayMs;
    this.sliceMs = Math.max(this.yieldIntervalMs, Math.min(RUN_MAX_MS, awayMs * SLICE_PER_AWAY));
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
