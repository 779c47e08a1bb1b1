import { existsSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import { NodeKey } from "../crypto/index.js";
import { nodeIdToPeerId } from "../network/index.js";
import { errorMessage } from "../util/errors.js";
import { hexToBytes } from "../util/hex.js";
import { CliError } from "./args.js";
import { type GeneratedNode, writeJson, writeNodeFolder } from "./testnet.js";

export interface AddNodeOptions {
  /** The testnet's folder (its testnet.json). */
  dir: string;
  /** Default: node<N>, N the first index no node of the testnet has. */
  name?: string;
  /** Defaults: one above the highest port of the testnet's nodes, each. */
  rpcPort?: number;
  p2pPort?: number;
  metricsPort?: number;
}

/**
 * A new node for a running process testnet, as FISCO's `build_chain.sh -C expand` makes one: a fresh key, a folder
 * beside the others with a node.json that dials every node of the testnet and uses its genesis, a start script and
 * (`--tls` testnets) a certificate of the chain's CA; testnet.json lists it. The chain does not know it yet: the
 * validators refuse its connections until the committee adds it to the node list. Existing nodes' files are not
 * touched (it dials them; they accept it once it is a member).
 */
export async function addTestnetNode(opts: AddNodeOptions): Promise<GeneratedNode> {
  const dir = path.resolve(opts.dir);
  const meta = await readTestnetMeta(dir);
  if (meta.nodes.some((n) => n.metricsUrl === null)) {
    throw new CliError(
      "CLI_USAGE",
      `${dir} is a docker testnet: its nodes are services of docker/docker-compose.yml, which add-node does not write`,
    );
  }
  const name = opts.name ?? freeNodeName(meta.nodes);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
    throw new CliError(
      "CLI_USAGE",
      `--name must be 1-64 letters, digits, - or _, got ${JSON.stringify(name)}`,
    );
  }
  const nodeDir = path.join(dir, name);
  if (meta.nodes.some((n) => n.name === name) || existsSync(nodeDir)) {
    throw new CliError("CLI_USAGE", `${nodeDir} already exists: give another --name`);
  }
  const configs = await Promise.all(meta.nodes.map((n) => readNodeConfig(dir, n.name)));
  const ports = newNodePorts(meta.nodes, configs, opts);
  const host = configs[0]!.rpc.host;
  const tls = configs[0]!.rpc.tls !== undefined;
  const peers = meta.nodes.map(
    (n, i) => `${configs[i]!.p2p.listen[0]}/p2p/${nodeIdToPeerId(hexToBytes(n.nodeId))}`,
  );
  let node: Awaited<ReturnType<typeof writeNodeFolder>>;
  try {
    node = await writeNodeFolder({
      name,
      dir: nodeDir,
      key: NodeKey.generate(),
      role: "added",
      host,
      ...ports,
      peers,
      docker: null,
      tlsDir: tls ? path.join(dir, "tls") : null,
    });
  } catch (err) {
    await rm(nodeDir, { recursive: true, force: true }); // no half-made folder in the way of the next attempt
    throw err;
  }
  const added: GeneratedNode = {
    ...node,
    rpcUrl: `${tls ? "https" : "http"}://${host}:${ports.rpcPort}`,
    metricsUrl: `http://${host}:${ports.metricsPort}`,
  };
  await writeJson(path.join(dir, "testnet.json"), { ...meta, nodes: [...meta.nodes, added] });
  return added;
}

interface TestnetMeta {
  nodes: GeneratedNode[];
  genesisFile: string;
}

async function readTestnetMeta(dir: string): Promise<TestnetMeta> {
  const file = path.join(dir, "testnet.json");
  if (!existsSync(file)) {
    throw new CliError(
      "CLI_USAGE",
      `${dir} holds no testnet (no testnet.json): make one with \`consort testnet --out DIR\` (npm start's is .data/testnet)`,
    );
  }
  const meta = JSON.parse(await readFile(file, "utf8")) as TestnetMeta;
  if (!Array.isArray(meta.nodes) || meta.nodes.length === 0) {
    throw new CliError("CLI_USAGE", `${file} lists no nodes`);
  }
  return meta;
}

/** The fields of a generated node.json that add-node reads. */
interface GeneratedNodeConfig {
  rpc: { host: string; port: number; tls?: unknown };
  p2p: { listen: string[] };
  metrics?: { port: number };
}

async function readNodeConfig(dir: string, name: string): Promise<GeneratedNodeConfig> {
  const file = path.join(dir, name, "node.json");
  try {
    return JSON.parse(await readFile(file, "utf8")) as GeneratedNodeConfig;
  } catch (err) {
    throw new CliError("CLI_USAGE", `${file}: ${errorMessage(err)}`);
  }
}

function freeNodeName(nodes: GeneratedNode[]): string {
  const names = new Set(nodes.map((n) => n.name));
  let i = nodes.length;
  while (names.has(`node${i}`)) i++;
  return `node${i}`;
}

/** The ports given, or each one above the highest its kind has among the nodes' configs; none may be taken. */
function newNodePorts(
  nodes: GeneratedNode[],
  configs: GeneratedNodeConfig[],
  opts: AddNodeOptions,
): { rpcPort: number; p2pPort: number; metricsPort: number } {
  const taken = nodes.map((n, i) => {
    const c = configs[i]!;
    const p2p = Number(/\/tcp\/(\d+)/.exec(c.p2p.listen[0] ?? "")?.[1] ?? n.p2pPort);
    return { name: n.name, rpc: c.rpc.port, p2p, metrics: c.metrics?.port ?? 0 };
  });
  const above = (kind: "rpc" | "p2p" | "metrics") => Math.max(...taken.map((t) => t[kind])) + 1;
  const ports = {
    rpcPort: opts.rpcPort ?? above("rpc"),
    p2pPort: opts.p2pPort ?? above("p2p"),
    metricsPort: opts.metricsPort ?? above("metrics"),
  };
  for (const port of Object.values(ports)) {
    if (!Number.isSafeInteger(port) || port < 1 || port > 65535) {
      throw new CliError("CLI_USAGE", `port ${port} is not a TCP port (1-65535): give the ports by flag`);
    }
    const holder = taken.find((t) => t.rpc === port || t.p2p === port || t.metrics === port);
    if (holder !== undefined)
      throw new CliError("CLI_USAGE", `port ${port} is ${holder.name}'s: give another`);
  }
  if (new Set(Object.values(ports)).size < 3) {
    throw new CliError(
      "CLI_USAGE",
      `the new node's RPC, P2P and metrics ports must differ, got ${Object.values(ports).join(", ")}`,
    );
  }
  return ports;
}
