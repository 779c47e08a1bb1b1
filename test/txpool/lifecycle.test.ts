import { describe, expect, it } from "vitest";
import type { TxPool, TxPoolError } from "../../src/txpool/index.js";
import type { Transaction } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { makePool, signEth, signNative, wallet } from "./helpers.js";

function hashes(txs: (Transaction | undefined)[]): string[] {
  return txs.map((t) => (t === undefined ? "undefined" : bytesToHex(t.hash)));
}

describe("TxPool concurrency", () => {
  it("200 concurrent native adds from ONE sender are all accepted", async () => {
    const { pool } = makePool();
    const w = wallet(0);
    const raws = Array.from({ length: 200 }, () => signNative(w, 10));
    const settled = await Promise.allSettled(raws.map((r) => pool.add(r)));
    expect(settled.filter((s) => s.status === "fulfilled")).toHaveLength(200);
    expect(pool.size()).toBe(200);
    expect(pool.stats().nativeCount).toBe(200);
  });

  it("concurrent adds of the same raw tx: exactly one accepted, the others already known", async () => {
    const { pool } = makePool();
    const raw = await signEth(wallet(0));
    const native = signNative(wallet(1), 10);
    const settled = await Promise.allSettled([
      ...Array.from({ length: 20 }, () => pool.add(raw)),
      ...Array.from({ length: 20 }, () => pool.add(native)),
    ]);
    expect(settled.filter((s) => s.status === "fulfilled")).toHaveLength(2);
    for (const s of settled) {
      if (s.status === "rejected") expect((s.reason as TxPoolError).code).toBe("TXPOOL_ALREADY_KNOWN");
    }
    expect(pool.size()).toBe(2);
  });

  it("concurrent different txs with the same (sender, nonce) or the same native nonce: one wins", async () => {
    const { pool } = makePool();
    const w = wallet(0);
    const sameNonce = await Promise.all(
      Array.from({ length: 10 }, (_, i) => signEth(w, { nonce: 0, data: `0x0${i}`, gasLimit: 30_000n })),
    );
    const nonce = hexToBytes("0x77");
    const sameNative = Array.from({ length: 10 }, (_, i) => signNative(wallet(i + 1), 10, { nonce }));
    const settled = await Promise.allSettled([...sameNonce, ...sameNative].map((r) => pool.add(r)));
    const codes = settled.map((s) => (s.status === "fulfilled" ? "ok" : (s.reason as TxPoolError).code));
    expect(codes.slice(0, 10).filter((c) => c === "ok")).toHaveLength(1);
    expect(codes.slice(0, 10).filter((c) => c === "TXPOOL_UNDERPRICED")).toHaveLength(9);
    expect(codes.slice(10).filter((c) => c === "ok")).toHaveLength(1);
    expect(codes.slice(10).filter((c) => c === "TXPOOL_NONCE_USED")).toHaveLength(9);
    expect(pool.size()).toBe(2);
  });

  it("an add whose state read straddles a block commit re-reads (no stale nonce gets in)", async () => {
    const { pool, state } = makePool();
    const w = wallet(0);
    const committed = await makePool().pool.add(await signEth(w, { nonce: 0, gasPrice: 1n }));
    state.afterNextNonceRead = () => {
      state.setNonce(w.address, 1n);
      pool.onBlockCommitted([committed], 11);
    };
    await expect(pool.add(await signEth(w, { nonce: 0 }))).rejects.toMatchObject({
      code: "TXPOOL_NONCE_TOO_LOW",
    });
    expect(pool.size()).toBe(0);
  });
});

/** Arrival: A2, B0, A0, N, A1, C1 (C has a gap at 0). */
async function sealFixture(pool: TxPool) {
  const [a, b, c, n] = [wallet(0), wallet(1), wallet(2), wallet(3)];
  const add = async (raw: Uint8Array) => pool.add(raw);
  const A2 = await add(await signEth(a, { nonce: 2 }));
  const B0 = await add(await signEth(b, { nonce: 0 }));
  const A0 = await add(await signEth(a, { nonce: 0 }));
  const N = await add(signNative(n, 10));
  const A1 = await add(await signEth(a, { nonce: 1 }));
  const C1 = await add(await signEth(c, { nonce: 1 }));
  return { A0, A1, A2, B0, C1, N, a, c };
}

describe("TxPool.seal", () => {
  it("round-robin across senders (in order of their oldest tx), nonce order per sender, gaps held back", async () => {
    const { pool } = makePool();
    const { A0, A1, A2, B0, N } = await sealFixture(pool);
    // round 1: one tx of A (oldest arrival: A2, but A0 goes first by nonce), B, N; then A's rest
    expect(hashes(pool.seal(100))).toEqual(hashes([A0, B0, N, A1, A2]));
    expect(pool.seal(100)).toEqual([]); // all sealable ones are in flight; C1 still waits for C0
    expect(pool.size()).toBe(6); // sealing does not remove
  });

  it("count limit, then the rest; releaseSealed makes txs sealable again", async () => {
    const { pool } = makePool();
    const { A0, A1, A2, B0, N } = await sealFixture(pool);
    expect(hashes(pool.seal(2))).toEqual(hashes([A0, B0]));
    expect(hashes(pool.seal(2))).toEqual(hashes([A1, N]));
    expect(hashes(pool.seal(2))).toEqual(hashes([A2]));
    pool.releaseSealed([A1.hash, A2.hash]);
    expect(hashes(pool.seal(10))).toEqual(hashes([A1, A2]));
    pool.releaseSealed();
    expect(pool.seal(10)).toHaveLength(5);
  });

  it("a gap filled later releases the held txs", async () => {
    const { pool } = makePool();
    const { c, C1 } = await sealFixture(pool);
    expect(pool.seal(100)).toHaveLength(5);
    const C0 = await pool.add(await signEth(c, { nonce: 0 }));
    expect(hashes(pool.seal(100))).toEqual(hashes([C0, C1]));
  });

  it("one sender with many txs gets one slot per round: a flood cannot fill the block", async () => {
    const { pool } = makePool();
    const flooder = wallet(9);
    for (let n = 0; n < 50; n++) await pool.add(await signEth(flooder, { nonce: n }));
    const others = [];
    for (let i = 0; i < 5; i++) others.push(await pool.add(await signEth(wallet(i), { nonce: 0 })));
    const block = pool.seal(10);
    const senders = block.map((t) => bytesToHex(t.sender));
    // 5 other senders each get their tx in the first round, the flooder fills the rest
    for (const o of others) expect(hashes(block)).toContain(bytesToHex(o.hash));
    expect(senders.filter((s) => s === flooder.address.toLowerCase())).toHaveLength(5);
    // the flooder's txs keep nonce order
    const nonces = block
      .filter((t) => bytesToHex(t.sender) === flooder.address.toLowerCase())
      .map((t) => t.nonce);
    expect(nonces).toEqual([0n, 1n, 2n, 3n, 4n]);
  });

  it("gasMax: a sender whose next tx does not fit leaves the rotation; smaller txs of others go on", async () => {
    const { pool } = makePool();
    const [a, b, c] = [wallet(0), wallet(1), wallet(2)];
    const A0 = await pool.add(await signEth(a, { nonce: 0, gasLimit: 100_000n }));
    await pool.add(await signEth(a, { nonce: 1 }));
    const B0 = await pool.add(await signEth(b, { nonce: 0 }));
    const B1 = await pool.add(await signEth(b, { nonce: 1 }));
    const C0 = await pool.add(await signEth(c, { nonce: 0 }));
    // 70000 gas: A0 (100000) does not fit and A1 must not overtake it; B0, C0, then B1 (63000 in all)
    expect(hashes(pool.seal(100, 70_000n))).toEqual(hashes([B0, C0, B1]));
    expect(hashes(pool.seal(100, 100_000n))).toContain(bytesToHex(A0.hash));
  });

  it("a sender's native and Ethereum txs are sealed in arrival order; an in-flight native is not sealed again", async () => {
    const { pool } = makePool();
    const a = wallet(0);
    const N1 = await pool.add(signNative(a, 10));
    const A0 = await pool.add(await signEth(a, { nonce: 0 }));
    const N2 = await pool.add(signNative(a, 10));
    const A1 = await pool.add(await signEth(a, { nonce: 1 }));
    expect(hashes(pool.seal(1))).toEqual(hashes([N1]));
    expect(hashes(pool.seal(10))).toEqual(hashes([A0, N2, A1]));
    pool.releaseSealed([A0.hash, A1.hash]);
    expect(hashes(pool.seal(10))).toEqual(hashes([A0, A1])); // N1, N2 still in flight
  });

  it("the count limit holds within a round; a sender with a gap takes no slot of the round", async () => {
    const { pool } = makePool();
    const [a, b, c] = [wallet(0), wallet(1), wallet(2)];
    await pool.add(await signEth(c, { nonce: 1 })); // the oldest arrival, but held back by its gap
    const A0 = await pool.add(await signEth(a, { nonce: 0 }));
    const A1 = await pool.add(await signEth(a, { nonce: 1 }));
    const B0 = await pool.add(await signEth(b, { nonce: 0 }));
    const B1 = await pool.add(await signEth(b, { nonce: 1 }));
    expect(hashes(pool.seal(2))).toEqual(hashes([A0, B0]));
    expect(hashes(pool.seal(1))).toEqual(hashes([A1]));
    pool.releaseSealed();
    expect(hashes(pool.seal(3))).toEqual(hashes([A0, B0, A1]));
    expect(hashes(pool.seal(3))).toEqual(hashes([B1]));
  });

  it("gasMax bounds the sum of the sealed txs' gas limits", async () => {
    const { pool } = makePool();
    const txs = [];
    for (let i = 0; i < 3; i++) txs.push(await pool.add(await signEth(wallet(i), { nonce: 0 })));
    expect(hashes(pool.seal(10, 50_000n))).toEqual(hashes(txs.slice(0, 2))); // 42000; a third would be 63000
  });

  it("a sender that leaves the rotation for gas makes room for the next sender in arrival order", async () => {
    const { pool } = makePool();
    const [a, b, c] = [wallet(0), wallet(1), wallet(2)];
    await pool.add(await signEth(a, { nonce: 0, gasLimit: 100_000n }));
    const B0 = await pool.add(await signEth(b, { nonce: 0 }));
    const C0 = await pool.add(await signEth(c, { nonce: 0 }));
    // 2 slots: a and b are in the first round; a's tx does not fit, so c comes in for the slot left
    expect(hashes(pool.seal(2, 70_000n))).toEqual(hashes([B0, C0]));
  });

  it("skips native txs whose block limit is no longer ahead of the height", async () => {
    const { pool, chain } = makePool();
    const stale = await pool.add(signNative(wallet(0), 10, { blockLimit: 12 }));
    const fresh = await pool.add(signNative(wallet(0), 10, { blockLimit: 500 }));
    chain.currentHeight = 12;
    expect(hashes(pool.seal(10))).toEqual(hashes([fresh]));
    expect(pool.get(stale.hash)).toBe(stale); // dropped by the next commit, not by seal
  });
});

describe("TxPool.onBlockCommitted", () => {
  it("removes committed txs, advances nonces, drops stale nonces and expired block limits", async () => {
    const { pool, state, chain } = makePool();
    const { A0, A1, A2, B0, N, a } = await sealFixture(pool);
    const shortLimit = await pool.add(signNative(wallet(5), 10, { blockLimit: 11 }));
    const nonceTaken = await pool.add(signNative(wallet(5), 10, { nonce: hexToBytes("0x99") }));
    expect(hashes(pool.seal(3))).toEqual(hashes([A0, B0, N])); // in flight
    chain.currentHeight = 11;
    state.setNonce(a.address, 2n);
    state.setNonce(wallet(1).address, 1n);
    // the block also carries a native tx from elsewhere using nonce 0x99
    const foreignNative = await makePool().pool.add(signNative(wallet(6), 10, { nonce: hexToBytes("0x99") }));
    pool.onBlockCommitted([B0, A0, A1, foreignNative], 11);
    for (const gone of [B0, A0, A1]) expect(pool.get(gone.hash)).toBeUndefined();
    for (const kept of [A2, N]) expect(pool.get(kept.hash)).toBe(kept);
    expect(pool.get(shortLimit.hash)).toBeUndefined(); // blockLimit 11 <= height 11
    expect(pool.get(nonceTaken.hash)).toBeUndefined(); // its nonce is now used on chain
    expect(pool.stats().inFlight).toBe(1); // N remains in flight
    expect(pool.stats().stale).toBe(2); // shortLimit and nonceTaken; the committed ones are not stale
    expect(await pool.pendingNonce(hexToBytes(a.address))).toBe(3n);
    // A2 (nonce 2 == account nonce) is now sealable; N stays in flight until released
    expect(hashes(pool.seal(10))).toEqual(hashes([A2]));
    const again = await signEth(a, { nonce: 1, gasPrice: 5n });
    await expect(pool.add(again)).rejects.toMatchObject({ code: "TXPOOL_NONCE_TOO_LOW" });
  });

  it("a committed tx with the same (sender, nonce) but another hash drops the pooled one", async () => {
    const { pool } = makePool();
    const w = wallet(0);
    const pooled = await pool.add(await signEth(w, { nonce: 0, gasPrice: 1n }));
    const other = await pool.add(await signEth(w, { nonce: 1 }));
    const elsewhere = await makePool().pool.add(await signEth(w, { nonce: 0, gasPrice: 2n }));
    pool.onBlockCommitted([elsewhere], 11);
    expect(pool.get(pooled.hash)).toBeUndefined();
    expect(pool.get(other.hash)).toBe(other);
    expect(pool.stats().stale).toBe(1);
    expect(await pool.pendingNonce(hexToBytes(w.address))).toBe(2n);
  });
});

describe("TxPool.onBlockCommitted: what counts as stale", () => {
  it("committed pooled txs are removed, none stale: a native one, and every tx of one sender", async () => {
    const { pool } = makePool();
    const a = wallet(0);
    const N = await pool.add(signNative(wallet(1), 10));
    const A0 = await pool.add(await signEth(a, { nonce: 0 }));
    const A1 = await pool.add(await signEth(a, { nonce: 1 }));
    pool.onBlockCommitted([N, A0, A1], 11);
    expect(pool.size()).toBe(0);
    expect(pool.stats()).toMatchObject({ stale: 0, senders: 0, nativeCount: 0, bytes: 0 });
  });

  it("native txs whose block limit the committed height reaches are stale, all of one block limit", async () => {
    const { pool } = makePool();
    await pool.add(signNative(wallet(0), 10, { blockLimit: 11 }));
    await pool.add(signNative(wallet(1), 10, { blockLimit: 11 }));
    const later = await pool.add(signNative(wallet(2), 10, { blockLimit: 12 }));
    pool.onBlockCommitted([], 11);
    expect(hashes(pool.pending())).toEqual(hashes([later]));
    expect(pool.stats().stale).toBe(2);
  });
});

describe("TxPool: the state an admission reads", () => {
  it("reads the account nonce once, the balance only when the tx costs something, nothing for a free native tx", async () => {
    const { pool, state } = makePool();
    await pool.add(await signEth(wallet(0), { nonce: 0 }));
    expect(state.reads).toBe(1);
    await pool.add(signNative(wallet(1), 10));
    expect(state.reads).toBe(1);
    state.setBalance(wallet(2).address, 10n);
    await pool.add(await signEth(wallet(2), { nonce: 0, value: 1n }));
    expect(state.reads).toBe(3);
  });

  it("reads again while blocks commit meanwhile, at most 3 times", async () => {
    const { pool, state } = makePool();
    let commits = 0;
    const commitDuringRead = () => {
      commits++;
      pool.onBlockCommitted([], 10 + commits);
      state.afterNextNonceRead = commitDuringRead;
    };
    state.afterNextNonceRead = commitDuringRead;
    const tx = await pool.add(await signEth(wallet(0), { nonce: 0 }));
    state.afterNextNonceRead = undefined;
    expect(commits).toBe(3);
    expect(pool.get(tx.hash)).toBe(tx);
  });
});

describe("TxPool: the pool's nonce base against the account nonce read", () => {
  it("pendingNonce: the account nonce for a sender with nothing pooled; never below the account nonce", async () => {
    const { pool, state } = makePool();
    const a = wallet(0);
    state.setNonce(a.address, 4n);
    expect(await pool.pendingNonce(hexToBytes(a.address))).toBe(4n);
    state.setNonce(a.address, 0n);
    await pool.add(await signEth(a, { nonce: 3 })); // a gap at 0..2
    expect(await pool.pendingNonce(hexToBytes(a.address))).toBe(0n);
    state.setNonce(a.address, 2n); // a block with nonces 0, 1 committed; the pool is not told yet
    expect(await pool.pendingNonce(hexToBytes(a.address))).toBe(2n);
    state.setNonce(a.address, 3n);
    expect(await pool.pendingNonce(hexToBytes(a.address))).toBe(4n);
  });

  it("an account nonce read above the pool's base moves the base up and drops the txs below it as stale", async () => {
    const { pool, state } = makePool();
    const a = wallet(0);
    const A0 = await pool.add(await signEth(a, { nonce: 0 }));
    state.setNonce(a.address, 3n); // nonces 0..2 committed; the pool is not told yet
    const A3 = await pool.add(await signEth(a, { nonce: 3 }));
    expect(pool.get(A0.hash)).toBeUndefined();
    expect(pool.stats().stale).toBe(1);
    expect(hashes(pool.seal(10))).toEqual(hashes([A3]));
  });

  it("a base the pool learned from a commit wins over an account nonce read that lags it", async () => {
    const { pool, state } = makePool();
    const a = wallet(0);
    const A0 = await pool.add(await signEth(a, { nonce: 0, gasPrice: 1n }));
    await pool.add(await signEth(a, { nonce: 1 }));
    // Each of the 3 reads of a re-sent nonce 0 straddles a commit; the last one commits A0, after its read: the
    // admission goes on with a stale account nonce 0 while the pool's base is 1.
    let commits = 0;
    const commitDuringRead = () => {
      commits++;
      if (commits < 3) {
        pool.onBlockCommitted([], 10 + commits);
        state.afterNextNonceRead = commitDuringRead;
        return;
      }
      state.setNonce(a.address, 1n);
      pool.onBlockCommitted([A0], 13);
    };
    state.afterNextNonceRead = commitDuringRead;
    await expect(pool.add(await signEth(a, { nonce: 0, gasPrice: 2n }))).rejects.toMatchObject({
      code: "TXPOOL_NONCE_TOO_LOW",
    });
    expect(commits).toBe(3);
  });
});

describe("TxPool TTL", () => {
  it("drops txs older than ttlMs with the injected clock, keeps in-flight ones", async () => {
    const { pool, clock } = makePool({ ttlMs: 600_000 });
    const old2 = await pool.add(await signEth(wallet(1)));
    const old1 = await pool.add(signNative(wallet(0), 10));
    expect(hashes(pool.seal(1))).toEqual(hashes([old2]));
    clock.ms += 300_000;
    const young = await pool.add(await signEth(wallet(2)));
    clock.ms += 300_000;
    expect(pool.pruneExpired()).toBe(1);
    expect(pool.get(old1.hash)).toBeUndefined();
    expect(pool.get(old2.hash)).toBe(old2); // in flight
    expect(pool.get(young.hash)).toBe(young);
    clock.ms += 300_001;
    pool.releaseSealed();
    expect(pool.seal(10)).toEqual([]); // seal prunes first
    expect(pool.size()).toBe(0);
    expect(pool.stats().expired).toBe(3);
    // an expired native nonce is free again
    expect(pool.stats().bytes).toBe(0);
  });

  it("pending() is a bounded view in arrival order", async () => {
    const { pool } = makePool({ pendingViewMax: 3 });
    const txs = [];
    for (let i = 0; i < 5; i++) txs.push(await pool.add(signNative(wallet(0), 10)));
    expect(hashes(pool.pending())).toEqual(hashes(txs.slice(0, 3)));
    expect(hashes(pool.pending(2))).toEqual(hashes(txs.slice(0, 2)));
  });
});

describe("TxPool.park, hasWork, drop", () => {
  it("a parked tx is not sealed, nor work, until the next commit; its sender's later nonces wait behind it", async () => {
    const { pool } = makePool();
    const [a, b] = [wallet(0), wallet(1)];
    const A0 = await pool.add(await signEth(a, { nonce: 0 }));
    const A1 = await pool.add(await signEth(a, { nonce: 1 }));
    const N = await pool.add(signNative(b, 10));
    expect(pool.hasWork()).toBe(true);
    expect(hashes(pool.seal(10))).toEqual(hashes([A0, N, A1]));
    // The executor refuses A0 and N for now: they leave "in flight" and are not sealed again; A1 waits behind A0.
    pool.releaseSealed([A1.hash]);
    pool.park([A0.hash, N.hash, new Uint8Array(32).fill(9)]); // an unknown hash is ignored
    expect(pool.stats().inFlight).toBe(0);
    expect(pool.hasWork()).toBe(false);
    expect(pool.seal(10)).toEqual([]);
    expect(pool.size()).toBe(3);
    // A commit (of other txs) may have changed the state that refused them: sealable again.
    pool.onBlockCommitted([], 11);
    expect(pool.hasWork()).toBe(true);
    expect(hashes(pool.seal(10))).toEqual(hashes([A0, N, A1]));
  });

  it("parking a hash the pool does not hold leaves that tx sealable when it arrives later", async () => {
    const { pool } = makePool();
    const raw = await signEth(wallet(0), { nonce: 0 });
    const hash = (await makePool().pool.add(raw)).hash;
    pool.park([hash]);
    const tx = await pool.add(raw);
    expect(hashes(pool.seal(10))).toEqual(hashes([tx]));
  });

  it("a parked native tx alone is no work; an in-flight tx alone is", async () => {
    const { pool } = makePool();
    const N = await pool.add(signNative(wallet(0), 10));
    pool.park([N.hash]);
    expect(pool.hasWork()).toBe(false);
    pool.onBlockCommitted([], 11);
    expect(pool.hasWork()).toBe(true);
    expect(hashes(pool.seal(1))).toEqual(hashes([N]));
    expect(pool.hasWork()).toBe(true); // in flight: consensus has a proposal to finish
  });

  it("a held tx behind a nonce gap is work while it is in flight (another leader's proposal carries it)", async () => {
    const { pool } = makePool();
    const A1 = await pool.add(await signEth(wallet(0), { nonce: 1 })); // A0 never reached this pool
    expect(pool.hasWork()).toBe(false);
    pool.hold([A1.hash]);
    expect(pool.hasWork()).toBe(true);
    pool.releaseSealed();
    expect(pool.hasWork()).toBe(false);
  });

  it("hasWork is false for a nonce gap and for native txs whose block limit has passed", async () => {
    const { pool, chain } = makePool();
    expect(pool.hasWork()).toBe(false);
    await pool.add(await signEth(wallet(0), { nonce: 1 })); // waits for nonce 0
    expect(pool.hasWork()).toBe(false);
    const B0 = await pool.add(await signEth(wallet(2), { nonce: 0 }));
    expect(pool.hasWork()).toBe(true); // an Ethereum tx at its sender's base
    pool.drop([B0.hash]);
    expect(pool.hasWork()).toBe(false);
    await pool.add(signNative(wallet(1), 10, { blockLimit: 12 }));
    expect(pool.hasWork()).toBe(true);
    chain.currentHeight = 12; // blockLimit 12 is no longer ahead: seal skips it, so it is no work
    expect(pool.hasWork()).toBe(false);
    expect(pool.seal(10)).toEqual([]);
  });

  it("drop removes the given pooled txs for good and counts them; unknown hashes are ignored", async () => {
    const { pool } = makePool();
    const A0 = await pool.add(await signEth(wallet(0), { nonce: 0 }));
    const N = await pool.add(signNative(wallet(1), 10));
    const B0 = await pool.add(await signEth(wallet(2), { nonce: 0 }));
    expect(pool.drop([A0.hash, N.hash, new Uint8Array(32).fill(9), A0.hash])).toBe(2);
    expect(pool.get(A0.hash)).toBeUndefined();
    expect(pool.get(N.hash)).toBeUndefined();
    expect(hashes(pool.pending())).toEqual(hashes([B0]));
    expect(pool.stats()).toMatchObject({ count: 1, senders: 1, nativeCount: 0, bytes: B0.raw.length });
  });
});
