import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { compiledMain, spawnNode, waitForNodes, waitForRpc } from "../../src/cli/dev.js";
import { defaultTestnetOptions, devAccountKey, generateTestnet } from "../../src/cli/testnet.js";
import { privateKeyToAddress } from "../../src/crypto/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { freePort, freeTestnetPorts } from "../../src/util/ports.js";
import { RpcClient } from "./rpc.js";

export { freePort };

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ANVIL_BIN = path.join(ROOT, "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
const GANACHE_CLI = path.join(ROOT, "node_modules/ganache/dist/node/cli.js");

/** Target names the CLI accepts. `anvil` / `ganache` expand to both their modes. */
export const TARGET_NAMES = [
  "consort1",
  "consort4",
  "anvil-1s",
  "anvil-auto",
  "ganache-1s",
  "ganache-auto",
] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export function expandTargets(list: string[]): TargetName[] {
  const out: TargetName[] = [];
  for (const t of list) {
    const names: string[] = t === "anvil" || t === "ganache" ? [`${t}-1s`, `${t}-auto`] : [t];
    for (const n of names) {
      if (!(TARGET_NAMES as readonly string[]).includes(n)) {
        throw new Error(`unknown target "${t}" (known: ${TARGET_NAMES.join(", ")}, anvil, ganache)`);
      }
      if (!out.includes(n as TargetName)) out.push(n as TargetName);
    }
  }
  return out;
}

export interface RunningTarget {
  name: TargetName;
  kind: "consort" | "anvil" | "ganache";
  /** Where transactions go (round-robin); Consort with several validators: every validator's RPC. */
  submitUrls: string[];
  /** Where blocks are read from. */
  watchUrl: string;
  chainId: bigint;
  /** A key holding plenty of native coin on this chain (Consort dev account 0, given to anvil/ganache too). */
  funderKey: Uint8Array;
  /** A second funded key (Consort dev account 1): the native-tx sender. */
  nativeSenderKey: Uint8Array;
  supportsNative: boolean;
  /** PIDs of the processes that ARE the chain (for RSS sampling). */
  pids: number[];
  dir: string;
  /**
   * anvil automine only: `evm_mine`, sent by the load generator when accepted txs wait and no block came for 500 ms.
   * anvil 1.7.1 automine mines on each arrival but, under concurrent arrivals, leaves ready txs pending with no
   * further block (seen with txpool_inspect: pending, queued 0, chain idle) until the next tx arrives.
   */
  kick?: () => Promise<void>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Write V8 CPU profiles of Consort nodes into this folder (on stop). */
  cpuProfileDir?: string;
  /** Keep the temp folder (logs, chain data) after stop. */
  keepDir?: boolean;
  /** Consort txpool.countMax override (overload runs); default: the node's default. */
  txpoolCountMax?: number;
  /** Consort consensus.pipeline; default: the node's default (on). */
  pipeline?: boolean | undefined;
  /**
   * Where a several-validator Consort target takes the load: every validator's RPC, round-robin ("all", the
   * default), or the first validator's only ("one", as the issue's own figures were taken).
   */
  submitTo?: SubmitTo | undefined;
  startTimeoutMs?: number;
}

export type SubmitTo = "all" | "one";
export const SUBMIT_TO: readonly SubmitTo[] = ["all", "one"];

/** The RPC endpoints that take a run's txs (StartOptions.submitTo): every one, or the first. */
export function submitUrlsFor(rpcUrls: string[], submitTo: SubmitTo = "all"): string[] {
  return submitTo === "one" ? rpcUrls.slice(0, 1) : rpcUrls;
}

const FUNDER_BALANCE = 10n ** 27n;

/** Every chain process this harness spawned and that has not exited yet (for Ctrl-C cleanup). */
const spawned = new Set<ChildProcess>();

function track(child: ChildProcess): ChildProcess {
  spawned.add(child);
  child.once("exit", () => spawned.delete(child));
  return child;
}

/** Stops every chain process this harness started and that still runs (Ctrl-C / SIGTERM of the harness). */
export async function stopAllTargets(): Promise<void> {
  await stopChildren([...spawned], null);
}

export async function startTarget(name: TargetName, opts: StartOptions = {}): Promise<RunningTarget> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `consort-bench-${name}-`));
  try {
    let t: RunningTarget;
    if (name === "consort1" || name === "consort4") {
      t = await startConsort(name, name === "consort1" ? 1 : 4, dir, opts);
    } else if (name === "anvil-1s" || name === "anvil-auto") t = await startAnvil(name, dir, opts);
    else t = await startGanache(name, dir, opts);
    return t;
  } catch (err) {
    if (!opts.keepDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function startConsort(name: TargetName, validators: number, dir: string, opts: StartOptions) {
  const testnet = await generateTestnet({
    ...defaultTestnetOptions,
    outDir: dir,
    validators,
    ...(await freeTestnetPorts(validators)),
    // The load generator funds from the well-known dev keys (RPC stays on 127.0.0.1).
    devKeys: true,
  });
  for (const node of testnet.nodes) {
    const cfg = JSON.parse(await readFile(node.configFile, "utf8")) as Record<
      string,
      Record<string, unknown>
    >;
    // The bench measures the chain, not the per-IP rate limiter (the harness is one IP sending thousands of req/s);
    // JSON logs to a file, as in production (pino-pretty formatting in-process is not what a deployed node does).
    cfg.rpc = { ...cfg.rpc, requestsPerSecond: 1_000_000 };
    cfg.log = { level: "info", pretty: false };
    if (opts.txpoolCountMax) cfg.txpool = { countMax: opts.txpoolCountMax };
    if (opts.pipeline === false) cfg.consensus = { ...cfg.consensus, pipeline: false };
    await writeFile(node.configFile, `${JSON.stringify(cfg, null, 2)}\n`);
  }
  const env: NodeJS.ProcessEnv = { FORCE_COLOR: "0" };
  if (opts.cpuProfileDir) await mkdir(opts.cpuProfileDir, { recursive: true });
  const children = testnet.nodes.map((n) =>
    track(
      opts.cpuProfileDir
        ? spawnProfiledNode(n.configFile, path.join(n.dir, "node.log"), opts.cpuProfileDir, n.name)
        : spawnNode(n.configFile, path.join(n.dir, "node.log"), env, "compiled"),
    ),
  );
  const stop = () => stopChildren(children, dir, opts.keepDir);
  try {
    await waitForNodes(
      testnet.nodes.map((n, i) => ({ ...n, child: children[i]!, logFile: path.join(n.dir, "node.log") })),
      opts.startTimeoutMs ?? 120_000,
    );
    if (validators > 1) await waitForFirstBlockPossible(testnet.nodes[0]!.rpcUrl);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    name,
    kind: "consort" as const,
    submitUrls: submitUrlsFor(
      testnet.nodes.map((n) => n.rpcUrl),
      opts.submitTo,
    ),
    watchUrl: testnet.nodes[0]!.rpcUrl,
    chainId: defaultTestnetOptions.chainId,
    funderKey: devAccountKey(0),
    nativeSenderKey: devAccountKey(1),
    supportsNative: true,
    pids: children.map((c) => c.pid ?? 0).filter((p) => p > 0),
    dir,
    stop,
  };
}

/**
 * `consort start` under `node --cpu-prof` (not allowed in NODE_OPTIONS, so not through spawnNode): V8 writes
 * DIR/<name>/CPU.….cpuprofile when the node exits (SIGTERM → graceful close → process.exit). One file per thread
 * (the precompile worker writes one too): the largest is the main thread. The compiled node, as `npm start` runs.
 */
export function spawnProfiledNode(
  configFile: string,
  logFile: string,
  profileDir: string,
  name: string,
): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      "--cpu-prof",
      "--cpu-prof-dir",
      path.join(profileDir, name),
      compiledMain(),
      "start",
      "--config",
      configFile,
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } },
  );
  pipeToLog(child, logFile);
  return child;
}

/** Validators need their peers connected before PBFT can commit; wait until net_peerCount says so (bounded). */
async function waitForFirstBlockPossible(url: string): Promise<void> {
  const client = new RpcClient(url);
  const deadline = Date.now() + 30_000;
  try {
    while (Date.now() < deadline) {
      try {
        const peers = Number.parseInt(await client.call<string>("net_peerCount"), 16);
        if (peers >= 3) return;
      } catch {
        // not ready yet
      }
      await sleep(250);
    }
  } finally {
    client.close();
  }
}

async function startAnvil(name: TargetName, dir: string, opts: StartOptions) {
  const port = await freePort();
  const args = ["--host", "127.0.0.1", "--port", String(port), "--silent", "--chain-id", "31337"];
  if (name === "anvil-1s") args.push("--block-time", "1");
  const child = track(spawn(ANVIL_BIN, args, { stdio: ["ignore", "pipe", "pipe"] }));
  pipeToLog(child, path.join(dir, "anvil.log"));
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopChildren([child], dir, opts.keepDir);
  try {
    await waitForRpc([url], opts.startTimeoutMs ?? 60_000);
    const client = new RpcClient(url);
    for (const key of [devAccountKey(0), devAccountKey(1)]) {
      await client.call("anvil_setBalance", [
        bytesToHex(privateKeyToAddress(key)),
        `0x${FUNDER_BALANCE.toString(16)}`,
      ]);
    }
    client.close();
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    name,
    kind: "anvil" as const,
    ...(name === "anvil-auto"
      ? {
          kick: async () => {
            const c = new RpcClient(url);
            try {
              await c.call("evm_mine");
            } finally {
              c.close();
            }
          },
        }
      : {}),
    submitUrls: [url],
    watchUrl: url,
    chainId: 31337n,
    funderKey: devAccountKey(0),
    nativeSenderKey: devAccountKey(1),
    supportsNative: false,
    pids: child.pid ? [child.pid] : [],
    dir,
    stop,
  };
}

async function startGanache(name: TargetName, dir: string, opts: StartOptions) {
  const port = await freePort();
  const balance = `0x${FUNDER_BALANCE.toString(16)}`;
  const args = [
    GANACHE_CLI,
    "--server.host",
    "127.0.0.1",
    "--server.port",
    String(port),
    "--chain.chainId",
    "1337",
    "--logging.quiet",
    "--wallet.accounts",
    `${bytesToHex(devAccountKey(0))},${balance}`,
    "--wallet.accounts",
    `${bytesToHex(devAccountKey(1))},${balance}`,
    "--miner.blockTime",
    name === "ganache-1s" ? "1" : "0",
    // "strict": eth_sendRawTransaction answers once the tx is in the pool, like every other target ("eager", the
    // default, answers after mining, and a tx whose nonce is ahead of a sibling still in flight then waits forever).
    "--miner.instamine",
    "strict",
    // ganache 7.9.2 strands the txs that do not fit a full 30M-gas block in "queued" for good (seen with
    // txpool_content: nonces n+1… queued, nothing pending, later blocks empty). A 300M limit keeps every 1-s block
    // from filling, so ganache's throughput is limited by its CPU, not by that bug.
    "--miner.blockGasLimit",
    "0x11e1a300",
  ];
  const child = track(spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] }));
  pipeToLog(child, path.join(dir, "ganache.log"));
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopChildren([child], dir, opts.keepDir);
  try {
    await waitForRpc([url], opts.startTimeoutMs ?? 120_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    name,
    kind: "ganache" as const,
    submitUrls: [url],
    watchUrl: url,
    chainId: 1337n,
    funderKey: devAccountKey(0),
    nativeSenderKey: devAccountKey(1),
    supportsNative: false,
    pids: child.pid ? [child.pid] : [],
    dir,
    stop,
  };
}

function pipeToLog(child: ChildProcess, file: string): void {
  const out = createWriteStream(file, { flags: "a" });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
}

/** SIGTERM each child we started (by its own pid), SIGKILL after 15 s, then remove the temp folder. */
export async function stopChildren(
  children: ChildProcess[],
  dir: string | null,
  keepDir = false,
): Promise<void> {
  await Promise.all(
    children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }),
  );
  if (dir && !keepDir) await rm(dir, { recursive: true, force: true });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
