import { ExecutionError } from "./errors.js";
import { EvmYielder } from "./yielder.js";

/** geth's duration formatting for its "execution aborted (timeout = 5s)" message. */
function formatBudget(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${ms / 1000}s`;
}

/**
 * Wall-clock guard of one eth_call / estimateGas run (never installed for blocks: block execution must not depend
 * on time). The block's EvmYielder plus a deadline: each tick (on JUMPDEST, every loop iteration runs one, and
 * before every message, which covers loop-free recursion) throws EXEC_CALL_TIMEOUT past the deadline, and yields to
 * the event loop every `yieldIntervalMs`, so consensus and other RPC calls run while a long call executes.
 * Cost: the custom JUMPDEST is async (one more await per JUMPDEST): ~10-25% on a 6-opcode loop, calls only.
 */
export class CallWatchdog extends EvmYielder {
  private readonly deadlineMs: number;

  constructor(
    private readonly budgetMs: number,
    yieldIntervalMs: number,
  ) {
    super(yieldIntervalMs);
    this.deadlineMs = performance.now() + budgetMs;
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

  /** The deadline check, then the yield. The promise never rejects: a deadline passed while yielding is caught by the next tick. */
  override tick(): Promise<void> | undefined {
    this.check();
    return super.tick();
  }
}
