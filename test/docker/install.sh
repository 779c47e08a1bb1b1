#!/usr/bin/env bash
# Installs, idempotently, what the Docker test needs on a Debian bookworm machine (run as root):
#   - docker.io (Debian's dockerd 20.10 + containerd + runc + iptables) via apt;
#   - Compose v2 as the CLI plugin from Debian trixie's `docker-compose` .deb (not in bookworm). It is fetched with a
#     PRIVATE apt configuration in a temp dir, so the system's sources, lists and cache are never touched.
# Each step is skipped when already done. See /work/shared/docs/DOCKER.md (or docker/README.md) for why.
set -euo pipefail

log() { printf '[install] %s\n' "$*"; }

if [[ $(id -u) -ne 0 ]]; then
  echo "[install] must run as root (apt-get, dpkg)" >&2
  exit 1
fi

if command -v dockerd >/dev/null 2>&1 && command -v iptables >/dev/null 2>&1; then
  log "dockerd present: $(dockerd --version)"
else
  log "installing docker.io via apt"
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update only when the lists are missing (a clean machine may never have run it).
  if ! apt-cache policy docker.io 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    apt-get update -q
  fi
  apt-get install -y -q --no-install-recommends docker.io
fi

compose_ok() { docker compose version >/dev/null 2>&1; }
if compose_ok; then
  log "compose v2 present: $(docker compose version)"
else
  log "fetching compose v2 (Debian trixie docker-compose .deb) with a private apt config"
  A=$(mktemp -d /tmp/consort-apt.XXXXXX)
  chmod 755 "$A"
  trap 'rm -rf "$A"' EXIT
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/deb"
  # apt downloads as the unprivileged user _apt when it can write the target folders.
  if id _apt >/dev/null 2>&1; then chown _apt "$A/lists/partial" "$A/cache/archives/partial" "$A/deb"; fi
  # Same mirror as the system's Debian sources; fall back to deb.debian.org.
  MIRROR=$(awk '/^URIs:/ {print $2}' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n1 || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" >"$A/sources.list"
  APT=(apt-get -q -o "Dir::Etc::SourceList=$A/sources.list" -o Dir::Etc::SourceParts=/dev/null
       -o "Dir::State::Lists=$A/lists" -o "Dir::Cache=$A/cache" -o Debug::NoLocking=1)
  "${APT[@]}" update
  (cd "$A/deb" && "${APT[@]}" download docker-compose)
  dpkg -i "$A"/deb/docker-compose_*.deb
  # The .deb installs the plugin for Debian's docker CLI (/usr/libexec/docker/cli-plugins). A docker CLI installed
  # elsewhere (e.g. /usr/local/bin/docker 28.x) looks in /usr/local/lib/docker/cli-plugins: link it there too.
  if ! compose_ok; then
    PLUGIN=$(dpkg -L docker-compose | grep -E '/cli-plugins/docker-compose$' | head -n1)
    mkdir -p /usr/local/lib/docker/cli-plugins
    ln -sf "$PLUGIN" /usr/local/lib/docker/cli-plugins/docker-compose
  fi
  compose_ok || { echo "[install] docker compose v2 still not available" >&2; exit 1; }
  log "compose v2: $(docker compose version)"
fi
