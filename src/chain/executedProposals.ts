import type { ExecutedBlock, StateReader } from "../execution/index.js";
import type { Ledger } from "../ledger/index.js";
import type { Block, Hash, Transaction } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";

/** Executed-but-uncommitted blocks kept for commit (a few views' worth of proposals). */
const EXECUTED_CACHE_MAX = 16;

export interface ExecutedProposal {
  block: Block;
  executed: ExecutedBlock;
}

/**
 * Blocks this node executed (built or verified) and has not committed yet, by hash, oldest dropped first: a commit
 * reuses the execution, replicas resolve a proposal's txs from earlier proposals, and consensus reads the state
 * after a block that changes the validator set before it commits. Cleared on every commit.
 */
export class ExecutedProposals {
  private readonly byHash = new Map<string, ExecutedProposal>();
  /** Their txs by hash hex: built on first use, dropped whenever the set changes. */
  private txs: Map<string, Transaction> | null = null;

  get(blockHash: Hash): ExecutedProposal | undefined {
    return this.byHash.get(bytesToHex(blockHash));
  }

  remember(blockHash: Hash, proposal: ExecutedProposal): void {
    this.byHash.set(bytesToHex(blockHash), proposal);
    this.txs = null;
    while (this.byHash.size > EXECUTED_CACHE_MAX) {
      const oldest = this.byHash.keys().next().value as string;
      this.byHash.delete(oldest);
    }
  }

  clear(): void {
    this.byHash.clear();
    this.txs = null;
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

  /**
   * State after an executed block that changed the node list or the system config (null otherwise): its changes
   * over the committed state of `ledger`.
   */
  stateAfter(blockHash: Hash, ledger: Ledger): { height: number; state: StateReader } | null {
    const proposal = this.get(blockHash);
    if (!proposal || !(proposal.executed.validatorsChanged || proposal.executed.configChanged)) return null;
    const changes = new Map(proposal.executed.stateChanges.map(([k, v]) => [bytesToHex(k), v]));
    return {
      height: proposal.block.header.number,
      state: {
        async getState(key: Uint8Array) {
          const hex = bytesToHex(key);
          if (changes.has(hex)) return changes.get(hex) ?? undefined;
          return ledger.getState(key);
        },
      },
    };
  }
}
