import "../src/util/polyfill.js";
import type { ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { CliError, intFlag, parseFlags } from "../src/cli/args.js";
import { spawnNode, waitForNodes } from "../src/cli/dev.js";
import { defaultTestnetOptions, devAccountKey, generateTestnet } from "../src/cli/testnet.js";
import { freeTestnetPorts } from "../src/util/ports.js";
import { signLegacyTx } from "./lib/ethTx.js";
import { monotonicUs, recordLoadWindow } from "./lib/loadWindows.js";
import { RpcCallError, RpcClient } from "./lib/rpc.js";
import { runScript } from "./lib/script.js";
import { spawnProfiledNode, stopChildren } from "./lib/targets.js";

/**
 * Ingestion benchmark (issue 14): how many pre-signed raw transactions ONE Consort node admits per second through
 * `eth_sendRawTransaction` over HTTP, single calls and JSON-RPC batches. Consensus stays idle by default: the
 * genesis names 4 validators and only node0 runs (no quorum, nothing commits), so what is measured is RPC + decode
 * + sender recovery + pool admission (state reads of committed nonce and balance), not block execution.
 * `--validators 1` runs a 1-validator chain instead (its blocks commit while txs arrive, on the same core).
 *
 * Each sender is a genesis-funded dev key; its txs (1-wei EIP-155 legacy transfers, gas price 0) go out in nonce
 * order with one in flight per sender (as a wallet sends them): single calls with `--concurrency` workers owning
 * senders round-robin; batches with one worker per `--batch` senders, a batch holding the next nonce of each.
 */

const USAGE = `npm run bench:ingest -- [options]

  --n 20000              pre-signed transactions per run
  --senders 256          funded senders (genesis dev accounts); n/senders txs each, in nonce order
  --mode single,batch    single eth_sendRawTransaction calls and/or JSON-RPC batches
  --concurrency 32       single mode: requests in flight (keep-alive connections)
  --batch 32             batch mode: calls per batch (senders/batch batches in flight)
  --validators idle      idle (4-validator genesis, node0 alone: consensus idle) or 1 (a committing chain)
  --repeat 1             runs per mode (fresh node each), alternating modes
  --profile DIR          node --cpu-prof of the node into DIR/<mode>-<run> (summarize: npx tsx bench/profile.ts DIR)
  --keep                 keep the node's temp folder (log, data)`;

interface Flags {
  n: number;
  senders: number;
  modes: Mode[];
  concurrency: number;
  batch: number;
  validators: "idle" | "1";
  repeat: number;
  profileDir: string | null;
  keep: boolean;
}

type Mode = "single" | "batch";

interface RunResult {
  mode: Mode;
  run: number;
  sent: number;
  admitted: number;
  errors: Record<string, number>;
  elapsedMs: number;
  txPerSec: number;
  /** The node's CPU time during the run (all its threads), and admitted txs per second of it. */
  nodeCpuMs: number;
  txPerCpuSec: number;
  load1: number;
}

/** Hard bound of one run (the node admits thousands per second: a run takes seconds). */
const RUN_TIMEOUT_MS = 300_000;

function ingestFlags(argv: string[]): Flags {
  const { values } = parseFlags(
    argv,
    {
      n: { type: "string", default: "20000" },
      senders: { type: "string", default: "256" },
      mode: { type: "string", default: "single,batch" },
      concurrency: { type: "string", default: "32" },
      batch: { type: "string", default: "32" },
      validators: { type: "string", default: "idle" },
      repeat: { type: "string", default: "1" },
      profile: { type: "string" },
      keep: { type: "boolean", default: false },
    },
    USAGE,
  );
  const modes = values.mode.split(",").map((m) => {
    if (m !== "single" && m !== "batch")
      throw new CliError("CLI_USAGE", `--mode: unknown "${m}" (single, batch)`);
    return m as Mode;
  });
  if (values.validators !== "idle" && values.validators !== "1") {
    throw new CliError("CLI_USAGE", "--validators: idle or 1");
  }
  return {
    n: intFlag("n", values.n, 1, 200_000),
    senders: intFlag("senders", values.senders, 1, 4096),
    modes,
    concurrency: intFlag("concurrency", values.concurrency, 1, 1024),
    batch: intFlag("batch", values.batch, 1, 1000),
    validators: values.validators,
    repeat: intFlag("repeat", values.repeat, 1, 20),
    profileDir: values.profile === undefined ? null : path.resolve(values.profile),
    keep: values.keep,
  };
}

/** txs[s][k] = sender s's k-th tx (nonce k), raw 0x-hex. */
function presign(flags: Flags, chainId: bigint): string[][] {
  const perSender = Math.ceil(flags.n / flags.senders);
  const to = `0x${"ab".repeat(20)}`;
  const out: string[][] = [];
  let left = flags.n;
  for (let s = 0; s < flags.senders && left > 0; s++) {
    const key = devAccountKey(s);
    const txs: string[] = [];
    for (let k = 0; k < perSender && left > 0; k++, left--) {
      const fields = {
        chainId,
        nonce: BigInt(k),
        gasPrice: 0n,
        gasLimit: 21_000n,
        to,
        value: 1n,
        data: "0x",
      };
      txs.push(signLegacyTx(fields, key).raw);
    }
    out.push(txs);
  }
  return out;
}

interface Node {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** CPU time (user + system) a process has used, in ms, from /proc/<pid>/stat (clock ticks of 10 ms); 0 if unknown. */
function cpuTimeMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14, 15 of the line)
  } catch {
    return 0;
  }
}

async function startNode(flags: Flags, label: string): Promise<Node> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "consort-bench-ingest-"));
  const validators = flags.validators === "idle" ? 4 : 1;
  const testnet = await generateTestnet({
    ...defaultTestnetOptions,
    outDir: dir,
    validators,
    ...(await freeTestnetPorts(validators)),
    devKeys: true,
    devAccounts: flags.senders,
  }).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  const node = testnet.nodes[0]!;
  const cfg = JSON.parse(await readFile(node.configFile, "utf8")) as Record<string, Record<string, unknown>>;
  // One client IP sending thousands of calls a second: measure ingestion, not the per-IP rate limiter.
  cfg.rpc = { ...cfg.rpc, requestsPerSecond: 1_000_000 };
  cfg.log = { level: "info", pretty: false };
  await writeFile(node.configFile, `${JSON.stringify(cfg, null, 2)}\n`);
  const logFile = path.join(node.dir, "node.log");
  let child: ChildProcess;
  if (flags.profileDir) {
    await mkdir(flags.profileDir, { recursive: true });
    child = spawnProfiledNode(node.configFile, logFile, flags.profileDir, label);
  } else {
    child = spawnNode(node.configFile, logFile, { FORCE_COLOR: "0" }, "compiled");
  }
  const stop = () => stopChildren([child], dir, flags.keep);
  try {
    await waitForNodes([{ ...node, child, logFile }], 120_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url: node.rpcUrl, pid: child.pid ?? 0, stop };
}

function countError(errors: Record<string, number>, err: unknown): void {
  const key = err instanceof RpcCallError ? err.body.message.slice(0, 80) : String(err).slice(0, 80);
  errors[key] = (errors[key] ?? 0) + 1;
}

async function runSingle(url: string, txs: string[][], concurrency: number) {
  const client = new RpcClient(url, concurrency);
  const errors: Record<string, number> = {};
  let admitted = 0;
  const workers = Array.from({ length: Math.min(concurrency, txs.length) }, async (_, w) => {
    // This worker's senders, interleaved by nonce: one call in flight per worker keeps each sender in order.
    const mine = txs.filter((_, s) => s % concurrency === w);
    const depth = Math.max(...mine.map((t) => t.length));
    for (let k = 0; k < depth; k++) {
      for (const senderTxs of mine) {
        const raw = senderTxs[k];
        if (raw === undefined) continue;
        try {
          await client.call("eth_sendRawTransaction", [raw]);
          admitted++;
        } catch (err) {
          countError(errors, err);
        }
      }
    }
  });
  await Promise.all(workers);
  client.close();
  return { admitted, errors };
}

async function runBatch(url: string, txs: string[][], batchSize: number) {
  const groups: string[][][] = [];
  for (let s = 0; s < txs.length; s += batchSize) groups.push(txs.slice(s, s + batchSize));
  const client = new RpcClient(url, groups.length);
  const errors: Record<string, number> = {};
  let admitted = 0;
  const workers = groups.map(async (group) => {
    const depth = Math.max(...group.map((t) => t.length));
    for (let k = 0; k < depth; k++) {
      const calls = group
        .map((senderTxs) => senderTxs[k])
        .filter((raw): raw is string => raw !== undefined)
        .map((raw) => ({ method: "eth_sendRawTransaction", params: [raw] }));
      try {
        for (const r of await client.batch(calls)) {
          if (r instanceof RpcCallError) countError(errors, r);
          else admitted++;
        }
      } catch (err) {
        for (let i = 0; i < calls.length; i++) countError(errors, err);
      }
    }
  });
  await Promise.all(workers);
  client.close();
  return { admitted, errors };
}

async function runOnce(flags: Flags, mode: Mode, run: number, txs: string[][]): Promise<RunResult> {
  const node = await startNode(flags, `${mode}-${run}`);
  try {
    const load1 = os.loadavg()[0] ?? 0;
    const cpuBefore = cpuTimeMs(node.pid);
    const started = performance.now();
    const loadStartUs = monotonicUs();
    const work =
      mode === "single" ? runSingle(node.url, txs, flags.concurrency) : runBatch(node.url, txs, flags.batch);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`run exceeded ${RUN_TIMEOUT_MS} ms`)), RUN_TIMEOUT_MS);
    });
    const { admitted, errors } = await Promise.race([work, timeout]).finally(() => clearTimeout(timer));
    const elapsedMs = performance.now() - started;
    if (flags.profileDir) {
      recordLoadWindow(flags.profileDir, {
        target: `${mode}-${run}`,
        workload: mode,
        round: run,
        pids: [node.pid],
        startUs: loadStartUs,
        endUs: monotonicUs(),
      });
    }
    const nodeCpuMs = cpuTimeMs(node.pid) - cpuBefore;
    const sent = txs.reduce((n, t) => n + t.length, 0);
    return {
      mode,
      run,
      sent,
      admitted,
      errors,
      elapsedMs,
      txPerSec: (admitted * 1000) / elapsedMs,
      nodeCpuMs,
      txPerCpuSec: nodeCpuMs > 0 ? (admitted * 1000) / nodeCpuMs : 0,
      load1,
    };
  } finally {
    await node.stop();
  }
}

async function main(argv: string[]): Promise<void> {
  const flags = ingestFlags(argv);
  const signStart = performance.now();
  const txs = presign(flags, defaultTestnetOptions.chainId);
  const signMs = performance.now() - signStart;
  console.log(`pre-signed ${flags.n} txs from ${txs.length} senders in ${signMs.toFixed(0)} ms`);
  const results: RunResult[] = [];
  for (let run = 1; run <= flags.repeat; run++) {
    for (const mode of flags.modes) {
      const r = await runOnce(flags, mode, run, txs);
      results.push(r);
      console.log(
        `${mode} run ${run}: ${r.admitted}/${r.sent} admitted in ${r.elapsedMs.toFixed(0)} ms = ` +
          `${r.txPerSec.toFixed(0)} tx/s; node CPU ${r.nodeCpuMs} ms = ${r.txPerCpuSec.toFixed(0)} tx per CPU-s ` +
          `(load1 ${r.load1.toFixed(1)})` +
          (Object.keys(r.errors).length > 0 ? ` errors ${JSON.stringify(r.errors)}` : ""),
      );
    }
  }
  console.log(
    "\n| mode | run | admitted | tx/s (wall) | node CPU ms | tx per node CPU-s | µs CPU per tx | load1 |\n" +
      "|---|---|---|---|---|---|---|---|",
  );
  for (const r of results) {
    const usPerTx = r.admitted > 0 ? (r.nodeCpuMs * 1000) / r.admitted : 0;
    console.log(
      `| ${r.mode} | ${r.run} | ${r.admitted}/${r.sent} | ${r.txPerSec.toFixed(0)} | ${r.nodeCpuMs} | ` +
        `${r.txPerCpuSec.toFixed(0)} | ${usPerTx.toFixed(0)} | ${r.load1.toFixed(1)} |`,
    );
  }
}

runScript(main);
