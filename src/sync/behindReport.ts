import type { Logger } from "../util/logger.js";

/**
 * An operator must see a node that stays behind its peers, and what it does about it. A "behind" episode runs from
 * the first poll that saw a peer ahead to the poll that sees none; its target is the peer head then seen. Under load
 * a node often trails its peers by one block for a few ms: reaching the target starts a new episode, so only a node
 * that stops making progress toward its peers (stuck, or falling further behind) is warned about, at most once per
 * `warnAfterMs`, and told "caught up" once it is.
 */
export class BehindReport {
  private episode: { sinceMs: number; target: number } | null = null;
  private warnedAtMs: number | null = null;

  constructor(
    private readonly warnAfterMs: number,
    private readonly logger: Logger,
  ) {}

  behind(fields: {
    height: number;
    peerHead: number;
    peersAsked: number;
    peersAnswered: number;
    action: string;
  }): void {
    const now = Date.now();
    if (this.episode === null || fields.height >= this.episode.target) {
      this.episode = { sinceMs: now, target: fields.peerHead };
    }
    const behindMs = now - this.episode.sinceMs;
    if (behindMs < this.warnAfterMs) return;
    if (this.warnedAtMs !== null && now - this.warnedAtMs < this.warnAfterMs) return;
    this.warnedAtMs = now;
    const { height, peerHead, peersAsked, peersAnswered, action } = fields;
    this.logger.warn({ height, peerHead, behindMs, peersAsked, peersAnswered, action }, "behind peers");
  }

  caughtUp(height: number): void {
    if (this.episode === null) return;
    if (this.warnedAtMs !== null) {
      this.logger.info({ height, behindMs: Date.now() - this.episode.sinceMs }, "caught up with peers");
    }
    this.episode = null;
    this.warnedAtMs = null;
  }
}
