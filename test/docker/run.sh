#!/usr/bin/env bash
# Docker end-to-end test (`npm run test:docker`): a 4-validator Consort testnet in containers, checked from the host.
# Runs as root on a Debian bookworm machine without a container registry (see docker/README.md):
#   1. installs docker.io + compose v2 if missing (test/docker/install.sh);
#   2. starts dockerd if none answers (and stops it again, by its pid), guards the uplink:
#      iptables -I DOCKER-USER -o <uplink> -j DROP  (containers never reach beyond the host);
#   3. builds the local base image (test/docker/make-base.sh) and the Consort image (docker/Dockerfile.local: compiled
#      dist/, production packages only), proves the native addons (level's LevelDB, secp256k1) and dist/ work inside
#      it and that no dev package (tsx, vitest) is in it, generates the testnet with `consort testnet --docker`;
#   4. docker compose up --wait; over 127.0.0.1: txs commit on all 4 nodes with identical block hashes; node2 stopped ->
#      the 3 others still commit; node2 started -> it catches up to the same head and takes part again;
#   5. always: compose down -v, removes the image it built, the guard rule, the dockerd it started, its temp dir.
# Env: CONSORT_DOCKER_TIMEOUT_S (each wait, default 60), CONSORT_DOCKER_KEEP_IMAGE=1 (keep consort:ci),
#      CONSORT_DOCKER_UNTIL=image (stop after step 3's image checks), CONSORT_SUBNET (p2p subnet, default 172.28.0.0/24).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
T_START=$(date +%s%N)
TIMEOUT_S=${CONSORT_DOCKER_TIMEOUT_S:-60}
PROJECT=consort-ci
IMAGE=consort:ci
WORK=$(mktemp -d /tmp/consort-docker.XXXXXX)
DOCKERD_PID=""
GUARD_IF=""
COMPOSE_UP=""
IMAGE_BUILT=""
COMPOSE=(docker compose -p "$PROJECT" -f "$ROOT/docker/docker-compose.yml")
export CONSORT_IMAGE=$IMAGE CONSORT_TESTNET_DIR=$WORK/testnet

elapsed() { echo $((($(date +%s%N) - T_START) / 1000000)) | awk '{printf "%.1f s", $1/1000}'; }
STEP_T=$T_START
step() {
  local now
  now=$(date +%s%N)
  printf '\n[docker-test] %s  (+%s; step before took %.1f s)\n' "$*" "$(elapsed)" "$(((now - STEP_T) / 1000000))e-3"
  STEP_T=$now
}
die() {
  echo "[docker-test] FAIL: $*" >&2
  exit 1
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  echo
  if [[ -n $COMPOSE_UP ]]; then
    if [[ $rc -ne 0 ]]; then
      echo "[docker-test] ---- container logs (last 40 lines each) ----"
      "${COMPOSE[@]}" logs --no-color --tail 40 2>&1 | sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e 's/^/  /'
    fi
    "${COMPOSE[@]}" --profile observer down -v --remove-orphans --timeout 10 >/dev/null 2>&1 ||
      echo "[docker-test] WARNING: compose down failed"
  fi
  if [[ -n $IMAGE_BUILT && -z ${CONSORT_DOCKER_KEEP_IMAGE:-} ]]; then
    docker image rm -f "$IMAGE" >/dev/null 2>&1
  fi
  if [[ -n $GUARD_IF ]]; then
    iptables -D DOCKER-USER -o "$GUARD_IF" -j DROP 2>/dev/null || echo "[docker-test] WARNING: guard rule not removed"
  fi
  if [[ -n $DOCKERD_PID ]]; then
    if [[ $rc -ne 0 && -s $WORK/dockerd.log ]]; then
      echo "[docker-test] ---- dockerd log (last 20 lines) ----"
      tail -n 20 "$WORK/dockerd.log" | sed 's/^/  /'
    fi
    kill -TERM "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.25; done
    kill -0 "$DOCKERD_PID" 2>/dev/null && { echo "[docker-test] dockerd still up after 15 s: SIGKILL"; kill -KILL "$DOCKERD_PID"; }
  fi
  rm -rf "$WORK"
  if [[ $rc -eq 0 ]]; then echo "[docker-test] PASSED in $(elapsed)"; else echo "[docker-test] FAILED (exit $rc) after $(elapsed)"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $(id -u) -eq 0 ]] || die "must run as root (installs packages, starts dockerd, edits iptables)"
[[ -d node_modules ]] || die "node_modules missing: run npm ci first"

# ---- 1. packages -------------------------------------------------------------------------------------------------
step "1/8 packages (docker.io, compose v2)"
"$ROOT/test/docker/install.sh"

# ---- 2. engine + guard --------------------------------------------------------------------------------------------
step "2/8 engine"
if docker info >/dev/null 2>&1; then
  echo "[docker-test] using the running docker engine (will not stop it)"
else
  dockerd >"$WORK/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  echo "[docker-test] started dockerd, pid $DOCKERD_PID"
  for _ in $(seq 1 $((TIMEOUT_S * 4))); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || die "dockerd exited: $(tail -n 5 "$WORK/dockerd.log")"
    sleep 0.25
  done
  docker info >/dev/null 2>&1 || die "docker info does not answer after ${TIMEOUT_S} s"
fi
echo "[docker-test] engine $(docker version -f '{{.Server.Version}}'), $(docker compose version)"
UPLINK=$(ip route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit }}')
if [[ -n $UPLINK ]]; then
  for _ in $(seq 1 40); do iptables -L DOCKER-USER -n >/dev/null 2>&1 && break; sleep 0.25; done
  iptables -I DOCKER-USER -o "$UPLINK" -j DROP || die "could not add the guard rule to DOCKER-USER"
  GUARD_IF=$UPLINK
  echo "[docker-test] guard: iptables -I DOCKER-USER -o $UPLINK -j DROP"
else
  echo "[docker-test] no default route: nothing to guard"
fi

# ---- 3. images ------------------------------------------------------------------------------------------------------
step "3/8 base image (the pinned node + libraries)"
BASE=$("$ROOT/test/docker/make-base.sh" | tail -n 1)

step "4/8 consort image ($IMAGE from docker/Dockerfile.local)"
"$ROOT/test/docker/build-context.sh" "$WORK/context"
IMAGE_BUILT=1
DOCKER_BUILDKIT=0 docker build -q -f "$ROOT/docker/Dockerfile.local" --build-arg "BASE_IMAGE=$BASE" -t "$IMAGE" \
  "$WORK/context" 2> >(grep -v -e DEPRECATED -e BuildKit -e 'environment-variable' -e '^ *$' >&2) >/dev/null
rm -rf "$WORK/context"
docker image ls --format '[docker-test] {{.Repository}}:{{.Tag}} {{.Size}}' | grep -E "consort|$BASE" || true

step "5/8 image smoke test: native addons, compiled dist/, no dev packages, LevelDB on the /data volume, as uid 10001"
docker run --rm --network none -v /data --entrypoint node "$IMAGE" \
  -e "require('level'); require('secp256k1/bindings'); console.log('[docker-test] native addons load: ok')"
# Only production dependencies (npm ci --omit=dev): tsx and vitest must be absent. (typescript may be present: it is
# viem's optional peer, which npm flags devOptional and keeps with --omit=dev.)
docker run --rm --network none --entrypoint node "$IMAGE" -e "
  for (const dev of ['tsx', 'vitest']) {
    let found = false;
    try { require.resolve(dev); found = true; } catch {}
    if (found) { console.error('[docker-test] dev package in the image:', dev); process.exit(1); }
  }
  console.log('[docker-test] no dev packages (tsx, vitest): ok')"
docker run --rm --network none -v /data --entrypoint node "$IMAGE" --input-type=module -e "
  const { bytesToHex } = await import('/app/dist/util/hex.js');
  const { Level } = await import('level');
  const secp = (await import('secp256k1/bindings.js')).default;
  const db = new Level('/data/smoke');
  await db.put('k', 'v');
  if ((await db.get('k')) !== 'v') throw new Error('LevelDB read-back failed');
  await db.close();
  const sig = secp.ecdsaSign(new Uint8Array(32).fill(2), new Uint8Array(32).fill(1));
  console.log('[docker-test] uid', process.getuid(), 'dist + LevelDB (level) + secp256k1 ok, sig', bytesToHex(sig.signature).slice(0, 18));
"
if [[ ${CONSORT_DOCKER_UNTIL:-} == image ]]; then
  echo "[docker-test] CONSORT_DOCKER_UNTIL=image: stopping here"
  exit 0
fi

# ---- 4. testnet ----------------------------------------------------------------------------------------------------
step "6/8 testnet configs (consort testnet --validators 4 --docker)"
node --import tsx src/cli/main.ts testnet --validators 4 --out "$WORK/testnet" --docker ||
  die "consort testnet --docker failed (see docker/README.md for the layout the compose file expects)"
for i in 0 1 2 3; do
  for f in node.json node.key genesis.json rpc-jwt.secret health.jwt; do
    [[ -f $WORK/testnet/node$i/$f ]] || die "testnet --docker did not write node$i/$f"
  done
done
[[ -f $WORK/testnet/accounts.json ]] || die "testnet --docker did not write accounts.json"
[[ -f $WORK/testnet/rpc-tokens/submit.jwt ]] || die "testnet --docker did not write rpc-tokens/submit.jwt"
# The containers run as uid 10001 and mount each node folder read-only: they must be able to read node.key (0600).
chown -R 10001:10001 "$WORK/testnet"

# Host ports for the RPC of node0..node3: 8545..8548 unless one is taken, then another free block.
port_free() { ! ss -Hltn "sport = :$1" | grep -q .; }
for base in 8545 18545 28545 38545 48545; do
  ok=1
  for i in 0 1 2 3; do port_free $((base + i)) || ok=""; done
  [[ -n $ok ]] && break
done
[[ -n $ok ]] || die "no free block of 4 TCP ports for the RPC"
PORTS=()
for i in 0 1 2 3; do
  export "CONSORT_NODE${i}_RPC_PORT=$((base + i))"
  PORTS+=($((base + i)))
done
ALL=$(IFS=,; echo "${PORTS[*]}")
NODE2=${PORTS[2]}
LIVE=$(IFS=,; echo "${PORTS[0]},${PORTS[1]},${PORTS[3]}")
CHECK=(node --import tsx "$ROOT/test/docker/check.ts")
# The docker testnet serves RPC with bearer tokens only (written by `consort testnet --docker`).
ACCTS=(--accounts "$WORK/testnet/accounts.json" --token-dir "$WORK/testnet/rpc-tokens" --timeout-ms $((TIMEOUT_S * 1000)))

# ---- 5. compose -----------------------------------------------------------------------------------------------------
step "7/8 docker compose up --wait (RPC on 127.0.0.1:${PORTS[0]}..${PORTS[3]})"
COMPOSE_UP=1
timeout $((TIMEOUT_S * 2)) "${COMPOSE[@]}" up -d --wait --quiet-pull ||
  die "compose up --wait failed or took longer than $((TIMEOUT_S * 2)) s (not all nodes healthy)"
"${COMPOSE[@]}" ps --format '[docker-test] {{.Service}} {{.Status}} {{.Ports}}'

step "8/8 checks over 127.0.0.1"
"${CHECK[@]}" ready --ports "$ALL" "${ACCTS[@]}"
"${CHECK[@]}" commit --ports "$ALL" --txs 8 --first 0 "${ACCTS[@]}"

echo "[docker-test] stopping node2"
timeout "$TIMEOUT_S" "${COMPOSE[@]}" stop node2 || die "compose stop node2 took longer than ${TIMEOUT_S} s"
# Two rounds, so that several heights are decided without node2 (one of them likely led by node2: view change).
"${CHECK[@]}" commit --ports "$LIVE" --txs 4 --first 2 "${ACCTS[@]}"
"${CHECK[@]}" commit --ports "$LIVE" --txs 3 --first 5 "${ACCTS[@]}"

echo "[docker-test] starting node2 again"
timeout $((TIMEOUT_S * 2)) "${COMPOSE[@]}" up -d --wait node2 || die "node2 did not come back healthy"
"${CHECK[@]}" catchup --ports "$ALL" --lagging "$NODE2" "${ACCTS[@]}"
# node2 first in the list: it receives the first tx itself, and all 4 must commit everything again.
"${CHECK[@]}" commit --ports "$NODE2,$LIVE" --txs 4 --first 4 "${ACCTS[@]}"

timeout "$TIMEOUT_S" "${COMPOSE[@]}" down -v --timeout 10 || die "compose down took longer than ${TIMEOUT_S} s"
COMPOSE_UP=""
step "done"
