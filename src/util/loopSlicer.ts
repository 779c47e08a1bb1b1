/**
 * Gives a kind of background work at most `sliceMs` of each event-loop turn (a turn ends at setImmediate's check
 * phase). Each unit of that work goes through `run`: it starts at once while this turn's slice lasts, on a later
 * turn after that, in arrival order. The slicer starts each unit itself, so the clock it reads between two units
 * includes the first one's synchronous part (up to its first await). The loop stays free for what else is ready
 * meanwhile (timers, consensus messages, the results of disk reads a block waits for), however much background
 * work is queued; on an idle loop turns are short and the units run nearly back to back.
 */
export class LoopSlicer {
  /** When this turn's slice started (ms), or null when no unit ran yet in this turn. */
  private sliceStartedMs: number | null = null;
  private readonly queue: (() => void)[] = [];
  /** Units that had to wait for a later turn (a measure of how often the loop was contended). */
  deferred = 0;

  constructor(
    private readonly sliceMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts `unit` now or on a later turn; settles as the unit's promise does. */
  run<T>(unit: () => Promise<T>): Promise<T> {
    if (this.queue.length === 0 && this.withinSlice()) return start(unit);
    this.deferred++;
    return new Promise<T>((resolve, reject) => {
      this.queue.push(() => {
        start(unit).then(resolve, reject);
      });
    });
  }

  /** Units waiting for a later turn. */
  get queued(): number {
    return this.queue.length;
  }

  private withinSlice(): boolean {
    const nowMs = this.now();
    if (this.sliceStartedMs === null) {
      this.sliceStartedMs = nowMs;
      setImmediate(() => this.nextTurn());
    }
    return nowMs - this.sliceStartedMs < this.sliceMs;
  }

  /** A new turn: queued units start, in order, until its slice is used. */
  private nextTurn(): void {
    this.sliceStartedMs = null;
    while (this.queue.length > 0 && this.withinSlice()) this.queue.shift()?.();
  }
}

function start<T>(unit: () => Promise<T>): Promise<T> {
  try {
    return unit();
  } catch (err) {
    return Promise.reject(err);
  }
}
