import { readdir, readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { BUILD_DIR } from "../../contracts/artifacts.js";
import { artifactJson, compileContracts, EVM_VERSION } from "../../contracts/compile.js";
import { defaultExecutorOptions } from "../../src/execution/index.js";

describe("contracts/build", () => {
  it("is up to date with the Solidity sources (run `npx tsx contracts/compile.ts` after editing them)", async () => {
    const artifacts = await compileContracts();
    expect(artifacts.map((a) => a.contractName)).toEqual(
      expect.arrayContaining(["Asset", "HelloWorld", "IConsensusNodes", "ISystemConfig", "SystemCaller"]),
    );
    const files = (await readdir(BUILD_DIR)).filter((f) => f.endsWith(".json")).sort();
    expect(files).toEqual(artifacts.map((a) => `${a.contractName}.json`).sort());
    for (const a of artifacts) {
      expect(await readFile(`${BUILD_DIR}/${a.contractName}.json`, "utf8"), a.contractName).toBe(
        artifactJson(a),
      );
      if (!a.contractName.startsWith("I")) expect(a.bytecode.length).toBeGreaterThan(100);
    }
  });

  it("targets the executor's hardfork", () => {
    expect(EVM_VERSION).toBe(defaultExecutorOptions.hardfork);
  });
});
