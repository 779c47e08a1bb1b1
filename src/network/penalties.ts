/**
 * Misbehaviour points per peer with exponential decay, and bans. Pure bookkeeping (clock injected): the
 * transport disconnects and refuses a peer while `isBanned` says so. Keyed by any string (peer ID).
 */
export interface PenaltyOptions {
  threshold: number;
  halfLifeMs: number;
  banDurationMs: number;
  /** Bound on tracked peers; the entry with the fewest points is evicted first. */
  entriesMax: number;
}

interface Entry {
  points: number;
  updatedAtMs: number;
}

export interface PenaltyResult {
  /** Points after decay and this penalty. */
  points: number;
  /** True when this penalty crossed the threshold (the peer is banned from now). */
  banned: boolean;
}

export class PeerPenalties {
  private readonly entries = new Map<string, Entry>();
  private readonly bans = new Map<string, number>();

  constructor(
    private readonly opts: PenaltyOptions,
    private readonly nowMs: () => number = Date.now,
  ) {}

  add(key: string, points: number): PenaltyResult {
    const now = this.nowMs();
    if (this.isBanned(key)) return { points: this.points(key), banned: false };
    const total = this.points(key) + Math.max(0, points);
    if (total >= this.opts.threshold) {
      this.entries.delete(key);
      this.bans.set(key, now + this.opts.banDurationMs);
      this.evictBans(now);
      return { points: total, banned: true };
    }
    this.entries.set(key, { points: total, updatedAtMs: now });
    this.evictEntries();
    return { points: total, banned: false };
  }

  /** Current points after decay. */
  points(key: string): number {
    const e = this.entries.get(key);
    if (e === undefined) return 0;
    const elapsed = Math.max(0, this.nowMs() - e.updatedAtMs);
    return e.points * 0.5 ** (elapsed / this.opts.halfLifeMs);
  }

  isBanned(key: string): boolean {
    const until = this.bans.get(key);
    if (until === undefined) return false;
    if (this.nowMs() < until) return true;
    this.bans.delete(key);
    return false;
  }

  /** Milliseconds left on a ban (0 if none). */
  banRemainingMs(key: string): number {
    return this.isBanned(key) ? this.bans.get(key)! - this.nowMs() : 0;
  }

  forget(key: string): void {
    this.entries.delete(key);
    this.bans.delete(key);
  }

  bannedCount(): number {
    this.evictBans(this.nowMs());
    return this.bans.size;
  }

  private evictEntries(): void {
    if (this.entries.size <= this.opts.entriesMax) return;
    let minKey: string | undefined;
    let minPoints = Number.POSITIVE_INFINITY;
    for (const key of this.entries.keys()) {
      const p = this.points(key);
      if (p < minPoints) {
        minPoints = p;
        minKey = key;
      }
    }
    if (minKey !== undefined) this.entries.delete(minKey);
  }

  private evictBans(now: number): void {
    for (const [key, until] of this.bans) if (until <= now) this.bans.delete(key);
    // Still too many: drop the ones ending soonest (bounded memory beats a perfect ban list).
    while (this.bans.size > this.opts.entriesMax) {
      let soonest: string | undefined;
      let soonestUntil = Number.POSITIVE_INFINITY;
      for (const [key, until] of this.bans) {
        if (until < soonestUntil) {
          soonestUntil = until;
          soonest = key;
        }
      }
      if (soonest === undefined) break;
      this.bans.delete(soonest);
    }
  }
}
