import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, type Server } from "node:http";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { addTestnetNode } from "../../src/cli/addNode.js";
import { bannerText, runDevTestnet, spawnNode, waitForNodes, waitForReady } from "../../src/cli/dev.js";
import { defaultTestnetOptions, generateTestnet } from "../../src/cli/testnet.js";
import { devAccountKey } from "../../src/config/index.js";
import { loadAccountKey } from "../../src/crypto/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { freePort, freeTestnetPorts } from "../../src/util/ports.js";

/**
 * Starting a local testnet (`npm start` = `consort dev`) when something is in the way: a port another program holds
 * (an anvil on 8545 answers JSON-RPC too), a node that exits during start-up.
 */
describe("consort dev: start-up failures", () => {
  let dir: string;
  const servers: Server[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-dev-"));
  });
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses to start when another program holds a node's port, naming it, before starting any node", async () => {
    const ports = await freeTestnetPorts(4);
    await generateTestnet({ ...defaultTestnetOptions, outDir: dir, validators: 4, devKeys: true, ...ports });
    // A JSON-RPC server on node 2's port: a start-up wait that polled it would take its answer for the node's.
    const busyPort = ports.rpcPortBase + 2;
    const impostor = createHttpServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result: "0x0" }));
    });
    servers.push(impostor);
    await new Promise<void>((resolve) => impostor.listen(busyPort, "127.0.0.1", resolve));

    await rm(path.join(dir, "governor0.key")); // a dev chain generated before the file existed
    const started = performance.now();
    const refused = await runDevTestnet(dir).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toMatchObject({ code: "CLI_PORT_BUSY" });
    // The governor's key file, written by the generator, is written again by a start that finds it missing.
    const governor = await loadAccountKey(path.join(dir, "governor0.key"));
    expect(governor.privateKey).toEqual(devAccountKey(0));
    expect((refused as Error).message).toContain(`127.0.0.1:${busyPort} (node2 JSON-RPC)`);
    expect((refused as Error).message).not.toContain("node0");
    // Refused up front: no node was spawned, so nothing waited for one.
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  it("stops waiting as soon as a node exits during start-up, with the end of its log as the reason", async () => {
    const configFile = path.join(dir, "node.json");
    await writeFile(configFile, '{"name": ');
    const logFile = path.join(dir, "node.log");
    const child = spawnNode(configFile, logFile);
    const failed = await waitForNodes(
      [{ name: "node7", rpcUrl: "http://127.0.0.1:9", child, logFile }],
      120_000,
    ).then(
      () => null,
      (err: unknown) => err,
    );
    expect(failed).toMatchObject({ code: "CLI_NODE_EXITED" });
    const message = (failed as Error).message;
    expect(message).toContain("node7 exited (code 1) before its JSON-RPC answered");
    expect(message).toContain(`${configFile}: not valid JSON`);
  });

  it("prints private keys in the banner only for the dev chain's public dev keys", async () => {
    const dev = await generateTestnet({
      ...defaultTestnetOptions,
      outDir: path.join(dir, "dev"),
      validators: 1,
      devKeys: true,
    });
    const devBanner = bannerText(dev);
    expect(devBanner).toContain("TEST-ONLY: these keys are PUBLIC");
    expect(devBanner).toContain(dev.accounts[0]!.privateKey);
    // Its one governor, dev account 0, has a key file that `consort gov --key` reads; the banner names it.
    const keyFile = path.join(dir, "dev", "governor0.key");
    expect(dev.governors).toEqual([expect.objectContaining({ address: dev.accounts[0]!.address, keyFile })]);
    expect(bytesToHex((await loadAccountKey(keyFile)).address)).toBe(dev.accounts[0]!.address);
    expect(devBanner).toContain(`gov propose <change> --key ${keyFile}`);

    // A testnet from `consort testnet` (what the busy-port message suggests running with `npm start -- --dir`).
    const fresh = await generateTestnet({
      ...defaultTestnetOptions,
      outDir: path.join(dir, "fresh"),
      validators: 1,
    });
    const freshBanner = bannerText(fresh);
    expect(freshBanner).not.toContain("PUBLIC");
    expect(freshBanner).toContain(fresh.accounts[0]!.address);
    for (const a of fresh.accounts) expect(freshBanner).not.toContain(a.privateKey.slice(2));
    expect(freshBanner).toContain("Consort testnet is up (1 validator, data in");
    // A node of `consort testnet add-node` is counted apart: the chain, not the genesis, decides what it is.
    await addTestnetNode({ dir: fresh.outDir });
    const meta = JSON.parse(await readFile(path.join(fresh.outDir, "testnet.json"), "utf8"));
    expect(bannerText({ ...fresh, nodes: meta.nodes })).toContain(
      "Consort testnet is up (1 validator, 1 added node, data in",
    );
  });

  it("waitForReady waits for every node's /ready, and names those still not ready with their reasons", async () => {
    let readyAfter = Date.now() + 600; // node0 becomes ready during the wait; node1 never does
    const serve = (answer: () => [number, unknown]) => {
      const server = createHttpServer((req, res) => {
        const [status, body] = req.url === "/ready" ? answer() : [404, {}];
        res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      });
      servers.push(server);
      return new Promise<string>((resolve) =>
        server.listen(0, "127.0.0.1", () =>
          resolve(`http://127.0.0.1:${(server.address() as { port: number }).port}`),
        ),
      );
    };
    const flipping = await serve(() =>
      Date.now() >= readyAfter
        ? [200, { ready: true }]
        : [503, { ready: false, reasons: ["no peer has reported its head yet"] }],
    );
    const never = await serve(() => [
      503,
      { ready: false, reasons: ["validators reachable: weight 1 of 4, a quorum needs 3", "x"] },
    ]);
    const nodes = [
      { name: "node0", metricsUrl: flipping },
      { name: "node1", metricsUrl: never },
      { name: "node2", metricsUrl: null }, // no metrics server: not waited for
    ];
    expect(await waitForReady(nodes.slice(0, 1), 20_000)).toEqual([]);
    expect(Date.now()).toBeGreaterThanOrEqual(readyAfter); // it waited for the flip
    readyAfter = Date.now() + 60_000;
    expect(await waitForReady(nodes, 500)).toEqual([
      "node0: no peer has reported its head yet",
      "node1: validators reachable: weight 1 of 4, a quorum needs 3; x",
    ]);
    // Ctrl-C during the wait: it returns at once instead of polling out its time.
    const started = Date.now();
    await waitForReady(nodes, 60_000, () => true);
    expect(Date.now() - started).toBeLessThan(10_000);
    const closed = `http://127.0.0.1:${await freePort()}`;
    expect(await waitForReady([{ name: "node3", metricsUrl: closed }], 300)).toEqual([
      expect.stringMatching(/^node3: \/ready did not answer \(/),
    ]);
    // A node on no list of the chain (testnet add-node, not yet admitted) is named at once, not waited for.
    const outsider = await serve(() => [
      503,
      { ready: false, reasons: ["not on the node list at block 0: members refuse this node until …"] },
    ]);
    const before = Date.now();
    expect(await waitForReady([{ name: "node4", metricsUrl: outsider }], 60_000)).toEqual([
      "node4: not on the node list at block 0: members refuse this node until …",
    ]);
    expect(Date.now() - before).toBeLessThan(10_000);
  });
});
