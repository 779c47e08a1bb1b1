import type { EVMOpts } from "@ethereumjs/evm";
import { ExecutionError } from "./errors.js";

type CustomOpcode = NonNullable<EVMOpts["customOpcodes"]>[number];

const JUMPDEST = 0x5b;
/** JUMPDEST's gas (1 in every fork since Frontier). */
const JUMPDEST_GAS = 1;
/** The watchdog reads the clock every this many JUMPDESTs (a loop iteration runs at least one). */
const WATCHDOG_JUMPDEST_INTERVAL = 64;

/** geth's duration formatting for its "execution aborted (timeout = 5s)" message. */
function formatBudget(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${ms / 1000}s`;
}

/**
 * Wall-clock guard of one eth_call / estimateGas run (never installed for blocks: block execution must not depend
 * on time, and block EVMs run the stock interpreter). It ticks on JUMPDEST (every loop iteration executes one; the
 * clock is read every WATCHDOG_JUMPDEST_INTERVAL of them) and before every message (CALL/CREATE…, which covers
 * loop-free recursion). A tick throws EXEC_CALL_TIMEOUT past the deadline and, every `yieldIntervalMs`, returns a
 * promise resolved on setImmediate, so timers and I/O (consensus, other RPC calls) run while a long call executes.
 * Cost: the custom JUMPDEST is async (one more await per JUMPDEST): ~10-25% on a 6-opcode loop, calls only.
 */
export class CallWatchdog {
  private jumpdests = 0;
  private lastYieldMs: number;
  private readonly deadlineMs: number;

  constructor(
    private readonly budgetMs: number,
    private readonly yieldIntervalMs: number,
  ) {
    this.lastYieldMs = performance.now();
    this.deadlineMs = this.lastYieldMs + budgetMs;
  }

  /** Throws EXEC_CALL_TIMEOUT once the deadline has passed. */
  check(now = performance.now()): void {
    if (now > this.deadlineMs) {
      throw new ExecutionError(
        "EXEC_CALL_TIMEOUT",
        `execution aborted (timeout = ${formatBudget(this.budgetMs)})`,
        { timeBudgetMs: this.budgetMs },
      );
    }
  }

  /** JUMPDEST handler: undefined on the fast path, a promise when yielding to the event loop. */
  onJumpdest(): Promise<void> | undefined {
    if (++this.jumpdests % WATCHDOG_JUMPDEST_INTERVAL !== 0) return undefined;
    return this.tick();
  }

  /**
   * Before each message (CALL, CREATE…: recursion without loops runs no JUMPDEST). Same as a JUMPDEST tick. The
   * promise never rejects: a deadline passed while yielding is caught by the next tick.
   */
  tick(): Promise<void> | undefined {
    const now = performance.now();
    this.check(now);
    if (now - this.lastYieldMs < this.yieldIntervalMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        this.lastYieldMs = performance.now();
        resolve();
      }),
    );
  }

  /** Custom JUMPDEST for the call's EVM: same gas and no effect, plus the clock check. */
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
