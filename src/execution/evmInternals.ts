import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";

/**
 * A module of @ethereumjs/evm that its `exports` map does not name (the Interpreter, the opcode handler table),
 * reached through the files next to the package's ESM entry: the same module instances the package itself uses, so
 * a change to them is seen by every EVM. @ethereumjs/evm is pinned exactly in package.json while anything here
 * patches it. Null when the file is missing or does not load.
 */
export async function importEvmFile<T>(relativePath: string): Promise<T | null> {
  try {
    const require = createRequire(import.meta.url);
    // The ESM entry (dist/esm/index.js) sits beside these files; the CJS one is what `require.resolve` names.
    const cjsEntry = require.resolve("@ethereumjs/evm");
    const esmDir = path.join(path.dirname(cjsEntry), "..", "esm");
    return (await import(pathToFileURL(path.join(esmDir, relativePath)).href)) as T;
  } catch {
    return null;
  }
}

/**
 * The fingerprint of a function's source text. A patch that copies a library function's logic checks the stock
 * function's fingerprint first and patches nothing when it differs: the copy is only equivalent to the code it was
 * made from.
 */
export function sourceFingerprint(fn: unknown): string | null {
  if (typeof fn !== "function") return null;
  return createHash("sha256").update(fn.toString()).digest("hex").slice(0, 16);
}
