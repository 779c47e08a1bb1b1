import { existsSync } from "node:fs";
import { type ParseArgsConfig, parseArgs } from "node:util";
import { ConsortError, errorMessage } from "../util/errors.js";

export type CliErrorCode =
  | "CLI_USAGE"
  | "CLI_NOT_BUILT"
  | "CLI_PORT_BUSY"
  | "CLI_NODE_EXITED"
  | "CLI_START_TIMEOUT"
  | "CLI_RPC"
  | "CLI_NODES_DOWN";

export class CliError extends ConsortError<CliErrorCode> {}

type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

/** `--help` or `-h` given to a command: main prints the usage it carries and exits 0. Not an error. */
export class HelpRequested extends Error {
  constructor(readonly usage: string) {
    super("help requested");
  }
}

/**
 * The one flag parser of every command: node:util parseArgs, strict (an unknown flag or a missing value is an
 * error), positionals allowed. Its errors become a CLI_USAGE error followed by the command's usage; `--help` or
 * `-h` anywhere before a `--` throws HelpRequested with the usage.
 */
export function parseFlags<O extends FlagOptions>(argv: string[], options: O, usage: string) {
  const end = argv.indexOf("--");
  if ((end === -1 ? argv : argv.slice(0, end)).some((a) => a === "--help" || a === "-h")) {
    throw new HelpRequested(`usage:\n${usage}`);
  }
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new CliError("CLI_USAGE", `${errorMessage(err)}\n\nusage:\n${usage}`);
  }
}

/** A flag's integer value in [min, max]. */
export function intFlag(name: string, v: string, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new CliError("CLI_USAGE", `--${name} must be an integer from ${min} to ${max}, got ${v}`);
  }
  return n;
}

/** A string flag the command cannot do without. */
export function requireFlag(value: string | undefined, name: string): string {
  if (value === undefined || value === "") throw new CliError("CLI_USAGE", `missing --${name}`);
  return value;
}

/**
 * Commands that create key material never replace a file: a key is an identity (a node's ID, the signer of every
 * token, the chain's CA), and a new one in its place cannot be undone. `ssh-keygen` asks; these refuse.
 */
export function refuseToOverwrite(files: string[], what: string): void {
  const existing = files.filter((f) => existsSync(f));
  if (existing.length > 0) {
    throw new CliError(
      "CLI_USAGE",
      `${existing.join(" and ")} already exist${existing.length === 1 ? "s" : ""}: ${what} would be replaced. ` +
        "Give another path, or move the old one away first.",
    );
  }
}
