import { describe, expect, it } from "vitest";
import { type TxPool, TxPoolError, type TxPoolErrorCode } from "../../src/txpool/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { makePool, signEth, signNative, wallet } from "./helpers.js";

function hashes(txs: { hash: Uint8Array }[]): string[] {
  return txs.map((t) => bytesToHex(t.hash));
}

async function refusal(pool: TxPool, raw: Uint8Array, code: TxPoolErrorCode, message: RegExp) {
  let caught: unknown;
  await pool.add(raw).catch((err: unknown) => {
    caught = err;
  });
  expect(caught).toBeInstanceOf(TxPoolError);
  expect((caught as TxPoolError).code).toBe(code);
  expect((caught as TxPoolError).message).toMatch(message);
  return caught as TxPoolError;
}

describe("TxPool per-sender share", () => {
  it("senderCountMax: Ethereum and native txs of one sender together; others still admitted", async () => {
    const { pool } = makePool({ senderCountMax: 3 });
    const w = wallet(0);
    await pool.add(await signEth(w, { nonce: 0 }));
    await pool.add(await signEth(w, { nonce: 1 }));
    await pool.add(signNative(w, 10));
    const err = await refusal(
      pool,
      await signEth(w, { nonce: 2 }),
      "TXPOOL_SENDER_LIMIT",
      /^account limit exceeded: 3 pending$/,
    );
    expect(err.meta).toMatchObject({
      sender: w.address.toLowerCase(),
      limit: 3,
      option: "txpool.senderCountMax",
    });
    await refusal(pool, signNative(w, 10), "TXPOOL_SENDER_LIMIT", /account limit exceeded/);
    await pool.add(await signEth(wallet(1), { nonce: 0 }));
    expect(pool.size()).toBe(4);
    expect(pool.stats().rejected.local.TXPOOL_SENDER_LIMIT).toBe(2);
  });

  it("a same-nonce replacement does not count twice against the share", async () => {
    const { pool } = makePool({ senderCountMax: 2 });
    const w = wallet(0);
    await pool.add(await signEth(w, { nonce: 0, gasPrice: 10n }));
    await pool.add(await signEth(w, { nonce: 1 }));
    const bumped = await pool.add(await signEth(w, { nonce: 0, gasPrice: 20n }));
    expect(pool.get(bumped.hash)).toBe(bumped);
    expect(pool.size()).toBe(2);
  });

  it("the share frees up when the sender's txs commit", async () => {
    const { pool, state } = makePool({ senderCountMax: 2 });
    const w = wallet(0);
    const t0 = await pool.add(await signEth(w, { nonce: 0 }));
    await pool.add(await signEth(w, { nonce: 1 }));
    await refusal(pool, await signEth(w, { nonce: 2 }), "TXPOOL_SENDER_LIMIT", /2 pending/);
    state.setNonce(w.address, 1n);
    pool.onBlockCommitted([t0], 11);
    await pool.add(await signEth(w, { nonce: 2 }));
  });

  it("senderBytesMax bounds one sender's bytes", async () => {
    const first = await signEth(wallet(0), { nonce: 0, data: `0x${"11".repeat(400)}`, gasLimit: 40_000n });
    const { pool } = makePool({ senderBytesMax: first.length + 200 });
    await pool.add(first);
    await refusal(
      pool,
      await signEth(wallet(0), { nonce: 1, data: `0x${"11".repeat(400)}`, gasLimit: 40_000n }),
      "TXPOOL_SENDER_LIMIT",
      new RegExp(`^account limit exceeded: ${first.length} bytes pending$`),
    );
    await pool.add(await signEth(wallet(0), { nonce: 1 })); // a small one still fits
    await pool.add(await signEth(wallet(1), { nonce: 0, data: `0x${"11".repeat(400)}`, gasLimit: 40_000n }));
  });

  it("nativeSenderCountMax bounds one sender's native txs within its share", async () => {
    const { pool } = makePool({ nativeSenderCountMax: 2 });
    await pool.add(signNative(wallet(0), 10));
    await pool.add(signNative(wallet(0), 10));
    await refusal(
      pool,
      signNative(wallet(0), 10),
      "TXPOOL_SENDER_LIMIT",
      /^account limit exceeded: 2 native/,
    );
    await pool.add(await signEth(wallet(0), { nonce: 0 })); // its Ethereum txs are not native
    await pool.add(signNative(wallet(1), 10));
  });

  it.each([
    ["in admission slices", 4],
    ["all started at once (no slicer)", 0],
  ])(
    "a gossip batch of one sender's consecutive txs longer than nonceGapMax is admitted whole: %s",
    async (_, admissionSliceMs) => {
      const { pool } = makePool({ nonceGapMax: 8, admissionSliceMs });
      const w = wallet(0);
      const raws = await Promise.all(Array.from({ length: 30 }, (_, n) => signEth(w, { nonce: n })));
      const results = await pool.addBatch(raws);
      expect(results.filter((r) => r.ok)).toHaveLength(30);
      if (admissionSliceMs === 0)
        expect(pool.stats()).toMatchObject({ admissionsDeferred: 0, admissionsQueued: 0 });
      // the gap still applies to a tx beyond the next free nonce
      await refusal(
        pool,
        await signEth(w, { nonce: 30 + 9 }),
        "TXPOOL_NONCE_TOO_HIGH",
        /next nonce 30, tx nonce 39/,
      );
    },
  );

  it("options: a share above its pool bound is refused; a defaulted share follows a small pool", () => {
    expect(() => makePool({ countMax: 10, senderCountMax: 11 })).toThrow(
      /txpool.senderCountMax must not exceed/,
    );
    expect(() => makePool({ senderCountMax: 10, nativeSenderCountMax: 11 })).toThrow(/nativeSenderCountMax/);
    expect(() => makePool({ nonceGapMax: -1 })).toThrow(/txpool.nonceGapMax/);
    const { pool } = makePool({ countMax: 10 });
    expect(pool.opts.senderCountMax).toBe(10);
    expect(pool.opts.nativeSenderCountMax).toBe(10);
  });
});

describe("TxPool when full: the sender holding the most loses its newest tx", () => {
  it("evicts the largest holder's highest nonce for a smaller sender; refuses the largest holder itself", async () => {
    const { pool } = makePool({ countMax: 3 });
    const [a, b, c, d] = [wallet(0), wallet(1), wallet(2), wallet(3)];
    const A = [];
    for (let n = 0; n < 3; n++) A.push(await pool.add(await signEth(a, { nonce: n })));
    // a holds 3, b would hold 1: a's highest nonce goes
    const B0 = await pool.add(await signEth(b, { nonce: 0 }));
    expect(pool.get(A[2]!.hash)).toBeUndefined();
    expect(pool.get(B0.hash)).toBe(B0);
    // a holds 2, c would hold 1: a's nonce 1 goes (a keeps nonce 0: still sealable, no hole)
    await pool.add(signNative(c, 10));
    expect(pool.get(A[1]!.hash)).toBeUndefined();
    expect(pool.get(A[0]!.hash)).toBe(A[0]);
    expect(pool.stats().evicted).toBe(2);
    // everyone holds 1: a fourth sender is refused, and so is a re-send of a's nonce 1 (a would hold 2)
    await refusal(pool, await signEth(d, { nonce: 0 }), "TXPOOL_FULL", /^txpool is full$/);
    await refusal(pool, await signEth(a, { nonce: 1 }), "TXPOOL_FULL", /^txpool is full$/);
    expect(pool.size()).toBe(3);
    expect(pool.stats().evicted).toBe(2);
  });

  it("a same-nonce replacement in a pool full by bytes needs only its size difference: nothing is evicted", async () => {
    const a0 = await signEth(wallet(0), { nonce: 0, gasPrice: 10n });
    const b0 = await signEth(wallet(1), { nonce: 0 });
    const { pool } = makePool({ bytesMax: a0.length + b0.length });
    await pool.add(a0);
    const B0 = await pool.add(b0);
    const bumped = await pool.add(await signEth(wallet(0), { nonce: 0, gasPrice: 20n }));
    expect(hashes(pool.pending())).toEqual(hashes([B0, bumped]));
    expect(pool.stats().evicted).toBe(0);
  });

  it("evicts a native tx: the newest of the largest holder", async () => {
    const { pool } = makePool({ countMax: 3 });
    const n0 = await pool.add(signNative(wallet(0), 10));
    const n1 = await pool.add(signNative(wallet(0), 10));
    await pool.add(signNative(wallet(1), 10));
    await pool.add(await signEth(wallet(2), { nonce: 0 }));
    expect(pool.get(n1.hash)).toBeUndefined();
    expect(pool.get(n0.hash)).toBe(n0);
  });

  it("never evicts a tx in flight (sealed into a proposal)", async () => {
    const { pool } = makePool({ countMax: 2 });
    await pool.add(await signEth(wallet(0), { nonce: 0 }));
    await pool.add(await signEth(wallet(0), { nonce: 1 }));
    expect(pool.seal(10)).toHaveLength(2);
    await refusal(pool, await signEth(wallet(1), { nonce: 0 }), "TXPOOL_FULL", /^txpool is full$/);
    pool.releaseSealed();
    await pool.add(await signEth(wallet(1), { nonce: 0 }));
    expect(pool.stats().evicted).toBe(1);
  });

  it("a flood from one sender cannot push out 20 other senders' txs", async () => {
    const { pool } = makePool({ countMax: 40, senderCountMax: 30 });
    const others = [];
    for (let i = 1; i <= 20; i++) others.push(await pool.add(await signEth(wallet(i), { nonce: 0 })));
    const flooder = wallet(0);
    let refused = 0;
    for (let n = 0; n < 60; n++) {
      await pool.add(await signEth(flooder, { nonce: n })).catch(() => refused++);
    }
    expect(refused).toBe(40); // 20 slots left in the pool, then "txpool is full" (it is the largest holder)
    for (const o of others) expect(pool.get(o.hash)).toBe(o);
    // the next 20 newcomers each take one of the flooder's slots
    for (let i = 21; i <= 30; i++) await pool.add(await signEth(wallet(i), { nonce: 0 }));
    expect(pool.stats().evicted).toBe(10);
    const flooderLeft = pool.pending().filter((t) => bytesToHex(t.sender) === flooder.address.toLowerCase());
    expect(flooderLeft.map((t) => t.nonce)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i)));
  });
});
