import type { CommitCertificate, Hash, NodeId } from "../types/index.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";

/**
 * How long after this process started a block must have been proposed (by its timestamp) before its certificate is
 * checked. Earlier blocks may carry signatures of this node's previous process (a restart) or of the node before a
 * rebuild. Blocks may run ahead of a validator's clock by at most the chain's drift bound (15 s, chain/blockChecks)
 * and the leader's clock may run ahead of ours: 15 s of drift and 5 of margin.
 */
export const SIGNER_WATCH_AFTER_START_MS = 20_000;

/** An operator is told again at most this often while the conflict lasts. */
const WARN_INTERVAL_MS = 60_000;

/** Commit votes remembered at most (heights × views): far more than a node signs between two commits. */
const SIGNED_COMMITS_MAX = 4096;

/** The commit votes this process signed, bounded (the oldest forgotten first). */
export class SignedCommits {
  private readonly votes = new Set<string>();

  remember(vote: { height: number; view: number; blockHash: Hash }): void {
    const key = voteKey(vote.height, vote.view, vote.blockHash);
    if (this.votes.has(key)) return;
    this.votes.add(key);
    if (this.votes.size > SIGNED_COMMITS_MAX) {
      this.votes.delete(this.votes.values().next().value as string);
    }
  }

  has(height: number, view: number, blockHash: Hash): boolean {
    return this.votes.has(voteKey(height, view, blockHash));
  }
}

function voteKey(height: number, view: number, blockHash: Hash): string {
  return `${height}/${view}/${bytesToHex(blockHash)}`;
}

export interface SignerWatchDeps {
  self: NodeId;
  /** When this process started (ms since the epoch). */
  startedAtMs: number;
  /** Whether this process signed that commit vote (ConsensusDriver.signedCommit). */
  signedCommit(height: number, view: number, blockHash: Hash): boolean;
  logger: Logger;
  nowMs?: () => number;
}

/**
 * Notices another process signing with this node's key: a copied node folder started beside the original, or a
 * restored machine image running twice. Both processes are one validator to the chain (same node ID, same peer
 * ID), so the peers accept both and nothing else fails; but each keeps its own votes, and two of them may sign
 * different blocks at one height and view, using up the one fault the consortium's quorum tolerates. A committed
 * block proposed after this process started whose certificate carries this node's signature on a vote this
 * process never made was signed by the other one. Logged as an error (at most once a minute) and counted.
 */
export class SignerWatch {
  private conflicts = 0;
  private lastWarnAtMs = Number.NEGATIVE_INFINITY;
  private readonly nowMs: () => number;

  constructor(private readonly deps: SignerWatchDeps) {
    this.nowMs = deps.nowMs ?? Date.now;
  }

  /** A committed block (consensus or sync): its header's timestamp and its commit certificate. */
  check(block: { header: { timestampMs: number }; certificate: CommitCertificate | null }): void {
    const cert = block.certificate;
    if (cert === null || block.header.timestampMs <= this.deps.startedAtMs + SIGNER_WATCH_AFTER_START_MS)
      return;
    if (!cert.signatures.some((s) => bytesEqual(s.nodeId, this.deps.self))) return;
    if (this.deps.signedCommit(cert.height, cert.view, cert.blockHash)) return;
    this.conflicts++;
    const now = this.nowMs();
    if (now - this.lastWarnAtMs < WARN_INTERVAL_MS) return;
    this.lastWarnAtMs = now;
    this.deps.logger.error(
      {
        nodeId: bytesToHex(this.deps.self),
        height: cert.height,
        view: cert.view,
        blockHash: bytesToHex(cert.blockHash),
        conflicts: this.conflicts,
      },
      "another process signs with this node's key: block's certificate carries a vote this process never made. " +
        "Stop one of them (a copied node folder or machine image?); give a new node its own key (consort keygen, " +
        "consort testnet add-node)",
    );
  }

  /** Certificates seen with a vote of this node's key that this process did not make. */
  conflictCount(): number {
    return this.conflicts;
  }
}
