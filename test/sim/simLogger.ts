/**
 * The drivers' logger in the simulator: silent unless verbose (then one trace line per log call, bytes as short
 * hex), and it counts the leader equivocation evidence the driver reports.
 */
import type { Logger } from "../../src/util/logger.js";
import { entryLogger } from "../fixtures/logger.js";

export interface SimLoggerOptions {
  onEvidence(): void;
  /** Receives each log line; null: no trace. */
  line: ((text: string) => void) | null;
}

const EVIDENCE = "leader equivocation evidence";

export function simLogger(o: SimLoggerOptions): Logger {
  return entryLogger(({ level, msg, obj }) => {
    if (msg === EVIDENCE) o.onEvidence();
    o.line?.(`${level} ${msg ?? ""} ${JSON.stringify(obj, shortBytes)}`);
  });
}

/** JSON replacer: byte strings (Buffers too, read before their toJSON) as 12 hex digits. */
function shortBytes(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw instanceof Uint8Array) return Buffer.from(raw).toString("hex").slice(0, 12);
  if (typeof value === "bigint") return value.toString();
  return value;
}
