import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AddNodeOptions, addTestnetNode } from "../../src/cli/addNode.js";
import { loadNodeConfig } from "../../src/config/index.js";
import { loadNodeKey } from "../../src/crypto/index.js";
import { nodeIdToPeerId } from "../../src/network/index.js";
import type { ConsortNode } from "../../src/node/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
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

  it("testnet add-node writes one more node that dials every node of the testnet, and refuses what it cannot do", async () => {
    const out = path.join(dir, "grow");
    await consort(
      "testnet",
      "--validators",
      "3",
      "--out",
      out,
      "--rpc-port",
      "18620",
      "--p2p-port",
      "18630",
      "--metrics-port",
      "18640",
    );
    const { stdout } = await consort("testnet", "add-node", "--dir", out);
    const nodeId = /node ID {2}(0x[0-9a-f]{64})/.exec(stdout)?.[1];
    expect(nodeId).toBeDefined();
    // The printed ID is the key's, and the next steps name it and the testnet's governor key.
    expect(bytesToHex((await loadNodeKey(path.join(out, "node3", "node.key"))).nodeId)).toBe(nodeId);
    expect((await stat(path.join(out, "node3", "node.key"))).mode & 0o777).toBe(0o600);
    expect(stdout).toContain(`gov propose add-observer ${nodeId} --key ${path.join(out, "governor0.key")}`);
    expect(stdout).toContain(path.join(out, "node3", "start.sh"));

    // A config the node accepts: the testnet's genesis, the next ports, every node's address with its peer ID.
    const config = await loadNodeConfig(path.join(out, "node3", "node.json"));
    expect(config.genesisFile).toBe(path.join(out, "genesis.json"));
    expect([config.rpc.port, config.metrics?.port]).toEqual([18623, 18643]);
    expect(config.p2p.listen).toEqual(["/ip4/127.0.0.1/tcp/18633"]);
    const meta = JSON.parse(await readFile(path.join(out, "testnet.json"), "utf8"));
    expect(config.p2p.peers).toEqual(
      meta.nodes
        .slice(0, 3)
        .map(
          (n: { nodeId: string; p2pPort: number }) =>
            `/ip4/127.0.0.1/tcp/${n.p2pPort}/p2p/${nodeIdToPeerId(hexToBytes(n.nodeId))}`,
        ),
    );
    // testnet.json lists it (status --dir and npm start --dir see it), not as a genesis role.
    expect(meta.nodes[3]).toMatchObject({ name: "node3", nodeId, role: "added", p2pPort: 18633 });
    expect(meta.nodes[3].rpcUrl).toBe("http://127.0.0.1:18623");
    expect(meta.nodes[3].metricsUrl).toBe("http://127.0.0.1:18643");
    const genesis = JSON.parse(await readFile(path.join(out, "genesis.json"), "utf8"));
    expect(genesis.sealers).toHaveLength(3);

    // The next one: node4, ports above node3's, dialing node3 too; or ports and a name given.
    await consort("testnet", "add-node", "--dir", out);
    const node4 = await loadNodeConfig(path.join(out, "node4", "node.json"));
    expect(node4.rpc.port).toBe(18624);
    expect(node4.p2p.peers).toHaveLength(4);
    await consort(
      "testnet",
      "add-node",
      "--dir",
      out,
      "--name",
      "east",
      "--rpc-port",
      "18700",
      "--p2p-port",
      "18701",
      "--metrics-port",
      "18702",
    );
    const east = await loadNodeConfig(path.join(out, "east", "node.json"));
    expect([east.name, east.rpc.port, east.p2p.listen[0], east.metrics?.port]).toEqual([
      "east",
      18700,
      "/ip4/127.0.0.1/tcp/18701",
      18702,
    ]);

    // Refusals (in-process: the CLI's own flag checks are the last two).
    const refused = (opts: Partial<AddNodeOptions>, text: string) =>
      expect(addTestnetNode({ dir: out, ...opts })).rejects.toThrow(text);
    await refused({ name: "east" }, `${path.join(out, "east")} already exists`);
    await refused({ rpcPort: 18631 }, "port 18631 is node1's");
    await refused({ rpcPort: 18800, p2pPort: 18800 }, "ports must differ");
    await refused({ name: "../x" }, "--name must be 1-64 letters");
    await refused({ dir: path.join(dir, "nothing") }, "holds no testnet (no testnet.json)");
    await expect(consort("testnet", "add-node", "--dir", out, "--rpc-port", "70000")).rejects.toMatchObject({
      stderr: expect.stringContaining("--rpc-port must be an integer from 1 to 65535"),
    });
    await expect(consort("testnet", "add-node")).rejects.toMatchObject({
      stderr: expect.stringContaining("missing --dir"),
    });
    expect(JSON.parse(await readFile(path.join(out, "testnet.json"), "utf8")).nodes).toHaveLength(6);
  });

  it("testnet add-node gives a --tls testnet's node a certificate of the chain's CA; a docker testnet is refused", async () => {
    const tls = path.join(dir, "grow-tls");
    await consort("testnet", "--validators", "1", "--tls", "--out", tls, "--rpc-port", "18650");
    await consort("testnet", "add-node", "--dir", tls);
    const config = await loadNodeConfig(path.join(tls, "node1", "node.json"));
    expect(config.rpc.security.tls?.certFile).toBe(path.join(tls, "node1", "tls", "node1.crt"));
    const cert = new X509Certificate(await readFile(path.join(tls, "node1", "tls", "node1.crt")));
    const ca = new X509Certificate(await readFile(path.join(tls, "tls", "ca.crt")));
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkIP("127.0.0.1")).toBe("127.0.0.1");
    expect(JSON.parse(await readFile(path.join(tls, "testnet.json"), "utf8")).nodes[1].rpcUrl).toBe(
      "https://127.0.0.1:18651",
    );

    // The CA's key gone: refused, and no half-made folder left in the way of the next attempt.
    await rename(path.join(tls, "tls", "ca.key"), path.join(tls, "ca.key.away"));
    await expect(addTestnetNode({ dir: tls })).rejects.toThrow();
    expect(existsSync(path.join(tls, "node2"))).toBe(false);
    expect(JSON.parse(await readFile(path.join(tls, "testnet.json"), "utf8")).nodes).toHaveLength(2);

    const docker = path.join(dir, "grow-docker");
    await consort("testnet", "--validators", "1", "--docker", "--out", docker);
    await expect(consort("testnet", "add-node", "--dir", docker)).rejects.toMatchObject({
      stderr: expect.stringContaining("is a docker testnet"),
    });
    expect(existsSync(path.join(docker, "node1"))).toBe(false);
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
      expect(row).toMatchObject({
        up: true,
        role: "sealer",
        height: 0,
        view: 0,
        peers: 0,
        pool: 0,
        ready: true,
      });
      const table = (await consort("status", "--rpc", rpcUrl(node), "--metrics", metricsUrl)).stdout;
      expect(table.split("\n")[0]).toMatch(
        /^node\s+role\s+height\s+view\s+peers\s+pool\s+last block\s+ready\s+rpc$/,
      );
      const host = new URL(rpcUrl(node)).host; // a node given by URL is named by its address
      expect(table.split("\n")[1]).toMatch(
        new RegExp(`^${host}\\s+sealer\\s+0\\s+0\\s+0\\s+0\\s+\\d+s ago\\s+yes\\s+http`),
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
