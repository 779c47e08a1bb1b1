import "../util/polyfill.js";
import { existsSync } from "node:fs";
import path from "node:path";
import type { ConsortNode } from "../node/index.js";
import { ConsortError, errorMessage } from "../util/errors.js";
import { CliError, HelpRequested, intFlag, parseFlags, refuseToOverwrite, requireFlag } from "./args.js";
import { PROOF_USAGE } from "./proof.js";
import { CA_USAGE, TOKEN_USAGE } from "./rpcAuth.js";
import { STATUS_USAGE } from "./status.js";

// Each command imports what it runs when it runs: the node's modules (libp2p, the EVM, fastify) take ~1 s of CPU
// to load, which `consort help`, `status` or a usage error need not wait for.

const START_USAGE = `  consort start --config FILE [--rpc-insecure]
                                       run a node (sealer or observer, decided by the on-chain node list);
                                       --rpc-insecure: allow JSON-RPC on a non-loopback address without auth`;
const TESTNET_USAGE = `  consort testnet --out DIR [--validators 4] [--observers 0] [--docker] [--tls] [--chain-id 20200]
                  [--rpc-port 8545] [--p2p-port 30300] [--metrics-port 9545]
                  [--governor ADDRESS[:weight]]... [--governors 1]
                                       generate keys, genesis, per-node configs and start scripts; the
                                       governors are the given addresses, or fresh keys (governor<i>.key, 0600)
  consort testnet add-node --dir DIR [--name nodeN] [--rpc-port N] [--p2p-port N] [--metrics-port N]
                                       one more node for that testnet (its key, config, start script): the
                                       committee admits it with gov propose add-observer / add-sealer`;
const KEYGEN_USAGE =
  "  consort keygen --out FILE            write a new Ed25519 node key (mode 0600) and print its node ID";
const DEV_USAGE = "  consort dev [--dir .data/testnet]    what `npm start` runs: a local 4-validator testnet";

const USAGE = `consort — a permissioned consortium blockchain node (PBFT, LevelDB, libp2p, EVM, JSON-RPC)

Usage:
${START_USAGE}
${TESTNET_USAGE}
  consort gov <propose|vote|revoke|freeze|unfreeze|abolish|list|show|committee|status|acl> …
                                       committee governance, ACLs and freezes (consort gov help)
${KEYGEN_USAGE}
${TOKEN_USAGE}
${CA_USAGE}
  ${STATUS_USAGE.replace(/\n/g, "\n  ")}
${DEV_USAGE}
  ${PROOF_USAGE}`;

/** After a fatal error the node gets this long to close cleanly before the process exits anyway. */
const FATAL_STOP_TIMEOUT_MS = 10_000;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case "start": {
      const { values } = parseFlags(
        rest,
        { config: { type: "string" }, "rpc-insecure": { type: "boolean", default: false } },
        START_USAGE,
      );
      return start(requireFlag(values.config, "config"), values["rpc-insecure"]);
    }
    case "status":
      return (await import("./status.js")).statusCommand(rest);
    case "token":
      return (await import("./rpcAuth.js")).tokenCommand(rest);
    case "ca":
      return (await import("./rpcAuth.js")).caCommand(rest);
    case "testnet":
      return testnet(rest);
    case "gov":
      return (await import("./gov.js")).runGov(rest);
    case "keygen": {
      const { values } = parseFlags(rest, { out: { type: "string" } }, KEYGEN_USAGE);
      const out = requireFlag(values.out, "out");
      refuseToOverwrite([out], "a node key (the node's identity on the chain)");
      const { NodeKey, saveNodeKey } = await import("../crypto/index.js");
      const { bytesToHex } = await import("../util/hex.js");
      const key = NodeKey.generate();
      await saveNodeKey(out, key);
      console.log(bytesToHex(key.nodeId));
      return;
    }
    case "proof":
      return (await import("./proof.js")).runProofCommand(rest);
    case "dev": {
      const { values } = parseFlags(rest, { dir: { type: "string", default: ".data/testnet" } }, DEV_USAGE);
      return (await import("./dev.js")).runDevTestnet(path.resolve(values.dir));
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return;
    default:
      throw new CliError("CLI_USAGE", `unknown command "${command}"\n\n${USAGE}`);
  }
}

async function testnet(argv: string[]): Promise<void> {
  if (argv[0] === "add-node") return addNode(argv.slice(1));
  const { values } = parseFlags(
    argv,
    {
      out: { type: "string" },
      validators: { type: "string", default: "4" },
      observers: { type: "string", default: "0" },
      docker: { type: "boolean", default: false },
      tls: { type: "boolean", default: false },
      "chain-id": { type: "string", default: "20200" },
      "rpc-port": { type: "string", default: "8545" },
      "p2p-port": { type: "string", default: "30300" },
      "metrics-port": { type: "string", default: "9545" },
      governor: { type: "string", multiple: true, default: [] },
      governors: { type: "string", default: "1" },
    },
    TESTNET_USAGE,
  );
  if (values.out === undefined) throw new CliError("CLI_USAGE", "missing --out DIR");
  const { defaultTestnetOptions, generateTestnet, parseGovernorFlag } = await import("./testnet.js");
  const governors = values.governor.map((g) => {
    const parsed = parseGovernorFlag(g);
    if (parsed === null)
      throw new CliError("CLI_USAGE", `--governor must be 0x + 40 hex digits [:weight 1-1000], got ${g}`);
    return parsed;
  });
  const out = path.resolve(values.out);
  const result = await generateTestnet({
    ...defaultTestnetOptions,
    outDir: out,
    validators: intFlag("validators", values.validators, 1, 100),
    observers: intFlag("observers", values.observers, 0, 100),
    docker: values.docker,
    tls: values.tls,
    chainId: BigInt(intFlag("chain-id", values["chain-id"], 1, 2 ** 31)),
    rpcPortBase: intFlag("rpc-port", values["rpc-port"], 1, 65000),
    p2pPortBase: intFlag("p2p-port", values["p2p-port"], 1, 65000),
    metricsPortBase: intFlag("metrics-port", values["metrics-port"], 1, 65000),
    governors,
    governorCount: intFlag("governors", values.governors, 1, 100),
  });
  console.log(`testnet written to ${out}`);
  for (const n of result.nodes) console.log(`  ${n.name} (${n.role}) ${n.nodeId}  config: ${n.configFile}`);
  console.log("governors (the committee: every change of the chain is their proposal and vote):");
  for (const g of result.governors) {
    console.log(
      `  ${g.address} weight ${g.weight}${g.keyFile ? `  key: ${g.keyFile} (0600, shown only here)` : ""}`,
    );
  }
}

async function addNode(argv: string[]): Promise<void> {
  const { values } = parseFlags(
    argv,
    {
      dir: { type: "string" },
      name: { type: "string" },
      "rpc-port": { type: "string" },
      "p2p-port": { type: "string" },
      "metrics-port": { type: "string" },
    },
    TESTNET_USAGE,
  );
  const port = (flag: "rpc-port" | "p2p-port" | "metrics-port") =>
    values[flag] === undefined ? undefined : intFlag(flag, values[flag], 1, 65535);
  const { addTestnetNode } = await import("./addNode.js");
  const node = await addTestnetNode({
    dir: requireFlag(values.dir, "dir"),
    name: values.name,
    rpcPort: port("rpc-port"),
    p2pPort: port("p2p-port"),
    metricsPort: port("metrics-port"),
  });
  const dir = path.dirname(node.dir);
  // npm start's chain and `consort testnet` without --governor keep governor keys beside testnet.json.
  const governorKey = existsSync(path.join(dir, "governor0.key"))
    ? path.join(dir, "governor0.key")
    : "GOVERNOR_KEY";
  console.log(`${node.name} written to ${node.dir}; the chain does not know it yet.
  node ID  ${node.nodeId}
  RPC ${node.rpcUrl}   P2P port ${node.p2pPort}   metrics ${node.metricsUrl}   (it dials every node of ${dir})
Next:
  1. the committee admits it:  npm run consort -- gov propose add-observer ${node.nodeId} --key ${governorKey}
     (with more than one governor, the others vote: npm run consort -- gov vote ID for --key …)
  2. start it:                 ${path.join(node.dir, "start.sh")}     (it syncs the chain from its peers)
  3. to make it a validator:   npm run consort -- gov propose add-sealer ${node.nodeId} 1 --key ${governorKey}
     (docs/governance.md: the chain must show enough live sealers first)`);
}

async function start(configFile: string, rpcInsecure: boolean): Promise<void> {
  const [{ loadNodeConfig }, { ConsortNode, FATAL_EXIT_CODE }, { createLogger }] = await Promise.all([
    import("../config/index.js"),
    import("../node/index.js"),
    import("../util/logger.js"),
  ]);
  const config = await loadNodeConfig(configFile);
  if (rpcInsecure) config.rpc.security.insecure = true;
  const logger = createLogger({
    level: config.log.level,
    pretty: config.log.pretty,
    base: { node: config.name },
  });
  // One policy for errors nothing caught, thrown or rejected: a typed error (ConsortError: bad input, a refused
  // request) that escaped a promise chain is a bug worth logging, not a reason to take a validator down; anything
  // else may mean corrupted in-memory state: the node stops cleanly (node.fatal) and the process exits with
  // FATAL_EXIT_CODE, for the supervisor to restart it from disk. Modules' own fatal errors (e.g. CONSENSUS FAILURE)
  // reach node.fatal directly.
  let node: ConsortNode | null = null;
  const onUnexpected = (err: unknown, origin: "unhandledRejection" | "uncaughtException") => {
    if (err instanceof ConsortError) {
      logger.error({ origin, ...err.toLog(), stack: err.stack }, `${origin} of a typed error: continuing`);
      return;
    }
    // A close that hangs must not keep a broken process alive.
    setTimeout(() => process.exit(FATAL_EXIT_CODE), FATAL_STOP_TIMEOUT_MS).unref();
    if (node !== null) {
      void node.fatal(origin, err);
      return;
    }
    logger.fatal({ origin, err: errorMessage(err), stack: (err as Error)?.stack }, `${origin}: exiting`);
    process.exit(FATAL_EXIT_CODE);
  };
  process.on("unhandledRejection", (reason: unknown) => onUnexpected(reason, "unhandledRejection"));
  process.on("uncaughtException", (err: unknown) => onUnexpected(err, "uncaughtException"));
  const started = await ConsortNode.create(config, {
    logger,
    onFatalStop: (exitCode) => process.exit(exitCode),
  });
  node = started;
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, "shutting down");
    await started.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  await started.start();
}

/** A system call's refusal (permission, missing path, full disk…): the operator's to fix, its message says it all. */
function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === "string";
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof HelpRequested) {
    console.log(err.usage);
    process.exit(0);
  }
  if (err instanceof ConsortError || isSystemError(err)) {
    console.error(`consort: ${err.message}`);
  } else {
    console.error(`consort: ${errorMessage(err)}`);
    if (err instanceof Error && err.stack) console.error(err.stack);
  }
  process.exit(1);
});
