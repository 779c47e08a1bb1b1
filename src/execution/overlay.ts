import { assert } from "../util/errors.js";
import { ExecutionError } from "./errors.js";
import type { StateChange, StateReader } from "./interface.js";
import type { ParentStateCache } from "./stateCache.js";
import { compareBytes, keyBytes } from "./stateLayout.js";

/**
 * A block's view of the flat state: reads fall through to the parent state (the ledger) once per key, writes
 * stay in memory. Checkpoints are marks in an undo journal (one entry per write), so checkpoint/commit/revert
 * cost O(writes since the mark), never a copy of the state.
 * Keys are lower-case hex strings (see stateLayout.ts); values are immutable byte strings (null = absent).
 */
export class StateOverlay {
  /** Parent-state values read so far (null = absent in the parent). */
  private readonly base = new Map<string, Uint8Array | null>();
  /** This block's writes. */
  private readonly dirty = new Map<string, Uint8Array | null>();
  /** Undo log: [key, dirty value before the write (undefined = key was not dirty)]. */
  private journal: [string, Uint8Array | null | undefined][] = [];
  private readonly marks: number[] = [];

  /** `shared`: values of the parent state known from earlier blocks (stateCache.ts); filled with what is read. */
  constructor(
    private readonly reader: StateReader,
    private readonly shared: ParentStateCache | null = null,
  ) {}

  /** The value at `key`, or undefined when it is not in memory yet (then use `get`). */
  peek(key: string): Uint8Array | null | undefined {
    const d = this.dirty.get(key);
    if (d !== undefined) return d;
    return this.base.get(key);
  }

  async get(key: string): Promise<Uint8Array | null> {
    const cached = this.peek(key);
    if (cached !== undefined) return cached;
    return this.readBase(key);
  }

  private async readBase(key: string): Promise<Uint8Array | null> {
    const known = this.shared?.get(key);
    if (known !== undefined) {
      if (!this.base.has(key)) this.base.set(key, known);
      return this.base.get(key) ?? null;
    }
    let value: Uint8Array | undefined;
    try {
      value = await this.reader.getState(keyBytes(key));
    } catch (err) {
      throw new ExecutionError("EXEC_STATE_UNAVAILABLE", "state read failed", { key }, { cause: err });
    }
    return this.remember(key, value === undefined ? null : value);
  }

  private remember(key: string, v: Uint8Array | null): Uint8Array | null {
    // A concurrent read of the same key may have filled it meanwhile: the parent state is immutable, keep one.
    if (!this.base.has(key)) {
      this.base.set(key, v);
      this.shared?.set(key, v);
    }
    return this.base.get(key) ?? null;
  }

  /**
   * Loads keys from the parent state (an optimization: never changes results): those the shared cache knows, then
   * the rest with one batched read when the reader has one (LevelDB getMany), else with bounded concurrency.
   */
  async prefetch(keys: Iterable<string>, concurrency: number): Promise<void> {
    const todo: string[] = [];
    for (const k of new Set(keys)) {
      if (this.peek(k) !== undefined) continue;
      const known = this.shared?.get(k);
      if (known !== undefined) this.base.set(k, known);
      else todo.push(k);
    }
    if (todo.length === 0) return;
    if (this.reader.getManyState === undefined) return this.loadBase(todo, concurrency);
    let values: (Uint8Array | undefined)[];
    try {
      values = await this.reader.getManyState(todo.map(keyBytes));
    } catch (err) {
      throw new ExecutionError(
        "EXEC_STATE_UNAVAILABLE",
        "state read failed",
        { keys: todo.length },
        { cause: err },
      );
    }
    for (let i = 0; i < todo.length; i++) this.remember(todo[i]!, values[i] ?? null);
  }

  private async loadBase(todo: string[], concurrency: number): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < todo.length) {
        const k = todo[next++]!;
        await this.readBase(k);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, todo.length)) }, worker));
  }

  put(key: string, value: Uint8Array | null): void {
    if (this.marks.length > 0) this.journal.push([key, this.dirty.get(key)]);
    this.dirty.set(key, value);
  }

  /** Dirty keys starting with `prefix` (for clearing a contract's storage written in this block). */
  dirtyKeysWithPrefix(prefix: string): string[] {
    const out: string[] = [];
    for (const k of this.dirty.keys()) if (k.startsWith(prefix)) out.push(k);
    return out;
  }

  checkpoint(): void {
    this.marks.push(this.journal.length);
  }

  commit(): void {
    assert(this.marks.length > 0, "overlay commit without checkpoint");
    this.marks.pop();
    if (this.marks.length === 0) this.journal = [];
  }

  revert(): void {
    const mark = this.marks.pop();
    assert(mark !== undefined, "overlay revert without checkpoint");
    for (let i = this.journal.length - 1; i >= mark; i--) {
      const [key, prev] = this.journal[i]!;
      if (prev === undefined) this.dirty.delete(key);
      else this.dirty.set(key, prev);
    }
    this.journal.length = mark;
  }

  get depth(): number {
    return this.marks.length;
  }

  /**
   * The block's changes: dirty keys whose value differs from the parent state, sorted bytewise.
   * Compares against the parent for every dirty key (reading the few never read), so the result depends only
   * on the final values, not on which reads happened (prefetching cannot change a state root).
   */
  async changes(): Promise<StateChange[]> {
    assert(this.marks.length === 0, "overlay changes() inside a checkpoint");
    await this.loadBase(
      [...this.dirty.keys()].filter((k) => !this.base.has(k)),
      32,
    );
    const out: StateChange[] = [];
    for (const [key, value] of this.dirty) {
      const parent = this.base.get(key) ?? null;
      if (value === null ? parent === null : parent !== null && bytesEqual(value, parent)) continue;
      out.push([keyBytes(key), value]);
    }
    out.sort((a, b) => compareBytes(a[0], b[0]));
    return out;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  return Buffer.compare(a, b) === 0;
}
