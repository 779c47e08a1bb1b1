#!/usr/bin/env bash
# Assembles the build context for docker/Dockerfile.local in DIR (must be empty or absent):
#   package.json package-lock.json bin/ dist/ docker/healthcheck.mjs data/ (empty, becomes /data)
#   dist/ = the compiled node: `npm run build` runs first (incremental: seconds when dist/ is up to date);
#   node_modules/ = only the production packages of the host's node_modules (package-lock.json entries not flagged dev).
# Files are hard-linked when DIR is on the same filesystem (instant, no extra disk), copied otherwise. In the
# repository only dist/ is written (by the build); the host's node_modules is only read (npm ci must have run there).
#   usage: test/docker/build-context.sh DIR
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIR=${1:?usage: build-context.sh DIR}
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)

[[ -d $ROOT/node_modules ]] || { echo "[build-context] $ROOT/node_modules missing: run npm ci first" >&2; exit 1; }
(cd "$ROOT" && npm run --silent build >&2) || { echo "[build-context] npm run build failed" >&2; exit 1; }
[[ -f $ROOT/dist/cli/main.js ]] || { echo "[build-context] dist/cli/main.js missing after the build" >&2; exit 1; }

link_or_copy() { # SRC... DEST_DIR (relative paths kept)
  cp -al --parents "$@" 2>/dev/null || cp -a --parents "$@"
}

cd "$ROOT"
link_or_copy package.json package-lock.json bin dist docker/healthcheck.mjs "$DIR"
rm -f "$DIR/dist/.tsbuildinfo" # the compiler's incremental state: not needed to run
mkdir -p "$DIR/data"
# Production packages only (what `npm ci --omit=dev` installs), see prod-packages.sh.
mapfile -t PKGS < <("$ROOT/test/docker/prod-packages.sh")
# Skip folders already inside a copied parent (nested node_modules), then copy.
TOP=()
prev=""
for p in "${PKGS[@]}"; do
  if [[ -n $prev && $p == "$prev/"* ]]; then continue; fi
  TOP+=("$p"); prev=$p
done
link_or_copy "${TOP[@]}" "$DIR"
# Trim what never runs (~40% of the bytes): source maps, type declarations, markdown, other platforms' prebuilds.
# Deleting in DIR only removes DIR's links; the host's node_modules is untouched.
find "$DIR/node_modules" -type f \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
  -o -name '*.md' -o -name '*.markdown' \) -delete
find "$DIR/node_modules" -type d -regex '.*/prebuilds/[^/]*' ! -name 'linux-x64' -prune -exec rm -rf {} +
echo "[build-context] $DIR: ${#PKGS[@]} production packages ($(du -sh "$DIR/node_modules" | cut -f1))" >&2
