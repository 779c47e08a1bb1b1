/**
 * The history of a run, Jepsen style: every operation a client invoked and what it was told, every nemesis step.
 * Appended to history.jsonl as it happens (a run cut short by SIGINT keeps what it saw).
 */
import { appendFileSync } from "node:fs";

export type HistoryEvent =
  | { type: "invoke"; client: number; node: number; tx: string }
  | { type: "ok"; client: number; node: number; tx: string; blockNumber: number; blockHash: string }
  | { type: "fail"; client: number; node: number; tx: string; reason: string }
  | { type: "info"; client: number; node: number; tx: string; reason: string }
  | { type: "nemesis"; scenario: string; action: string; detail?: unknown }
  | { type: "check"; scenario: string; ok: boolean; detail?: unknown };

export interface Acknowledged {
  tx: string;
  node: number;
  blockNumber: number;
  blockHash: string;
  scenario: string;
}

export class History {
  /** Every tx whose receipt a client saw, by hash: what the checker holds the chain to. */
  readonly acknowledged = new Map<string, Acknowledged>();
  scenario = "setup";
  private readonly startedMs = Date.now();

  constructor(private readonly file: string) {}

  record(event: HistoryEvent): void {
    const line = { t: Date.now() - this.startedMs, scenario: this.scenario, ...event };
    appendFileSync(this.file, `${JSON.stringify(line)}\n`);
    if (event.type === "ok") {
      this.acknowledged.set(event.tx, {
        tx: event.tx,
        node: event.node,
        blockNumber: event.blockNumber,
        blockHash: event.blockHash,
        scenario: this.scenario,
      });
    }
  }

  nemesis(action: string, detail?: unknown): void {
    this.record({ type: "nemesis", scenario: this.scenario, action, detail });
    console.log(`  [${this.scenario}] ${action}${detail === undefined ? "" : ` ${JSON.stringify(detail)}`}`);
  }
}
