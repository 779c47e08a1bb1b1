import { existsSync, readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

// package.json's "dependencies" are what the docker image installs (`npm ci --omit=dev`) and what runs: every package
// the run-time code imports must be there, and nothing else (test, bench and build tools are devDependencies).

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Code that runs in production: the node (compiled from src/), the `consort` bin, the image's health check. */
const RUNTIME_DIRS = ["src", "bin"];
const RUNTIME_FILES = ["docker/healthcheck.mjs"];
/** Browser code served as files, never imported by node. */
const BROWSER_DIR = path.join("src", "console", "ui");
/** Dependencies loaded by name rather than imported: package -> [file, the string that loads it]. */
const LOADED_BY_NAME: Record<string, [string, string]> = {
  // pino starts its pretty-printing transport in a worker from the target's package name.
  "pino-pretty": ["src/util/logger.ts", 'target: "pino-pretty"'],
};

interface PackageJson {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as PackageJson;

function runtimeFiles(): string[] {
  const files = RUNTIME_FILES.map((f) => path.join(ROOT, f));
  for (const dir of RUNTIME_DIRS) {
    for (const entry of readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })) {
      const file = path.join(entry.parentPath, entry.name);
      if (!entry.isFile() || !/\.(ts|mjs|js)$/.test(entry.name)) continue;
      if (path.relative(ROOT, file).startsWith(BROWSER_DIR)) continue;
      files.push(file);
    }
  }
  return files;
}

/**
 * Bare module specifiers that load at run time: static imports and re-exports (not `import type` / `export type`,
 * which TypeScript erases), side-effect imports, dynamic import() and require().
 */
function runtimeSpecifiers(source: string): string[] {
  const found: string[] = [];
  const statement = /(?:^|[;}\n])\s*(import|export)\s+(type\s+)?(?:[^;"'`]*?\bfrom\s*)?["']([^"']+)["']/g;
  for (const m of source.matchAll(statement)) if (m[2] === undefined) found.push(m[3]!);
  for (const m of source.matchAll(/\b(?:import|require)\(\s*["']([^"']+)["']\s*\)/g)) found.push(m[1]!);
  return found;
}

/** The package a bare specifier names ("@scope/name/sub" -> "@scope/name", "name/sub" -> "name"); null if none. */
function packageOf(specifier: string): string | null {
  if (specifier.startsWith(".") || specifier.startsWith("/") || specifier.startsWith("node:")) return null;
  if (builtinModules.includes(specifier.split("/")[0]!)) return null;
  const parts = specifier.split("/");
  return specifier.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

function importedPackages(): Map<string, string[]> {
  const users = new Map<string, string[]>();
  for (const file of runtimeFiles()) {
    for (const spec of runtimeSpecifiers(readFileSync(file, "utf8"))) {
      const name = packageOf(spec);
      if (name === null) continue;
      users.set(name, [...(users.get(name) ?? []), path.relative(ROOT, file)]);
    }
  }
  return users;
}

describe("package.json dependencies match what the run-time code imports", () => {
  it("finds the imports that load at run time, not the type-only ones", () => {
    const src = [
      'import "./polyfill.js";',
      'import { a,\n  b } from "@scope/pkg/sub";',
      'import type { T } from "types-only";',
      'export type { U } from "types-only-too";',
      'import { type V, w } from "mixed";',
      'export * from "reexported";',
      'const m = await import("dynamic");',
      'const n = require("secp256k1/bindings");',
      'import fs from "node:fs";',
    ].join("\n");
    const names = runtimeSpecifiers(src)
      .map(packageOf)
      .filter((n) => n !== null);
    expect(names.sort()).toEqual(["@scope/pkg", "dynamic", "mixed", "reexported", "secp256k1"]);
  });

  it("every package imported by src/, bin/ and the health check is a dependency", () => {
    const imported = importedPackages();
    const missing = [...imported].filter(([name]) => !(name in pkg.dependencies));
    expect(
      missing,
      "imported at run time but not in dependencies (the docker image would lack them)",
    ).toEqual([]);
    // The scan saw the code: the ledger's store and the RPC server are imported somewhere.
    expect(imported.get("level")).toContain(path.join("src", "ledger", "openMeta.ts"));
    expect(imported.has("fastify")).toBe(true);
  });

  it("every dependency is used at run time (test, bench and build tools belong in devDependencies)", () => {
    const imported = importedPackages();
    for (const [name, [file, text]] of Object.entries(LOADED_BY_NAME)) {
      expect(readFileSync(path.join(ROOT, file), "utf8"), `${name} is no longer loaded by ${file}`).toContain(
        text,
      );
      imported.set(name, [file]);
    }
    const unused = Object.keys(pkg.dependencies).filter((name) => !imported.has(name));
    expect(unused, "in dependencies but never loaded at run time").toEqual([]);
    const both = Object.keys(pkg.dependencies).filter((name) => name in pkg.devDependencies);
    expect(both, "in both dependencies and devDependencies").toEqual([]);
  });

  it.each([
    ["@libp2p/gossipsub", "gossipRepair.ts"],
    ["@libp2p/gossipsub", "gossipRelay.ts"],
    ["@chainsafe/libp2p-yamux", "muxer.ts"],
  ])("pins %s exactly while src/network/%s uses its internals", (dependency, file) => {
    const user = path.join(ROOT, "src", "network", file);
    if (!existsSync(user)) return;
    const version = pkg.dependencies[dependency];
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(readFileSync(user, "utf8"), `${file} names the pinned version`).toContain(
      `${dependency} ${version}`,
    );
  });
});
