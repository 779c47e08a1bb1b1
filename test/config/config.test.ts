import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadGenesis, loadNodeConfig, parseGenesis, parseNodeConfig } from "../../src/config/index.js";
import { defaultConsensusDriverOptions, resolveConsensusTiming } from "../../src/consensus/options.js";
import { defaultRpcServerOptions, rateLimitOf } from "../../src/rpc/index.js";
import { defaultTxPoolOptions, resolveTxPoolOptions } from "../../src/txpool/index.js";

const NODE_ID = `0x${"ab".repeat(32)}`;
const OTHER_ID = `0x${"cd".repeat(32)}`;
const ADMIN = `0x${"11".repeat(20)}`;

function genesis(over: Record<string, unknown> = {}) {
  return {
    chainId: 20200,
    groupId: "group0",
    sealers: [{ nodeId: NODE_ID, weight: 1 }],
    committee: { governors: [{ address: ADMIN }] },
    ...over,
  };
}

describe("genesis", () => {
  it("parses a minimal genesis with defaults", () => {
    const g = parseGenesis(genesis({ alloc: { [ADMIN]: { balance: "0x10" } } }));
    expect(g.chainId).toBe(20200n);
    expect(g.sealers[0]?.weight).toBe(1);
    expect(g.alloc[0]?.balance).toBe(16n);
    // Only what the file sets: execution fills the defaults (test/execution/genesis*.test.ts).
    expect(g.systemConfig).toEqual({});
    expect(g.committee).toEqual({ governors: [{ address: expect.any(Uint8Array), weight: 1 }] });
  });

  it.each([
    [{ chainId: -1 }, "chainId: expected a non-negative integer"],
    [{ chainId: 0 }, "chainId: must be between 1 and 2^53"],
    [{ sealers: [] }, "sealers: at least one sealer is required"],
    [{ sealers: [{ nodeId: "0x12" }] }, "sealers[0].nodeId: expected 0x followed by 64 hex digits"],
    [{ sealers: [{ nodeId: NODE_ID, weight: 0 }] }, "sealers[0].weight: must be >= 1"],
    [{ observers: [NODE_ID] }, "is listed twice"],
    [
      { committee: { governors: [{ address: "0xzz" }] } },
      "committee.governors[0].address: expected 0x followed by 40 hex",
    ],
    [{ committee: { governors: [] } }, "committee.governors: at least one governor is required"],
    [
      { committee: { governors: [{ address: ADMIN, weight: 0 }] } },
      "committee.governors[0].weight: must be >= 1",
    ],
    [{ committee: { governors: [{ address: ADMIN }], winRate: 101 } }, "committee.winRate: must be <= 100"],
    [{ admins: [ADMIN] }, 'admins: replaced by "committee"'],
    [{ alloc: { nope: { balance: 1 } } }, "alloc.nope: the key must be a 0x-prefixed 20-byte address"],
    [{ sealrs: [] }, "sealrs: unknown field"],
  ])("refuses %j naming the field", (over, message) => {
    expect(() => parseGenesis(genesis(over), "g.json")).toThrowError(
      expect.objectContaining({ code: "CONFIG_INVALID", message: expect.stringContaining(message) }),
    );
  });

  it("accepts distinct sealers and observers", () => {
    expect(parseGenesis(genesis({ observers: [OTHER_ID] })).observers).toHaveLength(1);
  });
});

describe("node config", () => {
  it("resolves paths against the file's folder and fills defaults", () => {
    const c = parseNodeConfig({ dataDir: "data" }, "/etc/consort/node.json");
    expect(c.dataDir).toBe("/etc/consort/data");
    expect(c.nodeKeyFile).toBe("/etc/consort/node.key");
    expect(c.rpc).toMatchObject({ host: "127.0.0.1", port: 8545 });
    expect(c.p2p.listen).toEqual(["/ip4/127.0.0.1/tcp/30300"]);
  });

  it("passes on only what the file sets: each module's defaults apply, in one place", () => {
    const c = parseNodeConfig({ dataDir: "data", consensus: { minSealTimeMs: 0 } }, "node.json");
    expect(c.consensus).toEqual({ minSealTimeMs: 0 });
    expect(resolveConsensusTiming(c.consensus)).toEqual({
      ...defaultConsensusDriverOptions,
      minSealTimeMs: 0,
    });
    expect(c.rpc.requestsPerSecond).toBeUndefined();
    expect(c.rpc.maxConcurrentCalls).toBeUndefined();
    expect(c.rpc.callTimeBudgetMs).toBeUndefined();
    expect(rateLimitOf(300)).toEqual({
      ...defaultRpcServerOptions.rateLimit,
      requestsPerSecond: 300,
      burst: 600,
    });
  });

  it("lets a leader wait up to half the view timeout to fill a block", () => {
    const set = { viewTimeoutMs: 1000, minSealTimeMs: 400, minBlockIntervalMs: 100 };
    expect(resolveConsensusTiming(set)).toMatchObject(set);
  });

  it.each([
    [{}, "dataDir: expected a string"],
    [{ dataDir: "d", rpc: { port: 70000 } }, "rpc.port: must be <= 65535"],
    [{ dataDir: "d", p2p: { peers: ["127.0.0.1:30300"] } }, "p2p.peers[0]: expected a multiaddr"],
    [
      { dataDir: "d", consensus: { tickMs: 100, viewTimeoutMs: 200 } },
      "consensus.viewTimeoutMs: must be at least 5 ticks",
    ],
    // The 5-tick rule holds against the driver's default tick too (200 ms < 5 × 100 ms).
    [
      { dataDir: "d", consensus: { viewTimeoutMs: 200 } },
      "consensus.viewTimeoutMs: must be at least 5 ticks",
    ],
    [{ dataDir: "d", consensus: { tickMs: 5 } }, "consensus.tickMs: must be >= 10"],
    // A leader filling a block must still propose within half the view timeout (with the default interval, 100 ms).
    [
      { dataDir: "d", consensus: { viewTimeoutMs: 1000, minSealTimeMs: 401 } },
      "consensus.minBlockIntervalMs: minSealTimeMs + minBlockIntervalMs (501 ms) must be at most half of viewTimeoutMs (1000 ms)",
    ],
    [
      { dataDir: "d", consensus: { viewTimeoutMs: 1000, minBlockIntervalMs: 501 } },
      "consensus.minBlockIntervalMs: minSealTimeMs + minBlockIntervalMs (501 ms) must be at most half",
    ],
    [{ dataDir: "d", log: { level: "loud" } }, "log.level: expected trace|debug"],
    [{ dataDir: "d", rcp: {} }, "rcp: unknown field"],
    [{ dataDir: "d", txpool: { recoveryThreads: 17 } }, "txpool.recoveryThreads: must be <= 16"],
    [{ dataDir: "d", txpool: { recoveryThreads: -1 } }, "txpool.recoveryThreads: must be >= 0"],
  ])("refuses %j naming the field", (json, message) => {
    expect(() => parseNodeConfig(json, "node.json")).toThrowError(
      expect.objectContaining({ code: "CONFIG_INVALID", message: expect.stringContaining(message) }),
    );
  });
});

describe("config files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("names a missing file", async () => {
    await expect(loadNodeConfig(path.join(dir, "nope.json"))).rejects.toMatchObject({
      code: "CONFIG_FILE_MISSING",
    });
  });

  it("names a file that is not JSON", async () => {
    const file = path.join(dir, "bad.json");
    await writeFile(file, "{ not json");
    await expect(loadGenesis(file)).rejects.toMatchObject({
      code: "CONFIG_FILE_UNREADABLE",
      message: expect.stringContaining("bad.json: not valid JSON"),
    });
  });
});

describe("example configs in configs/", () => {
  it("are valid", async () => {
    const dir = path.join(import.meta.dirname, "../../configs");
    const genesis = await loadGenesis(path.join(dir, "genesis.example.json"));
    expect(genesis.sealers).toHaveLength(4);
    const node = await loadNodeConfig(path.join(dir, "node.example.json"));
    expect(node.genesisFile).toBe(path.join(dir, "genesis.example.json"));
  });

  it("show the txpool defaults (one default per bound, in src/txpool/options.ts)", async () => {
    const node = await loadNodeConfig(path.join(import.meta.dirname, "../../configs/node.example.json"));
    // recoveryThreads is left out: its default follows the machine's cores (docs/txpool.md).
    const shown = Object.entries(node.txpool).filter(([, value]) => value !== undefined);
    expect(shown.length).toBeGreaterThan(0);
    for (const [key, value] of shown) {
      expect([key, value]).toEqual([key, defaultTxPoolOptions[key as keyof typeof defaultTxPoolOptions]]);
    }
  });

  it("a node config without txpool fields leaves them to the txpool defaults", () => {
    const cfg = parseNodeConfig({ dataDir: "d" }, "/tmp/node.json");
    expect(cfg.txpool).toEqual({
      countMax: undefined,
      bytesMax: undefined,
      senderCountMax: undefined,
      senderBytesMax: undefined,
      nonceGapMax: undefined,
      nativeSenderCountMax: undefined,
      recoveryThreads: undefined,
    });
    const opts = resolveTxPoolOptions({ chainId: 1n, groupId: "g", ...cfg.txpool });
    expect(opts.countMax).toBe(defaultTxPoolOptions.countMax);
    expect(opts.senderCountMax).toBe(defaultTxPoolOptions.senderCountMax);
  });
});
