import type { Hash } from "../types/index.js";
import { bytesEqual } from "../util/hex.js";
import type { ConsensusPool } from "./interface.js";

/**
 * The txs of proposals this node executed valid (as a replica: it did not seal them), held in flight in its pool
 * (`ConsensusPool.hold`). Pipelining: the next leader builds h + 1 from what h does not carry; without the hold it
 * sealed h's txs again and proposed a nearly empty block. Another block committing that height gives them back;
 * a view change releases every in-flight tx (the driver calls `clear` then).
 */
export class HeldTxs {
  private readonly byHeight = new Map<number, { blockHash: Hash; txHashes: Hash[] }[]>();

  constructor(private readonly pool: Pick<ConsensusPool, "hold" | "releaseSealed">) {}

  hold(height: number, blockHash: Hash, txs: readonly { hash: Hash }[]): void {
    if (txs.length === 0) return;
    const txHashes = txs.map((tx) => tx.hash);
    this.pool.hold(txHashes);
    const atHeight = this.byHeight.get(height) ?? [];
    atHeight.push({ blockHash, txHashes });
    this.byHeight.set(height, atHeight);
  }

  /** Block `committed` committed at `height`: holds for other proposals of that height (and below) go back. */
  releaseUpTo(height: number, committed: Hash): void {
    for (const [h, holds] of this.byHeight) {
      if (h > height) continue;
      for (const hold of holds) {
        if (!bytesEqual(hold.blockHash, committed)) this.pool.releaseSealed(hold.txHashes);
      }
      this.byHeight.delete(h);
    }
  }

  /** The pool released every in-flight tx (view change). */
  clear(): void {
    this.byHeight.clear();
  }
}
