/**
 * The validators as real processes: `consort start --config …`, each run inside its own network namespace
 * (`ip netns exec`), with a testnet generated for the namespace addresses and peers reached through the proxies.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createWriteStream, readFileSync, writeFileSync } from "node:fs";
import { mkdir, readdir, rm } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defaultTestnetOptions, type GeneratedTestnet, generateTestnet } from "../../src/cli/testnet.js";
import { nodeIdToPeerId } from "../../src/network/index.js";
import { generateTokenKey, issueToken } from "../../src/rpc/auth.js";
import type { NetNames } from "./netns.js";
import { nodeAddress, P2P_PORT, proxyEndpoint, RPC_PORT } from "./netns.js";
import { useRpcToken } from "./rpc.js";

const METRICS_PORT = 9545;

const CLI_MAIN = fileURLToPath(new URL("../../src/cli/main.ts", import.meta.url));

export interface ExitRecord {
  node: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  expected: boolean;
  atMs: number;
}

export class Cluster {
  readonly processes: (ChildProcess | null)[];
  /** Every exit of a node process, told (kill/stop) or not (crash, disk full…). */
  readonly exits: ExitRecord[] = [];

  private constructor(
    readonly testnet: GeneratedTestnet,
    private readonly names: NetNames,
  ) {
    this.processes = testnet.nodes.map(() => null);
  }

  static async create(dir: string, names: NetNames, logLevel: string): Promise<Cluster> {
    const testnet = await generateTestnet({
      ...defaultTestnetOptions,
      outDir: dir,
      validators: names.nodes.length,
      host: nodeAddress(0),
      rpcPortBase: RPC_PORT,
      p2pPortBase: P2P_PORT,
    });
    // The nodes serve RPC on their namespace addresses (not loopback), so they require bearer tokens like any
    // production node: one HS256 secret for the four, one token for the clients and the checker.
    const secretFile = path.join(dir, "rpc-jwt.secret");
    await generateTokenKey("HS256", secretFile);
    useRpcToken(
      await issueToken({
        algorithm: "HS256",
        keyFile: secretFile,
        principal: "chaos-campaign",
        rights: ["read", "submit", "admin"],
        expiresInS: 7 * 86_400,
      }),
    );
    const peerIds = testnet.nodes.map((n) => nodeIdToPeerId(Buffer.from(n.nodeId.slice(2), "hex")));
    testnet.nodes.forEach((n, i) => {
      const cfg = JSON.parse(readFileSync(n.configFile, "utf8")) as Record<string, unknown>;
      cfg.rpc = {
        host: nodeAddress(i),
        port: RPC_PORT,
        auth: { jwt: { algorithm: "HS256", keyFile: secretFile } },
      };
      // Each node's /metrics, /health and /ready on its own namespace address.
      cfg.metrics = { host: nodeAddress(i), port: METRICS_PORT };
      cfg.p2p = {
        listen: [`/ip4/${nodeAddress(i)}/tcp/${P2P_PORT}`],
        peers: testnet.nodes
          .map((_, j) => j)
          .filter((j) => j !== i)
          .map((j) => {
            const { host, port } = proxyEndpoint(i, j);
            return `/ip4/${host}/tcp/${port}/p2p/${peerIds[j]}`;
          }),
      };
      cfg.log = { level: logLevel, pretty: false };
      writeFileSync(n.configFile, JSON.stringify(cfg, null, 2));
      n.rpcUrl = `http://${nodeAddress(i)}:${RPC_PORT}`;
    });
    return new Cluster(testnet, names);
  }

  get size(): number {
    return this.testnet.nodes.length;
  }

  rpcUrl(i: number): string {
    return this.testnet.nodes[i]!.rpcUrl;
  }

  dataDir(i: number): string {
    return path.join(this.testnet.nodes[i]!.dir, "data");
  }

  logFile(i: number): string {
    return path.join(this.testnet.nodes[i]!.dir, "node.log");
  }

  running(i: number): boolean {
    return this.processes[i] !== null;
  }

  start(i: number): void {
    if (this.processes[i]) throw new Error(`node${i} already running`);
    const node = this.testnet.nodes[i]!;
    const child = spawn(
      "ip",
      [
        "netns",
        "exec",
        this.names.nodes[i]!,
        process.execPath,
        "--import",
        "tsx",
        CLI_MAIN,
        "start",
        "--config",
        node.configFile,
      ],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } },
    );
    const out = createWriteStream(this.logFile(i), { flags: "a" });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    this.processes[i] = child;
    child.once("exit", (code, signal) => {
      const expected = this.processes[i] !== child;
      if (!expected) this.processes[i] = null;
      this.exits.push({ node: i, code, signal, expected, atMs: Date.now() });
    });
  }

  /** SIGKILL: nothing flushed, nothing closed — what a crash looks like. */
  async kill(i: number): Promise<void> {
    await this.signal(i, "SIGKILL");
  }

  /** SIGTERM (SIGKILL after 15 s). */
  async stop(i: number): Promise<void> {
    await this.signal(i, "SIGTERM", 15_000);
  }

  private async signal(i: number, signal: NodeJS.Signals, killAfterMs?: number): Promise<void> {
    const child = this.processes[i];
    if (!child) return;
    this.processes[i] = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    const timer = killAfterMs ? setTimeout(() => child.kill("SIGKILL"), killAfterMs) : null;
    await exited;
    if (timer) clearTimeout(timer);
  }

  async wipe(i: number): Promise<void> {
    if (this.processes[i]) throw new Error(`node${i} must be stopped before its data is wiped`);
    // Empty it rather than remove it: the full-disk node's data dir is a tmpfs mount point (rmdir gives EBUSY).
    const dir = this.dataDir(i);
    await mkdir(dir, { recursive: true });
    for (const entry of await readdir(dir)) await rm(path.join(dir, entry), { recursive: true, force: true });
  }

  /** Unexpected exits of node i since `sinceMs`. */
  crashesOf(i: number, sinceMs: number): ExitRecord[] {
    return this.exits.filter((e) => e.node === i && !e.expected && e.atMs >= sinceMs);
  }

  logTail(i: number, chars = 2000): string {
    try {
      return readFileSync(this.logFile(i), "utf8").slice(-chars);
    } catch {
      return "";
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((_, i) => this.kill(i)));
  }
}

/** A small tmpfs at `dir` (the full-disk scenario's data dir). Lives in this process's mount namespace. */
export function mountTmpfs(dir: string, sizeMb: number): void {
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMb}m,mode=0700`, "tmpfs", dir]);
}

export function unmount(dir: string): void {
  try {
    execFileSync("umount", ["-l", dir], { stdio: "ignore" });
  } catch {}
}
