import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_SYSTEM_CONFIG, type GenesisConfig, genesisToJson } from "../config/index.js";
import { keccak256, NodeKey, privateKeyToAddress, saveNodeKey } from "../crypto/index.js";
import { nodeIdToPeerId } from "../network/index.js";
import { bytesToHex } from "../util/hex.js";

export interface TestnetOptions {
  validators: number;
  observers: number;
  outDir: string;
  /** Generate for docker compose: nodes listen on 0.0.0.0 and dial each other by service name. */
  docker: boolean;
  chainId: bigint;
  groupId: string;
  host: string;
  rpcPortBase: number;
  p2pPortBase: number;
  /** Node i serves /metrics, /health and /ready on metricsPortBase + i (9545 in every container with --docker). */
  metricsPortBase: number;
  devAccounts: number;
}

/** The `consort` command of this checkout (bin/consort.js), for the generated start scripts. */
const CONSORT_BIN = fileURLToPath(new URL("../../bin/consort.js", import.meta.url));

export const defaultTestnetOptions: Omit<TestnetOptions, "outDir"> = {
  validators: 4,
  observers: 0,
  docker: false,
  chainId: 20200n,
  groupId: "group0",
  host: "127.0.0.1",
  rpcPortBase: 8545,
  p2pPortBase: 30300,
  metricsPortBase: 9545,
  devAccounts: 10,
};

/**
 * Dev account i's private key: keccak256("consort dev account " + i). Deterministic so docs, examples and tools can
 * name them; public knowledge, so TEST-ONLY: never fund them on a chain that matters.
 */
export function devAccountKey(index: number): Uint8Array {
  return keccak256(new TextEncoder().encode(`consort dev account ${index}`));
}

export interface GeneratedNode {
  name: string;
  dir: string;
  configFile: string;
  nodeId: string;
  role: "sealer" | "observer";
  rpcUrl: string;
  p2pPort: number;
  /** null with --docker: the metrics port is not published on the host (the containers' healthchecks use it). */
  metricsUrl: string | null;
}

export interface GeneratedTestnet {
  outDir: string;
  genesisFile: string;
  nodes: GeneratedNode[];
  accounts: { address: string; privateKey: string }[];
}

/** What FISCO's build_chain.sh gives: keys, a shared genesis, per-node configs, start scripts. */
export async function generateTestnet(opts: TestnetOptions): Promise<GeneratedTestnet> {
  const total = opts.validators + opts.observers;
  const keys = Array.from({ length: total }, () => NodeKey.generate());
  const accounts = Array.from({ length: opts.devAccounts }, (_, i) => {
    const privateKey = devAccountKey(i);
    return { address: bytesToHex(privateKeyToAddress(privateKey)), privateKey: bytesToHex(privateKey) };
  });
  const genesis: GenesisConfig = {
    chainId: opts.chainId,
    groupId: opts.groupId,
    timestampMs: Date.now(),
    sealers: keys.slice(0, opts.validators).map((k) => ({ nodeId: k.nodeId, weight: 1 })),
    observers: keys.slice(opts.validators).map((k) => k.nodeId),
    admins: [privateKeyToAddress(devAccountKey(0))],
    alloc: accounts.map((a) => ({ address: Buffer.from(a.address.slice(2), "hex"), balance: 10n ** 24n })),
    systemConfig: { ...DEFAULT_SYSTEM_CONFIG },
  };
  await mkdir(opts.outDir, { recursive: true });
  const genesisFile = path.join(opts.outDir, "genesis.json");
  await writeJson(genesisFile, genesisToJson(genesis));
  await writeJson(path.join(opts.outDir, "accounts.json"), {
    warning: "TEST-ONLY dev accounts: these private keys are public. Never use them on a chain that matters.",
    admin: accounts[0]?.address,
    accounts,
  });
  const peerAddr = (i: number) =>
    opts.docker
      ? `/dns4/node${i}.p2p/tcp/30300/p2p/${nodeIdToPeerId(keys[i]!.nodeId)}`
      : `/ip4/${opts.host}/tcp/${opts.p2pPortBase + i}/p2p/${nodeIdToPeerId(keys[i]!.nodeId)}`;
  const nodes: GeneratedNode[] = [];
  for (let i = 0; i < total; i++) {
    const name = `node${i}`;
    const dir = path.join(opts.outDir, name);
    await mkdir(dir, { recursive: true });
    await saveNodeKey(path.join(dir, "node.key"), keys[i]!);
    const rpcPort = opts.docker ? 8545 : opts.rpcPortBase + i;
    const p2pPort = opts.docker ? 30300 : opts.p2pPortBase + i;
    const host = opts.docker ? "0.0.0.0" : opts.host;
    const config = {
      name,
      dataDir: opts.docker ? "/data" : "data",
      nodeKeyFile: "node.key",
      genesisFile: opts.docker ? "genesis.json" : "../genesis.json",
      rpc: { host, port: rpcPort },
      p2p: {
        listen: [`/ip4/${host}/tcp/${p2pPort}`],
        peers: Array.from({ length: total }, (_, j) => j)
          .filter((j) => j !== i)
          .map(peerAddr),
      },
      log: { level: "info", pretty: !opts.docker },
      metrics: { host, port: opts.docker ? 9545 : opts.metricsPortBase + i },
    };
    const configFile = path.join(dir, "node.json");
    await writeJson(configFile, config);
    if (opts.docker) await writeJson(path.join(dir, "genesis.json"), genesisToJson(genesis));
    await writeFile(
      path.join(dir, "start.sh"),
      `#!/bin/sh\n# Starts ${name}. Logs go to stdout; Ctrl-C stops it.\ncd "$(dirname "$0")" && exec node ${JSON.stringify(CONSORT_BIN)} start --config node.json\n`,
      { mode: 0o755 },
    );
    nodes.push({
      name,
      dir,
      configFile,
      nodeId: bytesToHex(keys[i]!.nodeId),
      role: i < opts.validators ? "sealer" : "observer",
      rpcUrl: `http://${opts.docker ? "127.0.0.1" : opts.host}:${opts.rpcPortBase + i}`,
      p2pPort,
      metricsUrl: opts.docker ? null : `http://${opts.host}:${opts.metricsPortBase + i}`,
    });
  }
  await writeJson(path.join(opts.outDir, "testnet.json"), { nodes, genesisFile: "genesis.json" });
  return { outDir: opts.outDir, genesisFile, nodes, accounts };
}

async function writeJson(file: string, value: unknown): Promise<void> {
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`);
}
