// Container healthcheck (the image may have no shell): healthy when the node's /ready answers 200 on the metrics
// port (synced to the best known height and a quorum of validators reachable; see docs/monitoring.md).
// Ports: CONSORT_METRICS_PORT (default 9545) and CONSORT_RPC_PORT (default 8545), what `consort testnet --docker`
// writes into node.json. A node.json without a `metrics` section serves no /ready: then the check falls back to
// "the JSON-RPC answers eth_blockNumber" (liveness only), sent with the bearer token in CONSORT_RPC_TOKEN_FILE
// (default /config/health.jwt) when that file exists (a node whose RPC requires auth).
import { readFileSync } from "node:fs";

const metricsPort = Number(process.env.CONSORT_METRICS_PORT ?? 9545);
const rpcPort = Number(process.env.CONSORT_RPC_PORT ?? 8545);

async function ready() {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/ready`, { signal: AbortSignal.timeout(3000) });
  const body = await res.json().catch(() => null);
  if (res.status !== 200 && body?.reasons) console.log(`not ready: ${body.reasons.join("; ")}`);
  return res.status === 200;
}

async function rpcAnswers() {
  let token = "";
  try {
    token = readFileSync(process.env.CONSORT_RPC_TOKEN_FILE ?? "/config/health.jwt", "utf8").trim();
  } catch {
    // no token file: the node runs without auth
  }
  const res = await fetch(`http://127.0.0.1:${rpcPort}/`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
    signal: AbortSignal.timeout(3000),
  });
  const body = await res.json();
  return typeof body?.result === "string";
}

try {
  process.exit((await ready()) ? 0 : 1);
} catch (err) {
  // Connection refused: no metrics server configured; anything else (timeout) is unhealthy.
  if (err?.cause?.code !== "ECONNREFUSED") process.exit(1);
  try {
    process.exit((await rpcAnswers()) ? 0 : 1);
  } catch {
    process.exit(1);
  }
}
