#!/usr/bin/env node
// The `consort` command: runs the compiled CLI in dist/ (made by `npm run build`; `npm start` builds first).
// For the TypeScript sources without a build step: `npm run consort -- …` (tsx, a development dependency).
import { existsSync } from "node:fs";

const main = new URL("../dist/cli/main.js", import.meta.url);
if (!existsSync(main)) {
  console.error(
    "consort: dist/cli/main.js is missing: run `npm run build` first (or `npm run consort -- …` from the sources)",
  );
  process.exit(1);
}
await import(main.href);
