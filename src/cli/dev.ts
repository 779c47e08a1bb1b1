import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { finished } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { DEV_GOVERNOR_KEY_FILE, devAccountKey } from "../config/index.js";
import { privateKeyToAddress, saveAccountKey } from "../crypto/index.js";
import { NOT_ON_NODE_LIST_REASON } from "../metrics/readiness.js";
import { errorMessage } from "../util/errors.js";
import { bytesToHex } from "../util/hex.js";
import { portIsFree } from "../util/ports.js";
import { CliError } from "./args.js";
import { RotatingLogFile } from "./logFile.js";
import type { GeneratedNode, GeneratedTestnet } from "./testnet.js";

// Compiled (dist/cli/dev.js: `npm start`, the `consort` bin, docker) the nodes run dist/cli/main.js on plain node;
// from the sources (tsx, vitest) they run src/cli/main.ts through tsx, so one run never mixes the two.
const COMPILED = import.meta.url.endsWith(".js");
const MAIN = fileURLToPath(new URL(COMPILED ? "./main.js" : "./main.ts", import.meta.url));
const NODE_ARGS = COMPILED ? [MAIN] : ["--import", "tsx", MAIN];
/** dist/cli/main.js, from the sources or from dist itself (benchmarks measure what `npm start` runs). */
export const COMPILED_MAIN = fileURLToPath(
  new URL(COMPILED ? "./main.js" : "../../dist/cli/main.js", import.meta.url),
);

/**
 * Spawns `consort start --config FILE` as a child process running the same code as this process (dist or tsx), or
 * the compiled node (`runtime: "compiled"`; `npm run build` first) whatever this process runs.
 */
export function spawnNode(
  configFile: string,
  logFile: string | null,
  extraEnv: NodeJS.ProcessEnv = {},
  runtime: "same" | "compiled" = "same",
): ChildProcess {
  const args = runtime === "compiled" ? [compiledMain()] : NODE_ARGS;
  // Opened first: a log file that cannot be opened leaves no child behind.
  const out = logFile ? new RotatingLogFile(logFile) : null;
  const child = spawn(process.execPath, [...args, "start", "--config", configFile], {
    stdio: ["ignore", out ? "pipe" : "inherit", out ? "pipe" : "inherit"],
    env: { ...process.env, ...extraEnv },
  });
  if (out) {
    child.stdout?.pipe(out, { end: false });
    child.stderr?.pipe(out, { end: false });
    // The file is complete once the child's output has ended and reached it (the start-up wait reads its end).
    child.once("close", () => out.end());
    logWritten.set(
      child,
      finished(out).catch(() => {}),
    );
  }
  return child;
}

/** Per child spawned with a log file: settles once everything it wrote is in the file. */
const logWritten = new WeakMap<ChildProcess, Promise<void>>();

/** The compiled entry point; a clear error when the build is missing. */
export function compiledMain(): string {
  if (!existsSync(COMPILED_MAIN)) {
    throw new CliError("CLI_NOT_BUILT", `${COMPILED_MAIN} is missing: run \`npm run build\` first`);
  }
  return COMPILED_MAIN;
}

/**
 * `npm start`: a local 4-validator testnet on 127.0.0.1, generated under DIR on first run and resumed afterwards.
 * Node i serves JSON-RPC on 127.0.0.1:8545+i (HTTP and WebSocket) and libp2p on 127.0.0.1:30300+i.
 */
export async function runDevTestnet(dir: string): Promise<void> {
  const testnet = existsSync(path.join(dir, "testnet.json")) ? await loadTestnet(dir) : await generate(dir);
  // A dev chain generated before its governor got a key file: write it (the key is public anyway).
  const governorKeyFile = path.join(dir, DEV_GOVERNOR_KEY_FILE);
  if (usesDevKeys(testnet) && !existsSync(governorKeyFile)) {
    await saveAccountKey(governorKeyFile, devAccountKey(0));
  }
  await assertPortsFree(testnet);
  const children = testnet.nodes.map((n) =>
    spawnNode(n.configFile, path.join(n.dir, "node.log"), { FORCE_COLOR: "0" }),
  );
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    const running = children.filter((c) => c.exitCode === null && c.signalCode === null).length;
    console.log(`\n${why}: stopping ${running} of ${children.length} nodes…`);
    for (const c of children) c.kill("SIGTERM");
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  children.forEach((c, i) => {
    c.on("exit", (code, signal) => {
      if (!stopping)
        console.error(
          `${testnet.nodes[i]!.name} exited (${signal ?? code}); see ${testnet.nodes[i]!.dir}/node.log`,
        );
    });
  });
  try {
    await waitForNodes(
      testnet.nodes.map((n, i) => ({ ...n, child: children[i]!, logFile: path.join(n.dir, "node.log") })),
      60_000,
    );
  } catch (err) {
    // No half-started testnet left behind: the other nodes stop too.
    stop("start-up failed");
    await Promise.all(children.map(exited));
    throw err;
  }
  // RPC answers seconds before the nodes have connected: a transaction sent then waited for the mesh. The banner
  // comes once each node's /ready says it reaches a quorum of validators and is in sync (or after READY_WAIT_MS).
  const notReady = await waitForReady(testnet.nodes, READY_WAIT_MS, () => stopping);
  if (!stopping) console.log(bannerText(testnet));
  if (!stopping && notReady.length > 0) {
    console.log(
      `Not ready yet (transactions wait until a quorum of validators is connected):\n  ${notReady.join("\n  ")}`,
    );
  }
  await Promise.all(children.map(exited));
  console.log("all nodes stopped; `npm start` again resumes this chain.");
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve()),
  );
}

/**
 * Refuses to start a testnet whose ports another program holds (an anvil or Hardhat node on 8545, an earlier
 * `npm start`): its node would fail to bind and exit, and the start-up wait could even take that program's JSON-RPC
 * answer for the node's.
 */
export async function assertPortsFree(testnet: Pick<GeneratedTestnet, "nodes">): Promise<void> {
  const busy: string[] = [];
  for (const n of testnet.nodes) {
    const rpc = new URL(n.rpcUrl);
    const ports: [number, string][] = [
      [Number(rpc.port), "JSON-RPC"],
      [n.p2pPort, "P2P"],
    ];
    if (n.metricsUrl) ports.push([Number(new URL(n.metricsUrl).port), "metrics"]);
    for (const [port, what] of ports) {
      if (!(await portIsFree(port, rpc.hostname))) busy.push(`${rpc.hostname}:${port} (${n.name} ${what})`);
    }
  }
  if (busy.length === 0) return;
  throw new CliError(
    "CLI_PORT_BUSY",
    `another program is listening on ${busy.join(", ")}: stop it (an anvil or Hardhat node, an earlier \`npm start\`?), or give this chain other ports: \`consort testnet --out DIR --rpc-port N --p2p-port N --metrics-port N\`, then \`npm start -- --dir DIR\``,
    { ports: busy },
  );
}

/** A node being started: its name, its JSON-RPC URL, its process and where its output goes. */
export interface StartingNode {
  name: string;
  rpcUrl: string;
  child: ChildProcess;
  logFile: string | null;
}

/**
 * Resolves once every node's JSON-RPC answers. Rejects as soon as one of them exits first (with the end of its log:
 * the reason), or after `timeoutMs`.
 */
export async function waitForNodes(nodes: StartingNode[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const waiting = new Set(nodes);
  for (;;) {
    for (const n of waiting) {
      if (n.child.exitCode !== null || n.child.signalCode !== null) throw await nodeExited(n);
      if (await rpcAnswers(n.rpcUrl)) waiting.delete(n);
    }
    if (waiting.size === 0) return;
    if (Date.now() > deadline) {
      const names = [...waiting].map((n) => `${n.name} (${n.rpcUrl})`).join(", ");
      throw new CliError("CLI_START_TIMEOUT", `no JSON-RPC answer from ${names} within ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const LOG_TAIL_LINES = 10;

async function nodeExited(n: StartingNode): Promise<CliError> {
  const status = n.child.signalCode ?? `code ${n.child.exitCode}`;
  let tail = "";
  if (n.logFile) {
    await logWritten.get(n.child);
    const lines = (await readFile(n.logFile, "utf8").catch(() => "")).trimEnd().split("\n");
    tail = `; the end of ${n.logFile}:\n${lines.slice(-LOG_TAIL_LINES).join("\n")}`;
  }
  return new CliError("CLI_NODE_EXITED", `${n.name} exited (${status}) before its JSON-RPC answered${tail}`, {
    node: n.name,
  });
}

/** The generator (and the libp2p and EVM modules it loads) only on the first run: later starts spawn sooner. */
async function generate(dir: string): Promise<GeneratedTestnet> {
  const { defaultTestnetOptions, generateTestnet } = await import("./testnet.js");
  return generateTestnet({ ...defaultTestnetOptions, outDir: dir, validators: 4, devKeys: true });
}

async function loadTestnet(dir: string): Promise<GeneratedTestnet> {
  const genesis = JSON.parse(await readFile(path.join(dir, "genesis.json"), "utf8")) as Record<
    string,
    unknown
  >;
  if ("admins" in genesis) {
    throw new CliError(
      "CLI_USAGE",
      `${dir} was made by an older Consort (a genesis admin list instead of a governance committee): remove it (rm -rf ${dir}) and run again for a fresh dev chain`,
    );
  }
  const meta = JSON.parse(await readFile(path.join(dir, "testnet.json"), "utf8")) as {
    nodes: GeneratedTestnet["nodes"];
  };
  const accounts = JSON.parse(await readFile(path.join(dir, "accounts.json"), "utf8")) as {
    accounts: GeneratedTestnet["accounts"];
  };
  return {
    outDir: dir,
    genesisFile: path.join(dir, "genesis.json"),
    nodes: meta.nodes,
    accounts: accounts.accounts,
    governors: [],
  };
}

/** How long `npm start` waits for every node's /ready once their JSON-RPC answers. */
const READY_WAIT_MS = 30_000;

/**
 * Polls each node's /ready (metrics server) until all answer 200, `timeoutMs` passes or `stopped()`; returns the
 * nodes still not ready, each with its reasons ("node2: validators reachable: weight 1 of 4, …"). A node that is on
 * no list of the chain (added by `consort testnet add-node`, not yet admitted) is not waited for: only the
 * committee's vote makes it ready.
 */
export async function waitForReady(
  nodes: Pick<GeneratedNode, "name" | "metricsUrl">[],
  timeoutMs: number,
  stopped: () => boolean = () => false,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const notReady = new Map<string, string>();
  let waiting = nodes.filter((n) => n.metricsUrl !== null);
  for (;;) {
    const answers = await Promise.all(
      waiting.map(async (n) => ({ n, why: await notReadyReason(n.metricsUrl!) })),
    );
    waiting = [];
    for (const { n, why } of answers) {
      notReady.delete(n.name);
      if (why === null) continue;
      notReady.set(n.name, why);
      if (!why.startsWith(NOT_ON_NODE_LIST_REASON)) waiting.push(n);
    }
    if (waiting.length === 0 || stopped() || Date.now() > deadline) {
      return nodes.filter((n) => notReady.has(n.name)).map((n) => `${n.name}: ${notReady.get(n.name)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** null when `${metricsUrl}/ready` answers 200; else why not (its reasons, or the failure to ask). */
async function notReadyReason(metricsUrl: string): Promise<string | null> {
  try {
    const res = await fetch(`${metricsUrl}/ready`, { signal: AbortSignal.timeout(1000) });
    if (res.ok) return null;
    const body = (await res.json().catch(() => null)) as { reasons?: string[] } | null;
    return body?.reasons?.join("; ") ?? `/ready answered ${res.status}`;
  } catch (err) {
    return `/ready did not answer (${errorMessage(err)})`;
  }
}

export async function waitForRpc(urls: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const url of urls) {
    for (;;) {
      if (await rpcAnswers(url)) break;
      if (Date.now() > deadline) throw new Error(`no JSON-RPC answer from ${url} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function rpcAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
      signal: AbortSignal.timeout(1000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

/** Whether the testnet's accounts are the well-known dev keys (`npm start`'s own), whose banner may print them. */
function usesDevKeys(t: GeneratedTestnet): boolean {
  const first = t.accounts[0];
  return (
    first !== undefined && first.address.toLowerCase() === bytesToHex(privateKeyToAddress(devAccountKey(0)))
  );
}

/** "4 validators", or "4 validators, 1 added node" with nodes of `consort testnet add-node` (the chain decides their roles). */
function nodeCounts(nodes: Pick<GeneratedNode, "role">[]): string {
  const count = (role: GeneratedNode["role"], word: string) => {
    const n = nodes.filter((x) => x.role === role).length;
    return n === 0 ? [] : [`${n} ${word}${n === 1 ? "" : "s"}`];
  };
  return [
    ...count("sealer", "validator"),
    ...count("observer", "observer"),
    ...count("added", "added node"),
  ].join(", ");
}

/** What `npm start` prints once every node answers: endpoints, accounts, what to try. */
export function bannerText(t: GeneratedTestnet): string {
  const devKeys = usesDevKeys(t);
  const lines = [
    "",
    `Consort testnet is up (${nodeCounts(t.nodes)}, data in ${t.outDir})`,
    "",
    "JSON-RPC endpoints (HTTP and WebSocket; chain id 20200):",
    ...t.nodes.map(
      (n) => `  ${n.name}  ${n.rpcUrl}   ws://${n.rpcUrl.slice("http://".length)}   logs: ${n.dir}/node.log`,
    ),
    "",
    ...(devKeys
      ? [
          "Dev accounts (TEST-ONLY: these keys are PUBLIC; account 0 is the only governor, so anyone who reaches",
          "this RPC can govern the chain; the nodes refuse to serve RPC beyond 127.0.0.1 with this genesis):",
          ...t.accounts.slice(0, 5).map((a, i) => `  ${i}  ${a.address}  ${a.privateKey}`),
          `Govern (account 0's key file): npm run consort -- gov propose <change> --key ${path.join(t.outDir, DEV_GOVERNOR_KEY_FILE)}`,
        ]
      : [
          // A testnet from `consort testnet`: fresh keys, kept in files (0600), never printed here.
          `Funded accounts (fresh keys in ${t.outDir}/accounts.json, mode 0600; the governors are genesis.json's):`,
          ...t.accounts.slice(0, 5).map((a, i) => `  ${i}  ${a.address}`),
        ]),
    `  … all ${t.accounts.length} in ${t.outDir}/accounts.json`,
    "",
    "Try:  curl -s -X POST -H 'content-type: application/json' \\",
    `        --data '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' ${t.nodes[0]?.rpcUrl}`,
    `Web console: ${t.nodes[0]?.rpcUrl}/ui/   Metrics: ${t.nodes.map((n) => n.metricsUrl ?? "-").join(" ")} (/metrics, /health, /ready)`,
    "Status of every node: npm run consort -- status [--watch]",
    "Ctrl-C stops all nodes; `npm start` again resumes the same chain.",
    "",
  ];
  return lines.join("\n");
}
