import "../util/polyfill.js";
import path from "node:path";
import { parseArgs as parseFlags } from "node:util";
import { loadNodeConfig } from "../config/index.js";
import { NodeKey, saveNodeKey } from "../crypto/index.js";
import { ConsortNode, FATAL_EXIT_CODE } from "../node/index.js";
import { ConsortError, errorMessage } from "../util/errors.js";
import { bytesToHex } from "../util/hex.js";
import { createLogger } from "../util/logger.js";
import { CliError, flagString, parseArgs } from "./args.js";
import { runDevTestnet } from "./dev.js";
import { runGov } from "./gov.js";
import { PROOF_USAGE, runProofCommand } from "./proof.js";
import { CA_USAGE, caCommand, TOKEN_USAGE, tokenCommand } from "./rpcAuth.js";
import { defaultTestnetOptions, generateTestnet, parseGovernorFlag } from "./testnet.js";

const USAGE = `consort — a permissioned consortium blockchain node (PBFT, LevelDB, libp2p, EVM, JSON-RPC)

Usage:
  consort start --config FILE [--rpc-insecure]
                                       run a node (sealer or observer, decided by the on-chain node list);
                                       --rpc-insecure: allow JSON-RPC on a non-loopback address without auth
  consort testnet --out DIR [--validators 4] [--observers 0] [--docker] [--tls] [--chain-id 20200]
                  [--rpc-port 8545] [--p2p-port 30300] [--governor ADDRESS[:weight]]... [--governors 1]
                                       generate keys, genesis, per-node configs and start scripts; the
                                       governors are the given addresses, or fresh keys (governor<i>.key, 0600)
  consort gov <propose|vote|revoke|list|show|acl|status> …
                                       committee governance, ACLs and freezes (consort gov help)
  consort keygen --out FILE            write a new Ed25519 node key (mode 0600) and print its node ID
${TOKEN_USAGE}
${CA_USAGE}
  consort status [--rpc http://127.0.0.1:8545] [--token JWT]
                                       height, view, peers, sync state and pool size of a running node
  consort dev [--dir .data/testnet]    what \`npm start\` runs: a local 4-validator testnet
  ${PROOF_USAGE}`;

/** After a fatal error the node gets this long to close cleanly before the process exits anyway. */
const FATAL_STOP_TIMEOUT_MS = 10_000;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { flags, positional } = parseArgs(rest);
  switch (command) {
    case "start":
      return start(flagString(flags, "config"), flags.get("rpc-insecure") === true);
    case "token":
      return tokenCommand(positional[0], flags);
    case "ca":
      return caCommand(positional[0], flags);
    case "testnet":
      return testnet(rest);
    case "gov":
      return runGov(rest);
    case "keygen": {
      const key = NodeKey.generate();
      await saveNodeKey(flagString(flags, "out"), key);
      console.log(bytesToHex(key.nodeId));
      return;
    }
    case "status":
      return status(flagString(flags, "rpc", "http://127.0.0.1:8545"), flags.get("token"));
    case "proof":
      return runProofCommand(rest);
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

async function testnet(argv: string[]): Promise<void> {
  const { values } = parseFlags({
    args: argv,
    strict: true,
    options: {
      out: { type: "string" },
      validators: { type: "string", default: "4" },
      observers: { type: "string", default: "0" },
      docker: { type: "boolean", default: false },
      tls: { type: "boolean", default: false },
      "chain-id": { type: "string", default: "20200" },
      "rpc-port": { type: "string", default: "8545" },
      "p2p-port": { type: "string", default: "30300" },
      governor: { type: "string", multiple: true, default: [] },
      governors: { type: "string", default: "1" },
    },
  });
  if (values.out === undefined) throw new CliError("CLI_USAGE", "missing --out DIR");
  const int = (name: string, v: string, min: number, max: number) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new CliError("CLI_USAGE", `--${name} must be an integer from ${min} to ${max}, got ${v}`);
    }
    return n;
  };
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
    validators: int("validators", values.validators, 1, 100),
    observers: int("observers", values.observers, 0, 100),
    docker: values.docker,
    tls: values.tls,
    chainId: BigInt(int("chain-id", values["chain-id"], 1, 2 ** 31)),
    rpcPortBase: int("rpc-port", values["rpc-port"], 1, 65000),
    p2pPortBase: int("p2p-port", values["p2p-port"], 1, 65000),
    governors,
    governorCount: int("governors", values.governors, 1, 100),
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

async function start(configFile: string, rpcInsecure: boolean): Promise<void> {
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

async function status(rpc: string, token: string | true | undefined): Promise<void> {
  const call = async (method: string, params: unknown[] = []) => {
    const res = await fetch(rpc, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(typeof token === "string" ? { authorization: `Bearer ${token}` } : {}),
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      signal: AbortSignal.timeout(5000),
    });
    const body = (await res.json()) as { result?: unknown; error?: { message: string } };
    if (body.error) throw new CliError("CLI_USAGE", `${method}: ${body.error.message}`);
    return body.result;
  };
  const [height, consensus, sync, peers, pending] = await Promise.all([
    call("getBlockNumber", ["group0", ""]),
    call("getConsensusStatus", ["group0", ""]),
    call("getSyncStatus", ["group0", ""]),
    call("getPeers", []),
    call("getPendingTxSize", ["group0", ""]),
  ]);
  console.log(JSON.stringify({ height, consensus, sync, peers, pendingTxs: pending }, null, 2));
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
