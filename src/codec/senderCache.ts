import { LRUCache } from "lru-cache";
import type { Address, Hash } from "../types/index.js";
import { CodecError } from "./errors.js";

/** Default bound of a node's sender cache: a full default pool's txs (txpool.countMax, 100,000), ~150 B each. */
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
 * recovered once per node (~65 µs each), not once per path. Bounded: the least recently used entry goes first, so a
 * flood of distinct txs costs at most `entriesMax` entries. (lru-cache: a Map refreshed by delete-and-set walked
 * the holes its evictions left at the front of V8's table, ~2 s of a validator's minute once it was full.)
 */
export class SenderCache {
  private readonly map: LRUCache<string, Address>;
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
    this.map = new LRUCache<string, Address>({ max: entriesMax });
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
    return sender;
  }

  /** Records the sender recovered from the signature of the tx with this hash (a copy: a view would keep its tx). */
  set(hash: Hash, sender: Address): void {
    this.map.set(keyOf(hash), sender.slice());
  }

  stats(): SenderCacheStats {
    return { entries: this.map.size, hits: this.hits, misses: this.misses };
  }
}

function keyOf(hash: Hash): string {
  return Buffer.from(hash.buffer, hash.byteOffset, hash.byteLength).toString("hex");
}
