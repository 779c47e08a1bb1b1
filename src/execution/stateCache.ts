import { LRUCache } from "lru-cache";
import type { Hash } from "../types/index.js";
import type { StateChange } from "./interface.js";

/** What a block's StateOverlay asks of a shared cache of the parent state (one view per execution). */
export interface ParentStateCache {
  /** The parent state's value of `key` (null = absent), or undefined when not known. */
  get(key: string): Uint8Array | null | undefined;
  /** Records the parent state's value of `key`, read from the state. */
  set(key: string, value: Uint8Array | null): void;
}

/** Bounds of a StateCache. */
export interface StateCacheLimits {
  /** Values kept (keys of any kind: accounts, code, storage). 0 disables the cache. */
  entries: number;
  /** Bytes of values kept (code can be large). */
  bytes: number;
  /** Executed blocks remembered (their changes), to follow the chain from one parent to the next. */
  blocks: number;
}

interface ExecutedStep {
  parent: string;
  changes: readonly StateChange[];
}

const rootKey = (root: Hash): string =>
  Buffer.from(root.buffer, root.byteOffset, root.byteLength).toString("hex");

/**
 * Values of the state at ONE state root, kept across blocks so that a block does not read from LevelDB, one awaited
 * get at a time, the slots and accounts the previous blocks already read (an ERC20 token's code and its holders'
 * balances). Never stale by construction: a state root commits to the whole state (it chains the parent root and
 * the block's changes), so the cache answers only for executions on the state root it holds. It moves to a child
 * root by applying the changes of the block that produced it (recorded when that block was executed, whichever
 * executed it: build, verify or sync); any other root (a view change's different block, a fork, a restart) empties
 * it. Concurrent executions on other roots bypass it. Bounded in entries and bytes (least recently used out).
 *
 * What it relies on: the reader given to an execution presents the state at its `parentStateRoot`. If that state
 * moves underneath (a commit lands while the block runs, a race Chain already refuses the result of), the values read
 * afterwards are filed under a root that the commit has just made an ancestor of the head, which no later block
 * executes on; moving forward to the committed block's root applies its changes over them (after one commit they
 * are then right again; Chain's pipelining keeps the reader's lineage, ParentView in src/chain).
 */
export class StateCache {
  private root: string | null = null;
  /**
   * Key (hex, stateLayout.ts) → value at `root` (boxed: null = absent), least recently used out. lru-cache: a Map
   * refreshed by delete-and-set on every hit made hot keys (a token's code and slots, busy senders) walk chains of
   * their own dead copies until V8 rehashed the table.
   */
  private readonly values: LRUCache<string, { value: Uint8Array | null }> | null;
  /** Result root → the block that produced it (its parent root and changes), oldest first. */
  private readonly executed = new Map<string, ExecutedStep>();

  constructor(private readonly limits: StateCacheLimits) {
    this.values =
      limits.entries <= 0
        ? null
        : new LRUCache({
            max: limits.entries,
            maxSize: Math.max(1, limits.bytes),
            // A value counts its bytes (at least 1: lru-cache sizes are positive; an absent key is 1).
            sizeCalculation: (entry) => Math.max(1, entry.value?.length ?? 0),
          });
  }

  get size(): number {
    return this.values?.size ?? 0;
  }

  get sizeBytes(): number {
    return this.values?.calculatedSize ?? 0;
  }

  /**
   * The cache for an execution on the state at `parentRoot`; null when disabled. Moves the cache to that root first
   * (through recorded blocks, or by emptying it).
   */
  viewAt(parentRoot: Hash): ParentStateCache | null {
    if (this.values === null) return null;
    const root = rootKey(parentRoot);
    this.moveTo(root);
    return {
      get: (key) => (this.root === root ? this.lookup(key) : undefined),
      set: (key, value) => {
        if (this.root === root) this.store(key, value);
      },
    };
  }

  /** Records a block executed on `parentRoot` that produced `stateRoot` with `changes`. */
  recordExecuted(parentRoot: Hash, stateRoot: Hash, changes: readonly StateChange[]): void {
    if (this.limits.entries <= 0) return;
    const key = rootKey(stateRoot);
    this.executed.delete(key);
    this.executed.set(key, { parent: rootKey(parentRoot), changes });
    while (this.executed.size > this.limits.blocks) {
      const oldest = this.executed.keys().next().value as string;
      this.executed.delete(oldest);
    }
  }

  private moveTo(root: string): void {
    if (this.root === root) return;
    // The recorded blocks from the cached root to `root` (pipelining may run a few heights ahead).
    const path: ExecutedStep[] = [];
    let at = root;
    while (at !== this.root && path.length <= this.limits.blocks) {
      const step = this.executed.get(at);
      if (step === undefined) break;
      path.push(step);
      at = step.parent;
    }
    if (this.root === null || at !== this.root) {
      this.values?.clear();
    } else {
      for (let i = path.length - 1; i >= 0; i--) {
        for (const [k, v] of path[i]!.changes) this.store(Buffer.from(k).toString("hex"), v);
      }
    }
    this.root = root;
  }

  private lookup(key: string): Uint8Array | null | undefined {
    return this.values?.get(key)?.value;
  }

  /** A value larger than the byte bound is not kept (lru-cache refuses it and drops the key's older value). */
  private store(key: string, value: Uint8Array | null): void {
    this.values?.set(key, { value });
  }
}
