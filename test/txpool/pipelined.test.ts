import { describe, expect, it } from "vitest";
import type { Transaction } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { makePool, signEth, signNative, wallet } from "./helpers.js";

function hashes(txs: Transaction[]): string[] {
  return txs.map((t) => bytesToHex(t.hash));
}

/**
 * Pipelined PBFT: the leader seals h+1 while h's txs are in flight (sealed, executed, not committed). The executor
 * runs h+1 on h's state, so a sender's next nonce belongs in h+1.
 */
describe("TxPool sealing while the previous block is in flight", () => {
  it("seals a sender's nonce n+1 into h+1 while n is in flight in h; h's commit leaves h+1's txs in flight", async () => {
    const { pool, state } = makePool();
    const [a, b] = [wallet(0), wallet(1)];
    const A0 = await pool.add(await signEth(a, { nonce: 0 }));
    const A1 = await pool.add(await signEth(a, { nonce: 1 }));
    const B0 = await pool.add(await signEth(b, { nonce: 0 }));
    const N = await pool.add(signNative(wallet(2), 10));

    const h = pool.seal(2);
    expect(hashes(h)).toEqual(hashes([A0, B0]));
    const h1 = pool.seal(10);
    expect(hashes(h1)).toEqual(hashes([A1, N])); // A1 on top of the in-flight A0; never A0 or B0 again

    // h commits: its txs leave the pool, h+1's stay in flight (not sealed a second time into h+2).
    state.setNonce(a.address, 1n);
    state.setNonce(b.address, 1n);
    pool.onBlockCommitted(h, 11);
    expect(pool.size()).toBe(2);
    expect(pool.stats().inFlight).toBe(2);
    const A2 = await pool.add(await signEth(a, { nonce: 2 }));
    expect(hashes(pool.seal(10))).toEqual(hashes([A2]));

    // h+1 fails (view change): its txs are sealable again (A2 stays in flight in h+2).
    pool.releaseSealed(h1.map((t) => t.hash));
    expect(hashes(pool.seal(10))).toEqual(hashes([A1, N]));
  });
});

describe("TxPool.hold: txs of a proposal this node executed but did not seal", () => {
  it("are in flight (not sealed again) until released; a parked tx stays parked; unknown hashes are ignored", async () => {
    const { pool } = makePool();
    const [a, b, c] = [wallet(0), wallet(1), wallet(2)];
    const A0 = await pool.add(await signEth(a, { nonce: 0 }));
    const A1 = await pool.add(await signEth(a, { nonce: 1 }));
    const B0 = await pool.add(await signEth(b, { nonce: 0 }));
    const C0 = await pool.add(await signEth(c, { nonce: 0 }));
    pool.park([C0.hash]);
    // Block h (another leader's) carries A0 and B0; C0 is parked here; a hash this pool lacks is ignored.
    pool.hold([A0.hash, B0.hash, C0.hash, new Uint8Array(32).fill(7)]);
    expect(pool.stats().inFlight).toBe(2);
    // The next leader builds h+1 from what h does not carry: A's next nonce, not A0 or B0 again.
    expect(hashes(pool.seal(10))).toEqual(hashes([A1]));
    // h lost (another block committed at its height): its txs are sealable again.
    pool.releaseSealed([A0.hash, B0.hash]);
    expect(hashes(pool.seal(10))).toEqual(hashes([A0, B0]));
  });
});
