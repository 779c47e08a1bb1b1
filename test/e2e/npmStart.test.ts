import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { portIsFree } from "../../src/util/ports.js";
import { blockNumber, sendRaw, signTx, waitReceipts, wallets } from "./chainUtil.js";
import { rpc, waitFor } from "./harness.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const RPC_PORTS = [8545, 8546, 8547, 8548];
const P2P_PORTS = [30300, 30301, 30302, 30303];
const METRICS_PORTS = [9545, 9546, 9547, 9548];

interface DevRun {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** What `npm start` runs after its prestart build: the compiled CLI, in its own process group like a terminal job. */
const START_SCRIPT = "node dist/cli/main.js dev";
function startDev(dir: string): DevRun {
  const child = spawn(process.execPath, ["dist/cli/main.js", "dev", "--dir", dir], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, FORCE_COLOR: "0" },
  });
  let out = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => out, exited };
}

/** Direct children of `pid`: [pid, command line]. */
function children(pid: number): [number, string][] {
  try {
    return execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(pid)], { encoding: "utf8" })
      .split("\n")
      .map((line) => line.trim())
      .filter(Boolean)
      .map((line) => {
        const sp = line.indexOf(" ");
        return [Number(line.slice(0, sp)), line.slice(sp + 1)] as [number, string];
      });
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Ctrl-C in a terminal: SIGINT to the whole foreground process group. */
function ctrlC(run: DevRun): void {
  process.kill(-run.child.pid!, "SIGINT");
}

describe("e2e: npm start as a new user", () => {
  const runs: DevRun[] = [];
  let dir = "";

  // `npm start` = prestart (`npm run build`: tsc to dist/ + assets) then START_SCRIPT: check the scripts say so, and
  // build like prestart does (incremental: seconds when npm test has just built).
  beforeAll(() => {
    const { scripts } = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(scripts.start).toBe(START_SCRIPT);
    expect(scripts.prestart).toBe("npm run build");
    execFileSync("npm", ["run", "build"], { cwd: ROOT, stdio: "pipe", timeout: 300_000 });
  }, 330_000);

  it("dist/ holds every file the compiled code loads by URL (console UI, precompile worker, …)", () => {
    // `new URL("./x", import.meta.url)` in dist/**/*.js: its static part (up to a template's first ${…}) must exist
    // next to the compiled file. A missing precompile worker would not crash the node: it would silently run inline.
    const dist = path.join(ROOT, "dist");
    const loaded: string[] = [];
    for (const entry of readdirSync(dist, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile() || !entry.name.endsWith(".js")) continue;
      const file = path.join(entry.parentPath, entry.name);
      for (const m of readFileSync(file, "utf8").matchAll(/new URL\(\s*["'`](\.{1,2}\/[^"'`$]*)/g)) {
        loaded.push(path.relative(ROOT, path.resolve(path.dirname(file), m[1]!)));
      }
    }
    expect(loaded).toEqual(
      expect.arrayContaining([
        path.join("dist", "execution", "precompileWorker.mjs"),
        path.join("dist", "console", "ui"),
      ]),
    );
    expect(loaded.filter((f) => !existsSync(path.join(ROOT, f)))).toEqual([]);
  });

  afterAll(async () => {
    for (const run of runs) {
      if (run.child.exitCode === null && run.child.signalCode === null) {
        try {
          process.kill(-run.child.pid!, "SIGKILL");
        } catch {}
        await run.exited;
      }
    }
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it("prints endpoints, answers on 127.0.0.1:8545, stops on Ctrl-C and resumes at the same height", async () => {
    // `npm start` uses fixed ports by design; a busy one is a failure with its reason, never a silent skip
    // (a skipped test proves nothing, and CI would stay green without ever running it).
    const busy = [];
    for (const p of [...RPC_PORTS, ...P2P_PORTS, ...METRICS_PORTS]) if (!(await portIsFree(p))) busy.push(p);
    expect(
      busy,
      `npm start needs the default ports 8545-8548, 30300-30303 and 9545-9548 free; busy: ${busy.join(", ")}`,
    ).toEqual([]);
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-npmstart-"));
    const data = path.join(dir, "testnet");

    // First run: generates the testnet and prints the endpoints.
    const t0 = performance.now();
    const first = startDev(data);
    runs.push(first);
    await waitFor(
      "the endpoints banner",
      async () => {
        if (first.child.exitCode !== null) throw new Error(`dev exited early:\n${first.output()}`);
        return first.output().includes("http://127.0.0.1:8548");
      },
      180_000,
    );
    console.log(
      `[figures] npm start: endpoints printed after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    const out = first.output();
    for (const port of RPC_PORTS) expect(out).toContain(`http://127.0.0.1:${port}`);
    expect(out).toContain("TEST-ONLY");
    // Node i serves Prometheus metrics on 127.0.0.1:9545+i.
    for (const port of METRICS_PORTS) {
      expect(out).toContain(`http://127.0.0.1:${port}`);
      const metrics = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(await metrics.text()).toMatch(/^ethereum_blockchain_height \d+$/m);
    }
    // The banner comes once the nodes reach each other: every /ready answers 200 already (a first transaction
    // commits at once instead of waiting for the mesh), and nothing is reported not ready.
    const ready = await Promise.all(METRICS_PORTS.map((port) => fetch(`http://127.0.0.1:${port}/ready`)));
    expect(ready.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect(out).not.toContain("Not ready yet");

    // What the banner tells a new user to try: curl to 127.0.0.1:8545 (fetch when curl is not installed).
    const request = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] });
    let answer: string;
    try {
      answer = execFileSync(
        "curl",
        [
          "-s",
          "-X",
          "POST",
          "-H",
          "content-type: application/json",
          "--data",
          request,
          "http://127.0.0.1:8545",
        ],
        { encoding: "utf8", timeout: 30_000 },
      );
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      const res = await fetch("http://127.0.0.1:8545", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: request,
      });
      answer = await res.text();
    }
    expect((JSON.parse(answer) as { result: string }).result).toMatch(/^0x[0-9a-f]+$/);
    expect(await rpc<string>("http://127.0.0.1:8545", "eth_chainId")).toBe("0x4ee8");

    // Commit something so "the same height" means something.
    const { accounts } = (await import(path.join(data, "accounts.json"), { with: { type: "json" } }))
      .default as {
      accounts: { address: string; privateKey: string }[];
    };
    const ws = wallets(accounts);
    const hashes: string[] = [];
    for (let i = 0; i < 3; i++) {
      hashes.push(
        await sendRaw(
          `http://127.0.0.1:${RPC_PORTS[i % 4]}`,
          await signTx(ws[1]!, { nonce: i, to: ws[2]!.address, value: 1n }),
        ),
      );
    }
    await waitReceipts("http://127.0.0.1:8545", hashes, 120_000);
    await waitFor(
      "all four nodes at the same head",
      async () => {
        const hs = await Promise.all(RPC_PORTS.map((p) => blockNumber(`http://127.0.0.1:${p}`)));
        return hs.every((h) => h === hs[0]) && hs[0]! > 0;
      },
      60_000,
    );
    const height = await blockNumber("http://127.0.0.1:8545");
    const headHash = (
      await rpc<{ hash: string }>("http://127.0.0.1:8545", "eth_getBlockByNumber", ["latest", false])
    ).hash;

    // Ctrl-C: every node stops, the launcher exits, no child is left behind.
    const all = children(first.child.pid!);
    const nodes = all.filter(([, args]) => args.includes(" start --config "));
    expect(nodes, JSON.stringify(all)).toHaveLength(4);
    // The nodes run the compiled code too, on plain node (no TypeScript loader at run time).
    for (const [, args] of nodes) expect(args).toMatch(/dist\/cli\/main\.js start --config /);
    for (const [, args] of all) expect(args).not.toContain("tsx");
    const kids = all.map(([pid]) => pid);
    ctrlC(first);
    const code = await Promise.race([
      first.exited,
      new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 60_000)),
    ]);
    expect(code, first.output().slice(-2000)).toBe(0);
    await waitFor("all node processes gone", async () => kids.every((pid) => !alive(pid)), 30_000);
    expect(first.output()).toContain("all nodes stopped");
    for (const p of [...RPC_PORTS, ...P2P_PORTS, ...METRICS_PORTS])
      expect(await portIsFree(p), `port ${p} released`).toBe(true);

    // `npm start` again: the same chain, same height and head, and it keeps committing.
    const second = startDev(data);
    runs.push(second);
    await waitFor(
      "the endpoints banner (second run)",
      async () => {
        if (second.child.exitCode !== null) throw new Error(`dev exited early:\n${second.output()}`);
        return second.output().includes("http://127.0.0.1:8548");
      },
      180_000,
    );
    expect(await blockNumber("http://127.0.0.1:8545")).toBe(height);
    const again = await rpc<{ hash: string }>("http://127.0.0.1:8545", "eth_getBlockByNumber", [
      `0x${height.toString(16)}`,
      false,
    ]);
    expect(again.hash).toBe(headHash);
    const next = await sendRaw(
      "http://127.0.0.1:8546",
      await signTx(ws[1]!, { nonce: 3, to: ws[2]!.address, value: 1n }),
    );
    const [r] = await waitReceipts("http://127.0.0.1:8545", [next], 120_000);
    expect(Number(r!.blockNumber)).toBe(height + 1);

    const kids2 = children(second.child.pid!).map(([pid]) => pid);
    ctrlC(second);
    expect(await second.exited).toBe(0);
    await waitFor(
      "all node processes gone (second run)",
      async () => kids2.every((pid) => !alive(pid)),
      30_000,
    );
  }, 600_000);
});
