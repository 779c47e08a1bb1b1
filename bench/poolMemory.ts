import { parseArgs } from "node:util";
import { encodeNativeTx } from "../src/codec/index.js";
import { keccak256 } from "../src/crypto/index.js";
import { TxPool } from "../src/txpool/index.js";
import { hexToBytes } from "../src/util/hex.js";
import { silentLogger } from "../src/util/logger.js";
import { signLegacyTx } from "./lib/ethTx.js";

/**
 * Bytes per pooled transaction (issue 14, "smaller pool entries"): fills a TxPool with `--n` real signed txs
 * (from `--senders` keys, as RPC hands them over: fresh bytes decoded from hex) and reports the growth of the V8
 * heap plus ArrayBuffer memory after a full GC, divided by the pool size. Run with --expose-gc:
 *   node --expose-gc --import tsx bench/poolMemory.ts [--n 50000] [--type legacy|native]
 */

const CHAIN_ID = 20200n;
const GROUP_ID = "group0";

function gcNow(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with node --expose-gc");
  gc();
  gc();
}

function retainedBytes(): number {
  gcNow();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      n: { type: "string", default: "50000" },
      senders: { type: "string", default: "500" },
      type: { type: "string", default: "legacy" },
    },
  });
  const n = Number(values.n);
  const senderCount = Number(values.senders);
  if (!Number.isSafeInteger(n) || n < 1 || n > 200_000) throw new Error("--n must be in 1..200000");
  if (values.type !== "legacy" && values.type !== "native") throw new Error("--type: legacy or native");
  const perSender = Math.ceil(n / senderCount);
  const hexes: string[] = [];
  for (let s = 0; s < senderCount && hexes.length < n; s++) {
    const key = keccak256(new TextEncoder().encode(`pool memory sender ${s}`));
    for (let k = 0; k < perSender && hexes.length < n; k++) {
      if (values.type === "legacy") {
        const fields = { chainId: CHAIN_ID, nonce: BigInt(k), gasPrice: 0n, gasLimit: 21_000n, value: 0n };
        hexes.push(signLegacyTx({ ...fields, to: `0x${"ab".repeat(20)}`, data: "0x" }, key).raw);
      } else {
        const nonce = keccak256(new TextEncoder().encode(`${s} ${k}`)).subarray(0, 16);
        const fields = { chainId: CHAIN_ID, groupId: GROUP_ID, nonce, blockLimit: 500, value: 0n };
        const rest = {
          to: new Uint8Array(20).fill(0xab),
          input: new Uint8Array(0),
          gasLimit: 21_000n,
          gasPrice: 0n,
        };
        hexes.push(`0x${Buffer.from(encodeNativeTx({ ...fields, ...rest }, key)).toString("hex")}`);
      }
    }
  }
  const pool = new TxPool(
    { chainId: CHAIN_ID, groupId: GROUP_ID, countMax: n, senderCountMax: perSender + 1 },
    {
      state: { getAccountNonce: async () => 0n, getBalance: async () => 0n },
      chain: { height: () => 1, hasNativeNonce: async () => false },
      txGasLimit: () => 30_000_000n,
      logger: silentLogger(),
    },
  );
  const before = retainedBytes();
  const chunk = 1000;
  for (let i = 0; i < hexes.length; i += chunk) {
    const results = await pool.addBatch(hexes.slice(i, i + chunk).map((h) => hexToBytes(h)));
    const failed = results.find((r) => !r.ok);
    if (failed && !failed.ok) throw failed.error;
  }
  const after = retainedBytes();
  const m = process.memoryUsage();
  console.log(
    `${values.type}: ${pool.size()} pooled txs, ${pool.stats().bytes} raw bytes; retained ` +
      `${((after - before) / 1024 / 1024).toFixed(1)} MiB = ${Math.round((after - before) / pool.size())} B per tx ` +
      `(heapUsed ${(m.heapUsed / 1048576).toFixed(0)} MiB, arrayBuffers ${(m.arrayBuffers / 1048576).toFixed(0)} MiB)`,
  );
  await pool.close();
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
