import { readFileSync } from "node:fs";

/** Linux reports utime/stime in clock ticks; USER_HZ is 100 on every architecture Node supports. */
const MS_PER_TICK = 10;

/**
 * CPU time (user + system, ms) a process has used so far, from /proc/<pid>/stat; null when it is gone or /proc is
 * unavailable. Unlike wall-clock samples of a CPU profile, this does not count the time the OS ran someone else:
 * on a shared 2-core machine it is the figure that says what one transaction costs.
 */
export function readCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) * MS_PER_TICK : null;
  } catch {
    return null;
  }
}

/** CPU used by each pid between `start()` and `stop()`, and by this process (the client) over the same span. */
export class CpuMeter {
  private readonly startMs: (number | null)[];
  private readonly clientStart = process.cpuUsage();

  constructor(readonly pids: number[]) {
    this.startMs = pids.map(readCpuMs);
  }

  /** ms of CPU per process (null where it could not be read), and the client's own. */
  stop(): { perProcessMs: (number | null)[]; clientMs: number } {
    const perProcessMs = this.pids.map((pid, i) => {
      const end = readCpuMs(pid);
      const start = this.startMs[i];
      return end === null || start === null || start === undefined ? null : end - start;
    });
    const c = process.cpuUsage(this.clientStart);
    return { perProcessMs, clientMs: (c.user + c.system) / 1000 };
  }
}
