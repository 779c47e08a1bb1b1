import path from "node:path";
import { pathToFileURL } from "node:url";
import { CliError, HelpRequested } from "../../src/cli/args.js";

/**
 * Runs a bench script's `main` on the process's arguments: `--help` (HelpRequested) prints the usage; otherwise an
 * error is printed (a usage error by its message), `cleanup` runs (the targets a script started), and the process
 * exits 2 for a usage error, 1 for any other.
 */
export function runScript(
  main: (argv: string[]) => void | Promise<void>,
  cleanup: () => Promise<void> = async () => {},
): void {
  void (async () => {
    try {
      await main(process.argv.slice(2));
    } catch (err) {
      if (err instanceof HelpRequested) {
        console.log(err.usage);
        return;
      }
      console.error(err instanceof CliError ? err.message : err);
      await cleanup().catch(() => {});
      process.exit(err instanceof CliError ? 2 : 1);
    }
  })();
}

/** runScript when the module at `moduleUrl` is the script node was started with, not when a test imports it. */
export function runIfScript(moduleUrl: string, main: (argv: string[]) => void): void {
  const script = process.argv[1];
  if (script !== undefined && pathToFileURL(path.resolve(script)).href === moduleUrl) runScript(main);
}
