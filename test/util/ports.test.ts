import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { freeTestnetPorts, portIsFree } from "../../src/util/ports.js";

describe("ports for tests, benchmarks and testnets", () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  it("gives a testnet three runs of free ports that never overlap", async () => {
    // Runs of 400 ports in a 22,000-port range: two runs drawn alone overlap about once in 14 draws, so ten
    // testnets (30 runs) without the disjointness check would share ports with near certainty.
    const nodes = 400;
    for (let i = 0; i < 10; i++) {
      const { rpcPortBase, p2pPortBase, metricsPortBase } = await freeTestnetPorts(nodes);
      const bases = [rpcPortBase, p2pPortBase, metricsPortBase].sort((a, b) => a - b);
      expect(bases[1]! - bases[0]!).toBeGreaterThanOrEqual(nodes);
      expect(bases[2]! - bases[1]!).toBeGreaterThanOrEqual(nodes);
      for (const base of bases) expect(await portIsFree(base + nodes - 1)).toBe(true);
    }
  });

  it("a port another program listens on, on any address, is not free", async () => {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
    const { port } = server.address() as { port: number };
    expect(await portIsFree(port)).toBe(false);
    expect(await portIsFree(port, "127.0.0.1")).toBe(false);
  });
});
