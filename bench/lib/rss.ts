import { readFileSync } from "node:fs";

/** VmRSS of a process in KiB from /proc/<pid>/status (null when the process is gone or /proc is unavailable). */
export function readRssKb(pid: number): number | null {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export interface RssSample {
  tMs: number;
  rssKb: (number | null)[];
}

/** Samples the RSS of the given pids every `intervalMs`; keeps the peak per pid and a bounded series. */
export class RssSampler {
  readonly peakKb: number[];
  readonly series: RssSample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly t0 = performance.now();

  constructor(
    readonly pids: number[],
    private readonly intervalMs = 1000,
    private readonly seriesMax = 4000,
  ) {
    this.peakKb = pids.map(() => 0);
  }

  start(): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.sample();
  }

  sample(): RssSample {
    const rssKb = this.pids.map((pid) => readRssKb(pid));
    rssKb.forEach((kb, i) => {
      if (kb !== null && kb > this.peakKb[i]!) this.peakKb[i] = kb;
    });
    const s = { tMs: Math.round(performance.now() - this.t0), rssKb };
    if (this.series.length < this.seriesMax) this.series.push(s);
    return s;
  }
}
