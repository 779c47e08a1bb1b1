import { ConsortError } from "../util/errors.js";

export type CliErrorCode = "CLI_USAGE";

export class CliError extends ConsortError<CliErrorCode> {}

/** `--key value`, `--key=value` and bare `--flag` → a map; positional args kept in order. */
export function parseArgs(argv: string[]): { positional: string[]; flags: Map<string, string | true> } {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    if (eq > 0) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("--")) {
      flags.set(arg.slice(2), argv[++i]!);
    } else {
      flags.set(arg.slice(2), true);
    }
  }
  return { positional, flags };
}

export function flagString(flags: Map<string, string | true>, name: string, fallback?: string): string {
  const v = flags.get(name);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new CliError("CLI_USAGE", `missing --${name}`);
  }
  if (v === true) throw new CliError("CLI_USAGE", `--${name} needs a value`);
  return v;
}
