import { pino } from "pino";

/**
 * The narrow logger every module takes (pino-compatible: message object first, then text).
 * Only src/node creates the root; modules get `logger.child({ module: "…" })`.
 */
export interface Logger {
  trace(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  fatal(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error" | "fatal" | "silent";

export interface LoggerOptions {
  level: LogLevel;
  /** Human-readable single-line output (pino-pretty) instead of JSON lines. */
  pretty: boolean;
  /** Static fields on every line, e.g. { node: "node0" }. */
  base?: Record<string, unknown>;
}

export function createLogger(opts: LoggerOptions): Logger {
  const transport = opts.pretty
    ? {
        target: "pino-pretty",
        options: {
          colorize: process.stdout.isTTY,
          translateTime: "HH:MM:ss.l",
          ignore: "pid,hostname",
          singleLine: true,
        },
      }
    : undefined;
  return pino({ level: opts.level, base: opts.base ?? {}, transport }) as unknown as Logger;
}

/** A logger that drops everything: for tests and tools that want silence. */
export function silentLogger(): Logger {
  return pino({ level: "silent" }) as unknown as Logger;
}
