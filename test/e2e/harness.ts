import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { spawnNode, waitForRpc } from "../../src/cli/dev.js";
import { defaultTestnetOptions, type GeneratedTestnet, generateTestnet } from "../../src/cli/testnet.js";
import { freePort, freeTestnetPorts } from "../../src/util/ports.js";

export { freePort, freeTestnetPorts };

export class NodeCrashedError extends Error {
  override name = "NodeCrashedError";
}

/** Set by the live ProcessTestnet: `waitFor` gives up at once when one of its nodes crashed. */
let crashCheck: (() => void) | null = null;
/** Set by the live ProcessTestnet: what its nodes warned about, printed when a `waitFor` times out. */
let timeoutReport: (() => void) | null = null;

/** A real multi-process testnet on 127.0.0.1 in a temp folder; `close()` kills what it started and removes the folder. */
export class ProcessTestnet {
  readonly processes: (ChildProcess | null)[];

  private constructor(
    readonly testnet: GeneratedTestnet,
    private readonly tmpDir: string,
  ) {
    this.processes = testnet.nodes.map(() => null);
  }

  /** `governors`: fresh governor keys in genesis (default 1: each proposal executes at once). */
  static async create(opts: {
    validators: number;
    observers?: number;
    governors?: number;
  }): Promise<ProcessTestnet> {
    const tmpDir = await mkdtemp(path.join(os.tmpdir(), "consort-e2e-"));
    const total = opts.validators + (opts.observers ?? 0);
    const testnet = await generateTestnet({
      ...defaultTestnetOptions,
      outDir: tmpDir,
      validators: opts.validators,
      observers: opts.observers ?? 0,
      ...(await freeTestnetPorts(total)),
      governorCount: opts.governors ?? 1,
    });
    // E2E_LOG_LEVEL=debug: more detail in each node's node.log (with KEEP_E2E=1 to keep the folder).
    const level = process.env.E2E_LOG_LEVEL;
    if (level) {
      for (const n of testnet.nodes) {
        const cfg = JSON.parse(readFileSync(n.configFile, "utf8")) as { log: { level: string } };
        cfg.log.level = level;
        writeFileSync(n.configFile, JSON.stringify(cfg, null, 2));
      }
    }
    const net = new ProcessTestnet(testnet, tmpDir);
    crashCheck = () => net.assertNoCrash();
    timeoutReport = () => net.printWarnings();
    return net;
  }

  get nodes(): GeneratedTestnet["nodes"] {
    return this.testnet.nodes;
  }

  /** Nodes that exited without being told to (crashes), with the tail of their log. */
  readonly crashes: string[] = [];

  start(index: number): void {
    const node = this.testnet.nodes[index]!;
    if (this.processes[index]) throw new Error(`${node.name} already running`);
    const child = spawnNode(node.configFile, path.join(node.dir, "node.log"), { FORCE_COLOR: "0" });
    this.processes[index] = child;
    child.once("exit", (code, signal) => {
      if (this.processes[index] !== child) return; // killed or stopped by us
      this.processes[index] = null;
      setTimeout(() => {
        let tail = "";
        try {
          tail = readFileSync(path.join(node.dir, "node.log"), "utf8").slice(-3000);
        } catch {}
        const msg = `${node.name} exited unexpectedly (${signal ?? code}):\n${tail}`;
        this.crashes.push(msg);
        console.error(msg);
      }, 200);
    });
  }

  /** Throws when a node crashed: lets polling loops fail fast with the reason. */
  assertNoCrash(): void {
    if (this.crashes.length > 0) throw new NodeCrashedError(this.crashes[0]!);
  }

  async startAll(timeoutMs = 60_000): Promise<void> {
    for (let i = 0; i < this.testnet.nodes.length; i++) this.start(i);
    const deadline = Date.now() + timeoutMs;
    // Fail fast (with the log's tail) when a node dies during startup instead of waiting out the timeout.
    for (const url of this.testnet.nodes.map((n) => n.rpcUrl)) {
      for (;;) {
        this.assertNoCrash();
        try {
          await waitForRpc([url], 1000);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
        }
      }
    }
  }

  /** SIGKILL: no chance to flush anything — what a crash looks like. */
  async kill(index: number): Promise<void> {
    const child = this.processes[index];
    if (!child) return;
    this.processes[index] = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  async stop(index: number): Promise<void> {
    const child = this.processes[index];
    if (!child) return;
    this.processes[index] = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }

  /**
   * The last warnings and errors of each node's log, on stderr: the test folder (and its logs) is removed when the
   * test ends, so a timeout in CI would otherwise leave nothing to read.
   */
  printWarnings(linesPerNodeMax = 15): void {
    for (const node of this.testnet.nodes) {
      let log = "";
      try {
        log = readFileSync(path.join(node.dir, "node.log"), "utf8");
      } catch {
        continue;
      }
      const warnings = log.split("\n").filter((l) => /\b(WARN|ERROR|FATAL)\b/.test(l));
      if (warnings.length === 0) continue;
      const shown = warnings.slice(-linesPerNodeMax).map((l) => l.slice(0, 400));
      console.error(
        `--- ${node.name}: last ${shown.length} of ${warnings.length} warnings/errors\n${shown.join("\n")}`,
      );
    }
  }

  async close(): Promise<void> {
    crashCheck = null;
    timeoutReport = null;
    await Promise.all(this.processes.map((_, i) => this.kill(i)));
    if (!process.env.KEEP_E2E) await rm(this.tmpDir, { recursive: true, force: true });
    else console.log(`kept ${this.tmpDir}`);
  }
}

export async function rpc<T = unknown>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { result?: T; error?: { code: number; message: string } };
  if (body.error) throw new Error(`${method}: ${body.error.message} (${body.error.code})`);
  return body.result as T;
}

/** Polls `check` until it returns a truthy value or the deadline passes (then throws with `what`). */
export async function waitFor<T>(
  what: string | (() => string),
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    crashCheck?.();
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      timeoutReport?.();
      throw new Error(
        `timed out waiting for ${typeof what === "function" ? what() : what}${lastError ? `: ${String(lastError)}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
