import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { errorMessage } from "../util/errors.js";
import { CliError, parseFlags } from "./args.js";
import { rpcBatch } from "./rpcClient.js";

export const STATUS_USAGE = `consort status [--dir DIR | --rpc URL[,URL…] [--metrics URL[,URL…]]] [--token JWT] [--watch [--interval-ms 2000]] [--json]
  One row per node: role (sealer, observer, none: not on the node list), height, view, peers, pool size, age of
  the last block, ready (/ready on the metrics port).
  --dir DIR     every node of a testnet written by \`consort testnet\` (its testnet.json); the default is
                .data/testnet (what \`npm start\` runs) when it exists, else --rpc http://127.0.0.1:8545
  --rpc, --metrics   nodes by URL, comma-separated; the i-th metrics URL belongs to the i-th RPC URL
  --token JWT   bearer token sent to every node's JSON-RPC (nodes whose RPC requires auth)
  --watch       redraw every --interval-ms until Ctrl-C
  --json        print the rows as JSON once
  Without --watch it exits 1 when a node does not answer (after printing the rows).`;

export interface StatusTarget {
  name: string;
  rpcUrl: string;
  metricsUrl: string | null;
  /** Bearer token for the JSON-RPC, if it requires auth. */
  token?: string;
}

export interface StatusRow {
  node: string;
  rpc: string;
  up: boolean;
  /** The node's place in the node list at its head: "none" when it is on neither list (not yet admitted). */
  role: "sealer" | "observer" | "none" | null;
  height: number | null;
  view: number | null;
  peers: number | null;
  pool: number | null;
  lastBlockAgeSeconds: number | null;
  /** null: unknown (no metrics URL, or it did not answer). */
  ready: boolean | null;
  error?: string;
}

const REQUEST_TIMEOUT_MS = 5000;

export async function statusCommand(argv: string[]): Promise<void> {
  const values = parseStatusArgs(argv);
  const targets = (await resolveTargets(values)).map((t) => ({ ...t, token: values.token }));
  if (values.json || !values.watch) {
    const rows = await collectStatus(targets);
    console.log(values.json ? JSON.stringify(rows, null, 2) : formatStatusTable(rows));
    failIfDown(rows);
    return;
  }
  const intervalMs = Number(values["interval-ms"] ?? 2000);
  if (!Number.isInteger(intervalMs) || intervalMs < 200 || intervalMs > 3_600_000) {
    throw new CliError("CLI_USAGE", "--interval-ms must be an integer from 200 to 3600000");
  }
  // Piped into `head` or a closed terminal: stop quietly.
  process.stdout.on("error", () => process.exit(0));
  for (;;) {
    const table = formatStatusTable(await collectStatus(targets));
    // Clear the screen and redraw in place.
    process.stdout.write(
      `\x1b[2J\x1b[H${new Date().toISOString()}  (every ${intervalMs} ms; Ctrl-C stops)\n\n${table}\n`,
    );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function parseStatusArgs(argv: string[]) {
  const { values, positionals } = parseFlags(
    argv,
    {
      dir: { type: "string" },
      rpc: { type: "string" },
      metrics: { type: "string" },
      watch: { type: "boolean" },
      "interval-ms": { type: "string" },
      json: { type: "boolean" },
      token: { type: "string" },
    },
    STATUS_USAGE,
  );
  if (positionals.length > 0)
    throw new CliError("CLI_USAGE", `unexpected argument "${positionals[0]}"\n\n${STATUS_USAGE}`);
  return values;
}

async function resolveTargets(v: ReturnType<typeof parseStatusArgs>): Promise<StatusTarget[]> {
  if (v.dir !== undefined && v.rpc !== undefined)
    throw new CliError("CLI_USAGE", "give --dir or --rpc, not both");
  const defaultDir = path.resolve(".data/testnet");
  const dir =
    v.dir ?? (v.rpc === undefined && existsSync(path.join(defaultDir, "testnet.json")) ? defaultDir : null);
  if (dir !== null) return loadTestnetTargets(dir);
  const rpcs = (v.rpc ?? "http://127.0.0.1:8545").split(",").filter(Boolean);
  const metrics = (v.metrics ?? (v.rpc === undefined ? "http://127.0.0.1:9545" : ""))
    .split(",")
    .filter(Boolean);
  if (metrics.length > 0 && metrics.length !== rpcs.length) {
    throw new CliError("CLI_USAGE", `--metrics lists ${metrics.length} URLs for ${rpcs.length} --rpc URLs`);
  }
  // Named by their address: "node0" for a URL given by hand named a node the operator may know as node4.
  return rpcs.map((rpcUrl, i) => ({ name: hostOf(rpcUrl), rpcUrl, metricsUrl: metrics[i] ?? null }));
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    throw new CliError("CLI_USAGE", `--rpc: not a URL: ${url}`);
  }
}

export async function loadTestnetTargets(dir: string): Promise<StatusTarget[]> {
  const file = path.join(dir, "testnet.json");
  let meta: { nodes: { name: string; rpcUrl: string; metricsUrl?: string }[] };
  try {
    meta = JSON.parse(await readFile(file, "utf8"));
  } catch (err) {
    throw new CliError("CLI_USAGE", `${file}: ${errorMessage(err)}`);
  }
  return meta.nodes.map((n) => ({ name: n.name, rpcUrl: n.rpcUrl, metricsUrl: n.metricsUrl ?? null }));
}

/** A script's `consort status && …` goes on only if every node answered: the rows are printed, then exit 1. */
function failIfDown(rows: StatusRow[]): void {
  const down = rows.filter((r) => !r.up).map((r) => r.node);
  if (down.length > 0) {
    throw new CliError(
      "CLI_NODES_DOWN",
      `${down.length} of ${rows.length} nodes did not answer: ${down.join(", ")}`,
    );
  }
}

export function collectStatus(targets: StatusTarget[], nowMs = Date.now()): Promise<StatusRow[]> {
  return Promise.all(targets.map((t) => nodeStatus(t, nowMs)));
}

async function nodeStatus(t: StatusTarget, nowMs: number): Promise<StatusRow> {
  const row: StatusRow = {
    node: t.name,
    rpc: t.rpcUrl,
    up: false,
    role: null,
    height: null,
    view: null,
    peers: null,
    pool: null,
    lastBlockAgeSeconds: null,
    ready: null,
  };
  const [rpcResult, ready] = await Promise.all([
    rpcBatch({ url: t.rpcUrl, timeoutMs: REQUEST_TIMEOUT_MS, ...(t.token ? { token: t.token } : {}) }, [
      ["eth_blockNumber", []],
      ["getPbftView", ["group0", ""]],
      ["net_peerCount", []],
      ["getPendingTxSize", ["group0", ""]],
      ["eth_getBlockByNumber", ["latest", false]],
      ["getNodeInfo", ["group0", ""]],
    ]).catch((err: unknown) => new Error(shortReason(err))),
    t.metricsUrl ? readiness(t.metricsUrl) : Promise.resolve(null),
  ]);
  row.ready = ready;
  if (rpcResult instanceof Error) {
    row.error = rpcResult.message;
    return row;
  }
  const [height, view, peers, pool, block, info] = rpcResult as [
    string,
    number,
    string,
    number,
    { timestamp: string },
    { type: StatusRow["role"] },
  ];
  row.up = true;
  row.role = info.type;
  row.height = Number(height);
  row.view = Number(view);
  row.peers = Number(peers);
  row.pool = Number(pool);
  if (block?.timestamp)
    row.lastBlockAgeSeconds = Math.max(0, Math.round(nowMs / 1000 - Number(block.timestamp)));
  return row;
}

/** A table cell's worth: the client's few words (ECONNREFUSED, HTTP 401: …), else the message. */
function shortReason(err: unknown): string {
  const reason = err instanceof CliError ? err.meta.reason : undefined;
  return typeof reason === "string" ? reason : errorMessage(err);
}

/** GET /ready: 200 → true, 503 → false, anything else (or no answer) → null. */
async function readiness(metricsUrl: string): Promise<boolean | null> {
  try {
    const res = await fetch(`${metricsUrl.replace(/\/$/, "")}/ready`, {
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await res.body?.cancel();
    return res.status === 200 ? true : res.status === 503 ? false : null;
  } catch {
    return null;
  }
}

export function formatStatusTable(rows: StatusRow[]): string {
  const header = ["node", "role", "height", "view", "peers", "pool", "last block", "ready", "rpc"];
  const cell = (v: number | null, suffix = "") => (v === null ? "-" : `${v}${suffix}`);
  const lines = rows.map((r) => [
    r.node,
    r.role ?? "-",
    r.up ? cell(r.height) : "down",
    cell(r.view),
    cell(r.peers),
    cell(r.pool),
    cell(r.lastBlockAgeSeconds, "s ago"),
    r.ready === null ? "?" : r.ready ? "yes" : "no",
    r.error ? `${r.rpc} (${r.error})` : r.rpc,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cols: string[]) =>
    cols
      .map((c, i) => (i === cols.length - 1 ? c : i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ");
  return [fmt(header), ...lines.map(fmt)].join("\n");
}
