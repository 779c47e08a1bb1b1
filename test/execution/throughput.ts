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
import type { Transaction } from "../../src/types/index.js";
import { type AppliableState, addr, LevelState, MemoryState, signEth, TestChain } from "./helpers.js";
import { TokenFixture } from "./tokenFixture.js";

const TXS = 2000;
const BLOCK = 500;
const SENDERS = 200;

async function main(): Promise<void> {
  const useMemory = process.argv.includes("--memory");
  const level = useMemory ? null : await LevelState.open();
  const state: AppliableState = level ?? new MemoryState();
  try {
    const fixture = new TokenFixture(SENDERS, 7);
    const senders = fixture.holders;
    const noYield = process.argv.includes("--no-yield");
    const chain = await TestChain.create(
      state,
      fixture.genesis(10n ** 24n),
      noYield ? { blockYieldIntervalMs: null } : {},
    );

    console.log(`signing ${TXS * 2 + SENDERS + 1} txs with ethers…`);
    const transfers: Transaction[] = [];
    for (let i = 0; i < TXS; i++) {
      const from = senders[i % SENDERS]!;
      const to = senders[(i * 7 + 3) % SENDERS]!;
      transfers.push(
        await signEth(from, { to: addr(to), nonce: Math.floor(i / SENDERS), value: 1n, gasLimit: 21_000n }),
      );
    }
    const setup = await fixture.setupBlock(10n ** 20n);
    const tokenTransfers: Transaction[] = [];
    const nonceBase = Math.ceil(TXS / SENDERS);
    for (let i = 0; i < TXS; i++) {
      const from = senders[i % SENDERS]!;
      const to = senders[(i * 13 + 5) % SENDERS]!;
      tokenTransfers.push(await fixture.transfer(from, nonceBase + Math.floor(i / SENDERS), to, 1n));
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
