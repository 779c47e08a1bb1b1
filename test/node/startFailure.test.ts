import { chmod } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { NodeConfig } from "../../src/config/index.js";
import { ConsortNode } from "../../src/node/index.js";
import { silentLogger } from "../../src/util/logger.js";
import { captureLogger } from "../fixtures/logger.js";
import { freePort, SingleNodeNet } from "./helpers.js";

/**
 * A node whose JSON-RPC, P2P or metrics port another program holds: start() fails with a typed error that names the
 * address, the reason and the setting, and stops what had started (the ledger's lock is released: the node starts
 * from the same data folder once the port is free). Before, the RPC case printed a bare EADDRINUSE with a stack
 * trace, P2P libp2p's advice to set `transportManager.faultTolerance`, and the modules started first kept running.
 */
describe("a node that cannot bind its ports", () => {
  let net: SingleNodeNet;
  let holder: Server | null = null;

  beforeAll(async () => {
    net = await SingleNodeNet.create();
  });
  afterEach(async () => {
    const server = holder;
    holder = null;
    if (server) await new Promise((r) => server.close(r));
  });
  afterAll(async () => {
    await net.remove();
  });

  const cases: [string, string, string, (cfg: NodeConfig, port: number) => void][] = [
    ["JSON-RPC", "RPC_LISTEN", "rpc.port", (cfg, port) => (cfg.rpc.port = port)],
    ["P2P", "NETWORK_LISTEN", "p2p.listen", (cfg, port) => (cfg.p2p.listen = [`/ip4/127.0.0.1/tcp/${port}`])],
    ["metrics", "METRICS_LISTEN", "metrics.port", (cfg, port) => (cfg.metrics.port = port)],
  ];

  for (const [what, code, setting, usePort] of cases) {
    it(`${what}: a typed error naming the port and the setting; what had started stops`, async () => {
      const port = await freePort();
      const server = createServer();
      holder = server;
      await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));

      const cfg = await net.config();
      usePort(cfg, port);
      const node = await ConsortNode.create(cfg, { logger: silentLogger() });
      const failed = await node.start().then(
        () => null,
        (err: unknown) => err,
      );
      expect(failed).toMatchObject({ code });
      const message = (failed as Error).message;
      expect(message).toContain(`127.0.0.1${what === "P2P" ? "/tcp/" : ":"}${port}`);
      expect(message).toContain("in use by another program");
      expect(message).toContain(setting);
      expect(node.isClosed).toBe(true);

      // Closed for real: the ledger's lock is free, so the same data folder starts a node (on free ports).
      const again = await ConsortNode.create(await net.config(), { logger: silentLogger() });
      await again.start();
      await again.close();
    });
  }
});

describe("a node key file readable by other users", () => {
  let net: SingleNodeNet;
  beforeAll(async () => {
    net = await SingleNodeNet.create();
  });
  afterAll(async () => {
    await net.remove();
  });

  it("is a warning at every start, naming the file and its mode; a 0600 key is not", async () => {
    const config = await net.config();
    const warnings = async () => {
      const log = captureLogger();
      const node = await ConsortNode.create(config, { logger: log });
      await node.close();
      return log.entries
        .filter(
          (e) => e.level === "warn" && e.msg?.startsWith("the node key file is readable by other users"),
        )
        .map((e) => e.obj);
    };
    await chmod(config.nodeKeyFile, 0o640);
    expect(await warnings()).toEqual([{ file: config.nodeKeyFile, mode: "0640" }]);
    await chmod(config.nodeKeyFile, 0o600);
    expect(await warnings()).toEqual([]);
  });
});
