import type { RpcRateLimitOptions } from "./options.js";

interface Bucket {
  tokens: number;
  updatedMs: number;
}

/**
 * Token bucket per client key (IP). The map is bounded: it keeps insertion order = recency (a touched client is
 * re-inserted), and forgets the least recently seen client beyond `clientsMax`.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly opts: RpcRateLimitOptions,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** Take `cost` tokens for `client`; false when the client is over its limit (nothing taken then). */
  take(client: string, cost = 1): boolean {
    const now = this.nowMs();
    let b = this.buckets.get(client);
    if (b) {
      this.buckets.delete(client);
      b.tokens = Math.min(
        this.opts.burst,
        b.tokens + ((now - b.updatedMs) / 1000) * this.opts.requestsPerSecond,
      );
      b.updatedMs = now;
    } else {
      b = { tokens: this.opts.burst, updatedMs: now };
      if (this.buckets.size >= this.opts.clientsMax) {
        const oldest = this.buckets.keys().next();
        if (!oldest.done) this.buckets.delete(oldest.value);
      }
    }
    this.buckets.set(client, b);
    if (b.tokens < cost) return false;
    b.tokens -= cost;
    return true;
  }

  get clientCount(): number {
    return this.buckets.size;
  }
}
