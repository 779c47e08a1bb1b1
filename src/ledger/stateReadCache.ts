import type { StateChange } from "./interface.js";
import { LruCache } from "./lru.js";

/** Bytes counted per cached entry besides its key and value (Map entry, string, Uint8Array object). */
const ENTRY_OVERHEAD_BYTES = 96;

/** A read's ticket: the values it brings back are cached only if no commit landed while it ran. */
export type ReadTicket = number;

/**
 * Values of the committed state at the head (null = absent), for the reads that ask the head one key at a time:
 * pool admission (account status, nonce), the permission check, a pipelined block's reads that fall through its
 * uncommitted parents, the system config and node list. Bounded in bytes, least recently used out.
 *
 * Never stale: the ledger is the only writer of the committed state, and each commit updates the cached keys it
 * changes in the same tick the new head becomes visible (`applyCommit`). Keys it does not hold are not added (a block
 * writes many keys nobody reads again). A read from LevelDB that was in flight while a commit landed may have read
 * the state before it: `fill` drops its values (the ticket tells). Nothing executed but not committed reaches it,
 * and it lives in memory only (a restart starts empty).
 */
export class StateReadCache {
  private readonly values: LruCache<string, Uint8Array | null>;
  private readonly enabled: boolean;
  /** Commits landed so far: a ReadTicket is this count when the read started. */
  private commits = 0;

  constructor(bytesMax: number) {
    this.enabled = bytesMax > 0;
    this.values = new LruCache(bytesMax, (v) => ENTRY_OVERHEAD_BYTES + (v?.length ?? 0));
  }

  get size(): number {
    return this.values.size;
  }

  /** The cached value of `key` (null = absent), or undefined when not cached. */
  get(key: Uint8Array): Uint8Array | null | undefined {
    if (!this.enabled) return undefined;
    return this.values.get(keyString(key));
  }

  /** Taken before reading LevelDB; pass it to `fill`. */
  ticket(): ReadTicket {
    return this.commits;
  }

  /** Caches what a read that took `ticket` found, unless a commit landed since (the value may predate it). */
  fill(ticket: ReadTicket, key: Uint8Array, value: Uint8Array | undefined): void {
    if (!this.enabled || ticket !== this.commits) return;
    this.values.set(keyString(key), value ?? null);
  }

  /** Right after a commit's batch landed: the block's changes replace the cached values of the keys it changed. */
  applyCommit(changes: readonly StateChange[]): void {
    this.commits++;
    if (!this.enabled || this.values.size === 0) return;
    for (const [key, value] of changes) {
      const k = keyString(key);
      if (this.values.has(k)) this.values.set(k, value);
    }
  }

  clear(): void {
    this.values.clear();
  }
}

/** One byte per character: a cheap, exact Map key for a byte string. */
function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("latin1");
}
