// Container healthcheck (the image may have no shell): healthy when the node's JSON-RPC answers eth_blockNumber.
// Port: CONSORT_RPC_PORT (default 8545, the port `consort testnet --docker` writes into node.json).
const port = Number(process.env.CONSORT_RPC_PORT ?? 8545);
try {
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
    signal: AbortSignal.timeout(3000),
  });
  const body = await res.json();
  process.exit(typeof body?.result === "string" ? 0 : 1);
} catch {
  process.exit(1);
}
