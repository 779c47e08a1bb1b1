// @ts-check
/**
 * StrykerJS mutation testing, one module at a time: `npm run mutate -- <module>` (test/mutate/run.ts adds the
 * module's files from test/mutate/modules.ts to this base config; see docs/testing.md).
 */

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  packageManager: "npm",
  testRunner: "vitest",
  plugins: ["@stryker-mutator/vitest-runner"],
  vitest: { configFile: "test/mutate/vitest.config.ts", related: false },
  checkers: [],
  coverageAnalysis: "perTest",
  concurrency: 1,
  timeoutMS: 5_000, // a mutant that loops is cut off early: the tests of one module run in a few seconds
  timeoutFactor: 2,
  incremental: true,
  reporters: ["clear-text", "progress", "json", "html"],
  tempDirName: ".stryker-tmp",
  cleanTempDir: "always",
  ignorePatterns: [
    ".stryker-tmp",
    "coverage",
    "dist",
    "reports",
    "testnet",
    ".data",
    "bench/results",
    "docker",
    // Not "contracts": the sandbox needs contracts/artifacts.ts and contracts/build/*.json, which the test helpers
    // load (test/execution/helpers.ts, test/node/helpers.ts); without them those test files fail to load and their
    // tests silently never run (the governance module's dry run ran 2 of 33 tests).
  ],
  thresholds: { high: 85, low: 75, break: null },
};
