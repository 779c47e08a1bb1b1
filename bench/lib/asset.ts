import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

let cached: string | null = null;

/**
 * Creation bytecode of contracts/examples/Asset.sol compiled for evmVersion "shanghai" (solc-js, offline, ~1 s once):
 * ganache 7.9 stops at Shanghai and the checked-in build (Cancun) uses MCOPY, so every target gets this same
 * Shanghai build — identical code, identical workload.
 */
export function assetBytecode(): string {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const solc = require("solc") as { compile(input: string): string };
  const source = readFileSync(
    fileURLToPath(new URL("../../contracts/examples/Asset.sol", import.meta.url)),
    "utf8",
  );
  const input = {
    language: "Solidity",
    sources: { "Asset.sol": { content: source } },
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "shanghai",
      outputSelection: { "*": { Asset: ["evm.bytecode.object"] } },
    },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts?: Record<string, Record<string, { evm: { bytecode: { object: string } } }>>;
  };
  const errors = (out.errors ?? []).filter((e) => e.severity === "error");
  const obj = out.contracts?.["Asset.sol"]?.Asset?.evm.bytecode.object;
  if (errors.length > 0 || !obj) throw new Error(`solc: ${errors.map((e) => e.formattedMessage).join("\n")}`);
  cached = `0x${obj}`;
  return cached;
}
