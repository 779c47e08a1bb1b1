// Container healthcheck (the image may have no shell): healthy when the node's JSON-RPC answers eth_blockNumber.
// Port: CONSORT_RPC_PORT (default 8545, the port `consort testnet --docker` writes into node.json).
// Token: the node's RPC needs one off loopback-only setups; CONSORT_RPC_TOKEN_FILE (default /config/health.jwt, a
// read-only token `consort testnet --docker` writes beside node.json) is sent as a bearer token when it exists.
import { readFileSync } from "node:fs";

const port = Number(process.env.CONSORT_RPC_PORT ?? 8545);
let token = "";
try {
  token = readFileSync(process.env.CONSORT_RPC_TOKEN_FILE ?? "/config/health.jwt", "utf8").trim();
} catch {
  // no token file: the node runs without auth
}
try {
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
    signal: AbortSignal.timeout(3000),
  });
  const body = await res.json();
  process.exit(typeof body?.result === "string" ? 0 : 1);
} catch {
  process.exit(1);
}
