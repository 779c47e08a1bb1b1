#!/usr/bin/env node
// The `consort` command: runs the CLI from the TypeScript sources through tsx (a runtime dependency).
import { register } from "tsx/esm/api";

register();
await import("../src/cli/main.ts");
