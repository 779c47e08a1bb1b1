import type { Hash } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";

/**
 * Verifications running now, by block hash. Pipelined PBFT asks a replica to execute h+1 while h may still be
 * executing: h+1 waits for h's verification to settle instead of finding no parent. Holds only what is running
 * (as many as the verifications in progress), each entry removed when it settles.
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

  /** Resolves once the verification of `blockHash` running now, if any, has settled (whatever its outcome). */
  settled(blockHash: Hash): Promise<void> {
    return this.byHash.get(bytesToHex(blockHash)) ?? Promise.resolve();
  }
}
