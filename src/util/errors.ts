/**
 * Base class of every typed error in Consort (after Lodestar's LodestarError).
 * `code` is a stable, prefixed string (e.g. "CODEC_TRUNCATED") that logs, tests and RPC mappings key on;
 * `meta` carries structured context for logs. Messages are for humans and may change.
 */
export class ConsortError<C extends string = string> extends Error {
  readonly code: C;
  readonly meta: Record<string, unknown>;

  constructor(code: C, message: string, meta: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.meta = meta;
  }

  /** Structured form for pino: `log.warn(err.toLog(), "...")`. */
  toLog(): Record<string, unknown> {
    return { code: this.code, err: this.message, ...this.meta };
  }
}

/** Thrown when an internal invariant is broken: a bug, never bad input from a peer or a client. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`);
    this.name = "AssertionError";
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * True when `err` (or an error in its `cause` chain) says the disk is full: ENOSPC from node:fs, or LevelDB's
 * "No space left on device" IO error. Such an error is local and lasting: the node cannot go on, and a peer whose
 * block we failed to store did nothing wrong.
 */
export function isDiskFull(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    if (
      (e as NodeJS.ErrnoException).code === "ENOSPC" ||
      (e as { code?: unknown }).code === "LEDGER_DISK_FULL"
    )
      return true;
    if (/no space left on device/i.test(e.message)) return true;
  }
  return false;
}
