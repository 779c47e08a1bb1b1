import "../util/polyfill.js";
import path from "node:path";
import { loadNodeConfig } from "../config/index.js";
import { NodeKey, saveNodeKey } from "../crypto/index.js";
import { ConsortNode } from "../node/index.js";
import { ConsortError, errorMessage } from "../util/errors.js";
import { bytesToHex } from "../util/hex.js";
import { createLogger } from "../util/logger.js";
import { CliError, flagInt, flagString, parseArgs } from "./args.js";
import { runDevTestnet } from "./dev.js";
import { STATUS_USAGE, statusCommand } from "./status.js";
import { defaultTestnetOptions, generateTestnet } from "./testnet.js";

const USAGE = `consort — a permissioned consortium blockchain node (PBFT, LevelDB, libp2p, EVM, JSON-RPC)

Usage:
  consort start --config FILE          run a node (sealer or observer, decided by the on-chain node list)
  consort testnet --out DIR [--validators 4] [--observers 0] [--docker] [--chain-id 20200]
                  [--rpc-port 8545] [--p2p-port 30300] [--metrics-port 9545]
                                       generate keys, genesis, per-node configs and start scripts
  consort keygen --out FILE            write a new Ed25519 node key (mode 0600) and print its node ID
  ${STATUS_USAGE.replace(/\n/g, "\n  ")}
  consort dev [--dir .data/testnet]    what \`npm start\` runs: a local 4-validator testnet`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === "status") return statusCommand(rest);
  const { flags } = parseArgs(rest);
  switch (command) {
    case "start":
      return start(flagString(flags, "config"));
    case "testnet":
      return testnet(flags);
    case "keygen": {
      const key = NodeKey.generate();
      await saveNodeKey(flagString(flags, "out"), key);
      console.log(bytesToHex(key.nodeId));
      return;
    }
    case "dev":
      return runDevTestnet(path.resolve(flagString(flags, "dir", ".data/testnet")));
    case undefined:
    case "help":
    case "--help":
      console.log(USAGE);
      return;
    default:
      throw new CliError("CLI_USAGE", `unknown command "${command}"\n\n${USAGE}`);
  }
}

async function testnet(flags: Map<string, string | true>): Promise<void> {
  const out = path.resolve(flagString(flags, "out"));
  const result = await generateTestnet({
    ...defaultTestnetOptions,
    outDir: out,
    validators: flagInt(flags, "validators", 4, 1, 100),
    observers: flagInt(flags, "observers", 0, 0, 100),
    docker: flags.get("docker") === true,
    chainId: BigInt(flagInt(flags, "chain-id", 20200, 1, 2 ** 31)),
    rpcPortBase: flagInt(flags, "rpc-port", 8545, 1, 65000),
    p2pPortBase: flagInt(flags, "p2p-port", 30300, 1, 65000),
    metricsPortBase: flagInt(flags, "metrics-port", 9545, 1, 65000),
  });
  console.log(`testnet written to ${out}`);
  for (const n of result.nodes) console.log(`  ${n.name} (${n.role}) ${n.nodeId}  config: ${n.configFile}`);
}

async function start(configFile: string): Promise<void> {
  const config = await loadNodeConfig(configFile);
  const logger = createLogger({
    level: config.log.level,
    pretty: config.log.pretty,
    base: { node: config.name },
  });
  // A stray rejected promise (e.g. an orphaned stream read after a reset) must not kill a validator: log it loudly.
  // Invariant failures do not take this path: the consensus driver halts the node itself.
  process.on("unhandledRejection", (reason: unknown) => {
    logger.error(
      { err: errorMessage(reason), stack: reason instanceof Error ? reason.stack : undefined },
      "unhandled promise rejection (a bug: please report it)",
    );
  });
  // A typed error that escaped a promise chain is a bug worth logging, but not a reason to take a validator down;
  // anything else may mean corrupted in-memory state: exit and let the supervisor restart from disk.
  process.on("unhandledRejection", (err: unknown) => {
    if (err instanceof ConsortError) {
      logger.error({ ...err.toLog(), stack: err.stack }, "unhandled rejection (typed error): continuing");
      return;
    }
    logger.fatal({ err: errorMessage(err), stack: (err as Error)?.stack }, "unhandled rejection: exiting");
    process.exit(1);
  });
  const node = await ConsortNode.create(config, { logger });
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, "shutting down");
    await node.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  await node.start();
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConsortError) {
    console.error(`consort: ${err.message}`);
  } else {
    console.error(`consort: ${errorMessage(err)}`);
    if (err instanceof Error && err.stack) console.error(err.stack);
  }
  process.exit(1);
});
