import { afterAll, describe, expect, it } from "vitest";
import { decodeTransaction } from "../../src/codec/index.js";
import {
  type ExecutedBlock,
  Executor,
  type ExecutorOptions,
  genesisState,
  type StateReader,
} from "../../src/execution/index.js";
import { StateCache } from "../../src/execution/stateCache.js";
import { decodeAccount } from "../../src/execution/stateLayout.js";
import type { Transaction } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import { addr, LevelState, MemoryState, TestChain } from "./helpers.js";
import { TokenFixture } from "./tokenFixture.js";

/**
 * The executor's cache of the committed state (stateCache.ts) and the batched prefetch change no result: the same
 * blocks give the same roots, receipts and changes with and without them, across the cases where a stale value
 * would show (slots written by the previous block, a second block at the same height after a view change, a block
 * on a parent this executor never executed), and the cache stays within its bounds.
 */

const root = (n: number) => new Uint8Array(32).fill(n);
const key = (n: number) => `03${n.toString(16).padStart(4, "0")}`;
const val = (n: number) => new Uint8Array([n]);

describe("StateCache", () => {
  it("answers only for its root, and follows recorded blocks to a child root", () => {
    const cache = new StateCache({ entries: 100, bytes: 1 << 20, blocks: 4 });
    const atA = cache.viewAt(root(1))!;
    atA.set(key(1), val(1));
    atA.set(key(2), val(2));
    expect(atA.get(key(1))).toEqual(val(1));
    // Block A → B changes key 1 and deletes key 2; B → C changes key 3.
    cache.recordExecuted(root(1), root(2), [
      [hexToBytes(`0x${key(1)}`), val(10)],
      [hexToBytes(`0x${key(2)}`), null],
    ]);
    cache.recordExecuted(root(2), root(3), [[hexToBytes(`0x${key(3)}`), val(30)]]);
    const atC = cache.viewAt(root(3))!;
    expect(atC.get(key(1))).toEqual(val(10));
    expect(atC.get(key(2))).toBeNull();
    expect(atC.get(key(3))).toEqual(val(30));
    // The view of the old root no longer answers, nor writes.
    expect(atA.get(key(1))).toBeUndefined();
    atA.set(key(4), val(4));
    expect(atC.get(key(4))).toBeUndefined();
  });

  it("empties itself for a root it cannot reach (another block at the same height, a fork)", () => {
    const cache = new StateCache({ entries: 100, bytes: 1 << 20, blocks: 4 });
    cache.viewAt(root(1))!.set(key(1), val(1));
    cache.recordExecuted(root(1), root(2), [[hexToBytes(`0x${key(1)}`), val(2)]]);
    expect(cache.viewAt(root(2))!.get(key(1))).toEqual(val(2));
    // Back to the parent (a view change re-executes the height): not reachable forward, so nothing is known.
    expect(cache.viewAt(root(1))!.get(key(1))).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("keeps at most `entries` values and `bytes` bytes, dropping the least recently used", () => {
    const cache = new StateCache({ entries: 3, bytes: 10, blocks: 2 });
    const v = cache.viewAt(root(1))!;
    v.set(key(1), val(1));
    v.set(key(2), val(2));
    v.set(key(3), val(3));
    expect(v.get(key(1))).toEqual(val(1)); // now the most recent
    v.set(key(4), val(4));
    expect(cache.size).toBe(3);
    expect(v.get(key(2))).toBeUndefined();
    expect(v.get(key(1))).toEqual(val(1));
    v.set(key(5), new Uint8Array(9));
    expect(cache.sizeBytes).toBeLessThanOrEqual(10);
    v.set(key(6), new Uint8Array(11)); // larger than the whole budget: not kept
    expect(v.get(key(6))).toBeUndefined();
    expect(cache.sizeBytes).toBeLessThanOrEqual(10);
  });

  it("remembers at most `blocks` executed blocks", () => {
    const cache = new StateCache({ entries: 100, bytes: 1 << 20, blocks: 2 });
    cache.viewAt(root(1))!.set(key(9), val(9));
    for (let i = 1; i <= 3; i++) cache.recordExecuted(root(i), root(i + 1), []);
    // 1 → 2 was forgotten: root 4 cannot be reached from root 1 any more.
    expect(cache.viewAt(root(4))!.get(key(9))).toBeUndefined();
  });

  it("is off with entries = 0", () => {
    expect(new StateCache({ entries: 0, bytes: 1 << 20, blocks: 2 }).viewAt(root(1))).toBeNull();
  });
});

const fixture = new TokenFixture(20, 11);
const { holders, token } = fixture;

/** What must not depend on the cache or the prefetch. */
function result(out: ExecutedBlock) {
  return {
    stateRoot: bytesToHex(out.stateRoot),
    receipts: out.receipts.map((r) => [r.status, r.gasUsed, bytesToHex(r.logsBloom)]),
    changes: out.stateChanges.map(([k, v]) => [bytesToHex(k), v === null ? null : bytesToHex(v)]),
    rejected: out.rejected.map((r) => r.code),
  };
}

/**
 * The setup block (the token, a balance for every holder), then blocks of token transfers: in block b holder i pays
 * holder i + 1 + b + variant (every balance a block writes is read by the next one).
 */
async function tokenBlocks(count: number, variant = 0): Promise<Transaction[][]> {
  const setup = await fixture.setupBlock(1000n);
  return [setup, ...(await fixture.ringBlocks(count, variant, (i, b) => BigInt(1 + ((i * 7 + b) % 5))))];
}

/** A state without a batched read: prefetch falls back to concurrent gets. */
function withoutGetMany(state: StateReader): StateReader {
  return { getState: (k) => state.getState(k) };
}

describe("executor with the state cache and the batched prefetch", () => {
  const opened: LevelState[] = [];
  afterAll(async () => {
    for (const s of opened) await s.close();
  });

  const run = async (opts: Partial<ExecutorOptions>, blocks: Transaction[][], batched: boolean) => {
    const level = await LevelState.open();
    opened.push(level);
    const chain = await TestChain.create(level, fixture.genesis(10n ** 20n), opts);
    const reader = batched ? level : withoutGetMany(level);
    const results = [];
    for (const txs of blocks) {
      const out = await chain.executor.executeBlock(reader, chain.ctx(), txs, "verify");
      results.push(result(out));
      await chain.commit(out);
    }
    return { results, chain, level };
  };

  it("gives the same blocks with and without the cache and getMany, including slots the previous block wrote", async () => {
    const blocks = await tokenBlocks(4);
    const plain = await run({ stateCacheEntries: 0 }, blocks, false);
    const cached = await run({}, blocks, true);
    // A cache far smaller than a block's keys: evicting never changes a result either.
    const tiny = await run({ stateCacheEntries: 5, stateCacheBytes: 4096 }, blocks, true);
    expect(cached.results).toEqual(plain.results);
    expect(tiny.results).toEqual(plain.results);
    expect(plain.results.slice(1).every((r) => r.receipts.every(([status]) => status === 1))).toBe(true);
  });

  it("gives the same results when a height is executed again with another block (view change)", async () => {
    const [setup, a2, a3] = await tokenBlocks(2);
    const [, b2] = await tokenBlocks(1, 3);
    const state = new MemoryState();
    const g = genesisState(fixture.genesis(10n ** 20n));
    await state.apply(g.stateChanges);
    const cached = new Executor({}, { logger: silentLogger() });
    const plain = new Executor({ stateCacheEntries: 0 }, { logger: silentLogger() });
    const ctx = (number: number, parentStateRoot: Uint8Array) => ({
      number,
      timestampMs: 1_700_000_000_000 + number * 1000,
      coinbase: new Uint8Array(20),
      chainId: 20200n,
      groupId: "group0",
      gasLimit: 30_000_000_000n,
      parentStateRoot,
    });
    const s1 = await cached.executeBlock(state, ctx(1, g.stateRoot), setup!, "build");
    await state.apply(s1.stateChanges);
    // Height 2 (block A) and height 3 on top of it, executed ahead of A's commit (pipelining): the cache follows
    // A's changes. A is never committed.
    const a = await cached.executeBlock(state, ctx(2, s1.stateRoot), a2!, "verify");
    const overlayA: StateReader = {
      getState: async (k) => {
        const change = a.stateChanges.find(([ck]) => bytesToHex(ck) === bytesToHex(k));
        return change === undefined ? state.getState(k) : (change[1] ?? undefined);
      },
    };
    await cached.executeBlock(overlayA, ctx(3, a.stateRoot), a3!, "verify");
    // A view change: block B at height 2 on the same parent, then height 3 on B.
    const onB = await cached.executeBlock(state, ctx(2, s1.stateRoot), b2!, "verify");
    expect(result(onB)).toEqual(result(await plain.executeBlock(state, ctx(2, s1.stateRoot), b2!, "verify")));
    await state.apply(onB.stateChanges);
    const next = await cached.executeBlock(state, ctx(3, onB.stateRoot), a3!, "verify");
    expect(result(next)).toEqual(
      result(await plain.executeBlock(state, ctx(3, onB.stateRoot), a3!, "verify")),
    );
  });

  it("prefetches accounts, the recipient's code and access-list slots in batched reads, with the same result", async () => {
    const [setup] = await tokenBlocks(0);
    const level = await LevelState.open();
    opened.push(level);
    const chain = await TestChain.create(level, fixture.genesis(10n ** 20n), { stateCacheEntries: 0 });
    await chain.block(setup!);
    const holder = holders[0]!;
    const slot = (n: number) => new Uint8Array(32).fill(n);
    const raw = await holder.signTransaction({
      type: 2,
      chainId: 20200n,
      nonce: 0,
      to: bytesToHex(token),
      data: bytesToHex(fixture.transferData(holders[1]!, 1n)),
      gasLimit: 200_000n,
      maxFeePerGas: 0n,
      maxPriorityFeePerGas: 0n,
      // One slot nobody reads: a useless prefetch.
      accessList: [{ address: bytesToHex(token), storageKeys: [bytesToHex(slot(7))] }],
    });
    const tx = decodeTransaction(hexToBytes(raw));
    const batched = new Set<string>();
    const counting: StateReader = {
      getState: (k) => level.getState(k),
      getManyState: (keys) => {
        for (const k of keys) batched.add(bytesToHex(k));
        return level.getManyState(keys);
      },
    };
    const withPrefetch = await chain.executor.executeBlock(counting, chain.ctx(), [tx], "verify");
    const without = await chain.executor.executeBlock(withoutGetMany(level), chain.ctx(), [tx], "verify");
    expect(result(withPrefetch)).toEqual(result(without));
    expect(withPrefetch.receipts[0]!.status).toBe(1);
    const tokenAccount = (await level.getState(hexToBytes(`0x01${bytesToHex(token).slice(2)}`)))!;
    const codeHash = bytesToHex(decodeAccount(tokenAccount).codeHash).slice(2);
    expect(batched).toContain(`0x01${bytesToHex(addr(holder)).slice(2)}`);
    expect(batched).toContain(`0x02${codeHash}`);
    expect(batched).toContain(`0x03${bytesToHex(token).slice(2)}${bytesToHex(slot(7)).slice(2)}`);
  });
});
