import { describe, expect, it } from "vitest";
import { collectStatus, formatStatusTable, type StatusRow } from "../../src/cli/status.js";
import { freePort } from "../../src/util/ports.js";

describe("consort status table", () => {
  it("aligns one row per node and shows a node that does not answer as down", async () => {
    const closed = await freePort();
    const [down] = await collectStatus([
      { name: "node3", rpcUrl: `http://127.0.0.1:${closed}`, metricsUrl: `http://127.0.0.1:${closed}` },
    ]);
    expect(down).toMatchObject({ node: "node3", up: false, height: null, ready: null });
    const up: StatusRow = {
      node: "node0",
      rpc: "http://127.0.0.1:8545",
      up: true,
      height: 1234,
      view: 2,
      peers: 3,
      pool: 17,
      lastBlockAgeSeconds: 4,
      ready: false,
    };
    const lines = formatStatusTable([up, down!]).split("\n");
    expect(lines[0]).toBe("node   height  view  peers  pool  last block  ready  rpc");
    expect(lines[1]).toBe("node0    1234     2      3    17      4s ago     no  http://127.0.0.1:8545");
    expect(lines[2]).toMatch(
      new RegExp(`^node3    down     -      -     -           -      \\?  http://127.0.0.1:${closed} \\(`),
    );
  });
});
