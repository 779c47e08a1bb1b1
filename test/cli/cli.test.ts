import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConsortNode } from "../../src/node/index.js";
import { freePort, rpcUrl, SingleNodeNet } from "../node/helpers.js";

const run = promisify(execFile);
const MAIN = path.join(import.meta.dirname, "../../src/cli/main.ts");

/** Runs the real CLI entry point as an operator would (`consort <args>`). */
function consort(...args: string[]) {
  return run(process.execPath, ["--import", "tsx", MAIN, ...args], { timeout: 60_000 });
}

describe("consort CLI", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-cli-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("keygen writes a 0600 key file and prints its node ID", async () => {
    const file = path.join(dir, "node.key");
    const { stdout } = await consort("keygen", "--out", file);
    expect(stdout.trim()).toMatch(/^0x[0-9a-f]{64}$/);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, "utf8")).nodeId).toBe(stdout.trim());
    // Never over an existing key: that node's identity would be gone.
    await expect(consort("keygen", "--out", file)).rejects.toMatchObject({
      stderr: expect.stringContaining(`${file} already exists: a node key`),
    });
    expect(JSON.parse(await readFile(file, "utf8")).nodeId).toBe(stdout.trim());
  });

  it("testnet writes genesis, accounts and one folder per node", async () => {
    const out = path.join(dir, "net");
    await consort("testnet", "--validators", "2", "--observers", "1", "--out", out, "--rpc-port", "18600");
    const genesis = JSON.parse(await readFile(path.join(out, "genesis.json"), "utf8"));
    expect(genesis.sealers).toHaveLength(2);
    expect(genesis.observers).toHaveLength(1);
    const node2 = JSON.parse(await readFile(path.join(out, "node2", "node.json"), "utf8"));
    expect(node2.rpc.port).toBe(18602);
    expect(node2.p2p.peers).toHaveLength(2);

    // Again into the same folder: refused, nothing replaced (its keys are the chain's only copies).
    const key = await readFile(path.join(out, "governor0.key"), "utf8");
    await expect(consort("testnet", "--validators", "2", "--out", out)).rejects.toMatchObject({
      stderr: expect.stringContaining(`${out} already holds a testnet (testnet.json)`),
    });
    expect(await readFile(path.join(out, "governor0.key"), "utf8")).toBe(key);
  });

  it("explains bad usage instead of crashing", async () => {
    await expect(consort("testnet", "--validators", "zero", "--out", dir)).rejects.toMatchObject({
      stderr: expect.stringContaining("--validators must be an integer"),
    });
    await expect(consort("start", "--conifg", "node.json")).rejects.toMatchObject({
      stderr: expect.stringMatching(
        /Unknown option '--conifg'[\s\S]*usage:\n {2}consort start --config FILE/,
      ),
    });
    await expect(consort("frobnicate")).rejects.toMatchObject({
      stderr: expect.stringContaining('unknown command "frobnicate"'),
    });
    await expect(consort("start", "--config", path.join(dir, "missing.json"))).rejects.toMatchObject({
      stderr: expect.stringContaining("missing.json: no such file"),
    });
    // A system call's refusal (here: a file where a folder should be) is one line, not a stack trace.
    const file = path.join(dir, "a-file");
    await writeFile(file, "");
    const refused = await consort("testnet", "--out", path.join(file, "net")).then(
      () => null,
      (err: { stderr: string }) => err.stderr,
    );
    expect(refused?.trim()).toMatch(/^consort: ENOTDIR: not a directory, mkdir '.*a-file\/net'$/);
  });

  it("--help on any command prints its usage and exits 0", async () => {
    const start = await consort("start", "--help");
    expect(start.stdout).toMatch(/^usage:\n {2}consort start --config FILE/);
    const testnet = await consort("testnet", "-h");
    expect(testnet.stdout).toContain("consort testnet --out DIR");
    expect((await consort("-h")).stdout).toContain("Usage:\n  consort start");
  });

  it("help, status's usage and a usage error load none of the node's packages (each command loads its own)", async () => {
    const hook = path.join(import.meta.dirname, "fixtures/packagesLoaded.mjs");
    const loaded = async (...args: string[]) => {
      const r = await run(process.execPath, ["--import", hook, "--import", "tsx", MAIN, ...args], {
        timeout: 60_000,
      }).catch((err: { stderr: string }) => err);
      return new Set(r.stderr.match(/^loaded \S+$/gm)?.map((l) => l.slice(7)));
    };
    const nodePackages = ["libp2p", "@libp2p/gossipsub", "@ethereumjs/evm", "fastify", "level", "viem"];
    for (const args of [["help"], ["status", "--help"], ["start", "--conifg", "x"]]) {
      const packages = await loaded(...args);
      expect(packages.size, `${args.join(" ")}: the hook saw no package at all`).toBeGreaterThan(0);
      for (const p of nodePackages) expect(packages.has(p), `${args.join(" ")} loaded ${p}`).toBe(false);
    }
    // gov signs and encodes with viem, and needs nothing of the node (the EVM came through the governance code).
    const gov = await loaded("gov", "--help");
    expect(gov.has("viem"), "gov --help loaded no viem: the hook saw nothing").toBe(true);
    for (const p of nodePackages.filter((x) => x !== "viem"))
      expect(gov.has(p), `gov --help loaded ${p}`).toBe(false);
    // The hook does see them when the node's modules load.
    expect((await loaded("start", "--config", path.join(dir, "missing.json"))).has("libp2p")).toBe(true);
  });

  describe("status against a running node", () => {
    let net: SingleNodeNet;
    let node: ConsortNode;
    beforeAll(async () => {
      net = await SingleNodeNet.create();
      node = await net.start();
    });
    afterAll(async () => {
      await node?.close();
      await net?.remove();
    });

    it("prints height, view, peers, pool and readiness (as a table, and as JSON)", async () => {
      const metricsUrl = node.metricsServer!.url;
      const { stdout } = await consort("status", "--rpc", rpcUrl(node), "--metrics", metricsUrl, "--json");
      const [row] = JSON.parse(stdout);
      expect(row).toMatchObject({ up: true, height: 0, view: 0, peers: 0, pool: 0, ready: true });
      const table = (await consort("status", "--rpc", rpcUrl(node), "--metrics", metricsUrl)).stdout;
      expect(table.split("\n")[0]).toMatch(
        /^node\s+height\s+view\s+peers\s+pool\s+last block\s+ready\s+rpc$/,
      );
      const host = new URL(rpcUrl(node)).host; // a node given by URL is named by its address
      expect(table.split("\n")[1]).toMatch(
        new RegExp(`^${host}\\s+0\\s+0\\s+0\\s+0\\s+\\d+s ago\\s+yes\\s+http`),
      );
      await expect(consort("status", "--bogus")).rejects.toMatchObject({
        stderr: expect.stringContaining("Unknown option '--bogus'"),
      });
      // A node that does not answer: the rows are printed, and the exit code says so (`consort status && …`).
      const nobody = `http://127.0.0.1:${await freePort()}`;
      const failed = await consort("status", "--rpc", `${rpcUrl(node)},${nobody}`, "--json").then(
        () => null,
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      expect(failed?.code).toBe(1);
      expect(JSON.parse(failed!.stdout).map((r: { up: boolean }) => r.up)).toEqual([true, false]);
      expect(failed?.stderr).toContain(`consort: 1 of 2 nodes did not answer: ${new URL(nobody).host}`);
    });
  });
});
