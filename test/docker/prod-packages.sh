#!/usr/bin/env bash
# Prints the folders (relative to the repository root) of the production packages: exactly what
# `npm ci --omit=dev` installs on this platform, read from package-lock.json (entries not flagged dev that exist on
# disk: other platforms' optional packages are absent). Extraneous packages in node_modules are left out, and so is
# the pinned Node.js runtime (node-linux-*): make-base.sh puts that binary in the base image as /usr/local/bin/node.
set -euo pipefail
cd "$(dirname "$0")/../.."
node -e '
  const fs = require("node:fs");
  const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
  for (const [p, meta] of Object.entries(lock.packages ?? {})) {
    if (p.startsWith("node_modules/") && !meta.dev && !meta.link && !p.startsWith("node_modules/node-linux-") && fs.existsSync(p))
      console.log(p);
  }' | sort -u
