/**
 * Per-(height, view) vote bookkeeping and small pure helpers of the view change.
 */
import type { CertificateSignature, Hash, ValidatorInfo } from "../../../types/index.js";
import { equalBytes, toHex } from "./bytes.js";
import type { Commit, PrePrepare, Prepare, PreparedCertificate, ViewChange } from "./types.js";

export type Execution = "none" | "pending" | "valid" | "invalid";

/** A block this node executed and found valid at the current height (what a commit can apply). */
export interface ValidBlock {
  payload: Uint8Array;
  nextValidators: ValidatorInfo[] | null;
}

/** Votes of one kind in one view, keyed by sender (first vote wins), with running weights per block hash. */
export class Tally<V extends Prepare | Commit> {
  private readonly bySender = new Map<string, V>();
  private readonly weightByHash = new Map<string, number>();

  get(sender: string): V | undefined {
    return this.bySender.get(sender);
  }

  /** Adds a sender's first vote with its `weight` (later votes of a sender are ignored); returns its hash's weight. */
  add(sender: string, vote: V, weight: number): number {
    const known = this.bySender.get(sender);
    if (known) return this.weightOf(known.blockHash);
    this.bySender.set(sender, vote);
    const key = toHex(vote.blockHash);
    const w = (this.weightByHash.get(key) ?? 0) + weight;
    this.weightByHash.set(key, w);
    return w;
  }

  weightOf(blockHash: Hash): number {
    return this.weightByHash.get(toHex(blockHash)) ?? 0;
  }

  /** A vote for the first block hash whose weight reaches `quorum`, if any. */
  quorumVote(quorum: number): V | null {
    for (const [key, w] of this.weightByHash) {
      if (w < quorum) continue;
      for (const vote of this.bySender.values()) if (toHex(vote.blockHash) === key) return vote;
    }
    return null;
  }

  signaturesFor(blockHash: Hash): CertificateSignature[] {
    const out: CertificateSignature[] = [];
    for (const vote of this.bySender.values()) {
      if (equalBytes(vote.blockHash, blockHash)) out.push({ nodeId: vote.sender, signature: vote.signature });
    }
    return out;
  }
}

/** Commits of the current height, every view: a quorum of commits in ANY view decides the block. */
export class CommitStore {
  private readonly byView = new Map<number, Tally<Commit>>();

  votes(view: number): Tally<Commit> {
    let m = this.byView.get(view);
    if (!m) {
      m = new Tally();
      this.byView.set(view, m);
    }
    return m;
  }

  get(view: number, sender: string): Commit | undefined {
    return this.byView.get(view)?.get(sender);
  }

  clear(): void {
    this.byView.clear();
  }

  /** Drops the tallies of views below `view` (bounds memory when a height goes through many views). */
  pruneBelow(view: number): void {
    for (const v of this.byView.keys()) if (v < view) this.byView.delete(v);
  }
}

/** Votes of one view at the current height. */
export class Round {
  prePrepare: PrePrepare | null = null;
  execution: Execution = "none";
  nextValidators: ValidatorInfo[] | null = null;
  readonly prepares = new Tally<Prepare>();
  prepared = false;

  constructor(
    readonly height: number,
    readonly view: number,
  ) {}
}

/** The prepared certificate of the highest view among the ViewChanges (ties: the first one; equal by quorum). */
export function highestPrepared(viewChanges: readonly ViewChange[]): PreparedCertificate | null {
  let best: PreparedCertificate | null = null;
  for (const vc of viewChanges) {
    const p = vc.prepared;
    if (p !== null && (best === null || p.view > best.view)) best = p;
  }
  return best;
}

/** ViewChanges kept per sender: a few target views each (the highest), so memory is O(n). */
export class ViewChangeStore {
  private readonly bySender = new Map<string, Map<number, ViewChange>>();

  constructor(private readonly perSenderMax: number) {}

  clear(): void {
    this.bySender.clear();
  }

  has(sender: string, toView: number): boolean {
    return this.bySender.get(sender)?.has(toView) ?? false;
  }

  add(sender: string, vc: ViewChange): void {
    let views = this.bySender.get(sender);
    if (!views) {
      views = new Map();
      this.bySender.set(sender, views);
    }
    views.set(vc.toView, vc);
    while (views.size > this.perSenderMax) {
      let lowest = Number.POSITIVE_INFINITY;
      for (const v of views.keys()) lowest = Math.min(lowest, v);
      views.delete(lowest);
    }
  }

  /** Drops every ViewChange targeting a view below `view`. */
  pruneBelow(view: number): void {
    for (const [sender, views] of this.bySender) {
      for (const v of views.keys()) if (v < view) views.delete(v);
      if (views.size === 0) this.bySender.delete(sender);
    }
  }

  forView(toView: number): ViewChange[] {
    const out: ViewChange[] = [];
    for (const views of this.bySender.values()) {
      const vc = views.get(toView);
      if (vc) out.push(vc);
    }
    return out;
  }

  /** Senders that asked for `view` or a higher one (they all gave up on the views below `view`). */
  sendersAtOrAbove(view: number): string[] {
    const out: string[] = [];
    for (const [sender, views] of this.bySender) {
      for (const v of views.keys()) {
        if (v >= view) {
          out.push(sender);
          break;
        }
      }
    }
    return out;
  }

  /** For each sender other than `exclude`, its highest target view above `view`. */
  highestAbove(view: number, exclude: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const [sender, views] of this.bySender) {
      if (sender === exclude) continue;
      let best = -1;
      for (const v of views.keys()) if (v > view && v > best) best = v;
      if (best >= 0) out.set(sender, best);
    }
    return out;
  }
}
