import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Level } from "level";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hashHeader } from "../../src/codec/index.js";
import { Bucket } from "../../src/ledger/buckets.js";
import { LedgerError, LevelLedger, type StateChange } from "../../src/ledger/index.js";
import type { Hash } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import { buildCommit, CHAIN_ID, GROUP_ID } from "./helpers.js";

const logger = silentLogger();
const encoder = new TextEncoder();
let dir: string;
const open: LevelLedger[] = [];

async function openLedger(stateHistoryBlocks?: number): Promise<LevelLedger> {
  const ledger = await LevelLedger.open(
    {
      dataDir: dir,
      chainId: CHAIN_ID,
      groupId: GROUP_ID,
      ...(stateHistoryBlocks === undefined ? {} : { stateHistoryBlocks }),
    },
    { logger },
  );
  open.push(ledger);
  return ledger;
}

async function closeAll(): Promise<void> {
  await Promise.all(open.splice(0).map((l) => l.close()));
}

async function expectLedgerError(p: Promise<unknown>, code: string): Promise<LedgerError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LedgerError);
  expect((err as LedgerError).code).toBe(code);
  return err as LedgerError;
}

/**
 * Keys chosen so that one is a prefix of another followed by what looks like a height (0x01 vs 0x01 ‖ u64(5)):
 * the undo index must not mix their entries.
 */
const KEYS: Uint8Array[] = [
  Uint8Array.of(0x01),
  Uint8Array.of(0x01, 0, 0, 0, 0, 0, 0, 0, 5),
  Uint8Array.of(0x01, 0x02),
  encoder.encode("account/alice"),
  encoder.encode("account/bob"),
];

type Snapshot = Map<string, Uint8Array>;

/** Commits blocks through the ledger while keeping every height's full state in memory. */
class ModelChain {
  readonly states: Snapshot[] = [];
  private parent: Hash | null = null;

  constructor(private readonly ledger: LevelLedger) {}

  /** Resumes on a reopened ledger. */
  attach(ledger: LevelLedger): ModelChain {
    const chain = new ModelChain(ledger);
    chain.states.push(...this.states);
    chain.parent = this.parent;
    return chain;
  }

  async commit(changes: StateChange[]): Promise<void> {
    const n = this.states.length;
    const next: Snapshot = new Map(this.states[n - 1] ?? []);
    for (const [key, value] of changes) {
      if (value === null) next.delete(bytesToHex(key));
      else next.set(bytesToHex(key), value);
    }
    const input = buildCommit(n, this.parent, [], { stateChanges: changes });
    await this.ledger.commitBlock(input);
    this.parent = hashHeader(input.block.header);
    this.states.push(next);
  }

  /** Every key at every height from `from` to the head, one by one and batched. */
  async verify(ledger: LevelLedger, from: number): Promise<void> {
    const head = this.states.length - 1;
    for (let b = from; b <= head; b++) {
      const expected = KEYS.map((k) => this.states[b]!.get(bytesToHex(k)));
      for (let i = 0; i < KEYS.length; i++) {
        expect(await ledger.getStateAt(KEYS[i]!, b), `key ${bytesToHex(KEYS[i]!)} at ${b}`).toEqual(
          expected[i],
        );
      }
      expect(await ledger.getManyStateAt(KEYS, b), `all keys at ${b}`).toEqual(expected);
      const reader = ledger.stateReaderAt(b);
      expect(await reader.getState(KEYS[3]!)).toEqual(expected[3]);
      expect(await reader.getManyState(KEYS)).toEqual(expected);
    }
  }
}

/** Deterministic pseudo-random changes: puts, deletes, same-value rewrites, two writes of one key in a block. */
function randomChanges(n: number, current: Snapshot): StateChange[] {
  let seed = (n * 2_654_435_761) >>> 0;
  const next = () => {
    seed = (seed * 1_103_515_245 + 12_345) >>> 0;
    return seed >>> 16;
  };
  const changes: StateChange[] = [];
  for (const key of KEYS) {
    const op = next() % 5;
    if (op === 1) changes.push([key, encoder.encode(`${bytesToHex(key)}@${n}`)]);
    else if (op === 2) changes.push([key, null]);
    else if (op === 3) {
      const same = current.get(bytesToHex(key));
      changes.push([key, same ?? null]);
    } else if (op === 4) {
      changes.push([key, encoder.encode(`first@${n}`)]);
      changes.push([key, next() % 2 === 0 ? null : encoder.encode(`second@${n}`)]);
    }
  }
  return changes;
}

async function rawCount(bucket: number): Promise<number> {
  const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
  await db.open();
  try {
    const keys = await db.keys({ gte: Uint8Array.of(bucket), lt: Uint8Array.of(bucket + 1) }).all();
    return keys.length;
  } finally {
    await db.close();
  }
}

describe("LevelLedger state history", () => {
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "consort-state-history-"));
  });

  afterEach(async () => {
    await closeAll();
    await rm(dir, { recursive: true, force: true });
  });

  it("returns every key's value at every height of the window, and refuses older or future blocks", async () => {
    const window = 6;
    const ledger = await openLedger(window);
    expect(ledger.oldestStateBlock()).toBe(-1);
    const chain = new ModelChain(ledger);
    await chain.commit(KEYS.map((k, i) => [k, encoder.encode(`genesis${i}`)]));
    expect(ledger.oldestStateBlock()).toBe(0);
    for (let n = 1; n <= 20; n++) {
      await chain.commit(randomChanges(n, chain.states[n - 1]!));
      const oldest = Math.max(0, n - window);
      expect(ledger.oldestStateBlock()).toBe(oldest);
      if (n % 5 === 0) await chain.verify(ledger, oldest);
    }
    const err = await expectLedgerError(ledger.getStateAt(KEYS[0]!, 20 - window - 1), "LEDGER_STATE_PRUNED");
    expect(err.message).toContain(`the head and the ${window} blocks before it`);
    expect(err.message).toContain(`blocks ${20 - window}..20`);
    expect(() => ledger.stateReaderAt(3)).toThrow(LedgerError);
    await expectLedgerError(ledger.getStateAt(KEYS[0]!, 21), "LEDGER_STATE_UNKNOWN_BLOCK");
    await expectLedgerError(ledger.getManyStateAt(KEYS, -1), "LEDGER_STATE_UNKNOWN_BLOCK");
    await expectLedgerError(ledger.getStateAt(KEYS[0]!, 1.5), "LEDGER_STATE_UNKNOWN_BLOCK");
    // The head's history read equals the plain state read.
    expect(await ledger.getManyStateAt(KEYS, 20)).toEqual(await ledger.getManyState(KEYS));
  });

  it("follows a key created, changed, deleted, rewritten with its value and recreated", async () => {
    const ledger = await openLedger();
    const chain = new ModelChain(ledger);
    const key = KEYS[3]!;
    const other = KEYS[4]!;
    const v = (s: string) => encoder.encode(s);
    await chain.commit([[other, v("o0")]]); // 0: key absent
    await chain.commit([]); // 1
    await chain.commit([[key, v("created")]]); // 2
    await chain.commit([[other, v("o3")]]); // 3
    await chain.commit([[key, v("changed")]]); // 4
    await chain.commit([[key, v("changed")]]); // 5: same value, no undo entry
    await chain.commit([[key, null]]); // 6
    await chain.commit([[key, null]]); // 7: deleting an absent key
    await chain.commit([
      [key, v("recreated")],
      [other, null],
    ]); // 8
    await chain.commit([]); // 9
    const expected = [
      undefined,
      undefined,
      "created",
      "created",
      "changed",
      "changed",
      undefined,
      undefined,
      "recreated",
      "recreated",
    ];
    for (let b = 0; b <= 9; b++) {
      const got = await ledger.getStateAt(key, b);
      expect(got === undefined ? undefined : new TextDecoder().decode(got), `at ${b}`).toBe(expected[b]);
    }
    await chain.verify(ledger, 0);
    expect(ledger.oldestStateBlock()).toBe(0);
    expect(ledger.stateHistoryBlocks()).toBe(1024);
  });

  it("prunes undo entries beyond the window in later commits and keeps the history across a reopen", async () => {
    const window = 4;
    let ledger = await openLedger(window);
    let chain = new ModelChain(ledger);
    await chain.commit(KEYS.map((k, i) => [k, encoder.encode(`genesis${i}`)]));
    for (let n = 1; n <= 12; n++) await chain.commit(KEYS.map((k) => [k, encoder.encode(`${n}`)]));
    await expectLedgerError(ledger.getStateAt(KEYS[0]!, 7), "LEDGER_STATE_PRUNED");
    await chain.verify(ledger, 8);
    await closeAll();
    // Exactly the blocks 9..12 (those above head - window) keep undo entries and a key list.
    expect(await rawCount(Bucket.stateUndoByBlock)).toBe(window);
    expect(await rawCount(Bucket.stateUndo)).toBe(window * KEYS.length);

    ledger = await openLedger(window);
    chain = chain.attach(ledger);
    expect(ledger.oldestStateBlock()).toBe(8);
    await chain.verify(ledger, 8);
    await chain.commit(randomChanges(13, chain.states[12]!));
    await chain.verify(ledger, 9);
    await expectLedgerError(ledger.getStateAt(KEYS[1]!, 8), "LEDGER_STATE_PRUNED");
  });

  it("restarts the history after it was off and prunes a shrunk window over several commits", async () => {
    let ledger = await openLedger(0);
    let chain = new ModelChain(ledger);
    await chain.commit(KEYS.map((k, i) => [k, encoder.encode(`genesis${i}`)]));
    for (let n = 1; n <= 3; n++) await chain.commit(randomChanges(n, chain.states[n - 1]!));
    expect(ledger.oldestStateBlock()).toBe(3);
    await expectLedgerError(ledger.getStateAt(KEYS[0]!, 2), "LEDGER_STATE_PRUNED");
    await chain.verify(ledger, 3);
    await closeAll();
    expect(await rawCount(Bucket.stateUndo)).toBe(0);

    // On again: history starts at the head of the reopen, grows up to the window.
    ledger = await openLedger(100);
    chain = chain.attach(ledger);
    expect(ledger.oldestStateBlock()).toBe(3);
    for (let n = 4; n <= 40; n++) await chain.commit(KEYS.map((k) => [k, encoder.encode(`${n}`)]));
    expect(ledger.oldestStateBlock()).toBe(3);
    await chain.verify(ledger, 3);
    await closeAll();
    expect(await rawCount(Bucket.stateUndoByBlock)).toBe(37);

    // Shrunk to 2: at most 16 old blocks pruned per commit, reads below the new window refused at once.
    ledger = await openLedger(2);
    chain = chain.attach(ledger);
    expect(ledger.oldestStateBlock()).toBe(38);
    await expectLedgerError(ledger.getStateAt(KEYS[0]!, 37), "LEDGER_STATE_PRUNED");
    await chain.commit(KEYS.map((k) => [k, encoder.encode("41")])); // prunes 4..19
    await chain.verify(ledger, 39);
    await closeAll();
    expect(await rawCount(Bucket.stateUndoByBlock)).toBe(37 + 1 - 16);

    ledger = await openLedger(2);
    chain = chain.attach(ledger);
    await chain.commit([]); // prunes 20..35
    await chain.commit([[KEYS[0]!, null]]); // prunes 36..41
    await chain.verify(ledger, 41);
    await closeAll();
    expect(await rawCount(Bucket.stateUndoByBlock)).toBe(1); // block 43 (42 changed nothing)

    // Off for a block, then on: the gap is not readable.
    ledger = await openLedger(0);
    chain = chain.attach(ledger);
    await chain.commit([[KEYS[0]!, encoder.encode("44")]]);
    await closeAll();
    ledger = await openLedger(10);
    chain = chain.attach(ledger);
    await chain.commit([[KEYS[0]!, encoder.encode("45")]]);
    expect(ledger.oldestStateBlock()).toBe(44);
    await chain.verify(ledger, 44);
    await expectLedgerError(ledger.getStateAt(KEYS[0]!, 43), "LEDGER_STATE_PRUNED");
  });

  it("refuses a negative or fractional window", async () => {
    await expectLedgerError(openLedger(-1), "LEDGER_OPEN_FAILED");
    await expectLedgerError(openLedger(1.5), "LEDGER_OPEN_FAILED");
  });
});
