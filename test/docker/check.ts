// Black-box checks of a running Consort testnet over JSON-RPC on 127.0.0.1 (used by test/docker/run.sh).
//
//   tsx test/docker/check.ts ready   --ports 8545,8546,8547,8548
//   tsx test/docker/check.ts commit  --ports 8545,8546,8547,8548 --accounts DIR/accounts.json [--txs 4] [--first 0]
//   tsx test/docker/check.ts catchup --ports 8545,8546,8547,8548 --lagging 8547
//   every phase: [--token-dir DIR/rpc-tokens]  (the tokens `consort testnet --docker` writes; RPC needs them)
//
// ready:   every node answers eth_blockNumber.
// commit:  sends --txs signed value transfers (dev accounts, round-robin over the given nodes), waits for a successful
//          receipt of each on EVERY given node, then checks that all given nodes have the same block hash at every
//          height up to the lowest head, and that each block's parentHash is the previous block's hash.
// catchup: waits until the --lagging node reports the same head (number and hash) as the others.
// Every wait is bounded by --timeout-ms (default 60000) and fails with a message naming what was awaited.

import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { Wallet } from "ethers";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
interface RpcBlock {
  number: string;
  hash: string;
  parentHash: string;
}

const args = process.argv.slice(2);
const phase = args[0];
const flag = (name: string, def?: string): string => {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? args[i + 1] : def;
  if (v === undefined) fail(`missing --${name}`);
  return v;
};
const timeoutMs = Number(flag("timeout-ms", "60000"));
// The docker testnet serves RPC with bearer tokens only: submit.jwt may read and send; read.jwt may only read.
const tokenDir = args.includes("--token-dir") ? flag("token-dir") : null;
const tokenOf = (name: string): string | null =>
  tokenDir ? readFileSync(`${tokenDir}/${name}.jwt`, "utf8").trim() : null;
const submitToken = tokenOf("submit");
const readToken = tokenOf("read");
const ports = flag("ports")
  .split(",")
  .map((p) => Number(p));

function fail(msg: string): never {
  console.error(`[check] FAIL: ${msg}`);
  process.exit(1);
}
const log = (msg: string) => console.log(`[check] ${msg}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let rpcId = 0;
async function rpc<T = Json>(
  port: number,
  method: string,
  params: Json[] = [],
  token = submitToken,
): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${port}/`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }),
    signal: AbortSignal.timeout(5000),
  });
  const body = (await res.json()) as { result?: T; error?: { code: number; message: string } };
  if (body.error) throw new Error(`${method} on :${port}: ${body.error.code} ${body.error.message}`);
  return body.result as T;
}

/** Polls `probe` until it returns a value other than undefined; fails with `what` after the deadline. */
async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  deadlineMs = timeoutMs,
): Promise<T> {
  const end = Date.now() + deadlineMs;
  let lastErr = "";
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      lastErr = ` (last error: ${err instanceof Error ? err.message : String(err)})`;
    }
    if (Date.now() > end) fail(`timed out after ${deadlineMs} ms waiting for ${what}${lastErr}`);
    await sleep(250);
  }
}

const head = async (port: number) => {
  const number = Number(await rpc<string>(port, "eth_blockNumber"));
  const block = await rpc<RpcBlock | null>(port, "eth_getBlockByNumber", [`0x${number.toString(16)}`, false]);
  if (!block) throw new Error(`:${port} has no block ${number} although eth_blockNumber says so`);
  return { number, hash: block.hash };
};

async function ready(): Promise<void> {
  for (const port of ports) {
    const n = await waitFor(`eth_blockNumber on 127.0.0.1:${port}`, () =>
      rpc<string>(port, "eth_blockNumber"),
    );
    log(`:${port} up, head ${Number(n)}`);
  }
  if (tokenDir) await authEnforced(ports[0]!);
}

/** Tokens are on: no token → HTTP 401; a read token may read but not send (HTTP 403). */
async function authEnforced(port: number): Promise<void> {
  const post = (token: string | null, method: string, params: Json[]) =>
    fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      signal: AbortSignal.timeout(5000),
    });
  const anonymous = await post(null, "eth_blockNumber", []);
  if (anonymous.status !== 401)
    fail(`:${port} answered a call without a token with HTTP ${anonymous.status}, not 401`);
  await rpc<string>(port, "eth_blockNumber", [], readToken);
  const send = await post(readToken, "eth_sendRawTransaction", ["0x00"]);
  if (send.status !== 403) fail(`:${port} let a read token send (HTTP ${send.status}, not 403)`);
  log(`:${port} enforces tokens (no token: 401; read token: reads, a send is 403)`);
}

async function agreement(): Promise<number> {
  const heads = await Promise.all(ports.map(head));
  const top = Math.min(...heads.map((h) => h.number));
  let parent: string | undefined;
  for (let h = 0; h <= top; h++) {
    const q = `0x${h.toString(16)}`;
    const blocks = await Promise.all(
      ports.map((p) => rpc<RpcBlock | null>(p, "eth_getBlockByNumber", [q, false])),
    );
    blocks.forEach((b, i) => {
      if (!b) fail(`:${ports[i]} has no block ${h} (its head is ${heads[i]?.number})`);
      if (b.hash !== blocks[0]?.hash) {
        fail(`fork at height ${h}: :${ports[0]} has ${blocks[0]?.hash}, :${ports[i]} has ${b.hash}`);
      }
    });
    const b = blocks[0]!;
    if (parent !== undefined && b.parentHash !== parent)
      fail(`block ${h} parentHash ${b.parentHash} != ${parent}`);
    parent = b.hash;
  }
  log(`${ports.length} nodes agree on blocks 0..${top} (heads: ${heads.map((h) => h.number).join(",")})`);
  return top;
}

async function commit(): Promise<void> {
  const txCount = Number(flag("txs", "4"));
  const first = Number(flag("first", "0"));
  const file = JSON.parse(await readFile(flag("accounts"), "utf8")) as
    | { accounts: { address: string; privateKey: string }[] }
    | { address: string; privateKey: string }[];
  const accounts = Array.isArray(file) ? file : file.accounts;
  if (!accounts || accounts.length < 2) fail("accounts file holds fewer than 2 accounts");
  const chainId = BigInt(await rpc<string>(ports[0]!, "eth_chainId"));
  let gasPrice = 0n;
  try {
    gasPrice = BigInt(await rpc<string>(ports[0]!, "eth_gasPrice"));
  } catch {
    log("eth_gasPrice failed, using gasPrice 0");
  }
  const nonces = new Map<string, number>();
  const sent: { hash: string; port: number }[] = [];
  for (let i = 0; i < txCount; i++) {
    const from = accounts[(first + i) % accounts.length]!;
    const to = accounts[(first + i + 1) % accounts.length]!;
    const port = ports[i % ports.length]!;
    const wallet = new Wallet(from.privateKey);
    let nonce = nonces.get(from.address);
    if (nonce === undefined) {
      nonce = Number(await rpc<string>(port, "eth_getTransactionCount", [from.address, "latest"]));
    }
    nonces.set(from.address, nonce + 1);
    const raw = await wallet.signTransaction({
      type: 0,
      chainId,
      nonce,
      to: to.address,
      value: 1000n + BigInt(i),
      gasLimit: 21000n,
      gasPrice,
    });
    const hash = await rpc<string>(port, "eth_sendRawTransaction", [raw]);
    sent.push({ hash, port });
  }
  log(`sent ${sent.length} txs (chainId ${chainId}) round-robin to :${ports.join(",:")}`);
  for (const { hash, port: via } of sent) {
    for (const port of ports) {
      const receipt = await waitFor(`receipt of ${hash} (sent via :${via}) on :${port}`, async () => {
        const r = await rpc<{ status: string; blockNumber: string } | null>(
          port,
          "eth_getTransactionReceipt",
          [hash],
        );
        return r ?? undefined;
      });
      if (receipt.status !== "0x1") fail(`tx ${hash} failed on :${port} (status ${receipt.status})`);
    }
  }
  log(`all ${sent.length} txs committed with status 1 on every node`);
  await agreement();
}

async function catchup(): Promise<void> {
  const lagging = Number(flag("lagging"));
  const others = ports.filter((p) => p !== lagging);
  const target = await head(others[0]!);
  log(`waiting for :${lagging} to reach head ${target.number} (${target.hash})`);
  await waitFor(`:${lagging} to catch up to block ${target.number}`, async () => {
    const h = await head(lagging);
    if (h.number < target.number) return undefined;
    const b = await rpc<RpcBlock | null>(lagging, "eth_getBlockByNumber", [
      `0x${target.number.toString(16)}`,
      false,
    ]);
    if (b?.hash !== target.hash)
      fail(`:${lagging} has ${b?.hash} at ${target.number}, others have ${target.hash}`);
    return h;
  });
  log(`:${lagging} caught up`);
  await agreement();
}

const started = Date.now();
switch (phase) {
  case "ready":
    await ready();
    break;
  case "commit":
    await commit();
    break;
  case "catchup":
    await catchup();
    break;
  default:
    fail(`unknown phase "${phase}" (ready | commit | catchup)`);
}
log(`${phase} ok in ${((Date.now() - started) / 1000).toFixed(1)} s`);
