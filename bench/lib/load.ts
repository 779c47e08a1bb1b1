import type { SignedTx } from "./ethTx.js";
import { hexToNumber, RpcCallError, RpcClient } from "./rpc.js";
import { mean, percentile } from "./stats.js";

export interface SeenBlock {
  number: number;
  /** performance.now() when the harness first saw the block. */
  seenMs: number;
  timestampS: number;
  txHashes: string[];
  sizeBytes: number;
  gasUsed: number;
}

interface RawBlock {
  number: string;
  timestamp: string;
  size?: string;
  gasUsed: string;
  transactions: string[];
}

/**
 * Follows the chain head: polls eth_blockNumber every `pollMs` and fetches each new block once (hashes only,
 * batched when it falls behind) instead of polling one receipt per transaction.
 */
export class BlockWatcher {
  head = 0;
  private readonly client: RpcClient;
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly listeners = new Set<(b: SeenBlock) => void>();
  lastError: string | null = null;

  constructor(
    url: string,
    private readonly pollMs = 20,
  ) {
    this.client = new RpcClient(url, 2);
  }

  onBlock(fn: (b: SeenBlock) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async start(): Promise<void> {
    this.head = hexToNumber(await this.client.call<string>("eth_blockNumber"));
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.client.close();
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        const latest = hexToNumber(await this.client.call<string>("eth_blockNumber"));
        while (this.head < latest && this.running) {
          const from = this.head + 1;
          const to = Math.min(latest, from + 49);
          const calls = [];
          for (let n = from; n <= to; n++) {
            calls.push({ method: "eth_getBlockByNumber", params: [`0x${n.toString(16)}`, false] });
          }
          const blocks =
            calls.length === 1
              ? [await this.client.call<RawBlock | null>(calls[0]!.method, calls[0]!.params)]
              : await this.client.batch<RawBlock | null>(calls);
          const seenMs = performance.now();
          for (const b of blocks) {
            if (b instanceof RpcCallError || b === null) throw b ?? new Error("block not found");
            const seen: SeenBlock = {
              number: hexToNumber(b.number),
              seenMs,
              timestampS: hexToNumber(b.timestamp),
              txHashes: b.transactions.map((h) => h.toLowerCase()),
              sizeBytes: b.size ? hexToNumber(b.size) : 0,
              gasUsed: hexToNumber(b.gasUsed),
            };
            this.head = seen.number;
            for (const fn of this.listeners) fn(seen);
          }
        }
        this.lastError = null;
      } catch (err) {
        this.lastError = err instanceof Error ? err.message : String(err);
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }
}

export interface LatencySummary {
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

export interface SeriesPoint {
  /** Second since the first submission. */
  t: number;
  committed: number;
  latencyP50Ms: number;
}

export interface LoadResult {
  label: string;
  n: number;
  concurrency: number;
  accepted: number;
  errors: Record<string, number>;
  submitDurationMs: number;
  submitRate: number;
  committed: number;
  /**
   * Block-window rate: txs committed after the first block that held ours / (last such block seen − first seen).
   * Steady-state rate on long runs; noisy when the whole load fits in 2–3 blocks (anvil/ganache 1-s blocks).
   */
  committedTps: number;
  /** Headline: committed / (last commit seen − first submission), the rate a client waiting for all receipts sees. */
  e2eTps: number;
  latency: LatencySummary;
  blocks: {
    count: number;
    txsMean: number;
    txsMax: number;
    sizeBytesMean: number;
    sizeBytesMax: number;
    gasUsedMean: number;
  };
  series: SeriesPoint[];
  timedOut: boolean;
  /** Hashes committed whose block the receipt check found failed (status 0x0), sampled. */
  failedReceipts: number;
  receiptsChecked: number;
  /** evm_mine nudges sent (anvil automine only). */
  kicks: number;
}

export interface LoadOptions {
  label: string;
  submitUrls: string[];
  watcher: BlockWatcher;
  txs: SignedTx[];
  concurrency: number;
  /** Give up waiting for commits after this long without a new commit. */
  stallTimeoutMs?: number;
  progress?: boolean;
  /** How many receipts to fetch afterwards to check status (0: none). */
  receiptSample?: number;
  /**
   * Called when accepted txs wait and no block came for `kickAfterMs` (anvil automine: see RunningTarget.kick).
   */
  kick?: (() => Promise<void>) | undefined;
  kickAfterMs?: number;
}

/**
 * Submits pre-signed txs with `concurrency` workers over keep-alive connections (round-robin over submitUrls),
 * and waits until every accepted tx is in a block. Latency = block first seen − submission start.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadResult> {
  const { txs, concurrency } = opts;
  const clients = opts.submitUrls.map(
    (u) => new RpcClient(u, Math.ceil(concurrency / opts.submitUrls.length)),
  );
  const index = new Map<string, number>();
  txs.forEach((t, i) => {
    index.set(t.hash.toLowerCase(), i);
  });
  const submitStart = new Float64Array(txs.length).fill(Number.NaN);
  const commitSeen = new Float64Array(txs.length).fill(Number.NaN);
  const acceptedFlag = new Uint8Array(txs.length);
  const errors: Record<string, number> = {};
  const blocks: SeenBlock[] = [];
  let committed = 0;
  let accepted = 0;
  let failed = 0;
  let lastCommitMs = performance.now();
  const off = opts.watcher.onBlock((b) => {
    let mine = 0;
    for (const h of b.txHashes) {
      const i = index.get(h);
      if (i === undefined || !Number.isNaN(commitSeen[i]!)) continue;
      commitSeen[i] = b.seenMs;
      mine++;
    }
    if (mine > 0) {
      committed += mine;
      lastCommitMs = b.seenMs;
      blocks.push(b);
    }
  });
  const t0 = performance.now();
  let sent = 0;
  const progress = opts.progress
    ? startProgress(opts.label, txs.length, t0, () => ({ sent, committed, failed }))
    : null;
  // Lanes: a sender's txs go out one at a time, in nonce order (each after the previous one was answered), as a
  // wallet sends them. Sending a sender's nonce n+1 before n is in the pool trips real bugs in the peers: ganache
  // 7.9 leaves such txs "queued" for good, anvil's automine stops mining ready txs. Lanes are served round-robin.
  const lanes = new Map<number, number[]>();
  txs.forEach((t, i) => {
    const lane = t.lane ?? -1 - i;
    const list = lanes.get(lane);
    if (list) list.push(i);
    else lanes.set(lane, [i]);
  });
  const ready: number[][] = [...lanes.values()];
  let readyHead = 0;
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  const worker = async (w: number) => {
    const client = clients[w % clients.length]!;
    for (;;) {
      if (readyHead >= ready.length) {
        if (inFlight === 0) return;
        await new Promise<void>((r) => waiting.push(r));
        continue;
      }
      const lane = ready[readyHead++]!;
      const i = lane.shift()!;
      inFlight++;
      submitStart[i] = performance.now();
      try {
        await client.call("eth_sendRawTransaction", [txs[i]!.raw]);
        acceptedFlag[i] = 1;
        accepted++;
      } catch (err) {
        const msg = normalizeError(err);
        // "already known": the tx is in the pool (e.g. a retry); it will commit like an accepted one.
        if (/already known/i.test(msg)) {
          acceptedFlag[i] = 1;
          accepted++;
        } else {
          failed++;
          errors[msg] = (errors[msg] ?? 0) + 1;
        }
      }
      sent++;
      inFlight--;
      if (lane.length > 0) ready.push(lane);
      if (readyHead > 4096 && readyHead * 2 > ready.length) {
        ready.splice(0, readyHead);
        readyHead = 0;
      }
      for (const wake of waiting.splice(0)) wake();
    }
  };
  let kicks = 0;
  let lastKickMs = t0;
  const kicker = opts.kick
    ? setInterval(() => {
        const now = performance.now();
        const idleMs = now - Math.max(lastCommitMs, lastKickMs, t0);
        if (committed < accepted && idleMs > (opts.kickAfterMs ?? 500)) {
          kicks++;
          lastKickMs = now;
          opts.kick?.().catch(() => {});
        }
      }, 100)
    : null;
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  const submitDurationMs = performance.now() - t0;
  const stallTimeoutMs = opts.stallTimeoutMs ?? 60_000;
  let timedOut = false;
  lastCommitMs = Math.max(lastCommitMs, performance.now());
  while (committed < accepted) {
    if (performance.now() - lastCommitMs > stallTimeoutMs) {
      timedOut = true;
      break;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  off();
  if (kicker) clearInterval(kicker);
  progress?.stop();
  for (const c of clients) c.close();

  let receiptsChecked = 0;
  let failedReceipts = 0;
  const sampleN = Math.min(opts.receiptSample ?? 20, committed);
  if (sampleN > 0) {
    const rc = new RpcClient(opts.submitUrls[0]!, 1);
    const committedIdx = [...commitSeen.keys()].filter((i) => !Number.isNaN(commitSeen[i]!));
    const step = Math.max(1, Math.floor(committedIdx.length / sampleN));
    const calls = [];
    for (let k = 0; k < committedIdx.length && calls.length < sampleN; k += step) {
      calls.push({ method: "eth_getTransactionReceipt", params: [txs[committedIdx[k]!]!.hash] });
    }
    const receipts = await rc.batch<{ status: string } | null>(calls);
    for (const r of receipts) {
      receiptsChecked++;
      if (r instanceof RpcCallError || r === null || r.status !== "0x1") failedReceipts++;
    }
    rc.close();
  }
  return summarize({
    label: opts.label,
    n: txs.length,
    concurrency,
    accepted,
    errors,
    submitDurationMs,
    t0,
    submitStart,
    commitSeen,
    blocks,
    timedOut,
    receiptsChecked,
    failedReceipts,
    kicks,
  });
}

function summarize(r: {
  label: string;
  n: number;
  concurrency: number;
  accepted: number;
  errors: Record<string, number>;
  submitDurationMs: number;
  t0: number;
  submitStart: Float64Array;
  commitSeen: Float64Array;
  blocks: SeenBlock[];
  timedOut: boolean;
  receiptsChecked: number;
  failedReceipts: number;
  kicks: number;
}): LoadResult {
  const latencies: number[] = [];
  let lastCommit = Number.NaN;
  const seriesMap = new Map<number, number[]>();
  for (let i = 0; i < r.n; i++) {
    const c = r.commitSeen[i]!;
    if (Number.isNaN(c)) continue;
    latencies.push(c - r.submitStart[i]!);
    if (!(c <= lastCommit)) lastCommit = c;
    const sec = Math.floor((c - r.t0) / 1000);
    const bucket = seriesMap.get(sec) ?? [];
    bucket.push(c - r.submitStart[i]!);
    seriesMap.set(sec, bucket);
  }
  latencies.sort((a, b) => a - b);
  const committed = latencies.length;
  const blocks = [...r.blocks].sort((a, b) => a.number - b.number);
  let committedTps = Number.NaN;
  if (blocks.length >= 2) {
    const mineInFirst = r.commitSeen.filter((c) => c === blocks[0]!.seenMs).length;
    const window = blocks[blocks.length - 1]!.seenMs - blocks[0]!.seenMs;
    committedTps = window > 0 ? ((committed - mineInFirst) * 1000) / window : Number.NaN;
  }
  if (!Number.isFinite(committedTps) && committed > 0)
    committedTps = (committed * 1000) / (lastCommit - r.t0);
  const lastSec = Math.max(-1, ...seriesMap.keys());
  const series: SeriesPoint[] = [];
  for (let t = 0; t <= lastSec; t++) {
    const b = (seriesMap.get(t) ?? []).sort((x, y) => x - y);
    series.push({ t, committed: b.length, latencyP50Ms: percentile(b, 50) });
  }
  const txCounts = blocks.map((b) => b.txHashes.length);
  return {
    label: r.label,
    n: r.n,
    concurrency: r.concurrency,
    accepted: r.accepted,
    errors: r.errors,
    submitDurationMs: r.submitDurationMs,
    submitRate: (r.n * 1000) / r.submitDurationMs,
    committed,
    committedTps,
    e2eTps: committed > 0 ? (committed * 1000) / (lastCommit - r.t0) : 0,
    latency: {
      p50Ms: percentile(latencies, 50),
      p95Ms: percentile(latencies, 95),
      p99Ms: percentile(latencies, 99),
      meanMs: mean(latencies),
      maxMs: latencies.length ? latencies[latencies.length - 1]! : Number.NaN,
    },
    blocks: {
      count: blocks.length,
      txsMean: mean(txCounts),
      txsMax: Math.max(0, ...txCounts),
      sizeBytesMean: mean(blocks.map((b) => b.sizeBytes)),
      sizeBytesMax: Math.max(0, ...blocks.map((b) => b.sizeBytes)),
      gasUsedMean: mean(blocks.map((b) => b.gasUsed)),
    },
    series,
    timedOut: r.timedOut,
    receiptsChecked: r.receiptsChecked,
    failedReceipts: r.failedReceipts,
    kicks: r.kicks,
  };
}

export function normalizeError(err: unknown): string {
  if (err instanceof RpcCallError) return err.body.message.replace(/0x[0-9a-f]{8,}/gi, "0x…").slice(0, 120);
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/0x[0-9a-f]{8,}/gi, "0x…").slice(0, 120);
}

/** A one-line progress display: rewritten in place on a TTY, one line every 5 s otherwise. */
export function startProgress(
  label: string,
  total: number,
  t0: number,
  read: () => { sent: number; committed: number; failed: number },
): { stop(): void } {
  const tty = process.stderr.isTTY;
  let lastPrint = 0;
  const draw = (final: boolean) => {
    const { sent, committed, failed } = read();
    const s = (performance.now() - t0) / 1000;
    const width = 24;
    const filled = Math.round((committed / Math.max(1, total)) * width);
    const bar = `${"#".repeat(filled)}${".".repeat(width - filled)}`;
    const line = `  ${label.padEnd(24)} [${bar}] sent ${sent}/${total}  committed ${committed}  errors ${failed}  ${s.toFixed(1)} s`;
    if (tty) process.stderr.write(`\r${line}${final ? "\n" : ""}`);
    else if (final || s - lastPrint >= 5) {
      process.stderr.write(`${line}\n`);
      lastPrint = s;
    }
  };
  const timer = setInterval(() => draw(false), tty ? 250 : 1000);
  return {
    stop() {
      clearInterval(timer);
      draw(true);
    },
  };
}
