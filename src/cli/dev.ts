import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CliError } from "./args.js";
import { defaultTestnetOptions, type GeneratedTestnet, generateTestnet } from "./testnet.js";

// Compiled (dist/cli/dev.js: `npm start`, the `consort` bin, docker) the nodes run dist/cli/main.js on plain node;
// from the sources (tsx, vitest) they run src/cli/main.ts through tsx, so one run never mixes the two.
const COMPILED = import.meta.url.endsWith(".js");
const MAIN = fileURLToPath(new URL(COMPILED ? "./main.js" : "./main.ts", import.meta.url));
const NODE_ARGS = COMPILED ? [MAIN] : ["--import", "tsx", MAIN];
/** dist/cli/main.js, from the sources or from dist itself (benchmarks measure what `npm start` runs). */
export const COMPILED_MAIN = fileURLToPath(
  new URL(COMPILED ? "./main.js" : "../../dist/cli/main.js", import.meta.url),
);

/**
 * Spawns `consort start --config FILE` as a child process running the same code as this process (dist or tsx), or
 * the compiled node (`runtime: "compiled"`; `npm run build` first) whatever this process runs.
 */
export function spawnNode(
  configFile: string,
  logFile: string | null,
  extraEnv: NodeJS.ProcessEnv = {},
  runtime: "same" | "compiled" = "same",
): ChildProcess {
  const args = runtime === "compiled" ? [compiledMain()] : NODE_ARGS;
  const child = spawn(process.execPath, [...args, "start", "--config", configFile], {
    stdio: ["ignore", logFile ? "pipe" : "inherit", logFile ? "pipe" : "inherit"],
    env: { ...process.env, ...extraEnv },
  });
  if (logFile) {
    const out = createWriteStream(logFile, { flags: "a" });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  }
  return child;
}

/** The compiled entry point; a clear error when the build is missing. */
export function compiledMain(): string {
  if (!existsSync(COMPILED_MAIN)) {
    throw new CliError("CLI_NOT_BUILT", `${COMPILED_MAIN} is missing: run \`npm run build\` first`);
  }
  return COMPILED_MAIN;
}

/**
 * `npm start`: a local 4-validator testnet on 127.0.0.1, generated under DIR on first run and resumed afterwards.
 * Node i serves JSON-RPC on 127.0.0.1:8545+i (HTTP and WebSocket) and libp2p on 127.0.0.1:30300+i.
 */
export async function runDevTestnet(dir: string): Promise<void> {
  const testnet = existsSync(path.join(dir, "testnet.json"))
    ? await loadTestnet(dir)
    : await generateTestnet({ ...defaultTestnetOptions, outDir: dir, validators: 4, devKeys: true });
  const children = testnet.nodes.map((n) =>
    spawnNode(n.configFile, path.join(n.dir, "node.log"), { FORCE_COLOR: "0" }),
  );
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping ${children.length} nodes…`);
    for (const c of children) c.kill("SIGTERM");
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  children.forEach((c, i) => {
    c.on("exit", (code, signal) => {
      if (!stopping)
        console.error(
          `${testnet.nodes[i]!.name} exited (${signal ?? code}); see ${testnet.nodes[i]!.dir}/node.log`,
        );
    });
  });
  await waitForRpc(
    testnet.nodes.map((n) => n.rpcUrl),
    60_000,
  );
  printBanner(testnet);
  await Promise.all(
    children.map(
      (c) => new Promise((resolve) => (c.exitCode !== null ? resolve(null) : c.on("exit", resolve))),
    ),
  );
  console.log("all nodes stopped; `npm start` again resumes this chain.");
}

async function loadTestnet(dir: string): Promise<GeneratedTestnet> {
  const genesis = JSON.parse(await readFile(path.join(dir, "genesis.json"), "utf8")) as Record<
    string,
    unknown
  >;
  if ("admins" in genesis) {
    throw new CliError(
      "CLI_USAGE",
      `${dir} was made by an older Consort (a genesis admin list instead of a governance committee): remove it (rm -rf ${dir}) and run again for a fresh dev chain`,
    );
  }
  const meta = JSON.parse(await readFile(path.join(dir, "testnet.json"), "utf8")) as {
    nodes: GeneratedTestnet["nodes"];
  };
  const accounts = JSON.parse(await readFile(path.join(dir, "accounts.json"), "utf8")) as {
    accounts: GeneratedTestnet["accounts"];
  };
  return {
    outDir: dir,
    genesisFile: path.join(dir, "genesis.json"),
    nodes: meta.nodes,
    accounts: accounts.accounts,
    governors: [],
  };
}

export async function waitForRpc(urls: string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const url of urls) {
    for (;;) {
      if (await rpcAnswers(url)) break;
      if (Date.now() > deadline) throw new Error(`no JSON-RPC answer from ${url} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function rpcAnswers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_blockNumber", params: [] }),
      signal: AbortSignal.timeout(1000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

function printBanner(t: GeneratedTestnet): void {
  const lines = [
    "",
    `Consort testnet is up (${t.nodes.length} validators, data in ${t.outDir})`,
    "",
    "JSON-RPC endpoints (HTTP and WebSocket; chain id 20200):",
    ...t.nodes.map(
      (n) => `  ${n.name}  ${n.rpcUrl}   ws://${n.rpcUrl.slice("http://".length)}   logs: ${n.dir}/node.log`,
    ),
    "",
    "Dev accounts (TEST-ONLY: these keys are PUBLIC; account 0 is the only governor, so anyone who reaches",
    "this RPC can govern the chain; the nodes refuse to serve RPC beyond 127.0.0.1 with this genesis):",
    ...t.accounts.slice(0, 5).map((a, i) => `  ${i}  ${a.address}  ${a.privateKey}`),
    `  … all ${t.accounts.length} in ${t.outDir}/accounts.json`,
    "",
    "Try:  curl -s -X POST -H 'content-type: application/json' \\",
    `        --data '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' ${t.nodes[0]?.rpcUrl}`,
    `Web console: ${t.nodes[0]?.rpcUrl}/ui/   Metrics: ${t.nodes.map((n) => n.metricsUrl ?? "-").join(" ")} (/metrics, /health, /ready)`,
    "Status of every node: npm run consort -- status [--watch]",
    "Ctrl-C stops all nodes; `npm start` again resumes the same chain.",
    "",
  ];
  console.log(lines.join("\n"));
}
