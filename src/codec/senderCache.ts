import type { Address, Hash } from "../types/index.js";
import { CodecError } from "./errors.js";

/** Default bound of a node's sender cache: a full pool (50,000) plus the txs of the blocks in flight, ~150 B each. */
export const SENDER_CACHE_ENTRIES_DEFAULT = 100_000;

export interface SenderCacheStats {
  entries: number;
  hits: number;
  misses: number;
}

/**
 * Senders already recovered on this node, by transaction hash (keccak256 of the raw bytes, which covers the
 * signature: a tx re-signed over the same payload has another hash, so it can never be given another tx's sender).
 * Shared by every path a tx arrives by (RPC and gossip admission, proposal fetch, full-block decode) so a signature is
 * recovered once per node (~65 µs each), not once per path. Bounded: the oldest entry goes first (insertion order;
 * a hit refreshes it), so a flood of distinct txs costs at most `entriesMax` entries.
 */
export class SenderCache {
  private readonly map = new Map<string, Address>();
  private hits = 0;
  private misses = 0;

  constructor(readonly entriesMax = SENDER_CACHE_ENTRIES_DEFAULT) {
    if (!Number.isSafeInteger(entriesMax) || entriesMax < 1) {
      throw new CodecError(
        "CODEC_INVALID_FIELD",
        `sender cache bound must be a positive integer, got ${entriesMax}`,
        {
          field: "entriesMax",
        },
      );
    }
  }

  /** The sender recovered earlier for this tx hash, if still cached. */
  get(hash: Hash): Address | undefined {
    const key = keyOf(hash);
    const sender = this.map.get(key);
    if (sender === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(key); // refresh: most recently used goes last
    this.map.set(key, sender);
    return sender;
  }

  /** Records the sender recovered from the signature of the tx with this hash (a copy: a view would keep its tx). */
  set(hash: Hash, sender: Address): void {
    const key = keyOf(hash);
    this.map.delete(key);
    this.map.set(key, sender.slice());
    while (this.map.size > this.entriesMax) {
      const oldest = this.map.keys().next().value as string;
      this.map.delete(oldest);
    }
  }

  stats(): SenderCacheStats {
    return { entries: this.map.size, hits: this.hits, misses: this.misses };
  }
}

function keyOf(hash: Hash): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString("hex");
}
