/**
 * Latency of a lone transfer on an idle chain: `npm run bench:latency -- [--target consort4] [--count 20]`.
 *
 * One transfer at a time, each sent when the chain is idle (the previous one committed, then a pause), to the
 * target's first RPC endpoint; the time from sending eth_sendRawTransaction to its receipt being readable
 * (polled every 5 ms) is one sample. Prints p50 / p90 / max. Bounded: `--count` samples, 60 s per sample at most.
 *
 * Also the CPU one such block costs the chain (all its processes, user + system): what every block costs whatever
 * it holds (consensus messages, votes, disk syncs, the commit). Measured over the samples, less the chain's idle CPU
 * over the same time (measured first, for IDLE_MEASURE_MS: timers, gossip heartbeats, metrics).
 */
import "../src/util/polyfill.js";
import path from "node:path";
import { intFlag, parseFlags } from "../src/cli/args.js";
import { privateKeyToAddress } from "../src/crypto/index.js";
import { bytesToHex } from "../src/util/hex.js";
import { machineInfo } from "./lib/bench.js";
import { CpuMeter } from "./lib/cpu.js";
import { randomAddress, signLegacyTx } from "./lib/ethTx.js";
import { monotonicUs, recordLoadWindow } from "./lib/loadWindows.js";
import { RpcClient, waitForReceipt } from "./lib/rpc.js";
import { runScript } from "./lib/script.js";
import { percentile } from "./lib/stats.js";
import { expandTargets, sleep, startTarget, stopAllTargets } from "./lib/targets.js";

const USAGE = `npm run bench:latency -- [--target consort4] [--count 20] [--pause-ms 500] [--profile DIR]`;
const RECEIPT_POLL_MS = 5;
const SAMPLE_TIMEOUT_MS = 60_000;
const IDLE_MEASURE_MS = 5_000;

async function main(argv: string[]): Promise<void> {
  const { values } = parseFlags(
    argv,
    {
      target: { type: "string", default: "consort4" },
      count: { type: "string", default: "20" },
      "pause-ms": { type: "string", default: "500" },
      profile: { type: "string" },
    },
    USAGE,
  );
  const count = intFlag("count", values.count, 1, 1000);
  const pauseMs = intFlag("pause-ms", values["pause-ms"], 0, 60_000);
  const [name] = expandTargets([values.target]);
  const target = await startTarget(name!, {
    cpuProfileDir: values.profile === undefined ? undefined : path.resolve(values.profile),
  });
  const rpc = new RpcClient(target.submitUrls[0]!, 1);
  try {
    const from = privateKeyToAddress(target.funderKey);
    // Twice the node's price: accepted by every target, whatever its fee settings.
    const gasPrice = 2n * BigInt(await rpc.call<string>("eth_gasPrice"));
    let nonce = BigInt(await rpc.call<string>("eth_getTransactionCount", [bytesToHex(from), "pending"]));
    const samplesMs: number[] = [];
    let meter: CpuMeter | null = null;
    let meterStartMs = 0;
    let loadStartUs = 0;
    const idleMsPerS = await idleCpuMsPerS(target.pids);
    for (let i = 0; i <= count; i++) {
      const tx = signLegacyTx(
        {
          chainId: target.chainId,
          nonce: nonce++,
          gasPrice,
          gasLimit: 21_000n,
          to: randomAddress(),
          value: 1n,
          data: "0x",
        },
        target.funderKey,
      );
      await sleep(pauseMs);
      if (i === 1) {
        meter = new CpuMeter(target.pids);
        meterStartMs = performance.now();
        loadStartUs = monotonicUs();
      }
      const t0 = performance.now();
      await rpc.call("eth_sendRawTransaction", [tx.raw]);
      await waitForReceipt(rpc, tx.hash, RECEIPT_POLL_MS, SAMPLE_TIMEOUT_MS);
      // The first one warms up the node's code paths (JIT, connections): not a sample.
      if (i > 0) samplesMs.push(performance.now() - t0);
    }
    const elapsedS = (performance.now() - meterStartMs) / 1000;
    if (values.profile !== undefined) {
      recordLoadWindow(path.resolve(values.profile), {
        target: name!,
        workload: "lone-transfer",
        round: 1,
        pids: target.pids,
        startUs: loadStartUs,
        endUs: monotonicUs(),
      });
    }
    const chainMs = sumKnown(meter!.stop().perProcessMs);
    const blockCpuMs = (chainMs - idleMsPerS * elapsedS) / count;
    samplesMs.sort((a, b) => a - b);
    const m = machineInfo();
    console.log(
      `${name}: lone transfer latency over ${count} samples: p50 ${percentile(samplesMs, 50).toFixed(0)} ms, ` +
        `p90 ${percentile(samplesMs, 90).toFixed(0)} ms, max ${samplesMs.at(-1)!.toFixed(0)} ms; ` +
        `CPU per one-tx block ${blockCpuMs.toFixed(1)} ms (all processes; idle ${idleMsPerS.toFixed(1)} ms/s taken out) ` +
        `(${m.cpus}× ${m.cpuModel}, load ${m.loadAvg.join(" ")})`,
    );
  } finally {
    rpc.close();
    await target.stop();
  }
}

/** The chain's CPU (ms per second, all processes) while nothing is sent. */
async function idleCpuMsPerS(pids: number[]): Promise<number> {
  const meter = new CpuMeter(pids);
  await sleep(IDLE_MEASURE_MS);
  return sumKnown(meter.stop().perProcessMs) / (IDLE_MEASURE_MS / 1000);
}

function sumKnown(values: (number | null)[]): number {
  return values.reduce<number>((sum, v) => sum + (v ?? 0), 0);
}

runScript(main, stopAllTargets);
