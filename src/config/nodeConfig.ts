import path from "node:path";
import {
  CONSENSUS_OPTION_RANGES,
  ConsensusOptionsError,
  type ConsensusTiming,
  resolveConsensusTiming,
} from "../consensus/options.js";
import { RECOVERY_THREADS_MAX } from "../crypto/index.js";
import { parseRpcSecurity, RPC_SECURITY_KEYS, type RpcSecuritySettings } from "../rpc/config.js";
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
    /** Set only when the file sets them: the defaults are the rpc module's (src/rpc/options.ts) and execution's. */
    requestsPerSecond?: number;
    /** eth_call / eth_estimateGas / FISCO call running at once, and each one's wall-clock budget. */
    maxConcurrentCalls?: number;
    callTimeBudgetMs?: number;
    /** Tokens, TLS, Host allow-list, connection cap, quotas: read by the rpc module (src/rpc/config.ts). */
    security: RpcSecuritySettings;
    /** eth_sendRawTransaction answers once the transaction is committed (FISCO style); off by default. */
    syncSend: boolean;
    /** Accept pre-EIP-155 (chain-id-less, replayable) legacy transactions over RPC; off by default (geth). */
    allowUnprotectedTxs: boolean;
  };
  p2p: {
    /** libp2p multiaddrs to listen on, e.g. /ip4/127.0.0.1/tcp/30300. */
    listen: string[];
    /** Static peers: multiaddrs ending in /p2p/<peerId>. */
    peers: string[];
  };
  /** Only the fields the file sets; every default (and range) is in src/consensus/options.ts. */
  consensus: Partial<
    Pick<ConsensusTiming, "tickMs" | "viewTimeoutMs" | "minSealTimeMs" | "minBlockIntervalMs">
  > & {
    /** Pipelined PBFT (src/consensus/options.ts has its default). */
    pipeline?: boolean;
  };
  /** Only the fields the file sets; every default is in src/txpool/options.ts. */
  txpool: {
    countMax?: number;
    bytesMax?: number;
    senderCountMax?: number;
    senderBytesMax?: number;
    nonceGapMax?: number;
    nativeSenderCountMax?: number;
    recoveryThreads?: number;
  };
  ledger: {
    /** Blocks whose state stays readable (eth_getBalance / eth_call at past heights); 0 keeps only the head's. */
    stateHistoryBlocks: number;
  };
  log: { level: LogLevel; pretty: boolean };
  /** Prometheus /metrics, /health and /ready on their own port (loopback by default; see docs/monitoring.md). */
  metrics: { enabled: boolean; host: string; port: number; readyLagBlocksMax: number };
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
  "metrics",
];

export function parseNodeConfig(json: unknown, file: string): NodeConfig {
  const root = new FieldReader(file, json);
  root.onlyKeys(KEYS);
  const base = path.dirname(path.resolve(file));
  const resolve = (p: string) => path.resolve(base, p);
  const rpc = root.section("rpc", [
    "enabled",
    "host",
    "port",
    "corsOrigins",
    "requestsPerSecond",
    "maxConcurrentCalls",
    "callTimeBudgetMs",
    ...RPC_SECURITY_KEYS,
    "syncSend",
    "allowUnprotectedTxs",
  ]);
  const p2p = root.section("p2p", ["listen", "peers"]);
  const consensus = root.section("consensus", [
    "tickMs",
    "viewTimeoutMs",
    "minSealTimeMs",
    "minBlockIntervalMs",
    "pipeline",
  ]);
  const txpool = root.section("txpool", [
    "countMax",
    "bytesMax",
    "senderCountMax",
    "senderBytesMax",
    "nonceGapMax",
    "nativeSenderCountMax",
    "recoveryThreads",
  ]);
  const ledger = root.section("ledger", ["stateHistoryBlocks"]);
  const log = root.section("log", ["level", "pretty"]);
  const metrics = root.section("metrics", ["enabled", "host", "port", "readyLagBlocksMax"]);
  const int = (r: FieldReader, key: string, min: number, max: number, fallback: number) =>
    r.field(key).optional((f) => f.integer({ min, max }), fallback);
  /** An integer the file may set; absent stays undefined so the owning module's default applies. */
  const setOnly = (r: FieldReader, key: string, min: number, max: number): number | undefined =>
    r.field(key).optional<number | undefined>((f) => f.integer({ min, max }), undefined);
  const multiaddr = {
    pattern: /^\/(ip4|ip6|dns4|dns6|dns)\//,
    patternHint: "a multiaddr such as /ip4/127.0.0.1/tcp/30300",
  };
  const multiaddrs = (key: string, max: number, fallback: string[]) =>
    p2p.field(key).optional((l) => l.array(max).map((a) => a.string(multiaddr)), fallback);
  const cfg: NodeConfig = {
    name: root.field("name").optional((n) => n.string({ maxLength: 64 }), "node"),
    dataDir: resolve(root.field("dataDir").string()),
    nodeKeyFile: resolve(root.field("nodeKeyFile").optional((n) => n.string(), "node.key")),
    genesisFile: resolve(root.field("genesisFile").optional((n) => n.string(), "genesis.json")),
    rpc: {
      enabled: rpc.field("enabled").optional((b) => b.boolean(), true),
      host: rpc.field("host").optional((h) => h.string(), "127.0.0.1"),
      port: int(rpc, "port", 0, 65535, 8545),
      corsOrigins: rpc.field("corsOrigins").optional((c) => c.array(100).map((o) => o.string()), []),
      requestsPerSecond: setOnly(rpc, "requestsPerSecond", 1, 1_000_000),
      maxConcurrentCalls: setOnly(rpc, "maxConcurrentCalls", 1, 1024),
      callTimeBudgetMs: setOnly(rpc, "callTimeBudgetMs", 10, 60_000),
      security: parseRpcSecurity(rpc, resolve),
      syncSend: rpc.field("syncSend").optional((b) => b.boolean(), false),
      allowUnprotectedTxs: rpc.field("allowUnprotectedTxs").optional((b) => b.boolean(), false),
    },
    p2p: {
      listen: multiaddrs("listen", 16, ["/ip4/127.0.0.1/tcp/30300"]),
      peers: multiaddrs("peers", 1000, []),
    },
    consensus: {
      tickMs: setOnly(consensus, "tickMs", ...CONSENSUS_OPTION_RANGES.tickMs),
      viewTimeoutMs: setOnly(consensus, "viewTimeoutMs", ...CONSENSUS_OPTION_RANGES.viewTimeoutMs),
      minSealTimeMs: setOnly(consensus, "minSealTimeMs", ...CONSENSUS_OPTION_RANGES.minSealTimeMs),
      minBlockIntervalMs: setOnly(
        consensus,
        "minBlockIntervalMs",
        ...CONSENSUS_OPTION_RANGES.minBlockIntervalMs,
      ),
      pipeline: consensus.field("pipeline").optional<boolean | undefined>((b) => b.boolean(), undefined),
    },
    txpool: {
      countMax: setOnly(txpool, "countMax", 1, 10_000_000),
      bytesMax: setOnly(txpool, "bytesMax", 1024, 2 ** 40),
      senderCountMax: setOnly(txpool, "senderCountMax", 1, 10_000_000),
      senderBytesMax: setOnly(txpool, "senderBytesMax", 1024, 2 ** 40),
      nonceGapMax: setOnly(txpool, "nonceGapMax", 0, 1_000_000),
      nativeSenderCountMax: setOnly(txpool, "nativeSenderCountMax", 1, 10_000_000),
      recoveryThreads: setOnly(txpool, "recoveryThreads", 0, RECOVERY_THREADS_MAX),
    },
    ledger: {
      stateHistoryBlocks: int(ledger, "stateHistoryBlocks", 0, 1_000_000, 1024),
    },
    log: {
      level: log
        .field("level")
        .optional(
          (l) => l.string({ pattern: new RegExp(`^(${LEVELS.join("|")})$`), patternHint: LEVELS.join("|") }),
          "info",
        ) as LogLevel,
      pretty: log.field("pretty").optional((p) => p.boolean(), true),
    },
    metrics: {
      // Off unless the file has a `metrics` section (`consort testnet` writes one): two old configs on one host
      // would otherwise fight over port 9545.
      enabled: metrics.field("enabled").optional((b) => b.boolean(), !root.field("metrics").isMissing),
      host: metrics.field("host").optional((h) => h.string(), "127.0.0.1"),
      port: int(metrics, "port", 0, 65535, 9545),
      readyLagBlocksMax: int(metrics, "readyLagBlocksMax", 0, 1_000_000, 2),
    },
  };
  validateNodeConfig(cfg, root);
  return cfg;
}

/** Cross-field checks, as etcd raft's Config.validate. */
function validateNodeConfig(cfg: NodeConfig, root: FieldReader): void {
  try {
    resolveConsensusTiming(cfg.consensus);
  } catch (err) {
    if (!(err instanceof ConsensusOptionsError)) throw err;
    root.fail(err.message, `consensus.${String(err.meta.field)}`);
  }
  if (cfg.p2p.listen.length === 0) root.fail("at least one listen address is required", "p2p.listen");
}

export async function loadNodeConfig(file: string): Promise<NodeConfig> {
  return parseNodeConfig(await readJsonFile(file), file);
}
