/**
 * State reads of a block of ERC20 transfers: `npx tsx bench/storageReads.ts [--txs 200] [--blocks 6]`.
 *
 * Executes blocks of Asset (ERC20) transfers from distinct senders through the real Executor (verify mode, the
 * replica's path) on a real LevelDB flat state, each block's changes written back (one synced batch) before the
 * next, as a node does. Counts the reads that reach the state (LevelDB) by kind (account, code, storage, other)
 * and reports CPU and wall time of each block executed three ways: reads awaited one by one (no cache), after one
 * getMany of every key the block reads (the most a prefetch could save), and with the executor's committed-state
 * cache (ExecutorOptions.stateCacheEntries), which knows the previous block's values.
 */
import "../src/util/polyfill.js";
import { CliError, parseFlags } from "../src/cli/args.js";
import { Executor, type StateChange, type StateReader } from "../src/execution/index.js";
import { hexToBytes } from "../src/util/hex.js";
import { silentLogger } from "../src/util/logger.js";
import { LevelState, TestChain } from "../test/execution/helpers.js";
import { TokenFixture } from "../test/execution/tokenFixture.js";
import { machineInfo } from "./lib/bench.js";

const USAGE = `npx tsx bench/storageReads.ts [--txs 200] [--blocks 6]`;
const FLAGS = {
  txs: { type: "string", default: "200" },
  blocks: { type: "string", default: "6" },
  help: { type: "boolean", default: false },
} as const;

const KINDS: Record<number, string> = { 1: "account", 2: "code", 3: "storage" };

/** A StateReader that counts the reads reaching LevelDB, by the key's kind (stateLayout.ts prefixes). */
class CountingState implements StateReader {
  counts = new Map<string, number>();
  /** Keys read since reset (hex). */
  keys = new Set<string>();
  batched = 0;
  constructor(private readonly inner: LevelState) {}
  private count(key: Uint8Array): void {
    const kind = KINDS[key[0]!] ?? "other";
    this.keys.add(Buffer.from(key).toString("hex"));
    this.counts.set(kind, (this.counts.get(kind) ?? 0) + 1);
  }
  async getState(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.count(key);
    return this.inner.getState(key);
  }
  async getManyState(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    for (const k of keys) this.count(k);
    this.batched += keys.length;
    return this.inner.getManyState(keys);
  }
  apply(changes: readonly StateChange[]): Promise<void> {
    return this.inner.apply(changes);
  }
  reset(): void {
    this.counts.clear();
    this.keys.clear();
    this.batched = 0;
  }
}

async function main(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, FLAGS, USAGE).values;
  if (flags.help) {
    console.log(USAGE);
    return;
  }
  const txCount = Number(flags.txs);
  const blocks = Number(flags.blocks);
  if (!(txCount > 0 && blocks > 0)) throw new CliError("CLI_USAGE", "--txs and --blocks must be positive");
  const m = machineInfo();
  console.log(`machine: ${m.cpus}× ${m.cpuModel}, node ${m.node}, load ${m.loadAvg.join(" ")}`);

  const level = await LevelState.open();
  try {
    const state = new CountingState(level);
    const fixture = new TokenFixture(txCount, 9);
    const chain = await TestChain.create(state, fixture.genesis(10n ** 24n));
    // Setup: the token, and a balance for every sender.
    await chain.block(await fixture.setupBlock(10n ** 20n));
    // Each block: every sender pays another sender (a ring turned a step per block), so balances are existing slots.
    const signed = await fixture.ringBlocks(blocks);
    // Per block: (1) a dry run records the keys it reads; (2) the executor as is; (3) the same after ONE getMany of
    // those keys (the most any prefetch could save); then the changes are applied (synced batch) as a node does.
    const noCache = new Executor({ stateCacheEntries: 0 }, { logger: silentLogger() });
    const cached = chain.executor;
    /** CPU ms per variant, blocks after the first two (JIT warm-up). */
    const cpuMs = new Map<string, number[]>();
    for (let b = 0; b < blocks; b++) {
      const txs = signed[b]!;
      const ctx = chain.ctx();
      state.reset();
      const dry = await noCache.executeBlock(state, ctx, txs, "verify");
      const keys = [...state.keys];
      const failed = dry.receipts.filter((r) => r.status !== 1).length;
      const measure = async (label: string, run: () => Promise<unknown>) => {
        state.reset();
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        await run();
        const wallMs = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        if (b >= 2) cpuMs.set(label, [...(cpuMs.get(label) ?? []), (cpu.user + cpu.system) / 1000]);
        const reads = [...state.counts.entries()].map(([k, n]) => `${k} ${n}`).join(", ");
        console.log(
          `  ${label}: ${((cpu.user + cpu.system) / 1000).toFixed(1)} ms CPU, ${wallMs.toFixed(1)} ms wall; ` +
            `reads: ${reads || "none"}${state.batched > 0 ? ` (${state.batched} in getMany)` : ""}`,
        );
      };
      console.log(`block ${b + 1}: ${txs.length} ERC20 transfers${failed > 0 ? ` (${failed} FAILED)` : ""}`);
      await measure("awaited reads (no cache)", () => noCache.executeBlock(state, ctx, txs, "verify"));
      await measure("one getMany of every key first", async () => {
        const values = await state.getManyState(keys.map((k) => hexToBytes(`0x${k}`)));
        const map = new Map(keys.map((k, i) => [k, values[i]]));
        const warm: StateReader = {
          getState: async (key) => {
            const k = Buffer.from(key).toString("hex");
            return map.has(k) ? map.get(k) : state.getState(key);
          },
        };
        await noCache.executeBlock(warm, ctx, txs, "verify");
      });
      await measure("executor's committed-state cache", () => cached.executeBlock(state, ctx, txs, "verify"));
      // Commit the block (the cached executor saw its changes as the parent of the next block).
      await chain.commit(await cached.executeBlock(state, ctx, txs, "verify"));
    }
    for (const [label, values] of cpuMs) {
      const sorted = [...values].sort((x, y) => x - y);
      const mean = values.reduce((x, y) => x + y, 0) / values.length;
      console.log(
        `${label}: mean ${mean.toFixed(1)} ms CPU per block of ${txCount} (median ${sorted[sorted.length >> 1]!.toFixed(1)}; blocks 3-${blocks})`,
      );
    }
  } finally {
    await level.close();
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  console.error(err instanceof CliError ? err.message : err);
  process.exit(err instanceof CliError ? 2 : 1);
});
