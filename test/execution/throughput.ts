/**
 * Execution throughput (NOT a test): `npx tsx test/execution/throughput.ts [--memory] [--no-yield]`.
 * --no-yield: the stock interpreter that never yields to the event loop (to measure what yielding costs).
 * 2000 value transfers and 2000 Asset (ERC20) transfers, in blocks of 500, executed in "verify" mode on a flat
 * state in a real LevelDB (or in memory with --memory); each block's changes are written back before the next.
 * Signing (ethers) and decoding happen before the clock starts. --profile=<file.cpuprofile> profiles the execution.
 */
import "../../src/util/polyfill.js";
import { writeFile } from "node:fs/promises";
import { Session } from "node:inspector/promises";
import { getCreateAddress } from "ethers";
import { type Abi, encodeDeployData, encodeFunctionData, type Hex } from "viem";
import type { Transaction } from "../../src/types/index.js";
import { hexToBytes } from "../../src/util/hex.js";
import {
  type AppliableState,
  addr,
  assetArtifact,
  genesisSpec,
  LevelState,
  MemoryState,
  signEth,
  TestChain,
  wallets,
} from "./helpers.js";

const TXS = 2000;
const BLOCK = 500;
const SENDERS = 200;

async function main(): Promise<void> {
  const useMemory = process.argv.includes("--memory");
  const level = useMemory ? null : await LevelState.open();
  const state: AppliableState = level ?? new MemoryState();
  try {
    const users = wallets(SENDERS + 1, 7);
    const admin = users[0]!;
    const senders = users.slice(1);
    const alloc = users.map((w) => ({ address: addr(w), balance: 10n ** 24n }));
    const noYield = process.argv.includes("--no-yield");
    const chain = await TestChain.create(
      state,
      genesisSpec([addr(admin)], alloc),
      noYield ? { blockYieldIntervalMs: null } : {},
    );
    const asset = assetArtifact();
    const abi = asset.abi as Abi;

    console.log(`signing ${TXS * 2 + SENDERS + 1} txs with ethers…`);
    const transfers: Transaction[] = [];
    for (let i = 0; i < TXS; i++) {
      const from = senders[i % SENDERS]!;
      const to = senders[(i * 7 + 3) % SENDERS]!;
      transfers.push(
        await signEth(from, { to: addr(to), nonce: Math.floor(i / SENDERS), value: 1n, gasLimit: 21_000n }),
      );
    }
    const setup: Transaction[] = [
      await signEth(admin, {
        to: null,
        nonce: 0,
        gasLimit: 3_000_000n,
        data: hexToBytes(
          encodeDeployData({ abi, bytecode: asset.bytecode as Hex, args: ["Bench", "B", 10n ** 30n] }),
        ),
      }),
    ];
    const contract = hexToBytes(getCreateAddress({ from: admin.address, nonce: 0 }));
    for (let i = 0; i < SENDERS; i++) {
      setup.push(
        await signEth(admin, {
          to: contract,
          nonce: 1 + i,
          gasLimit: 100_000n,
          data: hexToBytes(
            encodeFunctionData({
              abi,
              functionName: "transfer",
              args: [senders[i]!.address as Hex, 10n ** 20n],
            }),
          ),
        }),
      );
    }
    const tokenTransfers: Transaction[] = [];
    const nonceBase = Math.ceil(TXS / SENDERS);
    for (let i = 0; i < TXS; i++) {
      const from = senders[i % SENDERS]!;
      const to = senders[(i * 13 + 5) % SENDERS]!;
      tokenTransfers.push(
        await signEth(from, {
          to: contract,
          nonce: nonceBase + Math.floor(i / SENDERS),
          gasLimit: 100_000n,
          data: hexToBytes(
            encodeFunctionData({ abi, functionName: "transfer", args: [to.address as Hex, 1n] }),
          ),
        }),
      );
    }

    const run = async (label: string, txs: Transaction[]) => {
      const started = performance.now();
      const cpuStart = process.cpuUsage();
      let failed = 0;
      for (let i = 0; i < txs.length; i += BLOCK) {
        const out = await chain.block(txs.slice(i, i + BLOCK), "verify");
        failed += out.receipts.filter((r) => r.status !== 1).length;
      }
      const ms = performance.now() - started;
      const cpu = process.cpuUsage(cpuStart);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      console.log(
        `${label}: ${txs.length} txs in ${Math.round(ms)} ms = ${Math.round((txs.length * 1000) / ms)} tx/s wall, ` +
          `${Math.round((txs.length * 1000) / cpuMs)} tx per CPU-second` +
          (failed > 0 ? ` (${failed} failed!)` : ""),
      );
    };
    const profilePath = process.argv.find((a) => a.startsWith("--profile="))?.slice("--profile=".length);
    const session = profilePath === undefined ? null : new Session();
    if (session !== null) {
      session.connect();
      await session.post("Profiler.enable");
      await session.post("Profiler.start");
    }
    console.log(
      `state: ${useMemory ? "memory" : "LevelDB (classic-level, sync batch per block)"}, blocks of ${BLOCK}, ` +
        `${noYield ? "stock interpreter (no yielding)" : "yielding every 5 ms"}`,
    );
    await run("value transfers", transfers);
    await run("setup (deploy + 200 token grants)", setup);
    await run("Asset transfers", tokenTransfers);
    if (session !== null && profilePath !== undefined) {
      const { profile } = await session.post("Profiler.stop");
      await writeFile(profilePath, JSON.stringify(profile));
      console.log(`CPU profile of the execution written to ${profilePath}`);
    }
  } finally {
    await level?.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
