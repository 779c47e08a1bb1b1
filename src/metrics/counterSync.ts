import type { Counter } from "prom-client";

/**
 * Mirrors a module's monotonic counter (a plain number it keeps anyway) into a prom-client Counter at scrape time:
 * increments by the difference since the last scrape, so the module needs no metrics code.
 */
export class CounterSync {
  private readonly last = new Map<string, number>();

  /** `id` names the counter (unique per call site); `total` is the module's own count since it started. */
  sync<L extends string>(
    counter: Counter<L>,
    id: string,
    labels: Partial<Record<L, string>>,
    total: number,
  ): void {
    const key = `${id}${JSON.stringify(labels)}`;
    const delta = total - (this.last.get(key) ?? 0);
    this.last.set(key, total);
    if (delta > 0) counter.inc(labels, delta);
  }
}
