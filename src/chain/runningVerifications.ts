import type { Hash } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";

/**
 * Verifications running now, by block hash. Pipelined PBFT asks a replica to execute h+1 while h may still be
 * executing: h+1 waits for h's verification to settle instead of finding no parent. And consensus and sync may
 * both be handed the same block (a replica that fell behind fetches h while h's proposal executes): the second
 * waits for the first (`has`, `settled`) and reuses its execution, instead of executing the block a second time on a
 * head that the first one's commit then moves under it. Holds only what is running (as many as the verifications
 * in progress), each entry removed when it settles.
 */
export class RunningVerifications {
  private readonly byHash = new Map<string, Promise<void>>();

  run<T>(blockHash: Hash, verify: () => Promise<T>): Promise<T> {
    const key = bytesToHex(blockHash);
    const result = verify();
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.byHash.set(key, settled);
    void settled.then(() => {
      if (this.byHash.get(key) === settled) this.byHash.delete(key);
    });
    return result;
  }

  /** Whether a verification of `blockHash` is running now. */
  has(blockHash: Hash): boolean {
    return this.byHash.has(bytesToHex(blockHash));
  }

  /** Resolves once the verification of `blockHash` running now, if any, has settled (whatever its outcome). */
  settled(blockHash: Hash): Promise<void> {
    return this.byHash.get(bytesToHex(blockHash)) ?? Promise.resolve();
  }
}
