import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const CONTRACTS_DIR = dirname(fileURLToPath(import.meta.url));
export const BUILD_DIR = join(CONTRACTS_DIR, "build");

/** A compiled contract as written to contracts/build/<contractName>.json. */
export interface Artifact {
  contractName: string;
  sourceName: string;
  abi: unknown[];
  /** 0x-hex creation code ("0x" for interfaces). */
  bytecode: string;
  deployedBytecode: string;
}

/** Loads contracts/build/<name>.json (committed; regenerate with `npx tsx contracts/compile.ts`). */
export function loadArtifact(name: string): Artifact {
  return JSON.parse(readFileSync(join(BUILD_DIR, `${name}.json`), "utf8")) as Artifact;
}
