import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { defaultTestnetOptions, generateTestnet } from "../../src/cli/testnet.js";
import { freeTestnetPorts, rpc, waitFor } from "./harness.js";

const ROOT = path.resolve(import.meta.dirname, "../..");
const PINNED_NODE = path.join(ROOT, "node_modules/.bin/node");

/**
 * A generated node's start.sh, run as an operator runs it: from a shell whose PATH has no npm additions (npm puts
 * node_modules/.bin, and with it the pinned Node.js, first in every script's PATH, so a bare `node` would pass).
 */
describe("e2e: a testnet node's start.sh", () => {
  let dir = "";
  let child: ChildProcess | null = null;

  afterAll(async () => {
    if (child?.exitCode === null) child.kill("SIGKILL");
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("starts the node on the install's pinned Node.js, answers JSON-RPC and stops on SIGTERM", async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-start-sh-"));
    const testnet = await generateTestnet({
      ...defaultTestnetOptions,
      outDir: dir,
      validators: 1,
      observers: 0,
      ...(await freeTestnetPorts(1)),
      governorCount: 1,
    });
    const node = testnet.nodes[0]!;
    const env = { ...process.env, FORCE_COLOR: "0", PATH: operatorPath() };
    // Where the install has no pinned runtime (another platform), the node in PATH runs it.
    const expected = existsSync(PINNED_NODE)
      ? execFileSync(PINNED_NODE, ["--version"], { encoding: "utf8" }).trim()
      : execFileSync("node", ["--version"], { encoding: "utf8", env }).trim();

    let output = "";
    child = spawn("sh", [path.join(node.dir, "start.sh")], { stdio: ["ignore", "pipe", "pipe"], env });
    child.stdout?.on("data", (b: Buffer) => {
      output += b.toString();
    });
    child.stderr?.on("data", (b: Buffer) => {
      output += b.toString();
    });
    const height = await waitFor(
      () => `node0 to answer eth_blockNumber (output so far: ${output.slice(-2000)})`,
      async () => (child?.exitCode === null ? await rpc<string>(node.rpcUrl, "eth_blockNumber") : false),
      60_000,
    );
    expect(height).toBe("0x0");
    await waitFor("the start log line", async () => output.includes("node started"), 10_000);
    expect(output, "the start log names the runtime the script chose").toContain(`node ${expected}`);

    // `exec`: the script's process is the node, so a service manager's SIGTERM reaches it and it stops cleanly.
    const exited = new Promise<number | null>((resolve) => child?.once("exit", (code) => resolve(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  }, 120_000);
});

/** The PATH of an operator's shell: this one without the node_modules/.bin folders npm prepended. */
function operatorPath(): string {
  return (process.env.PATH ?? "")
    .split(path.delimiter)
    .filter((p) => !p.split(path.sep).includes("node_modules"))
    .join(path.delimiter);
}
