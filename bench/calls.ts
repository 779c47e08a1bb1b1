/**
 * Read throughput: `eth_call` per second against one node, and the node's CPU per call.
 *
 *   npm run bench:calls -- [--targets consort1,anvil-1s] [--count 4000] [--concurrency 16] [--rounds 2]
 *
 * Three reads, each `--count` times with `--concurrency` requests in flight over keep-alive connections:
 *   - `no-code`: a call to an address without code (what the node does around any call: RPC, state, the EVM's set-up);
 *   - `erc20`: `balanceOf` on contracts/examples/Asset.sol, deployed first (the read a wallet or a dapp makes most);
 *   - `system` (Consort only): SystemConfig's `getValueByKey("tx_count_limit")`, a FISCO-style system read.
 * Targets alternate within each round (A B A B), so the machine's neighbours weigh on them alike.
 */
import "../src/util/polyfill.js";
import { encodeFunctionData, parseAbi } from "viem/utils";
import { intFlag, parseFlags } from "../src/cli/args.js";
import { privateKeyToAddress } from "../src/crypto/index.js";
import { bytesToHex } from "../src/util/hex.js";
import { assetBytecode } from "./lib/asset.js";
import { machineInfo } from "./lib/bench.js";
import { CpuMeter } from "./lib/cpu.js";
import { assetDeployData, signLegacyTx } from "./lib/ethTx.js";
import { RpcClient, waitForReceipt } from "./lib/rpc.js";
import { runScript } from "./lib/script.js";
import { expandTargets, type RunningTarget, startTarget, stopAllTargets } from "./lib/targets.js";

const USAGE =
  "npm run bench:calls -- [--targets consort1,anvil-1s] [--count 4000] [--concurrency 16] [--rounds 2]";
const RECEIPT_TIMEOUT_MS = 60_000;
const RECEIPT_POLL_MS = 20;
const SYSTEM_CONFIG = "0x0000000000000000000000000000000000001000";

interface Read {
  name: string;
  call: { to: string; data: string };
}

async function deployAsset(target: RunningTarget, rpc: RpcClient): Promise<string> {
  const from = bytesToHex(privateKeyToAddress(target.funderKey));
  const nonce = BigInt(await rpc.call<string>("eth_getTransactionCount", [from, "pending"]));
  const gasPrice = 2n * BigInt(await rpc.call<string>("eth_gasPrice"));
  const tx = signLegacyTx(
    {
      chainId: target.chainId,
      nonce,
      gasPrice,
      gasLimit: 1_000_000n,
      to: null,
      value: 0n,
      data: assetDeployData(assetBytecode(), "Calls", "CALL", 10n ** 24n),
    },
    target.funderKey,
  );
  await rpc.call("eth_sendRawTransaction", [tx.raw]);
  const receipt = await waitForReceipt<{ contractAddress: string; status: string }>(
    rpc,
    tx.hash,
    RECEIPT_POLL_MS,
    RECEIPT_TIMEOUT_MS,
  );
  if (receipt.status !== "0x1")
    throw new Error(`Asset deployment failed on ${target.name}: ${JSON.stringify(receipt)}`);
  return receipt.contractAddress;
}

async function readsFor(target: RunningTarget, rpc: RpcClient): Promise<Read[]> {
  const holder = bytesToHex(privateKeyToAddress(target.funderKey));
  const asset = await deployAsset(target, rpc);
  const reads: Read[] = [
    { name: "no-code", call: { to: "0x00000000000000000000000000000000000dead0", data: "0x" } },
    {
      name: "erc20",
      call: {
        to: asset,
        data: encodeFunctionData({
          abi: parseAbi(["function balanceOf(address) view returns (uint256)"]),
          functionName: "balanceOf",
          args: [holder as `0x${string}`],
        }),
      },
    },
  ];
  if (target.kind === "consort") {
    reads.push({
      name: "system",
      call: {
        to: SYSTEM_CONFIG,
        data: encodeFunctionData({
          abi: parseAbi(["function getValueByKey(string) view returns (string, int256)"]),
          functionName: "getValueByKey",
          args: ["tx_count_limit"],
        }),
      },
    });
  }
  return reads;
}

/** `count` calls, `concurrency` at a time; calls per second and the node's CPU ms per call. */
async function measure(
  target: RunningTarget,
  rpc: RpcClient,
  read: Read,
  count: number,
  concurrency: number,
): Promise<{ perS: number; cpuMsPerCall: number }> {
  let started = 0;
  const meter = new CpuMeter(target.pids);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < count) {
        started++;
        await rpc.call("eth_call", [read.call, "latest"]);
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = meter.stop().perProcessMs.reduce<number>((sum, v) => sum + (v ?? 0), 0);
  return { perS: count / seconds, cpuMsPerCall: cpuMs / count };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseFlags(
    argv,
    {
      targets: { type: "string", default: "consort1,anvil-1s" },
      count: { type: "string", default: "4000" },
      concurrency: { type: "string", default: "16" },
      rounds: { type: "string", default: "2" },
    },
    USAGE,
  );
  const count = intFlag("count", values.count, 1, 1_000_000);
  const concurrency = intFlag("concurrency", values.concurrency, 1, 256);
  const rounds = intFlag("rounds", values.rounds, 1, 10);
  const names = expandTargets(values.targets.split(","));
  const rows: string[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const name of names) {
      const target = await startTarget(name);
      const rpc = new RpcClient(target.submitUrls[0]!, concurrency);
      try {
        const reads = await readsFor(target, rpc);
        await measure(target, rpc, reads[0]!, Math.min(count, 500), concurrency); // connections, JIT: not counted
        for (const read of reads) {
          const r = await measure(target, rpc, read, count, concurrency);
          const row = `| ${round} | ${name} | ${read.name} | ${r.perS.toFixed(0)} | ${r.cpuMsPerCall.toFixed(3)} |`;
          console.log(row);
          rows.push(row);
        }
      } finally {
        rpc.close();
        await target.stop();
      }
    }
  }
  const m = machineInfo();
  console.log(
    `\n${m.cpus}× ${m.cpuModel}, node ${process.version}, load ${m.loadAvg.join(" ")}; ${count} calls, ${concurrency} in flight`,
  );
  console.log("| round | target | read | eth_call/s | node CPU ms/call |\n|---|---|---|---|---|");
  for (const row of rows) console.log(row);
}

runScript(main, stopAllTargets);
