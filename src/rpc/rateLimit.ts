import { LRUCache } from "lru-cache";
import type { RpcRateLimitOptions } from "./options.js";

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Token bucket per client key (IP). Bounded: beyond `clientsMax` the least recently seen client is forgotten
 * (lru-cache; a Map refreshed by delete-and-set on every request made a busy client's key walk a chain of its own
 * dead copies until V8 rehashed the table).
 */
export class RateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(
    private readonly opts: RpcRateLimitOptions,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.buckets = new LRUCache({ max: opts.clientsMax });
  }

  /** Take `cost` tokens for `client`; false when the client is over its limit (nothing taken then). */
  take(client: string, cost = 1): boolean {
    const now = this.nowMs();
    let b = this.buckets.get(client); // refreshes its recency
    if (b) {
      b.tokens = Math.min(
        this.opts.burst,
        b.tokens + ((now - b.updatedMs) / 1000) * this.opts.requestsPerSecond,
      );
      b.updatedMs = now;
    } else {
      b = { tokens: this.opts.burst, updatedMs: now };
      this.buckets.set(client, b); // forgets the least recently seen client beyond clientsMax
    }
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
  }

  get clientCount(): number {
    return this.buckets.size;
  }
}
