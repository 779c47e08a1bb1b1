import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * Lets a long loop give the event loop back every `sliceMs`: `if (s.due()) await s.pause();`. Fan-out to thousands
 * of filters and subscriptions then never holds consensus timers, gossip or other requests for long.
 */
export class Slicer {
  private startedMs = performance.now();

  constructor(private readonly sliceMs = 4) {}

  due(): boolean {
    return performance.now() - this.startedMs >= this.sliceMs;
  }

  async pause(): Promise<void> {
    await nextTurn();
    this.startedMs = performance.now();
  }
}

/** A slicer that never pauses (unit tests and small synchronous fan-outs). */
export const NO_PAUSE = { due: () => false, pause: async () => {} } as const satisfies Pick<
  Slicer,
  "due" | "pause"
>;

export type Pauser = Pick<Slicer, "due" | "pause">;
