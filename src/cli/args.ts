import { type ParseArgsConfig, parseArgs } from "node:util";
import { ConsortError, errorMessage } from "../util/errors.js";

export type CliErrorCode =
  | "CLI_USAGE"
  | "CLI_NOT_BUILT"
  | "CLI_PORT_BUSY"
  | "CLI_NODE_EXITED"
  | "CLI_START_TIMEOUT";

export class CliError extends ConsortError<CliErrorCode> {}

type FlagOptions = NonNullable<ParseArgsConfig["options"]>;

/**
 * The one flag parser of every command: node:util parseArgs, strict (an unknown flag or a missing value is an
 * error), positionals allowed. Its errors become a CLI_USAGE error followed by the command's usage.
 */
export function parseFlags<O extends FlagOptions>(argv: string[], options: O, usage: string) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (err) {
    throw new CliError("CLI_USAGE", `${errorMessage(err)}\n\nusage:\n${usage}`);
  }
}

/** A string flag the command cannot do without. */
export function requireFlag(value: string | undefined, name: string): string {
  if (value === undefined || value === "") throw new CliError("CLI_USAGE", `missing --${name}`);
  return value;
}
