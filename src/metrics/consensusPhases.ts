import type { Ready } from "../consensus/index.js";

/** What the tracker records into (the consensus part of ConsortMetrics). */
export interface PhaseSink {
  phaseDuration: { observe(labels: { phase: string }, seconds: number): void };
  commitLatency: { observe(seconds: number): void };
  viewChanges: { inc(labels: { reason: string }): void };
}

interface Marks {
  height: number;
  view: number;
  prePrepareMs: number;
  prepareSentMs: number | null;
  commitSentMs: number | null;
}

/**
 * Derives consensus phase timings from the Ready batches the driver already handles (the pure core emits no
 * metrics): a PrePrepare (our own as leader, or an executeBlock for a replica) opens a round; our Prepare ends
 * "execute"; our Commit ends "prepare"; the block's commit ends "commit" and gives the commit latency. Holds the rounds of at most
 * two heights (pipelining proposes and executes h + 1 while h is in its rounds); a view change restarts a height's
 * marks at its next PrePrepare.
 */
export class ConsensusPhaseTracker {
  private readonly marks = new Map<number, Marks>();

  constructor(
    private readonly sink: PhaseSink,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  onReady(ready: Ready): void {
    const now = this.nowMs();
    if (ready.viewChangeStarted) this.sink.viewChanges.inc({ reason: ready.viewChangeStarted.cause });
    for (const e of ready.execute) this.open(e.height, e.view, now);
    for (const { msg } of ready.messages) {
      const m = this.marks.get(msg.height);
      if (msg.type === "prePrepare") this.open(msg.height, msg.view, now);
      else if (msg.type === "prepare" && m && sameRound(m, msg) && m.prepareSentMs === null) {
        m.prepareSentMs = now;
        this.observe("execute", now - m.prePrepareMs);
      } else if (msg.type === "commit" && m && sameRound(m, msg) && m.commitSentMs === null) {
        m.commitSentMs = now;
        if (m.prepareSentMs !== null) this.observe("prepare", now - m.prepareSentMs);
      }
    }
    for (const c of ready.commits) {
      const m = this.marks.get(c.height);
      for (const height of this.marks.keys()) if (height <= c.height) this.marks.delete(height);
      if (!m) continue;
      if (m.commitSentMs !== null) this.observe("commit", now - m.commitSentMs);
      this.sink.commitLatency.observe((now - m.prePrepareMs) / 1000);
    }
  }

  private open(height: number, view: number, now: number): void {
    const m = this.marks.get(height);
    if (m && m.view === view) return;
    this.marks.set(height, { height, view, prePrepareMs: now, prepareSentMs: null, commitSentMs: null });
    for (const h of this.marks.keys()) if (h < height - 1) this.marks.delete(h);
  }

  private observe(phase: string, ms: number): void {
    this.sink.phaseDuration.observe({ phase }, Math.max(0, ms) / 1000);
  }
}

function sameRound(m: Marks, msg: { height: number; view: number }): boolean {
  return m.height === msg.height && m.view === msg.view;
}
