import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LevelLedger } from "../../src/ledger/index.js";
import type { LedgerStore } from "../../src/ledger/store.js";
import { silentLogger } from "../../src/util/logger.js";
import { buildCommit, CHAIN_ID, GROUP_ID, nativeTx } from "./helpers.js";

/**
 * The native-nonce anti-replay window (src/ledger/nonceWindow.ts) on a real LevelDB: the same answers from memory
 * and, past `nativeNonceMemoryEntriesMax`, from the store; and which of the two answered (store reads counted).
 */

const WINDOW = 5;
let dir: string;
const open: LevelLedger[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "consort-nonces-"));
});
afterEach(async () => {
  for (const l of open.splice(0)) await l.close();
  await rm(dir, { recursive: true, force: true });
});

const nonce = (label: string) => new TextEncoder().encode(label);

/** A ledger whose store counts the batched reads (getMany) made while `counting` is on. */
async function openLedger(memoryEntriesMax?: number) {
  const ledger = await LevelLedger.open(
    {
      dataDir: dir,
      chainId: CHAIN_ID,
      groupId: GROUP_ID,
      nativeNonceWindowBlocks: WINDOW,
      ...(memoryEntriesMax === undefined ? {} : { nativeNonceMemoryEntriesMax: memoryEntriesMax }),
    },
    { logger: silentLogger() },
  );
  open.push(ledger);
  const store = (ledger as unknown as { store: LedgerStore }).store;
  const reads = { count: 0, on: false };
  const getMany = store.getMany.bind(store);
  store.getMany = (keys) => {
    if (reads.on) reads.count++;
    return getMany(keys);
  };
  /** has() with the store reads it made. */
  const ask = async (labels: string[], windowEndHeight?: number) => {
    reads.count = 0;
    reads.on = true;
    const seen = await ledger.hasNativeNonces(labels.map(nonce), windowEndHeight);
    reads.on = false;
    return { seen, reads: reads.count };
  };
  return { ledger, ask };
}

/** Commits genesis and blocks 1..`blocks`, block n carrying the nonces `nonces(n)`. */
async function commitBlocks(ledger: LevelLedger, blocks: number, nonces: (n: number) => string[]) {
  const key = new Uint8Array(32).fill(9);
  for (let n = ledger.head() === null ? 0 : ledger.head()!.number + 1; n <= blocks; n++) {
    const txs = n === 0 ? [] : nonces(n).map((label) => nativeTx(key, nonce(label)));
    await ledger.commitBlock(buildCommit(n, ledger.head()?.hash ?? null, txs, { stateChanges: [] }));
  }
}

const twoPerBlock = (n: number) => [`b${n}-x`, `b${n}-y`];

describe.each([
  ["in memory (the default bound)", undefined, false],
  ["past a bound of 3 nonces (LevelDB)", 3, true],
])("native-nonce window %s", (_, memoryMax, fromStore) => {
  it("answers for the last WINDOW blocks up to the head, or up to a later window end", async () => {
    const { ledger, ask } = await openLedger(memoryMax);
    await commitBlocks(ledger, 8, twoPerBlock);
    // Head 8: the window is blocks 4..8.
    const probe = ["b3-y", "b4-x", "b8-y", "never"];
    const atHead = await ask(probe);
    expect(atHead.seen).toEqual([false, true, true, false]);
    expect(atHead.reads > 0).toBe(fromStore);
    // A child two blocks above the head (pipelined): the window is blocks 6..10.
    expect((await ask(["b5-x", "b6-x", "b8-x"], 10)).seen).toEqual([false, true, true]);
    // Nothing asked, nothing read.
    expect(await ask([])).toEqual({ seen: [], reads: 0 });
  });

  it("a nonce a later block used again stays seen when the earlier block leaves the window", async () => {
    const { ledger, ask } = await openLedger(memoryMax);
    // Block 2 and block 3 both carry "again" (the executor refuses that; the ledger stores what it is given).
    await commitBlocks(ledger, 7, (n) => (n === 2 || n === 3 ? ["again", `b${n}`] : [`b${n}`]));
    // Head 7: block 2 has left the window (3..7), block 3 has not.
    expect((await ask(["again", "b2", "b3"])).seen).toEqual([true, false, true]);
    // And after a restart (the window rebuilt from the stored lists).
    await ledger.close();
    open.splice(open.indexOf(ledger), 1);
    const reopened = await openLedger(memoryMax);
    expect((await reopened.ask(["again", "b2", "b3"])).seen).toEqual([true, false, true]);
    // Block 8 pushes block 3 out: "again" is free.
    await commitBlocks(reopened.ledger, 8, (n) => [`b${n}`]);
    expect((await reopened.ask(["again", "b8"])).seen).toEqual([false, true]);
  });
});

describe("native-nonce window: moving between memory and LevelDB", () => {
  it("a block with more nonces than the bound is answered from LevelDB, and memory serves again once it left", async () => {
    const { ledger, ask } = await openLedger(4);
    await commitBlocks(ledger, 3, (n) => (n === 2 ? ["w1", "w2", "w3", "w4", "w5"] : [`b${n}`]));
    const wide = await ask(["w1", "w5", "b1", "b3", "never"]);
    expect(wide.seen).toEqual([true, true, true, true, false]);
    expect(wide.reads).toBeGreaterThan(0);
    // Blocks 4..7 (one nonce each) push block 2 out of the window: 5 nonces in blocks 3..7, over the bound of 4.
    await commitBlocks(ledger, 7, (n) => [`b${n}`]);
    expect((await ask(["w1", "b3", "b7"])).seen).toEqual([false, true, true]);
    // Blocks 8 and 9 (empty): the window still starts below what memory holds.
    await commitBlocks(ledger, 9, () => []);
    const late = await ask(["b4", "b5", "b7"]);
    expect(late.seen).toEqual([false, true, true]);
    // Empty blocks until only b7 is in the window: 1 nonce fits in memory, and memory answers alone.
    await commitBlocks(ledger, 11, () => []);
    const fits = await ask(["b6", "b7"]);
    expect(fits.seen).toEqual([false, true]);
    expect(fits.reads).toBe(0);
  });
});
