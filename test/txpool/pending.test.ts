import { describe, expect, it } from "vitest";
import { decodeTransaction } from "../../src/codec/index.js";
import { keyOf, PendingSet } from "../../src/txpool/pending.js";
import type { Transaction } from "../../src/types/index.js";
import { CHAIN_ID, signEth, signNative, wallet } from "./helpers.js";

/** PendingSet's indexes directly (TxPool decides the rules; this pins the bookkeeping those rules read). */

async function eth(w: number, nonce: number): Promise<Transaction> {
  return decodeTransaction(await signEth(wallet(w), { nonce }), { chainId: CHAIN_ID });
}

function native(w: number, blockLimit = 500): Transaction {
  return decodeTransaction(signNative(wallet(w), 10, { blockLimit }), { chainId: CHAIN_ID });
}

function add(set: PendingSet, tx: Transaction) {
  return set.insert(tx, keyOf(tx.hash), set.senderOrCreate(keyOf(tx.sender), 0n), 0);
}

function largest(set: PendingSet): { count: number; senders: string[] } {
  const l = set.largestSenders();
  return { count: l.count, senders: [...l.senders].sort() };
}

const sender = (w: number) => wallet(w).address.slice(2).toLowerCase();

describe("PendingSet", () => {
  it("largestSenders: the highest pending count and every sender holding it; none when empty", async () => {
    const set = new PendingSet();
    expect(largest(set)).toEqual({ count: 0, senders: [] });
    const a0 = add(set, await eth(0, 0));
    add(set, await eth(0, 1));
    add(set, await eth(1, 0));
    add(set, await eth(1, 1)); // joins the count-2 bucket a created
    add(set, native(2));
    expect(largest(set)).toEqual({ count: 2, senders: [sender(0), sender(1)].sort() });
    set.remove(a0); // a leaves the count-2 bucket; b is still in it
    expect(largest(set)).toEqual({ count: 2, senders: [sender(1)] });
    for (const e of [...set.byHash.values()]) set.remove(e);
    expect(largest(set)).toEqual({ count: 0, senders: [] });
    expect(set.senders.size).toBe(0);
  });

  it("remove keeps every index: totals, sender bytes, native nonces, block-limit buckets", async () => {
    const set = new PendingSet();
    const n1 = add(set, native(0, 300));
    const n2 = add(set, native(0, 300));
    const e0 = add(set, await eth(0, 0));
    const q = set.sender(sender(0))!;
    expect([...set.byBlockLimit.get(300)!].sort()).toEqual([n1.key, n2.key].sort());
    set.remove(n1);
    expect(set.nativeCount).toBe(1);
    expect(set.nativeNonces.has(keyOf((n1.tx as { nonce: Uint8Array }).nonce))).toBe(false);
    expect([...set.byBlockLimit.get(300)!]).toEqual([n2.key]);
    expect(q.bytes).toBe(n2.size + e0.size);
    expect(set.totalBytes).toBe(n2.size + e0.size);
    set.remove(n1); // no longer pooled: nothing changes
    expect(set.nativeCount).toBe(1);
    expect(set.totalBytes).toBe(n2.size + e0.size);
    set.remove(n2);
    expect(set.byBlockLimit.has(300)).toBe(false);
    expect(q.count).toBe(1);
    set.remove(e0);
    expect(set.senders.size).toBe(0);
    expect(set.totalBytes).toBe(0);
  });

  it("nextFreeNonce after removals: the lowest free nonce at or above `from`", async () => {
    const set = new PendingSet();
    const e = [];
    for (const n of [0, 1, 2, 5]) e.push(add(set, await eth(0, n)));
    const q = set.sender(sender(0))!;
    expect(set.nextFreeNonce(q, 0n)).toBe(3n);
    expect(set.nextFreeNonce(q, 4n)).toBe(4n); // above the base: from `from`, not the memo
    set.remove(e[3]!); // nonce 5, above the first free one
    expect(set.nextFreeNonce(q, 0n)).toBe(3n);
    set.remove(e[1]!); // nonce 1 frees up
    expect(set.nextFreeNonce(q, 0n)).toBe(1n);
    set.remove(e[0]!); // nonce 0 = the base
    expect(set.nextFreeNonce(q, 0n)).toBe(0n);
  });

  it("evictionCandidate: the later arrival of the highest nonce and the newest native, never one in flight", async () => {
    const set = new PendingSet();
    const a2 = add(set, await eth(0, 2)); // the highest nonce arrives first
    const a0 = add(set, await eth(0, 0));
    const q = set.sender(sender(0))!;
    expect(set.evictionCandidate(q)).toBe(a2);
    const n = add(set, native(0));
    expect(set.evictionCandidate(q)).toBe(n); // arrived after a2
    set.inFlight.add(n.key);
    expect(set.evictionCandidate(q)).toBe(a2);
    set.inFlight.delete(n.key);
    set.remove(a2);
    const a1 = add(set, await eth(0, 1)); // arrives after n
    expect(set.evictionCandidate(q)).toBe(a1);
    set.inFlight.add(a1.key);
    expect(set.evictionCandidate(q)).toBe(n);
    expect(a0.seq).toBeLessThan(n.seq);
  });
});
