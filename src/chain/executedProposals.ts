import type { ExecutedBlock } from "../execution/index.js";
import type { LedgerHead } from "../ledger/index.js";
import type { Block, Hash, Transaction } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";

/**
 * Executed-but-uncommitted blocks kept for commit: a few views' worth of proposals at the next height, and (pipelined
 * PBFT) their executed descendants.
 */
const EXECUTED_CACHE_MAX = 16;

export interface ExecutedProposal {
  hash: Hash;
  block: Block;
  executed: ExecutedBlock;
}

/**
 * Blocks this node executed (built or verified) and has not committed yet, by hash, oldest dropped first: a commit
 * reuses the execution, replicas resolve a proposal's txs from earlier proposals, a pipelined block executes on top
 * of one of them (see `lineage`), and consensus reads the state after a block that changes the validator set before
 * it commits. A commit keeps only the committed block's executed descendants (`pruneAfterCommit`).
 */
export class ExecutedProposals {
  private readonly byHash = new Map<string, ExecutedProposal>();
  /** Their txs by hash hex: built on first use, dropped whenever the set changes. */
  private txs: Map<string, Transaction> | null = null;

  get(blockHash: Hash): ExecutedProposal | undefined {
    return this.byHash.get(bytesToHex(blockHash));
  }

  remember(blockHash: Hash, proposal: Omit<ExecutedProposal, "hash">): void {
    this.byHash.set(bytesToHex(blockHash), { hash: blockHash, ...proposal });
    this.txs = null;
    while (this.byHash.size > EXECUTED_CACHE_MAX) {
      const oldest = this.byHash.keys().next().value as string;
      this.byHash.delete(oldest);
    }
  }

  /**
   * The executed blocks from just above `head` up to the block `tipHash`, oldest first: [] when `tipHash` is the
   * head, null when the walk down the parents does not reach the head through blocks held here (unknown, evicted,
   * or on a branch that a committed block replaced).
   */
  lineage(tipHash: Hash, head: LedgerHead): ExecutedProposal[] | null {
    const headHex = bytesToHex(head.hash);
    const out: ExecutedProposal[] = [];
    for (let hex = bytesToHex(tipHash); hex !== headHex; ) {
      const proposal = this.byHash.get(hex);
      if (proposal === undefined || proposal.block.header.number <= head.number) return null;
      if (out.length >= EXECUTED_CACHE_MAX) return null; // longer than anything held: a cycle, never valid
      out.push(proposal);
      hex = bytesToHex(proposal.block.header.parentHash);
    }
    return out.reverse();
  }

  /**
   * Block `committedHash` at `committedNumber` committed: keeps its executed descendants (their execution ran on the
   * state it produced, so it stays valid), drops everything else (that height and below, and every block whose parent
   * chain does not lead to the committed block: a sibling's children will never commit).
   */
  pruneAfterCommit(committedHash: Hash, committedNumber: number): void {
    const kept = new Set([bytesToHex(committedHash)]);
    const byHeight = [...this.byHash.entries()].sort(
      ([, a], [, b]) => a.block.header.number - b.block.header.number,
    );
    for (const [hex, proposal] of byHeight) {
      const header = proposal.block.header;
      if (header.number > committedNumber && kept.has(bytesToHex(header.parentHash))) kept.add(hex);
      else this.byHash.delete(hex);
    }
    this.txs = null;
  }

  size(): number {
    return this.byHash.size;
  }

  tx(hashHex: string): Transaction | undefined {
    if (this.txs === null) {
      this.txs = new Map();
      for (const proposal of this.byHash.values()) {
        for (const tx of proposal.block.transactions) this.txs.set(bytesToHex(tx.hash), tx);
      }
    }
    return this.txs.get(hashHex);
  }
}
