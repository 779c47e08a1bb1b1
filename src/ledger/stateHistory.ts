import { bytesEqual, bytesToHex } from "../util/hex.js";
import { Bucket, bytesKey, numberKey, STATE_KEY_LENGTH_MAX, stateUndoKey } from "./buckets.js";
import { LedgerError } from "./errors.js";
import type { StateChange } from "./interface.js";
import { STATE_HISTORY_PRUNE_BLOCKS_MAX } from "./options.js";
import { decodeFramedList, decodeNumber, encodeFramedList, type HeadRecord } from "./records.js";
import { type BatchOp, type LedgerStore, view } from "./store.js";

/**
 * The state-history undo log of the ledger: per block, the previous value of every state key it changed (written in
 * the commit batch, pruned out of the stateHistoryBlocks window) and the reads of the state at a past block.
 */
export class StateHistory {
  private readonly store: LedgerStore;
  private readonly window: number;
  private readonly head: () => HeadRecord | null;
  /**
   * S of meta/stateHistoryFrom: undo entries exist for every block from S to the head. Raised before the commit batch
   * that prunes below it is written, so a history read that ends with S - 1 <= its block saw no pruned entry.
   */
  private historyFrom: number;
  /** Every stateUndoByBlock list below this block is deleted (in memory; 0 after open: scan once). */
  private undoListsFrom = 0;
  /** undoListsFrom once the batch being built lands (commits are serialized). */
  private undoListsFromAfterCommit = 0;

  constructor(
    store: LedgerStore,
    stateHistoryBlocks: number,
    historyFrom: number,
    head: () => HeadRecord | null,
  ) {
    this.store = store;
    this.window = stateHistoryBlocks;
    this.historyFrom = historyFrom;
    this.head = head;
  }

  /**
   * Adds to `ops` the undo entries of block `number` (the previous value of every key whose value it changes) and the
   * pruning of blocks out of the window; returns the new stateHistoryFrom. `known`: a key's value at the head when
   * known in memory (null = absent; undefined = read it from the store).
   */
  async pushUndoOps(
    number: number,
    changes: StateChange[],
    ops: BatchOp[],
    known: (key: Uint8Array) => Uint8Array | null | undefined = () => undefined,
  ): Promise<number> {
    const window = this.window;
    const prunedThrough = await this.pruneUndo(window > 0 ? number - window : number, ops);
    // Genesis needs no undo (nothing before it is readable); window 0 writes none: history restarts later.
    if (window === 0 || number === 0) return number + 1;
    const finals = new Map<string, { key: Uint8Array; value: Uint8Array | null }>();
    for (const [key, value] of changes) {
      if (key.length > STATE_KEY_LENGTH_MAX) {
        throw new LedgerError(
          "LEDGER_INVALID_COMMIT",
          `cannot commit block ${number}: state key of ${key.length} bytes exceeds ${STATE_KEY_LENGTH_MAX}`,
          { number, reason: "state key too long" },
        );
      }
      finals.set(bytesToHex(key), { key, value });
    }
    const entries = [...finals.values()];
    const before = await this.valuesBefore(entries, known);
    const changed: Uint8Array[] = [];
    entries.forEach(({ key, value }, i) => {
      const prev = before[i];
      const unchanged = prev === undefined ? value === null : value !== null && bytesEqual(prev, value);
      if (unchanged) return;
      changed.push(key);
      ops.push({ type: "put", key: stateUndoKey(key, number), value: encodeUndoValue(prev) });
    });
    if (changed.length > 0) {
      ops.push({
        type: "put",
        key: numberKey(Bucket.stateUndoByBlock, number),
        value: encodeFramedList(changed),
      });
    }
    return Math.max(this.historyFrom, prunedThrough + 1);
  }

  /** The head's values of `entries`' keys: those `known` in memory, the others in one batched read. */
  private async valuesBefore(
    entries: { key: Uint8Array }[],
    known: (key: Uint8Array) => Uint8Array | null | undefined,
  ): Promise<(Uint8Array | undefined)[]> {
    const before: (Uint8Array | undefined)[] = new Array(entries.length);
    const unknown: number[] = [];
    entries.forEach(({ key }, i) => {
      const value = known(key);
      if (value === undefined) unknown.push(i);
      else before[i] = value ?? undefined;
    });
    if (unknown.length === 0) return before;
    const read = await this.store.getMany(unknown.map((i) => bytesKey(Bucket.state, entries[i]!.key)));
    unknown.forEach((i, j) => {
      before[i] = read[j];
    });
    return before;
  }

  /** Before the batch: readers of a block whose undo entries this batch prunes must see that they may be gone. */
  raiseHistoryFrom(historyFrom: number): void {
    this.historyFrom = Math.max(this.historyFrom, historyFrom);
  }

  /** After the batch landed: the pruned lists are gone. */
  commitLanded(): void {
    this.undoListsFrom = Math.max(this.undoListsFrom, this.undoListsFromAfterCommit);
  }

  /**
   * Adds to `ops` the deletion of the undo entries of blocks <= `upTo`, at most STATE_HISTORY_PRUNE_BLOCKS_MAX blocks
   * (normally one: n - window). Returns the highest block up to which nothing is left (-1: nothing to prune).
   */
  private async pruneUndo(upTo: number, ops: BatchOp[]): Promise<number> {
    if (upTo < 0) return -1;
    // Starting at the known floor skips both the scan when nothing is due and the tombstones of pruned lists.
    if (upTo < this.undoListsFrom) return upTo;
    const lists = await this.store.range({
      gte: numberKey(Bucket.stateUndoByBlock, this.undoListsFrom),
      lte: numberKey(Bucket.stateUndoByBlock, upTo),
      limit: STATE_HISTORY_PRUNE_BLOCKS_MAX,
    });
    let last = -1;
    for (const [rawKey, rawValue] of lists) {
      const listKey = view(rawKey);
      last = this.store.decodeRecord(listKey, listKey.subarray(1), decodeNumber);
      const keys = this.store.decodeRecord(listKey, view(rawValue), decodeFramedList);
      for (const key of keys) ops.push({ type: "del", key: stateUndoKey(key, last) });
      ops.push({ type: "del", key: listKey });
    }
    const through = lists.length < STATE_HISTORY_PRUNE_BLOCKS_MAX ? upTo : last;
    this.undoListsFromAfterCommit = through + 1;
    return through;
  }

  // ---------------------------------------------------------------- reads

  async getManyAt(keys: Uint8Array[], blockNumber: number): Promise<(Uint8Array | undefined)[]> {
    this.checkBlock(blockNumber);
    if (keys.length === 0) return [];
    // Current values FIRST, undo entries second: a block committed between the two reads left an undo entry
    // holding the value read here, so the pair is consistent whatever commits in between.
    const current = await this.store.getMany(keys.map((k) => bytesKey(Bucket.state, k)));
    const undo = await Promise.all(keys.map((k) => this.undoAbove(k, blockNumber)));
    // A commit may have pruned entries of block blockNumber + 1 meanwhile (historyFrom rose before its batch).
    this.checkBlock(blockNumber);
    return keys.map((_, i) => {
      const u = undo[i];
      return u === null || u === undefined ? current[i] : u.value;
    });
  }

  oldestBlock(): number {
    const head = this.head();
    if (head === null) return -1;
    const oldest = Math.max(this.historyFrom - 1, head.number - this.window, 0);
    return Math.min(head.number, oldest);
  }

  /** The first undo entry of `key` above `blockNumber`: the key's value at `blockNumber`; null if none. */
  private async undoAbove(
    key: Uint8Array,
    blockNumber: number,
  ): Promise<{ value: Uint8Array | undefined } | null> {
    if (key.length > STATE_KEY_LENGTH_MAX) return null;
    const found = await this.store.range({
      gte: stateUndoKey(key, blockNumber + 1),
      lte: stateUndoKey(key, Number.MAX_SAFE_INTEGER),
      limit: 1,
    });
    const entry = found[0];
    if (entry === undefined) return null;
    const entryKey = view(entry[0]);
    return { value: this.store.decodeRecord(entryKey, view(entry[1]), decodeUndoValue) };
  }

  checkBlock(blockNumber: number): void {
    const head = this.head();
    if (head === null || !Number.isSafeInteger(blockNumber) || blockNumber < 0 || blockNumber > head.number) {
      throw new LedgerError(
        "LEDGER_STATE_UNKNOWN_BLOCK",
        `no state for block ${blockNumber}: the ledger head is ${head === null ? "empty (no genesis)" : head.number}`,
        { number: blockNumber, head: head?.number ?? null },
      );
    }
    const oldest = this.oldestBlock();
    if (blockNumber < oldest) {
      const window = this.window;
      throw new LedgerError(
        "LEDGER_STATE_PRUNED",
        `the state of block ${blockNumber} is no longer kept: the ledger keeps the state of the head and the ` +
          `${window} blocks before it (stateHistoryBlocks = ${window}); available now: blocks ${oldest}..${head.number}`,
        { number: blockNumber, oldest, head: head.number, stateHistoryBlocks: window },
      );
    }
  }
}

/** Undo value: 0x00 = the key was absent, 0x01 ‖ value. */
function encodeUndoValue(prev: Uint8Array | undefined): Uint8Array {
  if (prev === undefined) return Uint8Array.of(0);
  const out = new Uint8Array(1 + prev.length);
  out[0] = 1;
  out.set(prev, 1);
  return out;
}

function decodeUndoValue(b: Uint8Array): Uint8Array | undefined {
  if (b.length === 1 && b[0] === 0) return undefined;
  if (b.length >= 1 && b[0] === 1) return b.slice(1);
  throw new Error(`undo value of ${b.length} bytes with tag ${b[0] ?? "none"}`);
}
