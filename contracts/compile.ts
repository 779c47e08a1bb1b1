/**
 * Compiles every contracts/**\/*.sol with solc-js (offline) and writes contracts/build/<Name>.json
 * ({ contractName, sourceName, abi, bytecode, deployedBytecode }). Run: `npx tsx contracts/compile.ts`.
 * evmVersion "cancun" matches the executor's hardfork (src/execution/options.ts).
 */
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";
import { type Artifact, BUILD_DIR, CONTRACTS_DIR } from "./artifacts.js";

export const EVM_VERSION = "cancun";

async function findSources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== "build" && entry.name !== "node_modules") {
      out.push(...(await findSources(path)));
    } else if (entry.isFile() && entry.name.endsWith(".sol")) out.push(path);
  }
  return out.sort();
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts: Record<
    string,
    Record<
      string,
      { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }
    >
  >;
}

/** Compiles all sources; throws with solc's messages on any error. Artifacts sorted by contract name. */
export async function compileContracts(): Promise<Artifact[]> {
  const sources: Record<string, { content: string }> = {};
  for (const file of await findSources(CONTRACTS_DIR)) {
    sources[relative(CONTRACTS_DIR, file).split("\\").join("/")] = { content: await readFile(file, "utf8") };
  }
  const input = {
    language: "Solidity",
    sources,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: EVM_VERSION,
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new Error(`solc failed:\n${errors.map((e) => e.formattedMessage).join("\n")}`);
  const artifacts: Artifact[] = [];
  for (const [sourceName, contracts] of Object.entries(output.contracts)) {
    for (const [contractName, c] of Object.entries(contracts)) {
      artifacts.push({
        contractName,
        sourceName,
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
      });
    }
  }
  return artifacts.sort((a, b) => (a.contractName < b.contractName ? -1 : 1));
}

export function artifactJson(a: Artifact): string {
  return `${JSON.stringify(a, null, 2)}\n`;
}

async function main(): Promise<void> {
  const started = performance.now();
  const artifacts = await compileContracts();
  for (const a of artifacts) await writeFile(join(BUILD_DIR, `${a.contractName}.json`), artifactJson(a));
  console.log(
    `compiled ${artifacts.length} contracts (solc ${solc.version()}, ${EVM_VERSION}) in ${Math.round(performance.now() - started)} ms`,
  );
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
