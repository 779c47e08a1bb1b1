import { describe, expect, it } from "vitest";
import { ReceiptWaiters } from "../../src/rpc/context.js";
import type { RpcBlock } from "../../src/rpc/interface.js";
import type { Receipt } from "../../src/types/index.js";

const hash = (n: number) => new Uint8Array(32).fill(n);

/** A block committing the txs `ns` (only what ReceiptWaiters reads: its tx hashes and their receipts). */
function commit(waiters: ReceiptWaiters, ...ns: number[]): void {
  const block = { transactionHashes: ns.map(hash) } as RpcBlock;
  waiters.onBlock(
    block,
    ns.map(() => ({}) as Receipt),
  );
}

describe("ReceiptWaiters: callers waiting for their transaction's receipt", () => {
  it("one principal holds at most perOwnerMax of the waits; the others keep theirs", () => {
    const waiters = new ReceiptWaiters(10, 2);
    waiters.wait(hash(1), 60_000, "ip:a");
    waiters.wait(hash(2), 60_000, "ip:a");
    expect(() => waiters.wait(hash(3), 60_000, "ip:a")).toThrow(
      "too many transactions of this principal waiting for receipts (max 2)",
    );
    waiters.wait(hash(4), 60_000, "ip:b");
    waiters.close();
  });

  it("a commit, a cancel and a timeout each give the principal its wait back", async () => {
    const waiters = new ReceiptWaiters(10, 1);
    const committed = waiters.wait(hash(1), 60_000, "ip:a");
    commit(waiters, 1);
    expect(await committed.promise).not.toBeNull();
    const cancelled = waiters.wait(hash(2), 60_000, "ip:a");
    cancelled.cancel();
    expect(await cancelled.promise).toBeNull();
    const timedOut = waiters.wait(hash(3), 10, "ip:a");
    expect(await timedOut.promise).toBeNull();
    const last = waiters.wait(hash(4), 60_000, "ip:a"); // the one allowed wait is free again
    waiters.close();
    expect(await last.promise).toBeNull();
  });

  it("the total bound holds over all principals", () => {
    const waiters = new ReceiptWaiters(3, 2);
    waiters.wait(hash(1), 60_000, "ip:a");
    waiters.wait(hash(2), 60_000, "ip:b");
    waiters.wait(hash(3), 60_000, "ip:c");
    expect(() => waiters.wait(hash(4), 60_000, "ip:d")).toThrow(
      "too many clients waiting for receipts (max 3)",
    );
    waiters.close();
  });
});
