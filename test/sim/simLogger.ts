/**
 * The drivers' logger in the simulator: silent unless verbose (then one trace line per log call, bytes as short
 * hex), and it counts the leader equivocation evidence the driver reports.
 */
import type { Logger } from "../../src/util/logger.js";

export interface SimLoggerOptions {
  onEvidence(): void;
  /** Receives each log line; null: no trace. */
  line: ((text: string) => void) | null;
}

const EVIDENCE = "leader equivocation evidence";

export function simLogger(o: SimLoggerOptions): Logger {
  const at =
    (level: string) =>
    (obj: object, msg?: string): void => {
      if (msg === EVIDENCE) o.onEvidence();
      o.line?.(`${level} ${msg ?? ""} ${JSON.stringify(obj, shortBytes)}`);
    };
  const logger: Logger = {
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    fatal: at("fatal"),
    child: () => logger,
  };
  return logger;
}

/** JSON replacer: byte strings (Buffers too, read before their toJSON) as 12 hex digits. */
function shortBytes(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  if (raw instanceof Uint8Array) return Buffer.from(raw).toString("hex").slice(0, 12);
  if (typeof value === "bigint") return value.toString();
  return value;
}
