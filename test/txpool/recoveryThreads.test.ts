import { RLP } from "@ethereumjs/rlp";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { TxPool } from "../../src/txpool/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { unrecoverableSignature } from "../crypto/signatures.js";
import { makePool, signEth, wallet } from "./helpers.js";

// The pool with txpool.recoveryThreads: senders recovered on worker threads, with the results, refusals and
// counts the event-loop path gives; a closed pool still admits (on the event loop).

const pools: TxPool[] = [];

function threadedPool(threads: number): TxPool {
  const { pool } = makePool({ recoveryThreads: threads });
  pools.push(pool);
  return pool;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

/** A legacy tx re-encoded with an r that is no curve point's x (s = 1): in range, but no key recovers from it. */
function unrecoverable(raw: Uint8Array): Uint8Array {
  const fields = RLP.decode(raw) as Uint8Array[];
  const { r } = unrecoverableSignature();
  return RLP.encode([...fields.slice(0, 7), Uint8Array.of(r), Uint8Array.of(1)]);
}

describe("TxPool with recovery threads", () => {
  it("admits a client's txs and a peer batch with the senders the signatures give, recovered in the threads", async () => {
    const pool = threadedPool(2);
    const wallets = Array.from({ length: 10 }, (_, i) => wallet(i));
    const single = await Promise.all(wallets.map(async (w) => pool.add(await signEth(w, { nonce: 0 }))));
    const batch = await Promise.all(wallets.flatMap((w) => [1, 2].map((nonce) => signEth(w, { nonce }))));
    const results = await pool.addBatch(batch);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(single.map((tx) => bytesToHex(tx.sender))).toEqual(wallets.map((w) => w.address.toLowerCase()));
    for (const [i, r] of results.entries()) {
      if (!r.ok) throw r.error;
      expect(bytesToHex(r.tx.sender)).toBe(wallets[Math.floor(i / 2)]!.address.toLowerCase());
    }
    expect(pool.size()).toBe(30);
    expect(pool.stats().recoveries).toMatchObject({ threads: 2, inThreads: 30, inline: 0 });
    // Requests of one turn share a message: the 20 of the batch are not 20 messages.
    expect(pool.stats().recoveries!.batches).toBeLessThan(20);
  });

  it("start() has the threads running before the first tx (the node calls it at start-up)", async () => {
    const pool = threadedPool(2);
    expect(pool.stats().recoveries).toMatchObject({ online: 0 });
    pool.start();
    await vi.waitFor(() =>
      expect(pool.stats().recoveries).toMatchObject({ threads: 2, online: 2, inThreads: 0 }),
    );
    await pool.add(await signEth(wallet(4)));
    expect(pool.stats().recoveries).toMatchObject({ online: 2, inThreads: 1, inline: 0 });
    const { pool: without } = makePool({ recoveryThreads: 0 });
    pools.push(without);
    without.start(); // no threads: nothing to start
    expect(without.stats().recoveries).toBeNull();
  });

  it("refuses a signature no key recovers from as the event-loop path does", async () => {
    const raw = unrecoverable(await signEth(wallet(3)));
    const refusals = [];
    for (const threads of [0, 1]) {
      const pool = threadedPool(threads);
      refusals.push(
        await pool.add(raw).then(
          () => null,
          (err: unknown) => err,
        ),
      );
    }
    const [inline, threaded] = refusals as { code: string; message: string }[];
    expect(inline).toMatchObject({
      code: "TXPOOL_INVALID",
      message: expect.stringMatching(/could not be recovered/),
    });
    expect({ code: threaded!.code, message: threaded!.message }).toEqual({
      code: inline!.code,
      message: inline!.message,
    });
    expect(pools[1]!.stats().recoveries).toMatchObject({ inThreads: 1, inline: 0 });
    expect(pools[0]!.stats().recoveries).toBeNull();
    expect(pools[0]!.senderRecoverer).toBeNull(); // other untrusted txs are recovered on the event loop too
    expect(pools[1]!.senderRecoverer).not.toBeNull();
  });

  it("admits after close, recovering on the event loop", async () => {
    const pool = threadedPool(1);
    await pool.add(await signEth(wallet(5), { nonce: 0 }));
    await pool.close();
    const tx = await pool.add(await signEth(wallet(5), { nonce: 1 }));
    expect(bytesToHex(tx.sender)).toBe(wallet(5).address.toLowerCase());
    expect(pool.stats().recoveries).toMatchObject({ inThreads: 1, inline: 1 });
  });

  it.each([-1, 17, 0.5])("refuses recoveryThreads %s naming the field", (bad) => {
    expect(() => makePool({ recoveryThreads: bad })).toThrow(
      /txpool.recoveryThreads must be an integer in 0..16/,
    );
  });
});
