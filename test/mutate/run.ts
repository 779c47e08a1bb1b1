/**
 * `npm run mutate -- <module> [--concurrency N]`: StrykerJS on one module (see stryker.config.mjs for the modules,
 * their source and their test files). Prints the score line docs/testing.md records, and keeps the incremental
 * file per module under reports/mutation/<module>/ so a rerun only tests mutants whose code or tests changed.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { Stryker } from "@stryker-mutator/core";
import { modules } from "./modules.js";

const usage = `usage: npm run mutate -- <module> [--concurrency 1|2] [--force]
modules: ${Object.keys(modules).join(", ")}`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    concurrency: { type: "string", default: "1" },
    force: { type: "boolean", default: false }, // ignore the incremental file: test every mutant again
    help: { type: "boolean", default: false },
  },
});

const name = positionals[0];
const concurrency = Number(values.concurrency);
if (values.help || name === undefined || !(name in modules) || positionals.length > 1) {
  console.error(usage);
  process.exit(values.help ? 0 : 2);
}
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 2) {
  console.error(`--concurrency must be 1 or 2 (the machine has 2 cores): ${values.concurrency}`);
  process.exit(2);
}

const mod = modules[name]!;
const outDir = `reports/mutation/${name}`;
mkdirSync(outDir, { recursive: true });
// Read by test/mutate/vitest.config.ts in Stryker's sandbox (the workers inherit the environment).
process.env.MUTATE_TESTS = mod.tests.join(",");
process.env.MUTATE_ISOLATE = mod.isolate === false ? "0" : "1";

// The commit the sandbox is copied from (read before the run: commits made during a long run are not in it).
const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
const dirty = execFileSync("git", ["status", "--porcelain", "--", "src", "test"], {
  encoding: "utf8",
}).trim();
const startMs = Date.now();
const results = await new Stryker({
  mutate: mod.mutate,
  concurrency,
  force: values.force,
  incrementalFile: `${outDir}/incremental.json`,
  tempDirName: `.stryker-tmp/${name}`, // one sandbox folder per module, so two modules can run side by side
  jsonReporter: { fileName: `${outDir}/mutation.json` },
  htmlReporter: { fileName: `${outDir}/index.html` },
}).runMutationTest();
const seconds = Math.round((Date.now() - startMs) / 1000);

const count = (status: string) => results.filter((r) => r.status === status).length;
const killed = count("Killed");
const timeout = count("Timeout");
const survived = count("Survived");
const noCoverage = count("NoCoverage");
const errors = count("RuntimeError") + count("CompileError");
const detected = killed + timeout;
const valid = detected + survived + noCoverage;
const score = valid === 0 ? 100 : (100 * detected) / valid;
const summary = {
  module: name,
  commit: dirty ? `${commit}+changes` : commit,
  killed,
  timeout,
  survived,
  noCoverage,
  errors,
  scorePercent: Math.round(score * 10) / 10,
  seconds,
};
writeFileSync(`${outDir}/summary.json`, `${JSON.stringify(summary, null, 2)}\n`);
console.log(
  `| ${name} | ${killed} | ${survived} | ${noCoverage} | ${timeout} | ${summary.scorePercent} % | ${summary.commit} | ${seconds} s |`,
);
