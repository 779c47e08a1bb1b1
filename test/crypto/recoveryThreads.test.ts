import type { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import {
  keccak256,
  privateKeyToAddress,
  RecoveryThreads,
  recoverAddress,
  secp256k1RecoveryCount,
  secp256k1Sign,
} from "../../src/crypto/index.js";
import type { Address } from "../../src/types/index.js";

// RecoveryThreads: senders recovered on worker threads must be exactly what recoverAddress gives on the event loop,
// failures must be the same errors, and a worker that dies, a full queue or a closed pool must fall back to the
// event loop without losing or misanswering a request.

interface Signed {
  msgHash: Uint8Array;
  signature: Uint8Array;
  recovery: number;
  address: Address;
}

function signed(count: number, seed: string): Signed[] {
  return Array.from({ length: count }, (_, i) => {
    const key = keccak256(new TextEncoder().encode(`${seed} key ${i % 17}`));
    const msgHash = keccak256(new TextEncoder().encode(`${seed} message ${i}`));
    const { signature, recovery } = secp256k1Sign(msgHash, key);
    return { msgHash, signature, recovery, address: privateKeyToAddress(key) };
  });
}

/** An r||s in range (r, s in 1..n-1) from which no public key can be recovered: r is no point's x-coordinate. */
function unrecoverable(): Signed {
  const msgHash = keccak256(new TextEncoder().encode("no key"));
  for (let r = 1; r < 256; r++) {
    const signature = new Uint8Array(64);
    signature[31] = r;
    signature[63] = 1;
    try {
      recoverAddress(msgHash, signature, 0);
    } catch {
      return { msgHash, signature, recovery: 0, address: new Uint8Array(20) };
    }
  }
  throw new Error("no unrecoverable r below 256");
}

const hex = (a: Uint8Array) => Buffer.from(a).toString("hex");
const opened: RecoveryThreads[] = [];

function threads(opts: ConstructorParameters<typeof RecoveryThreads>[0]): RecoveryThreads {
  const t = new RecoveryThreads(opts);
  opened.push(t);
  return t;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((t) => t.close()));
});

describe("RecoveryThreads", () => {
  it("recovers what recoverAddress recovers, in worker threads, one message per turn's requests", async () => {
    const items = signed(300, "many");
    const t = threads({ threads: 2 });
    const before = secp256k1RecoveryCount();
    const got = await Promise.all(items.map((s) => t.recoverAddress(s.msgHash, s.signature, s.recovery)));
    expect(got.map(hex)).toEqual(items.map((s) => hex(s.address)));
    const stats = t.stats();
    expect(stats).toMatchObject({ threads: 2, inThreads: 300, inline: 0 });
    // 300 requests made in one turn: 256 in one message, the rest in a second.
    expect(stats.batches).toBe(2);
    // The process-wide count includes the threads' recoveries (what "recovered once per node" is checked by).
    expect(secp256k1RecoveryCount() - before).toBe(300);
  });

  it("while a worker holds two messages, requests of later turns wait and go out together", async () => {
    const busy = signed(512, "busy");
    const trickle = signed(10, "trickle");
    const t = threads({ threads: 1 });
    const first = busy.map((s) => t.recoverAddress(s.msgHash, s.signature, s.recovery)); // 2 messages of 256
    const later: Promise<Address>[] = [];
    for (const s of trickle) {
      await new Promise((resolve) => setImmediate(resolve)); // one request a turn, as RPC calls come under load
      later.push(t.recoverAddress(s.msgHash, s.signature, s.recovery));
    }
    expect((await Promise.all(later)).map(hex)).toEqual(trickle.map((s) => hex(s.address)));
    await Promise.all(first);
    // ~35 ms of recoveries in the first two messages; the ten turns take well under 1 ms.
    expect(t.stats()).toMatchObject({ inThreads: 522, batches: 3 });
  });

  it("rejects an unrecoverable signature as recoverAddress does, and answers the rest of its batch", async () => {
    const bad = unrecoverable();
    const good = signed(3, "beside the bad one");
    const t = threads({ threads: 1 });
    const results = await Promise.allSettled(
      [good[0]!, bad, good[1]!, good[2]!].map((s) => t.recoverAddress(s.msgHash, s.signature, s.recovery)),
    );
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    expect(results[1]).toMatchObject({
      reason: { code: "CRYPTO_INVALID_SIGNATURE", message: "public key could not be recovered" },
    });
    expect(hex((results[2] as PromiseFulfilledResult<Address>).value)).toBe(hex(good[1]!.address));
    expect(t.stats()).toMatchObject({ inThreads: 4, inline: 0 });
  });

  it("refuses malformed input before it reaches a thread", async () => {
    const [s] = signed(1, "malformed");
    const t = threads({ threads: 1 });
    await expect(t.recoverAddress(s!.msgHash.subarray(1), s!.signature, s!.recovery)).rejects.toMatchObject({
      code: "CRYPTO_INVALID_INPUT",
    });
    await expect(t.recoverAddress(s!.msgHash, s!.signature, 2)).rejects.toMatchObject({
      code: "CRYPTO_INVALID_SIGNATURE",
    });
    await expect(t.recoverAddress(s!.msgHash, new Uint8Array(64), 0)).rejects.toMatchObject({
      code: "CRYPTO_INVALID_SIGNATURE",
    });
    expect(t.stats()).toMatchObject({ inThreads: 0, inline: 0, batches: 0 });
  });

  it("recovers inline with no threads, and past pendingMax (backpressure)", async () => {
    const items = signed(5, "inline");
    const none = threads({ threads: 0 });
    const a = await Promise.all(items.map((s) => none.recoverAddress(s.msgHash, s.signature, s.recovery)));
    expect(a.map(hex)).toEqual(items.map((s) => hex(s.address)));
    expect(none.stats()).toMatchObject({ inThreads: 0, inline: 5, batches: 0 });

    const bounded = threads({ threads: 1, pendingMax: 2 });
    const b = await Promise.all(items.map((s) => bounded.recoverAddress(s.msgHash, s.signature, s.recovery)));
    expect(b.map(hex)).toEqual(items.map((s) => hex(s.address)));
    expect(bounded.stats()).toMatchObject({ inThreads: 2, inline: 3 });
  });

  it("answers a dead worker's requests inline, reports it once, and recovers inline from then on", async () => {
    const items = signed(40, "crash");
    const failures: Error[] = [];
    const t = threads({ threads: 1, onWorkerFailure: (err) => failures.push(err) });
    // Start the worker and let it answer once.
    await t.recoverAddress(items[0]!.msgHash, items[0]!.signature, items[0]!.recovery);
    const worker = (t as unknown as { slots: { worker: Worker }[] }).slots[0]!.worker;
    const pending = items.map((s) => t.recoverAddress(s.msgHash, s.signature, s.recovery));
    // The requests go out at this turn's end (an immediate queued before this one); the worker dies right after.
    setImmediate(() => void worker.terminate());
    const got = await Promise.all(pending);
    expect(got.map(hex)).toEqual(items.map((s) => hex(s.address)));
    expect(failures).toHaveLength(1);
    expect(failures[0]!.message).toMatch(/recovery worker exited/);
    expect(t.stats().inline).toBe(40);

    const later = await t.recoverAddress(items[1]!.msgHash, items[1]!.signature, items[1]!.recovery);
    expect(hex(later)).toBe(hex(items[1]!.address));
    expect(t.stats()).toMatchObject({ inThreads: 1, inline: 41 });
  });

  it("close answers what is queued inline, and later requests too", async () => {
    const items = signed(10, "close");
    const failures: Error[] = [];
    const t = threads({ threads: 1, onWorkerFailure: (err) => failures.push(err) });
    const queued = items.map((s) => t.recoverAddress(s.msgHash, s.signature, s.recovery));
    await t.close();
    expect((await Promise.all(queued)).map(hex)).toEqual(items.map((s) => hex(s.address)));
    const after = await t.recoverAddress(items[3]!.msgHash, items[3]!.signature, items[3]!.recovery);
    expect(hex(after)).toBe(hex(items[3]!.address));
    expect(t.stats()).toMatchObject({ inThreads: 0, inline: 11 });
    expect(failures).toEqual([]); // a close is not a failure
    await t.close();
  });

  it.each([-1, 17, 1.5, Number.NaN])("refuses %s threads", (bad) => {
    expect(() => new RecoveryThreads({ threads: bad })).toThrowError(
      expect.objectContaining({ code: "CRYPTO_INVALID_INPUT", message: expect.stringContaining("0..16") }),
    );
  });

  it("refuses a pendingMax that is not a positive integer", () => {
    expect(() => new RecoveryThreads({ threads: 1, pendingMax: 0 })).toThrowError(/pendingMax/);
  });
});
