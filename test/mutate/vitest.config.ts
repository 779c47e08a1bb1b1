import { defineConfig } from "vitest/config";

/**
 * The vitest config of mutation runs: unit tests only (never e2e), and only the files the module's run names
 * (test/mutate/run.ts passes them in MUTATE_TESTS, comma-separated), so each mutant runs a few files.
 */
const files = (process.env.MUTATE_TESTS ?? "").split(",").filter((f) => f.length > 0);
if (files.length === 0)
  throw new Error("MUTATE_TESTS is empty: run mutation tests through `npm run mutate -- <module>`");

export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    setupFiles: ["./src/util/polyfill.ts"],
    include: files,
    exclude: ["test/e2e/**", "test/bench/**", "**/node_modules/**"],
    pool: "forks",
    isolate: process.env.MUTATE_ISOLATE !== "0", // per module, see MutationModule.isolate
    // Tests that try random inputs (fast-check) try fewer, with a fixed seed, in mutation runs (test/codec/fuzz.ts).
    env: { MUTATION_RUN: "1" },
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
