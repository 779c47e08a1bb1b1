import os from "node:os";
import { CpuMeter } from "./cpu.js";
import { randomAddress, signNativeTx } from "./ethTx.js";
import { BlockWatcher, type LoadResult, normalizeError, runLoad } from "./load.js";
import { monotonicUs, recordLoadWindow } from "./loadWindows.js";
import { RpcClient } from "./rpc.js";
import { RssSampler } from "./rss.js";
import { type RunningTarget, type SubmitTo, startTarget, type TargetName } from "./targets.js";
import { BenchSession, type Workload } from "./workloads.js";

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  loadAvg: number[];
}

export interface RunRecord {
  repeat: number;
  target: TargetName;
  workload: Workload;
  startedAt: string;
  /** 1-minute load average when the run started and ended. */
  loadAvgStart: number;
  loadAvgEnd: number;
  /** Peak RSS per chain process during this run (KiB). */
  peakRssKb: number[];
  /**
   * CPU (user + system) per committed tx while the txs were submitted and committed, in ms: summed over the chain's
   * processes, and the client's own (submission, block polling). null when /proc could not be read.
   */
  cpuMsPerTx?: { chain: number | null; client: number };
  result: LoadResult | null;
  error: string | null;
}

export interface BenchConfig {
  targets: TargetName[];
  workloads: Workload[];
  n: number;
  concurrency: number;
  senders: number;
  /** Gas limit of each ERC20 transfer, or "estimate" (eth_estimateGas on the target, as wallets fill it in). */
  erc20GasLimit?: number | "estimate";
  repeat: number;
  cpuProfileDir?: string | undefined;
  /** Where to record each run's load window (bench/lib/loadWindows.ts): the profile folder, or any. */
  loadWindowsDir?: string | undefined;
  keepDir?: boolean;
  /** Consort's consensus.pipeline (default: the node's default, on). */
  pipeline?: boolean;
  /** consort4's RPC endpoints that take the load: all four round-robin (default), or the first one (StartOptions). */
  submitTo?: SubmitTo;
  /**
   * Txs of each workload sent (same senders, same concurrency) and committed before the measured ones, on every
   * target: 0 (the default) measures a freshly started node, as the figures do; more measures a node whose
   * JIT has compiled its hot paths (a node that has run for a while). Not measured, not reported.
   */
  warmup?: number;
  progress?: boolean;
}

export interface BenchReport {
  machine: MachineInfo;
  config: Omit<BenchConfig, "progress" | "keepDir" | "cpuProfileDir" | "loadWindowsDir">;
  runs: RunRecord[];
}

export function machineInfo(): MachineInfo {
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAvg: os.loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

const load1 = () => Math.round(os.loadavg()[0]! * 100) / 100;

/**
 * Rounds × targets × workloads. Each round starts every target fresh (temp folder, free ports), runs the workloads
 * on it, stops it: targets alternate (A B A B) across rounds so slow drifts of a shared machine hit all of them.
 */
export async function runBench(cfg: BenchConfig & { machine: MachineInfo }): Promise<BenchReport> {
  const runs: RunRecord[] = [];
  for (let repeat = 0; repeat < cfg.repeat; repeat++) {
    for (const targetName of cfg.targets) {
      const workloads = cfg.workloads.filter((w) => w !== "native" || targetName.startsWith("consort"));
      if (workloads.length === 0) continue;
      log(`round ${repeat + 1}/${cfg.repeat}: starting ${targetName}`);
      let target: RunningTarget | null = null;
      let session: BenchSession | null = null;
      try {
        target = await startTarget(targetName, {
          cpuProfileDir: cfg.cpuProfileDir,
          keepDir: cfg.keepDir,
          pipeline: cfg.pipeline,
          submitTo: cfg.submitTo,
        });
        session = new BenchSession(
          target,
          cfg.senders,
          cfg.concurrency,
          cfg.progress ?? true,
          cfg.erc20GasLimit,
        );
        await session.open();
        for (const workload of workloads) if (cfg.warmup) await session.warmUp(workload, cfg.warmup);
        for (const workload of workloads) {
          const rec: RunRecord = {
            repeat,
            target: targetName,
            workload,
            startedAt: new Date().toISOString(),
            loadAvgStart: load1(),
            loadAvgEnd: 0,
            peakRssKb: [],
            result: null,
            error: null,
          };
          const rss = new RssSampler(target.pids, 500).start();
          try {
            const txs = await session.prepare(workload, cfg.n);
            const cpu = new CpuMeter(target.pids);
            const loadStartUs = monotonicUs();
            rec.result = await runLoad({
              label: `${targetName}/${workload}`,
              submitUrls: target.submitUrls,
              watcher: session.watcher,
              txs,
              concurrency: cfg.concurrency,
              progress: cfg.progress ?? true,
              kick: target.kick,
            });
            rec.cpuMsPerTx = cpuPerTx(cpu.stop(), rec.result.committed);
            if (cfg.loadWindowsDir) {
              recordLoadWindow(cfg.loadWindowsDir, {
                target: targetName,
                workload,
                round: repeat + 1,
                pids: target.pids,
                startUs: loadStartUs,
                endUs: monotonicUs(),
              });
            }
          } catch (err) {
            rec.error = normalizeError(err);
            log(`  ${targetName}/${workload} failed: ${rec.error}`);
          }
          rss.stop();
          rec.peakRssKb = rss.peakKb;
          rec.loadAvgEnd = load1();
          runs.push(rec);
          if (rec.result) log(`  ${oneLine(rec)}`);
        }
      } catch (err) {
        log(`  ${targetName} failed: ${normalizeError(err)}`);
        for (const workload of workloads) {
          if (!runs.some((r) => r.repeat === repeat && r.target === targetName && r.workload === workload)) {
            runs.push({
              repeat,
              target: targetName,
              workload,
              startedAt: new Date().toISOString(),
              loadAvgStart: load1(),
              loadAvgEnd: load1(),
              peakRssKb: [],
              result: null,
              error: normalizeError(err),
            });
          }
        }
      } finally {
        await session?.close().catch(() => {});
        await target?.stop();
      }
    }
  }
  const { progress: _p, keepDir: _k, cpuProfileDir: _c, loadWindowsDir: _w, machine, ...config } = cfg;
  return { machine, config, runs };
}

function cpuPerTx(used: ReturnType<CpuMeter["stop"]>, committed: number): RunRecord["cpuMsPerTx"] {
  const perTx = (ms: number) => (committed > 0 ? ms / committed : 0);
  const chain = used.perProcessMs.includes(null)
    ? null
    : perTx(used.perProcessMs.reduce<number>((a, b) => a + (b ?? 0), 0));
  return { chain, client: perTx(used.clientMs) };
}

function oneLine(r: RunRecord): string {
  const x = r.result!;
  return (
    `${r.target}/${r.workload}: committed ${x.committed}/${x.n}, ${x.e2eTps.toFixed(0)} tx/s ` +
    `(block window ${x.committedTps.toFixed(0)}), submit ${x.submitRate.toFixed(0)}/s, p50 ${x.latency.p50Ms.toFixed(0)} ms, ` +
    `p99 ${x.latency.p99Ms.toFixed(0)} ms, ${x.blocks.count} blocks, errors ${Object.values(x.errors).reduce((a, b) => a + b, 0)}, ` +
    `CPU ms/tx chain ${r.cpuMsPerTx?.chain?.toFixed(2) ?? "?"} client ${r.cpuMsPerTx?.client.toFixed(2) ?? "?"}, ` +
    `load ${r.loadAvgStart}`
  );
}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

export interface OverloadSample {
  tS: number;
  rssKb: (number | null)[];
  poolSize: number;
  accepted: number;
  refused: number;
  committed: number;
  /** Committed tx/s since the previous sample. */
  committedTps: number;
}

export interface OverloadResult {
  target: TargetName;
  durationMs: number;
  concurrency: number;
  pids: number[];
  peakRssKb: number[];
  endRssKb: (number | null)[];
  poolSizeMax: number;
  accepted: number;
  refused: Record<string, number>;
  firstPoolFullS: number | null;
  committed: number;
  committedTps: number;
  loadAvgStart: number;
  loadAvgEnd: number;
  samples: OverloadSample[];
}

/**
 * Sustained overload of one Consort target: `concurrency` workers sign native txs on the fly (random nonce,
 * blockLimit = head + 500, value 0 at gas price 0 to a random address) and submit them as fast as the node answers,
 * for `durationMs`. Each worker signs as its own fresh account: one sender would meet the pool's per-account limit
 * (`txpool.senderCountMax`, 4,096) long before the pool's cap, which is what this run is for. Every second:
 * each node's VmRSS, the pool size (getPendingTxSize), accepted/refused counts, committed txs (from blocks).
 */
export async function runOverload(opts: {
  target: TargetName;
  durationMs: number;
  concurrency: number;
  txpoolCountMax?: number | undefined;
  submitTo?: SubmitTo | undefined;
  cpuProfileDir?: string | undefined;
  /** Where to record the submissions' window (bench/lib/loadWindows.ts): the profile folder, or any. */
  loadWindowsDir?: string | undefined;
  keepDir?: boolean;
  progress?: boolean;
}): Promise<OverloadResult> {
  if (!opts.target.startsWith("consort")) throw new Error("--overload runs against Consort targets only");
  log(`overload: starting ${opts.target} for ${Math.round(opts.durationMs / 1000)} s`);
  const target = await startTarget(opts.target, {
    cpuProfileDir: opts.cpuProfileDir,
    keepDir: opts.keepDir,
    txpoolCountMax: opts.txpoolCountMax,
    submitTo: opts.submitTo,
  });
  const watcher = new BlockWatcher(target.watchUrl, 100);
  const status = new RpcClient(target.watchUrl, 1);
  const rss = new RssSampler(target.pids, 1000).start();
  const loadAvgStart = load1();
  let committed = 0;
  let accepted = 0;
  let refusedTotal = 0;
  const refused: Record<string, number> = {};
  let firstPoolFullS: number | null = null;
  const samples: OverloadSample[] = [];
  const clients = target.submitUrls.map(
    (u) => new RpcClient(u, Math.ceil(opts.concurrency / target.submitUrls.length)),
  );
  try {
    await watcher.start();
    watcher.onBlock((b) => {
      committed += b.txHashes.length;
    });
    const t0 = performance.now();
    const loadStartUs = monotonicUs();
    const deadline = t0 + opts.durationMs;
    let lastCommitted = 0;
    let lastT = t0;
    let poolSizeMax = 0;
    const sampler = setInterval(async () => {
      const now = performance.now();
      let poolSize = Number.NaN;
      try {
        poolSize = Number(await status.call("getPendingTxSize", ["group0", ""]));
      } catch {
        // node busy: keep the sample without it
      }
      if (poolSize > poolSizeMax) poolSizeMax = poolSize;
      const s = rss.sample();
      const tps = ((committed - lastCommitted) * 1000) / Math.max(1, now - lastT);
      lastCommitted = committed;
      lastT = now;
      samples.push({
        tS: Math.round((now - t0) / 100) / 10,
        rssKb: s.rssKb,
        poolSize,
        accepted,
        refused: refusedTotal,
        committed,
        committedTps: Math.round(tps),
      });
      if (opts.progress !== false && samples.length % 5 === 0) {
        const mib = s.rssKb.map((k) => (k === null ? "–" : `${Math.round(k / 1024)}`)).join("/");
        log(
          `  ${Math.round((now - t0) / 1000)} s: accepted ${accepted}, refused ${refusedTotal}, pool ${poolSize}, ` +
            `committed ${committed} (${Math.round(tps)} tx/s), RSS MiB ${mib}, load ${load1()}`,
        );
      }
    }, 1000);
    const worker = async (w: number) => {
      const client = clients[w % clients.length]!;
      const senderKey = crypto.getRandomValues(new Uint8Array(32));
      while (performance.now() < deadline) {
        const tx = signNativeTx(
          {
            chainId: target.chainId,
            groupId: "group0",
            blockLimit: watcher.head + 500,
            to: randomAddress(),
            value: 0n,
            data: "0x",
            gasLimit: 100_000n,
          },
          senderKey,
        );
        try {
          await client.call("eth_sendRawTransaction", [tx.raw]);
          accepted++;
        } catch (err) {
          const msg = normalizeError(err);
          refused[msg] = (refused[msg] ?? 0) + 1;
          refusedTotal++;
          if (firstPoolFullS === null && /full/i.test(msg))
            firstPoolFullS = Math.round((performance.now() - t0) / 100) / 10;
          // A refusal is cheap for both sides; yield a moment so refusals do not starve the sampler.
          await new Promise((r) => setImmediate(r));
        }
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
    clearInterval(sampler);
    if (opts.loadWindowsDir) {
      recordLoadWindow(opts.loadWindowsDir, {
        target: opts.target,
        workload: "overload",
        round: 1,
        pids: target.pids,
        startUs: loadStartUs,
        endUs: monotonicUs(),
      });
    }
    const elapsed = performance.now() - t0;
    rss.stop();
    return {
      target: opts.target,
      durationMs: Math.round(elapsed),
      concurrency: opts.concurrency,
      pids: target.pids,
      peakRssKb: rss.peakKb,
      endRssKb: rss.series[rss.series.length - 1]?.rssKb ?? [],
      poolSizeMax,
      accepted,
      refused,
      firstPoolFullS,
      committed,
      committedTps: Math.round((committed * 1000) / elapsed),
      loadAvgStart,
      loadAvgEnd: load1(),
      samples,
    };
  } finally {
    rss.stop();
    for (const c of clients) c.close();
    status.close();
    await watcher.stop().catch(() => {});
    await target.stop();
  }
}
