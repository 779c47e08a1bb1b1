// Second half of `npm run build` (after tsc -p tsconfig.build.json): copies what tsc does not emit but the node reads
// at run time, next to the compiled code, at the same relative path (src/X -> dist/X), so every
// `new URL("./…", import.meta.url)` finds its file from dist/ too: the web console (src/console/ui/*) and the
// precompile worker (src/execution/precompileWorker.mjs, plain JS loaded by a worker thread).
// Rule: every file under src/ that is not TypeScript source or documentation.
import { cpSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SRC = path.join(ROOT, "src");
const DIST = path.join(ROOT, "dist");
const SKIP = /\.(ts|md)$/;

let copied = 0;
for (const entry of readdirSync(SRC, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || SKIP.test(entry.name)) continue;
  const from = path.join(entry.parentPath, entry.name);
  cpSync(from, path.join(DIST, path.relative(SRC, from)));
  copied++;
}
console.log(`[build] copied ${copied} non-TypeScript files from src/ to dist/`);
