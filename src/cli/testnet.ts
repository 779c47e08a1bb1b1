import { existsSync } from "node:fs";
import { copyFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { DEV_GOVERNOR_KEY_FILE, devAccountKey, type GenesisConfig, genesisToJson } from "../config/index.js";
import {
  generatePrivateKey,
  NodeKey,
  privateKeyToAddress,
  saveAccountKey,
  saveNodeKey,
} from "../crypto/index.js";
import { DEFAULT_SYSTEM_CONFIG_VALUES } from "../execution/index.js";
import { nodeIdToPeerId } from "../network/index.js";
import { generateTokenKey, issueToken } from "../rpc/auth.js";
import { makeDirs } from "../util/dirs.js";
import { bytesToHex } from "../util/hex.js";
import { CliError } from "./args.js";

export interface TestnetOptions {
  validators: number;
  observers: number;
  outDir: string;
  /**
   * Generate for docker compose: nodes listen on 0.0.0.0 and dial each other by service name. JSON-RPC then needs
   * bearer tokens (a non-loopback address never runs without auth): see writeRpcTokens.
   */
  docker: boolean;
  /** HTTPS/WSS with certificates from a new chain CA, client certificates required (see writeRpcTls). */
  tls?: boolean;
  chainId: bigint;
  groupId: string;
  host: string;
  rpcPortBase: number;
  p2pPortBase: number;
  /** Node i serves /metrics, /health and /ready on metricsPortBase + i (9545 in every container with --docker). */
  metricsPortBase: number;
  devAccounts: number;
  /** Genesis governors given by address (`--governor ADDRESS[:weight]`); empty = generate `governorCount` keys. */
  governors: { address: Uint8Array; weight: number }[];
  /** Fresh random governor keys to generate when `governors` is empty (written 0600 as governor<i>.key). */
  governorCount: number;
  /**
   * The dev chain of `npm start` only: the funded accounts and the one governor use the well-known dev keys
   * (devAccountKey). Public keys: a node whose genesis has such a governor refuses RPC on a non-loopback address.
   */
  devKeys: boolean;
}

/** The `consort` command of this checkout (bin/consort.js), for the generated start scripts. */
const CONSORT_BIN = fileURLToPath(new URL("../../bin/consort.js", import.meta.url));
/** The install's pinned Node.js (package.json optionalDependencies), absent on platforms without one. */
const PINNED_NODE = fileURLToPath(new URL("../../node_modules/.bin/node", import.meta.url));

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
  governors: [],
  governorCount: 1,
  devKeys: false,
};

export { devAccountKey };

export interface GeneratedNode {
  name: string;
  dir: string;
  configFile: string;
  nodeId: string;
  /**
   * Its role in the genesis; "added": made later by `consort testnet add-node`, not in the genesis: the governance
   * committee admits it (add-observer, add-sealer), the chain's node list decides what it is.
   */
  role: "sealer" | "observer" | "added";
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
  /** keyFile/privateKey null for governors given by address. */
  governors: { address: string; weight: number; keyFile: string | null; privateKey: string | null }[];
}

/** Governors of a new testnet: the given ones, the dev key (dev chain), or fresh random keys saved 0600. */
async function makeGovernors(opts: TestnetOptions): Promise<GeneratedTestnet["governors"]> {
  if (opts.governors.length > 0) {
    return opts.governors.map((g) => ({
      address: bytesToHex(g.address),
      weight: g.weight,
      keyFile: null,
      privateKey: null,
    }));
  }
  if (opts.devKeys) {
    // The public dev key, in a key file too: `consort gov … --key DIR/governor0.key` works on `npm start`'s chain.
    const key = devAccountKey(0);
    const keyFile = path.join(opts.outDir, DEV_GOVERNOR_KEY_FILE);
    await saveAccountKey(keyFile, key);
    return [
      { address: bytesToHex(privateKeyToAddress(key)), weight: 1, keyFile, privateKey: bytesToHex(key) },
    ];
  }
  const out: GeneratedTestnet["governors"] = [];
  for (let i = 0; i < opts.governorCount; i++) {
    const key = generatePrivateKey();
    const keyFile = path.join(opts.outDir, `governor${i}.key`);
    await saveAccountKey(keyFile, key);
    out.push({
      address: bytesToHex(privateKeyToAddress(key)),
      weight: 1,
      keyFile,
      privateKey: bytesToHex(key),
    });
  }
  return out;
}

/**
 * A second run into the same folder would replace the node keys, the governor keys (the committee's only copies) and
 * the genesis, and leave each node's data of the old chain beside a config of a new one: refused, as FISCO's
 * build_chain.sh refuses an existing output folder.
 */
async function refuseExistingTestnet(outDir: string): Promise<void> {
  for (const name of ["testnet.json", "genesis.json"]) {
    const file = path.join(outDir, name);
    if (existsSync(file)) {
      throw new CliError(
        "CLI_USAGE",
        `${outDir} already holds a testnet (${name}): generating again would replace its node and governor keys and ` +
          "its genesis. Give another --out, or remove that folder first.",
      );
    }
  }
}

/** What FISCO's build_chain.sh gives: keys, a shared genesis, per-node configs, start scripts. */
export async function generateTestnet(opts: TestnetOptions): Promise<GeneratedTestnet> {
  const total = opts.validators + opts.observers;
  const keys = Array.from({ length: total }, () => NodeKey.generate());
  await refuseExistingTestnet(opts.outDir);
  await makeDirs(opts.outDir);
  const accounts = Array.from({ length: opts.devAccounts }, (_, i) => {
    const privateKey = opts.devKeys ? devAccountKey(i) : generatePrivateKey();
    return { address: bytesToHex(privateKeyToAddress(privateKey)), privateKey: bytesToHex(privateKey) };
  });
  const governors = await makeGovernors(opts);
  const genesis: GenesisConfig = {
    chainId: opts.chainId,
    groupId: opts.groupId,
    timestampMs: Date.now(),
    sealers: keys.slice(0, opts.validators).map((k) => ({ nodeId: k.nodeId, weight: 1 })),
    observers: keys.slice(opts.validators).map((k) => k.nodeId),
    committee: {
      governors: governors.map((g) => ({
        address: Buffer.from(g.address.slice(2), "hex"),
        weight: g.weight,
      })),
    },
    alloc: accounts.map((a) => ({ address: Buffer.from(a.address.slice(2), "hex"), balance: 10n ** 24n })),
    systemConfig: { ...DEFAULT_SYSTEM_CONFIG_VALUES },
  };
  const genesisFile = path.join(opts.outDir, "genesis.json");
  await writeJson(genesisFile, genesisToJson(genesis));
  await writeJson(
    path.join(opts.outDir, "accounts.json"),
    opts.devKeys
      ? {
          warning:
            "TEST-ONLY dev accounts: these private keys are public. Never use them on a chain that matters.",
          governor: governors[0]?.address,
          accounts,
        }
      : { note: "Funded test accounts with fresh random keys (this file is mode 0600).", accounts },
    0o600,
  );
  const peerAddr = (i: number) =>
    opts.docker
      ? `/dns4/node${i}.p2p/tcp/30300/p2p/${nodeIdToPeerId(keys[i]!.nodeId)}`
      : `/ip4/${opts.host}/tcp/${opts.p2pPortBase + i}/p2p/${nodeIdToPeerId(keys[i]!.nodeId)}`;
  const tokens = opts.docker ? await writeRpcTokens(opts.outDir) : null;
  const tlsDir = opts.tls ? path.join(opts.outDir, "tls") : null;
  if (tlsDir) await writeRpcClientTls(tlsDir);
  const nodes: GeneratedNode[] = [];
  for (let i = 0; i < total; i++) {
    const node = await writeNodeFolder({
      name: `node${i}`,
      dir: path.join(opts.outDir, `node${i}`),
      key: keys[i]!,
      role: i < opts.validators ? "sealer" : "observer",
      host: opts.docker ? "0.0.0.0" : opts.host,
      rpcPort: opts.docker ? 8545 : opts.rpcPortBase + i,
      p2pPort: opts.docker ? 30300 : opts.p2pPortBase + i,
      metricsPort: opts.docker ? 9545 : opts.metricsPortBase + i,
      peers: keys.flatMap((_, j) => (j === i ? [] : [peerAddr(j)])),
      docker: opts.docker ? { genesis, tokens: tokens! } : null,
      tlsDir,
    });
    nodes.push({
      ...node,
      rpcUrl: `${tlsDir ? "https" : "http"}://${opts.docker ? "127.0.0.1" : opts.host}:${opts.rpcPortBase + i}`,
      metricsUrl: opts.docker ? null : `http://${opts.host}:${opts.metricsPortBase + i}`,
    });
  }
  await writeJson(path.join(opts.outDir, "testnet.json"), { nodes, genesisFile: "genesis.json" });
  return { outDir: opts.outDir, genesisFile, nodes, accounts, governors };
}

export interface NodeFolderSpec {
  name: string;
  dir: string;
  key: NodeKey;
  role: GeneratedNode["role"];
  /** The address its RPC, P2P and metrics servers listen on (0.0.0.0 in a container). */
  host: string;
  rpcPort: number;
  p2pPort: number;
  metricsPort: number;
  /** The multiaddrs (with /p2p/<peerId>) it dials. */
  peers: string[];
  /** A docker testnet's node: its own copy of the genesis (the container sees only its folder), bearer tokens. */
  docker: { genesis: GenesisConfig; tokens: { secretFile: string } } | null;
  /** The chain CA's folder (`--tls`): the node gets a server certificate of it. */
  tlsDir: string | null;
}

/** One node's folder: its key, node.json and start.sh (and, by the spec, TLS files, tokens, a genesis copy). */
export async function writeNodeFolder(
  spec: NodeFolderSpec,
): Promise<Omit<GeneratedNode, "rpcUrl" | "metricsUrl">> {
  const { name, dir, docker } = spec;
  await makeDirs(dir);
  await saveNodeKey(path.join(dir, "node.key"), spec.key);
  const config = {
    name,
    dataDir: docker ? "/data" : "data",
    nodeKeyFile: "node.key",
    genesisFile: docker ? "genesis.json" : "../genesis.json",
    rpc: {
      host: spec.host,
      port: spec.rpcPort,
      ...(docker ? await nodeTokenConfig(docker.tokens, dir, name) : {}),
      ...(spec.tlsDir ? await nodeTlsConfig(spec.tlsDir, dir, name) : {}),
    },
    p2p: { listen: [`/ip4/${spec.host}/tcp/${spec.p2pPort}`], peers: spec.peers },
    log: { level: "info", pretty: !docker },
    metrics: { host: spec.host, port: spec.metricsPort },
  };
  const configFile = path.join(dir, "node.json");
  await writeJson(configFile, config);
  if (docker) await writeJson(path.join(dir, "genesis.json"), genesisToJson(docker.genesis));
  await writeFile(
    path.join(dir, "start.sh"),
    [
      "#!/bin/sh",
      `# Starts ${name}. Logs go to stdout; Ctrl-C stops it.`,
      "# On the Consort install's pinned Node.js (node_modules/.bin/node) where it has one, else on the node in PATH.",
      `node=${JSON.stringify(PINNED_NODE)}; [ -x "$node" ] || node=node`,
      `cd "$(dirname "$0")" && exec "$node" ${JSON.stringify(CONSORT_BIN)} start --config node.json`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  return {
    name,
    dir,
    configFile,
    nodeId: bytesToHex(spec.key.nodeId),
    role: spec.role,
    p2pPort: spec.p2pPort,
  };
}

/** Validity of the tokens a generated testnet writes (a test network; issue real ones with `consort token issue`). */
const TESTNET_TOKEN_EXPIRES_S = 365 * 86_400;
const RPC_SECRET_FILE = "rpc-jwt.secret";

/**
 * The docker testnet's JSON-RPC credentials: one HS256 secret (copied into each node folder) and a token per right
 * set in <out>/rpc-tokens/{read,submit,admin}.jwt, TEST-ONLY like the dev accounts.
 */
async function writeRpcTokens(outDir: string): Promise<{ secretFile: string }> {
  const dir = path.join(outDir, "rpc-tokens");
  await makeDirs(dir);
  const secretFile = path.join(dir, RPC_SECRET_FILE);
  await generateTokenKey("HS256", secretFile);
  const grants: Record<string, ("read" | "submit" | "admin")[]> = {
    read: ["read"],
    submit: ["read", "submit"],
    admin: ["read", "submit", "admin"],
  };
  for (const [name, rights] of Object.entries(grants)) {
    const token = await issueToken({
      algorithm: "HS256",
      keyFile: secretFile,
      principal: `testnet-${name}`,
      rights,
      expiresInS: TESTNET_TOKEN_EXPIRES_S,
    });
    await writeFile(path.join(dir, `${name}.jwt`), `${token}\n`, { mode: 0o600 });
  }
  return { secretFile };
}

/** A node's rpc.auth: the shared secret beside node.json, a read token for the container healthcheck. */
async function nodeTokenConfig(tokens: { secretFile: string }, nodeDir: string, name: string) {
  await copyFile(tokens.secretFile, path.join(nodeDir, RPC_SECRET_FILE));
  const health = await issueToken({
    algorithm: "HS256",
    keyFile: tokens.secretFile,
    principal: `${name}-healthcheck`,
    rights: ["read"],
    expiresInS: TESTNET_TOKEN_EXPIRES_S,
  });
  await writeFile(path.join(nodeDir, "health.jwt"), `${health}\n`, { mode: 0o600 });
  return {
    auth: { jwt: { algorithm: "HS256", keyFile: RPC_SECRET_FILE } },
    allowedHosts: ["localhost", "127.0.0.1", "::1", name],
  };
}

/** The X.509 library takes seconds to load: only `--tls` pays for it, not every `consort` command. */
const loadCa = () => import("../rpc/ca.js");

/** The chain's CA in <out>/tls (ca.key stays there) and one client certificate, <out>/tls/client0.{crt,key}. */
async function writeRpcClientTls(tlsDir: string): Promise<void> {
  const { initCa, issueCertificate } = await loadCa();
  await initCa(tlsDir, "consort-testnet-ca");
  await issueCertificate({ caDir: tlsDir, kind: "client", name: "client0", outDir: tlsDir });
}

/** A node's rpc.tls: its server certificate and the CA in <node>/tls; client certificates required. */
async function nodeTlsConfig(tlsDir: string, nodeDir: string, name: string) {
  const { issueCertificate, CA_CERT_FILE } = await loadCa();
  const own = path.join(nodeDir, "tls");
  await issueCertificate({ caDir: tlsDir, kind: "node", name, outDir: own });
  await copyFile(path.join(tlsDir, CA_CERT_FILE), path.join(own, CA_CERT_FILE));
  return {
    tls: {
      certFile: `tls/${name}.crt`,
      keyFile: `tls/${name}.key`,
      caFile: `tls/${CA_CERT_FILE}`,
      clientCerts: "required",
      clientRights: { "*": ["read", "submit"] },
    },
  };
}

export async function writeJson(file: string, value: unknown, mode = 0o644): Promise<void> {
  await writeFile(file, `${JSON.stringify(value, null, 2)}\n`, { mode });
}

/** `--governor ADDRESS[:weight]` → a governor (weight 1 by default); null when malformed. */
export function parseGovernorFlag(text: string): { address: Uint8Array; weight: number } | null {
  const m = /^(0x[0-9a-fA-F]{40})(?::([0-9]{1,4}))?$/.exec(text);
  if (m === null) return null;
  const weight = m[2] === undefined ? 1 : Number(m[2]);
  if (weight < 1 || weight > 1000) return null;
  return { address: Buffer.from(m[1]!.slice(2), "hex"), weight };
}
