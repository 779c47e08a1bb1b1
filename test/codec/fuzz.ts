import fc from "fast-check";

/**
 * How many random inputs a fuzz/property test tries. `npm test` runs the full count; a mutation run
 * (test/mutate/vitest.config.ts sets MUTATION_RUN) runs each covering test once per mutant, so it tries a fifth
 * (at least 10) with a fixed seed: the same inputs for every mutant and every rerun, so a mutant's result does not
 * depend on luck. Mutants only these random inputs would catch show up as survivors and get a targeted test.
 */
export const isMutationRun = process.env.MUTATION_RUN === "1";

export function fuzzRuns(fullRuns: number): number {
  return isMutationRun ? Math.max(10, Math.ceil(fullRuns / 5)) : fullRuns;
}

if (isMutationRun) fc.configureGlobal({ seed: 20_200 });
