import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  keccak256,
  privateKeyToAddress,
  RecoveryThreads,
  secp256k1RecoveryCount,
  secp256k1Sign,
} from "../../src/crypto/index.js";
import type { Address } from "../../src/types/index.js";
import { unrecoverableSignature } from "./signatures.js";

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

/** A request no key recovers from (see unrecoverableSignature). */
function unrecoverable(): Signed {
  const { msgHash, signature } = unrecoverableSignature();
  return { msgHash, signature, recovery: 0, address: new Uint8Array(20) };
}

const hex = (a: Uint8Array) => Buffer.from(a).toString("hex");
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
const STAND_IN = new URL("./fixtures/standInRecoveryWorker.mjs", import.meta.url);
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
    const items = signed(12, "trickle");
    const slow = { mode: "slow", delayMs: 300 }; // each message answered 300 ms after it arrives
    const t = threads({ threads: 1, workerUrl: STAND_IN, workerData: slow });
    const first = items.slice(0, 2).map((s) => t.recoverAddress(s.msgHash, s.signature, s.recovery));
    await nextTurn(); // the first two went out as one message
    const second = t.recoverAddress(items[2]!.msgHash, items[2]!.signature, items[2]!.recovery);
    await nextTurn(); // the second message: two unanswered now
    const later: Promise<Address>[] = [];
    for (const s of items.slice(3)) {
      later.push(t.recoverAddress(s.msgHash, s.signature, s.recovery)); // one request a turn, as RPC calls come
      await nextTurn();
    }
    expect(t.stats().batches).toBe(2); // the nine wait for an answer
    const got = await Promise.all([...first, second, ...later]);
    expect(got.map(hex)).toEqual(items.map((s) => hex(s.address)));
    expect(t.stats()).toMatchObject({ inThreads: 12, batches: 3 }); // and went out together
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

  it("start() loads the workers before any recovery (a node's first tx does not wait for one); close() stops them", async () => {
    const t = threads({ threads: 2 });
    expect(t.stats().online).toBe(0); // lazily: nothing until the first recovery or start()
    t.start();
    await vi.waitFor(() => expect(t.stats().online).toBe(2));
    expect(t.stats()).toMatchObject({ batches: 0, inThreads: 0, inline: 0 });
    t.start(); // again: the same workers (new ones would not be online yet)
    expect(t.stats().online).toBe(2);
    const [s] = signed(1, "started");
    expect(hex(await t.recoverAddress(s!.msgHash, s!.signature, s!.recovery))).toBe(hex(s!.address));
    expect(t.stats()).toMatchObject({ online: 2, inThreads: 1, batches: 1 });
    await t.close();
    expect(t.stats().online).toBe(0);
    t.start(); // after close nothing starts
    expect(t.stats().online).toBe(0);
  });

  it("start() with a worker that cannot load: reported once, its work inline", async () => {
    const failures: Error[] = [];
    const t = threads({
      threads: 1,
      workerUrl: new URL("./fixtures/missing.mjs", import.meta.url),
      onWorkerFailure: (err) => failures.push(err),
    });
    t.start();
    await vi.waitFor(() => expect(failures).toHaveLength(1));
    expect(failures[0]!.message).toMatch(/Cannot find module/);
    expect(t.stats().online).toBe(0);
    const [s] = signed(1, "start failed");
    expect(hex(await t.recoverAddress(s!.msgHash, s!.signature, s!.recovery))).toBe(hex(s!.address));
    expect(t.stats()).toMatchObject({ inThreads: 0, inline: 1, batches: 0 });
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
    // Answered requests no longer count against the bound.
    const c = await Promise.all(
      items.slice(0, 2).map((s) => bounded.recoverAddress(s.msgHash, s.signature, s.recovery)),
    );
    expect(c.map(hex)).toEqual(items.slice(0, 2).map((s) => hex(s.address)));
    expect(bounded.stats()).toMatchObject({ inThreads: 4, inline: 3 });

    // Inline, an unrecoverable signature rejects as in a thread.
    const bad = unrecoverable();
    await expect(none.recoverAddress(bad.msgHash, bad.signature, bad.recovery)).rejects.toMatchObject({
      code: "CRYPTO_INVALID_SIGNATURE",
    });
  });

  it("answers a dead worker's requests inline, reports it once, and recovers inline from then on", async () => {
    const items = signed(40, "crash");
    const failures: Error[] = [];
    const t = threads({
      threads: 1,
      workerUrl: STAND_IN,
      workerData: { mode: "crash" }, // exits on its first message
      onWorkerFailure: (err) => failures.push(err),
    });
    const got = await Promise.all(items.map((s) => t.recoverAddress(s.msgHash, s.signature, s.recovery)));
    expect(got.map(hex)).toEqual(items.map((s) => hex(s.address)));
    expect(failures.map((e) => e.message)).toEqual(["recovery worker exited (code 3)"]);
    expect(t.stats()).toMatchObject({ inThreads: 0, inline: 40, batches: 1 });

    const later = await t.recoverAddress(items[1]!.msgHash, items[1]!.signature, items[1]!.recovery);
    expect(hex(later)).toBe(hex(items[1]!.address));
    expect(t.stats()).toMatchObject({ inThreads: 0, inline: 41, batches: 1 });
  });

  it("requests waiting for a worker that dies are recovered inline without another request to wake them", async () => {
    const items = signed(3, "waiting");
    const t = threads({ threads: 1, workerUrl: STAND_IN, workerData: { mode: "slowCrash", delayMs: 300 } });
    const all: Promise<Address>[] = [];
    for (const s of items) {
      all.push(t.recoverAddress(s.msgHash, s.signature, s.recovery));
      await nextTurn(); // two messages go out; the third request waits for an answer that never comes
    }
    expect(t.stats().batches).toBe(2);
    expect((await Promise.all(all)).map(hex)).toEqual(items.map((s) => hex(s.address)));
    expect(t.stats()).toMatchObject({ inThreads: 0, inline: 3, batches: 2 });
  });

  it("a worker that cannot start is a failure too: everything is recovered inline", async () => {
    const [s] = signed(1, "no script");
    const failures: Error[] = [];
    const t = threads({
      threads: 2,
      workerUrl: new URL("./fixtures/missing.mjs", import.meta.url),
      onWorkerFailure: (err) => failures.push(err),
    });
    expect(hex(await t.recoverAddress(s!.msgHash, s!.signature, s!.recovery))).toBe(hex(s!.address));
    await new Promise((resolve) => setTimeout(resolve, 300)); // the second worker's error comes too
    expect(failures).toHaveLength(1); // reported once, though both failed
    expect(failures[0]!.message).toMatch(/Cannot find module/); // the worker's own error, not only its exit
    expect(t.stats()).toMatchObject({ inThreads: 0, inline: 1 });
  });

  it("a worker script the Worker constructor refuses outright: reported, everything inline", async () => {
    const [s] = signed(1, "refused script");
    const failures: Error[] = [];
    const t = threads({
      threads: 1,
      workerUrl: new URL("https://example.invalid/worker.mjs"), // not a file: refused before anything is fetched
      onWorkerFailure: (err) => failures.push(err),
    });
    expect(hex(await t.recoverAddress(s!.msgHash, s!.signature, s!.recovery))).toBe(hex(s!.address));
    expect(failures).toHaveLength(1);
    expect(t.stats()).toMatchObject({ inThreads: 0, inline: 1, batches: 0 });
  });

  it("when one of two workers dies, the other takes the work", async () => {
    const items = signed(6, "one of two");
    const failures: Error[] = [];
    const t = threads({
      threads: 2,
      workerUrl: STAND_IN,
      workerData: { mode: "crashFirst", flag: new SharedArrayBuffer(4) },
      onWorkerFailure: (err) => failures.push(err),
    });
    const first = await t.recoverAddress(items[0]!.msgHash, items[0]!.signature, items[0]!.recovery);
    expect(hex(first)).toBe(hex(items[0]!.address)); // its worker died: answered inline
    expect(failures).toHaveLength(1);
    const rest = await Promise.all(
      items.slice(1).map((s) => t.recoverAddress(s.msgHash, s.signature, s.recovery)),
    );
    expect(rest.map(hex)).toEqual(items.slice(1).map((s) => hex(s.address)));
    expect(t.stats()).toMatchObject({ inThreads: 5, inline: 1 });
  });

  it("sends to the worker with the fewest unanswered messages", async () => {
    const items = signed(5, "least loaded");
    const t = threads({ threads: 2, workerUrl: STAND_IN, workerData: { mode: "slow", delayMs: 300 } });
    const all: Promise<Address>[] = [];
    for (const s of items) {
      all.push(t.recoverAddress(s.msgHash, s.signature, s.recovery)); // one request a turn
      await nextTurn();
    }
    expect(t.stats().batches).toBe(4); // two per worker; the fifth waits for an answer
    expect((await Promise.all(all)).map(hex)).toEqual(items.map((s) => hex(s.address)));
    expect(t.stats()).toMatchObject({ inThreads: 5, batches: 5 });
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

  it("close answers the requests a worker holds inline, at once", async () => {
    const items = signed(2, "in flight at close");
    const t = threads({ threads: 1, workerUrl: STAND_IN, workerData: { mode: "slow", delayMs: 300 } });
    const held = items.map((s) => t.recoverAddress(s.msgHash, s.signature, s.recovery));
    await nextTurn(); // sent: the worker holds them for 300 ms
    expect(t.stats().batches).toBe(1);
    await t.close();
    expect((await Promise.all(held)).map(hex)).toEqual(items.map((s) => hex(s.address)));
    expect(t.stats()).toMatchObject({ inThreads: 0, inline: 2 });
  });

  it("close lets each worker end by itself: none is terminated (that could abort the process on Node 24)", async () => {
    const terminate = vi.spyOn(Worker.prototype, "terminate");
    const emit = vi.spyOn(Worker.prototype, "emit");
    try {
      const t = threads({ threads: 2 });
      t.start();
      await vi.waitFor(() => expect(t.stats().online).toBe(2));
      const items = signed(40, "ends by itself");
      const got = await Promise.all(items.map((s) => t.recoverAddress(s.msgHash, s.signature, s.recovery)));
      expect(got.map(hex)).toEqual(items.map((s) => hex(s.address)));
      await t.close();
      expect(t.stats().online).toBe(0);
      expect(terminate).not.toHaveBeenCalled();
      const exitCodes = emit.mock.calls.filter(([event]) => event === "exit").map(([, code]) => code);
      expect(exitCodes).toEqual([0, 0]); // ended normally, not by an error
    } finally {
      terminate.mockRestore();
      emit.mockRestore();
    }
  });

  it("close terminates a worker that does not end by itself within exitWaitMs", async () => {
    const terminate = vi.spyOn(Worker.prototype, "terminate");
    try {
      const t = threads({
        threads: 1,
        workerUrl: STAND_IN,
        workerData: { mode: "ignoreClose" },
        exitWaitMs: 100,
      });
      const [s] = signed(1, "ignores close");
      expect(hex(await t.recoverAddress(s!.msgHash, s!.signature, s!.recovery))).toBe(hex(s!.address));
      await t.close();
      expect(terminate).toHaveBeenCalledTimes(1);
    } finally {
      terminate.mockRestore();
    }
  });

  it("an awaited recovery keeps the process alive; idle workers do not (a process ends on its own)", () => {
    // Top-level await on a thread's answer, nothing else pending: the process must wait for it, then exit by itself
    // although the worker is still running (idle workers are unreferenced). On Node 20 a message in flight to a
    // worker already keeps the loop alive, so the first half guards the behaviour, not our `ref()` alone; the
    // second half fails if an answered worker stays referenced.
    const fixture = fileURLToPath(new URL("./fixtures/awaitOneRecovery.ts", import.meta.url));
    const run = spawnSync(process.execPath, ["--import", "tsx", fixture], {
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(run.error).toBeUndefined(); // not killed by the timeout: it exited on its own
    expect(run.status).toBe(0);
    const [verdict, stats] = run.stdout.trim().split("\n");
    expect(verdict).toBe("recovered");
    expect(JSON.parse(stats!)).toMatchObject({ inThreads: 1, inline: 0 });
  });

  it("accepts 0..16 threads and any positive pendingMax", () => {
    for (const [threads, pendingMax] of [
      [16, 1],
      [0, 1],
    ] as const) {
      expect(new RecoveryThreads({ threads, pendingMax }).stats()).toMatchObject({ threads });
    }
  });

  it.each([-1, 17, 1.5, Number.NaN])("refuses %s threads", (bad) => {
    expect(() => new RecoveryThreads({ threads: bad })).toThrowError(
      expect.objectContaining({
        code: "CRYPTO_INVALID_INPUT",
        message: expect.stringContaining("0..16"),
        meta: { threads: bad },
      }),
    );
  });

  it("refuses a pendingMax that is not a positive integer", () => {
    for (const bad of [0, -3, 2.5]) {
      expect(() => new RecoveryThreads({ threads: 1, pendingMax: bad })).toThrowError(
        expect.objectContaining({
          code: "CRYPTO_INVALID_INPUT",
          message: `pendingMax must be a positive integer, got ${bad}`,
          meta: { pendingMax: bad },
        }),
      );
    }
  });

  it("refuses an exitWaitMs that is negative or not a number", () => {
    for (const bad of [-1, Number.NaN]) {
      expect(() => new RecoveryThreads({ threads: 1, exitWaitMs: bad })).toThrowError(
        expect.objectContaining({ code: "CRYPTO_INVALID_INPUT", meta: { exitWaitMs: bad } }),
      );
    }
  });
});
