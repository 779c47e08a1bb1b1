/**
 * Issue 11 (RPC work off the commit path): does one client holding every filter and subscription it may open change
 * commit latency? A 1-validator node runs in its own process (as in production); this process measures commit latency
 * (send a tx that emits a log → its receipt is readable, polled every 2 ms) with no load, then while one client holds:
 *   - filtersPerPrincipal polling filters (logs matching everything, block, pending), never polled;
 *   - subscriptionsPerPrincipal subscriptions over connections of maxSubscriptionsPerConnection each (newHeads,
 *     logs, newPendingTransactions), read normally except the first connection, which stops reading (a slow
 *     consumer);
 * and shows the errors past each limit. Rounds alternate (A B A B) so machine noise hits both alike.
 *
 *   npx tsx bench/rpcFanout.ts [--txs 60] [--rounds 2]
 */
import "../src/util/polyfill.js";
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { getCreateAddress, Wallet } from "ethers";
import WebSocket from "ws";
import { spawnNode, waitForNodes } from "../src/cli/dev.js";
import { defaultTestnetOptions, generateTestnet } from "../src/cli/testnet.js";
import { defaultRpcServerOptions } from "../src/rpc/options.js";
import { bytesToHex, hexToBytes } from "../src/util/hex.js";
import { freeTestnetPorts } from "../src/util/ports.js";
import { keyOf, signLegacyFast } from "../test/node/helpers.js";

const { values } = parseArgs({
  options: { txs: { type: "string", default: "60" }, rounds: { type: "string", default: "2" } },
});
const TXS = Number(values.txs);
const ROUNDS = Number(values.rounds);
/** Runtime code `LOG0(0, 0); STOP`, deployed by init code that returns it. */
const LOG_INIT = hexToBytes("0x6560006000a0006000526006601af3");

let url = "";
let rpcId = 0;
async function rpc<T>(method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, params }),
  });
  const body = (await res.json()) as { result?: T; error?: { code: number; message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.code} ${body.error.message}`);
  return body.result as T;
}

async function untilReceipt(hash: string): Promise<void> {
  for (;;) {
    if (await rpc<unknown>("eth_getTransactionReceipt", [hash])) return;
    await new Promise((r) => setTimeout(r, 2));
  }
}

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

interface Load {
  sockets: WebSocket[];
  notifications: number;
  errors: string[];
}

/** One client taking every filter and subscription it may have; returns its sockets and the errors past limits. */
async function openLoad(wsUrl: string): Promise<Load> {
  const o = defaultRpcServerOptions;
  const load: Load = { sockets: [], notifications: 0, errors: [] };
  const kinds = [
    ["eth_newFilter", [{}]],
    ["eth_newBlockFilter", []],
    ["eth_newPendingTransactionFilter", []],
  ] as const;
  for (let i = 0; i < o.quotas.filtersPerPrincipal; i++) {
    const [m, p] = kinds[i % 3]!;
    await rpc(m, [...p]);
  }
  await rpc("eth_newBlockFilter").catch((e: Error) => load.errors.push(e.message));
  const perConn = o.maxSubscriptionsPerConnection;
  const conns = Math.ceil(o.quotas.subscriptionsPerPrincipal / perConn);
  for (let c = 0; c < conns + 1; c++) {
    const ws = new WebSocket(wsUrl);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    load.sockets.push(ws);
    const pending = new Map<number, (m: { error?: { message: string } }) => void>();
    ws.on("message", (d) => {
      const m = JSON.parse(d.toString());
      if (m.method === "eth_subscription") load.notifications++;
      else pending.get(m.id)?.(m);
    });
    const call = (id: number, params: unknown[]) =>
      new Promise<{ error?: { message: string } }>((resolve) => {
        pending.set(id, resolve);
        ws.send(JSON.stringify({ jsonrpc: "2.0", id, method: "eth_subscribe", params }));
      });
    const subs = [["newHeads"], ["logs", {}], ["newPendingTransactions"]];
    for (let i = 0; i < perConn + 1; i++) {
      const r = await call(i + 1, subs[i % 3]!);
      if (r.error && !load.errors.includes(r.error.message)) load.errors.push(r.error.message);
    }
  }
  // The first connection (100 subscriptions) stops reading: a slow consumer the server must not wait for.
  (load.sockets[0] as unknown as { _socket: { pause(): void } })._socket.pause();
  return load;
}

async function measure(from: Wallet, nonce: { n: bigint }, to: Uint8Array): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < TXS; i++) {
    const raw = signLegacyFast(keyOf(from), { nonce: nonce.n++, to, gasLimit: 50_000n });
    const t0 = performance.now();
    const hash = await rpc<string>("eth_sendRawTransaction", [bytesToHex(raw)]);
    await untilReceipt(hash);
    out.push(performance.now() - t0);
  }
  return out;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "consort-fanout-"));
  let child: ChildProcess | null = null;
  try {
    const net = await generateTestnet({
      ...defaultTestnetOptions,
      outDir: dir,
      validators: 1,
      ...(await freeTestnetPorts(1)),
    });
    const cfgFile = net.nodes[0]!.configFile;
    const cfg = JSON.parse(await readFile(cfgFile, "utf8"));
    cfg.log = { level: "warn", pretty: false };
    await writeFile(cfgFile, JSON.stringify(cfg));
    const node = net.nodes[0]!;
    const logFile = path.join(dir, "node.log");
    child = spawnNode(cfgFile, logFile);
    url = node.rpcUrl;
    await waitForNodes([{ ...node, child, logFile }], 60_000);
    const from = new Wallet(net.accounts[1]!.privateKey);
    const nonce = { n: 0n };
    const deploy = signLegacyFast(keyOf(from), {
      nonce: nonce.n++,
      to: null,
      data: LOG_INIT,
      gasLimit: 100_000n,
    });
    await untilReceipt(await rpc<string>("eth_sendRawTransaction", [bytesToHex(deploy)]));
    const logger = hexToBytes(getCreateAddress({ from: from.address, nonce: 0 }));
    await measure(from, nonce, logger); // warm-up
    const base: number[] = [];
    const loaded: number[] = [];
    let load: Load | null = null;
    for (let r = 0; r < ROUNDS; r++) {
      base.push(...(await measure(from, nonce, logger)));
      load = await openLoad(url.replace(/^http/, "ws"));
      loaded.push(...(await measure(from, nonce, logger)));
      for (const s of load.sockets) s.terminate();
      // The filters would expire only after filterIdleTimeoutMs: restart the node for the next baseline.
      child.kill("SIGTERM");
      await new Promise((resolve) => child!.once("exit", resolve));
      child = spawnNode(cfgFile, logFile);
      await waitForNodes([{ ...node, child, logFile }], 60_000);
    }
    const row = (name: string, xs: number[]) =>
      `${name.padEnd(26)} n=${xs.length}  median ${percentile(xs, 50).toFixed(1)} ms  p90 ${percentile(xs, 90).toFixed(1)} ms  mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1)} ms`;
    console.log(row("commit latency, no load", base));
    console.log(row("commit latency, full load", loaded));
    const change = (percentile(loaded, 50) / percentile(base, 50) - 1) * 100;
    console.log(`median change under load: ${change >= 0 ? "+" : ""}${change.toFixed(1)} %`);
    console.log(`notifications received by the load client (last round): ${load?.notifications}`);
    console.log(`errors past the limits:\n  ${load?.errors.join("\n  ")}`);
  } finally {
    child?.kill("SIGTERM");
    if (child && child.exitCode === null) await new Promise((resolve) => child!.once("exit", resolve));
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
