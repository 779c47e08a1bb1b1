import path from "node:path";
import type { LogLevel } from "../util/logger.js";
import { readJsonFile } from "./genesis.js";
import { FieldReader } from "./validate.js";

/** One node's local settings (never shared): where its data lives, what it listens on, whom it dials. */
export interface NodeConfig {
  /** Human name for logs ("node0"). */
  name: string;
  /** Absolute paths (relative ones in the file are resolved against the file's folder). */
  dataDir: string;
  nodeKeyFile: string;
  genesisFile: string;
  rpc: {
    enabled: boolean;
    host: string;
    port: number;
    corsOrigins: string[];
    requestsPerSecond: number;
    /** eth_call / eth_estimateGas / FISCO call running at once, and each one's wall-clock budget. */
    maxConcurrentCalls: number;
    callTimeBudgetMs: number;
  };
  p2p: {
    /** libp2p multiaddrs to listen on, e.g. /ip4/127.0.0.1/tcp/30300. */
    listen: string[];
    /** Static peers: multiaddrs ending in /p2p/<peerId>. */
    peers: string[];
  };
  consensus: {
    /** One logical PBFT tick. */
    tickMs: number;
    /** View-change timeout at view 0 (doubled per consecutive failed view, capped). */
    viewTimeoutMs: number;
    /** The leader waits at most this long to gather transactions for a block once some are pending. */
    minSealTimeMs: number;
  };
  txpool: {
    countMax: number;
    bytesMax: number;
  };
  ledger: {
    /** Blocks whose state stays readable (eth_getBalance / eth_call at past heights); 0 keeps only the head's. */
    stateHistoryBlocks: number;
  };
  log: { level: LogLevel; pretty: boolean };
}

const LEVELS: LogLevel[] = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];
const KEYS = [
  "name",
  "dataDir",
  "nodeKeyFile",
  "genesisFile",
  "rpc",
  "p2p",
  "consensus",
  "txpool",
  "ledger",
  "log",
];

export function parseNodeConfig(json: unknown, file: string): NodeConfig {
  const root = new FieldReader(file, json);
  root.onlyKeys(KEYS);
  const base = path.dirname(path.resolve(file));
  const resolve = (p: string) => path.resolve(base, p);
  const rpc = root.field("rpc");
  const p2p = root.field("p2p");
  const consensus = root.field("consensus");
  const txpool = root.field("txpool");
  const log = root.field("log");
  const ledger = root.field("ledger");
  if (!ledger.isMissing) ledger.onlyKeys(["stateHistoryBlocks"]);
  if (!rpc.isMissing) {
    rpc.onlyKeys([
      "enabled",
      "host",
      "port",
      "corsOrigins",
      "requestsPerSecond",
      "maxConcurrentCalls",
      "callTimeBudgetMs",
    ]);
  }
  if (!p2p.isMissing) p2p.onlyKeys(["listen", "peers"]);
  if (!consensus.isMissing) consensus.onlyKeys(["tickMs", "viewTimeoutMs", "minSealTimeMs"]);
  if (!txpool.isMissing) txpool.onlyKeys(["countMax", "bytesMax"]);
  if (!log.isMissing) log.onlyKeys(["level", "pretty"]);
  const multiaddr = {
    pattern: /^\/(ip4|ip6|dns4|dns6|dns)\//,
    patternHint: "a multiaddr such as /ip4/127.0.0.1/tcp/30300",
  };
  const cfg: NodeConfig = {
    name: root.field("name").optional((n) => n.string({ maxLength: 64 }), "node"),
    dataDir: resolve(root.field("dataDir").string()),
    nodeKeyFile: resolve(root.field("nodeKeyFile").optional((n) => n.string(), "node.key")),
    genesisFile: resolve(root.field("genesisFile").optional((n) => n.string(), "genesis.json")),
    rpc: {
      enabled: rpc.isMissing ? true : rpc.field("enabled").optional((b) => b.boolean(), true),
      host: rpc.isMissing ? "127.0.0.1" : rpc.field("host").optional((h) => h.string(), "127.0.0.1"),
      port: rpc.isMissing ? 8545 : rpc.field("port").optional((p) => p.integer({ min: 0, max: 65535 }), 8545),
      corsOrigins: rpc.isMissing
        ? []
        : rpc.field("corsOrigins").optional((c) => c.array(100).map((o) => o.string()), []),
      requestsPerSecond: rpc.isMissing
        ? 5000
        : rpc.field("requestsPerSecond").optional((r) => r.integer({ min: 1, max: 1_000_000 }), 5000),
      maxConcurrentCalls: rpc.isMissing
        ? 4
        : rpc.field("maxConcurrentCalls").optional((r) => r.integer({ min: 1, max: 1024 }), 4),
      callTimeBudgetMs: rpc.isMissing
        ? 1000
        : rpc.field("callTimeBudgetMs").optional((r) => r.integer({ min: 10, max: 60_000 }), 1000),
    },
    p2p: {
      listen: p2p.isMissing
        ? ["/ip4/127.0.0.1/tcp/30300"]
        : p2p
            .field("listen")
            .optional((l) => l.array(16).map((a) => a.string(multiaddr)), ["/ip4/127.0.0.1/tcp/30300"]),
      peers: p2p.isMissing
        ? []
        : p2p.field("peers").optional((l) => l.array(1000).map((a) => a.string(multiaddr)), []),
    },
    consensus: {
      tickMs: consensus.isMissing
        ? 100
        : consensus.field("tickMs").optional((t) => t.integer({ min: 10, max: 10_000 }), 100),
      viewTimeoutMs: consensus.isMissing
        ? 3000
        : consensus.field("viewTimeoutMs").optional((t) => t.integer({ min: 100, max: 600_000 }), 3000),
      minSealTimeMs: consensus.isMissing
        ? 50
        : consensus.field("minSealTimeMs").optional((t) => t.integer({ min: 0, max: 10_000 }), 50),
    },
    txpool: {
      countMax: txpool.isMissing
        ? 50_000
        : txpool.field("countMax").optional((c) => c.integer({ min: 1, max: 10_000_000 }), 50_000),
      bytesMax: txpool.isMissing
        ? 256 * 1024 * 1024
        : txpool.field("bytesMax").optional((c) => c.integer({ min: 1024, max: 2 ** 40 }), 256 * 1024 * 1024),
    },
    ledger: {
      stateHistoryBlocks: ledger.isMissing
        ? 1024
        : ledger.field("stateHistoryBlocks").optional((c) => c.integer({ min: 0, max: 1_000_000 }), 1024),
    },
    log: {
      level: log.isMissing
        ? "info"
        : (log
            .field("level")
            .optional(
              (l) =>
                l.string({ pattern: new RegExp(`^(${LEVELS.join("|")})$`), patternHint: LEVELS.join("|") }),
              "info",
            ) as LogLevel),
      pretty: log.isMissing ? true : log.field("pretty").optional((p) => p.boolean(), true),
    },
  };
  validateNodeConfig(cfg, root);
  return cfg;
}

/** Cross-field checks, as etcd raft's Config.validate. */
function validateNodeConfig(cfg: NodeConfig, root: FieldReader): void {
  if (cfg.consensus.viewTimeoutMs < cfg.consensus.tickMs * 5) {
    root.fail(
      `must be at least 5 ticks (5 × consensus.tickMs = ${cfg.consensus.tickMs * 5} ms)`,
      "consensus.viewTimeoutMs",
    );
  }
  if (cfg.p2p.listen.length === 0) root.fail("at least one listen address is required", "p2p.listen");
}

export async function loadNodeConfig(file: string): Promise<NodeConfig> {
  return parseNodeConfig(await readJsonFile(file), file);
}
