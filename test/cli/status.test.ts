import { describe, expect, it, vi } from "vitest";
import { collectStatus, formatStatusTable, type StatusRow, statusCommand } from "../../src/cli/status.js";
import { freePort } from "../../src/util/ports.js";

describe("consort status table", () => {
  it("aligns one row per node and shows a node that does not answer as down", async () => {
    const closed = await freePort();
    const [down] = await collectStatus([
      { name: "node3", rpcUrl: `http://127.0.0.1:${closed}`, metricsUrl: `http://127.0.0.1:${closed}` },
    ]);
    expect(down).toMatchObject({ node: "node3", up: false, role: null, height: null, ready: null });
    const up: StatusRow = {
      node: "node0",
      rpc: "http://127.0.0.1:8545",
      up: true,
      role: "sealer",
      height: 1234,
      view: 2,
      peers: 3,
      pool: 17,
      lastBlockAgeSeconds: 4,
      ready: false,
    };
    const lines = formatStatusTable([up, down!]).split("\n");
    expect(lines[0]).toBe("node     role  height  view  peers  pool  last block  ready  rpc");
    expect(lines[1]).toBe(
      "node0  sealer    1234     2      3    17      4s ago     no  http://127.0.0.1:8545",
    );
    expect(lines[2]).toMatch(
      new RegExp(
        `^node3       -    down     -      -     -           -      \\?  http://127.0.0.1:${closed} \\(`,
      ),
    );
  });

  it("names nodes given by --rpc by their address, and refuses what is not a URL", async () => {
    const closed = await freePort();
    const printed: string[] = [];
    const log = vi
      .spyOn(console, "log")
      .mockImplementation((...a: unknown[]) => void printed.push(a.join(" ")));
    try {
      await expect(statusCommand(["--rpc", `http://127.0.0.1:${closed}`])).rejects.toMatchObject({
        code: "CLI_NODES_DOWN",
        message: `1 of 1 nodes did not answer: 127.0.0.1:${closed}`,
      });
    } finally {
      log.mockRestore();
    }
    expect(printed.join("\n")).toMatch(new RegExp(`^127\\.0\\.0\\.1:${closed} +- +down`, "m"));
    await expect(statusCommand(["--rpc", "8549"])).rejects.toMatchObject({
      code: "CLI_USAGE",
      message: "--rpc: not a URL: 8549",
    });
  });
});
