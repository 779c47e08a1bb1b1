/**
 * Single-node commit throughput (NOT a test): `npx tsx test/node/throughput.ts [--txs 2000] [--senders 200]`.
 *
 * One 1-validator node in process (real LevelDB, PBFT n = 1, RPC on 127.0.0.1). Setup (not timed): fund the
 * senders, deploy Asset, give every sender tokens. Then four timed runs of pre-signed txs (legacy, gas price 0):
 *   1. value transfers  via txpool.add       2. Asset transfers via txpool.add
 *   3. value transfers  via JSON-RPC batches 4. Asset transfers via JSON-RPC batches
 * Each run: the clock starts at the first submission and stops when the last tx of the run has committed
 * (commit listener); committed tx/s = txs / elapsed. Prints the machine's load average (shared 2-core box).
 */
import "../../src/util/polyfill.js";
import os from "node:os";
import { getCreateAddress } from "ethers";
import type { ConsortNode } from "../../src/node/index.js";
import type { Transaction } from "../../src/types/index.js";
import { ReceiptStatus } from "../../src/types/index.js";
import {
  addrOf,
  assetDeployData,
  assetTransferData,
  bytesToHex,
  freshWallets,
  hexToBytes,
  keyOf,
  rpcUrl,
  SingleNodeNet,
  signLegacyFast,
  waitReceipts,
} from "./helpers.js";

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const TXS = flag("txs", 2000);
const SENDERS = flag("senders", 200);
const PER_SENDER = Math.ceil(TXS / SENDERS);
const RPC_BATCH = 200;
const RPC_CONCURRENCY = 4;

function load(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");
}

/** Resolves when every hash in `hashes` has committed; counts failed receipts. */
function commitWatcher(node: ConsortNode, hashes: Uint8Array[]) {
  const pending = new Set(hashes.map(bytesToHex));
  let failed = 0;
  let blocks = 0;
  let resolve!: () => void;
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  node.chain.onCommit((c) => {
    let hit = false;
    c.block.transactions.forEach((tx, i) => {
      if (pending.delete(bytesToHex(tx.hash))) {
        hit = true;
        if (c.receipts[i]!.status !== ReceiptStatus.Success) failed++;
      }
    });
    if (hit) blocks++;
    if (pending.size === 0) resolve();
  });
  return { done, failed: () => failed, blocks: () => blocks, left: () => pending.size };
}

async function sendRpcBatches(url: string, raws: Uint8Array[]): Promise<void> {
  const chunks: Uint8Array[][] = [];
  for (let i = 0; i < raws.length; i += RPC_BATCH) chunks.push(raws.slice(i, i + RPC_BATCH));
  let next = 0;
  const worker = async () => {
    // Chunks are taken in order; one sender's txs are spread over chunks in nonce order (a gap waits in the pool).
    for (let c = next++; c < chunks.length; c = next++) {
      const body = chunks[c]!.map((raw, id) => ({
        jsonrpc: "2.0",
        id,
        method: "eth_sendRawTransaction",
        params: [bytesToHex(raw)],
      }));
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
      const out = (await res.json()) as { error?: { message: string } }[];
      const bad = out.filter((r) => r.error);
      if (bad.length > 0) throw new Error(`${bad.length} rejected, e.g. ${bad[0]!.error!.message}`);
    }
  };
  await Promise.all(Array.from({ length: RPC_CONCURRENCY }, worker));
}

interface RunResult {
  name: string;
  txs: number;
  submitMs: number;
  commitMs: number;
  blocks: number;
}

async function run(
  node: ConsortNode,
  name: string,
  raws: Uint8Array[],
  hashes: Uint8Array[],
  submit: (raws: Uint8Array[]) => Promise<void>,
): Promise<RunResult> {
  const watch = commitWatcher(node, hashes);
  const started = performance.now();
  await submit(raws);
  const submitMs = performance.now() - started;
  const timeout = setTimeout(() => {
    console.error(`${name}: ${watch.left()} txs still uncommitted after 300 s`);
    process.exit(1);
  }, 300_000);
  await watch.done;
  clearTimeout(timeout);
  const commitMs = performance.now() - started;
  if (watch.failed() > 0) throw new Error(`${name}: ${watch.failed()} txs failed`);
  return { name, txs: raws.length, submitMs, commitMs, blocks: watch.blocks() };
}

async function main(): Promise<void> {
  console.log(`load average before: ${load()} (${os.cpus().length} cpus)`);
  const net = await SingleNodeNet.create();
  const node = await net.start({ consensus: { tickMs: 10, minSealTimeMs: 20 } });
  try {
    const dev = net.accounts;
    const senders = freshWallets(SENDERS, 42);
    const url = rpcUrl(node);

    // ---- setup (not timed)
    const setup: Uint8Array[] = [];
    const funders = dev.slice(1, 9);
    senders.forEach((s, i) => {
      const f = funders[i % funders.length]!;
      setup.push(
        signLegacyFast(keyOf(f), {
          nonce: BigInt(Math.floor(i / funders.length)),
          to: addrOf(s),
          value: 10n ** 20n,
        }),
      );
    });
    const owner = dev[9]!;
    const token = hexToBytes(getCreateAddress({ from: owner.address, nonce: 0 }));
    setup.push(
      signLegacyFast(keyOf(owner), {
        nonce: 0n,
        to: null,
        data: assetDeployData(10n ** 30n),
        gasLimit: 1_000_000n,
      }),
    );
    senders.forEach((s, i) => {
      setup.push(
        signLegacyFast(keyOf(owner), {
          nonce: BigInt(1 + i),
          to: token,
          data: assetTransferData(s.address, 10n ** 24n),
          gasLimit: 100_000n,
        }),
      );
    });
    const setupTxs: Transaction[] = [];
    for (const raw of setup) setupTxs.push(await node.txpool.add(raw));
    await waitReceipts(
      node,
      setupTxs.map((t) => t.hash),
      120_000,
    );
    console.log(`setup: ${setup.length} txs committed, height ${node.chain.height()}`);

    // ---- pre-sign every run (nonce ranges per run: transfers then Asset, pool then RPC)
    const signStarted = performance.now();
    const build = (run: number, asset: boolean): Uint8Array[] => {
      const out: Uint8Array[] = [];
      for (let k = 0; k < PER_SENDER; k++) {
        for (let i = 0; i < SENDERS && out.length < TXS; i++) {
          const from = senders[i]!;
          const to = senders[(i * 31 + k * 7 + 1) % SENDERS]!;
          const nonce = BigInt(run * PER_SENDER + k);
          out.push(
            asset
              ? signLegacyFast(keyOf(from), {
                  nonce,
                  to: token,
                  data: assetTransferData(to.address, 1n + BigInt(k)),
                  gasLimit: 100_000n,
                })
              : signLegacyFast(keyOf(from), { nonce, to: addrOf(to), value: 1n + BigInt(k) }),
          );
        }
      }
      return out;
    };
    const sets = [build(0, false), build(1, true), build(2, false), build(3, true)];
    const { keccak256 } = await import("../../src/crypto/index.js");
    const hashSets = sets.map((s) => s.map((raw) => keccak256(raw)));
    console.log(`pre-signed ${sets.flat().length} txs in ${Math.round(performance.now() - signStarted)} ms`);

    const viaPool = async (raws: Uint8Array[]) => {
      await Promise.all(raws.map((raw) => node.txpool.add(raw)));
    };
    const viaRpc = (raws: Uint8Array[]) => sendRpcBatches(url, raws);
    const results: RunResult[] = [];
    results.push(await run(node, "value transfers, txpool.add", sets[0]!, hashSets[0]!, viaPool));
    results.push(await run(node, "Asset transfers, txpool.add", sets[1]!, hashSets[1]!, viaPool));
    results.push(await run(node, "value transfers, JSON-RPC", sets[2]!, hashSets[2]!, viaRpc));
    results.push(await run(node, "Asset transfers, JSON-RPC", sets[3]!, hashSets[3]!, viaRpc));

    console.log("");
    console.log("run                            txs   blocks  submit ms  commit ms  committed tx/s");
    for (const r of results) {
      console.log(
        `${r.name.padEnd(30)} ${String(r.txs).padStart(5)} ${String(r.blocks).padStart(7)} ${String(Math.round(r.submitMs)).padStart(10)} ${String(Math.round(r.commitMs)).padStart(10)} ${String(Math.round((r.txs * 1000) / r.commitMs)).padStart(15)}`,
      );
    }
    console.log(`\nload average after: ${load()}; final height ${node.chain.height()}`);
  } finally {
    await node.close();
    await net.remove();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
