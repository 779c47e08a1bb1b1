import { defineConfig } from "vitest/config";

/**
 * Two projects: "unit" (in-process: modules, the PBFT simulator, single processes) runs files in parallel;
 * "e2e" (multi-process testnets, the benchmark harness) runs one file at a time, since each file starts several
 * node processes and the CI machine has 2 cores.
 */
export default defineConfig({
  test: {
    setupFiles: ["./src/util/polyfill.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/e2e/**", "test/bench/**", "**/node_modules/**"],
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts", "test/bench/**/*.test.ts"],
          fileParallelism: false,
          testTimeout: 300_000,
        },
      },
    ],
  },
});
