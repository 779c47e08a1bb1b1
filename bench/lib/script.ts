import path from "node:path";
import { CliError, HelpRequested } from "../../src/cli/args.js";

/**
 * Runs `main` when the module at `moduleUrl` is the script node was started with (`npx tsx bench/X.ts …`), not when a
 * test imports it. --help prints the usage; a usage error prints its message and exits 2, anything else 1.
 */
export function runIfScript(moduleUrl: string, main: (argv: string[]) => void): void {
  if (!process.argv[1] || !moduleUrl.endsWith(path.basename(process.argv[1]))) return;
  try {
    main(process.argv.slice(2));
  } catch (err) {
    if (err instanceof HelpRequested) {
      console.log(err.usage);
      return;
    }
    console.error(err instanceof CliError ? err.message : err);
    process.exitCode = err instanceof CliError ? 2 : 1;
  }
}
