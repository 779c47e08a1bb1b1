import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Bucket, bytesKey } from "../../src/ledger/buckets.js";
import { LevelLedger } from "../../src/ledger/index.js";
import { StateReadCache } from "../../src/ledger/stateReadCache.js";
import { silentLogger } from "../../src/util/logger.js";
import { buildCommit, CHAIN_ID, GROUP_ID } from "./helpers.js";

const enc = new TextEncoder();
const k = (s: string) => enc.encode(s);
const v = (s: string) => enc.encode(s);

describe("StateReadCache", () => {
  it("caches values and absence, and drops what a read in flight across a commit found", () => {
    const cache = new StateReadCache(1 << 20);
    cache.fill(cache.ticket(), k("a"), v("1"));
    cache.fill(cache.ticket(), k("gone"), undefined);
    expect(cache.get(k("a"))).toEqual(v("1"));
    expect(cache.get(k("gone"))).toBeNull(); // absent, known: no read
    expect(cache.get(k("other"))).toBeUndefined();

    const ticket = cache.ticket(); // a read starts…
    cache.applyCommit([[k("b"), v("2")]]); // …a commit lands…
    cache.fill(ticket, k("b"), undefined); // …and the read brings back the state before it
    expect(cache.get(k("b"))).toBeUndefined();
  });

  it("moves the cached keys a commit changes to their new values (the last change of a key wins), adds no others", () => {
    const cache = new StateReadCache(1 << 20);
    for (const [key, value] of [
      ["present", v("old")],
      ["deleted", v("old")],
      ["created", undefined],
    ] as const) {
      cache.fill(cache.ticket(), k(key), value);
    }
    cache.applyCommit([
      [k("present"), v("first")],
      [k("deleted"), null],
      [k("created"), v("new")],
      [k("present"), v("second")],
      [k("uncached"), v("x")],
    ]);
    expect(cache.get(k("present"))).toEqual(v("second"));
    expect(cache.get(k("deleted"))).toBeNull();
    expect(cache.get(k("created"))).toEqual(v("new"));
    expect(cache.get(k("uncached"))).toBeUndefined();
    expect(cache.size).toBe(3);
  });

  it("stays within its bytes, least recently used out; 0 disables it", () => {
    const cache = new StateReadCache(3 * (96 + 100));
    for (const key of ["a", "b", "c"]) cache.fill(cache.ticket(), k(key), new Uint8Array(100));
    cache.get(k("a"));
    cache.fill(cache.ticket(), k("d"), new Uint8Array(100));
    expect(cache.size).toBe(3);
    expect(cache.get(k("b"))).toBeUndefined();
    expect(cache.get(k("a"))).toBeDefined();

    const off = new StateReadCache(0);
    off.fill(off.ticket(), k("a"), v("1"));
    expect(off.get(k("a"))).toBeUndefined();

    // Closing the ledger lets go of it all.
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.get(k("a"))).toBeUndefined();
  });
});

describe("LevelLedger: state reads through the cache", () => {
  let dir: string;
  let ledger: LevelLedger;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "consort-statecache-"));
    ledger = await LevelLedger.open(
      { dataDir: dir, chainId: CHAIN_ID, groupId: GROUP_ID },
      { logger: silentLogger() },
    );
  });
  afterEach(async () => {
    await ledger.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("answers repeated reads from memory and every read after a commit with the committed value", async () => {
    await ledger.commitBlock(buildCommit(0, null, [], { stateChanges: [[k("x"), v("0")]] }));
    const store = (ledger as unknown as { store: { getSync: () => unknown; getMany: () => unknown } }).store;
    const single = vi.spyOn(store, "getSync");
    const many = vi.spyOn(store, "getMany");
    expect(await ledger.getState(k("x"))).toEqual(v("0"));
    expect(await ledger.getState(k("y"))).toBeUndefined();
    expect(await ledger.getManyState([k("x"), k("y"), k("z")])).toEqual([v("0"), undefined, undefined]);
    expect(await ledger.getState(k("z"))).toBeUndefined();
    expect(single).toHaveBeenCalledTimes(2); // x, y
    expect(many).toHaveBeenCalledTimes(1); // z only
    expect((many.mock.calls[0] as unknown[][])[0]).toHaveLength(1);

    const head = ledger.head()!.hash;
    await ledger.commitBlock(
      buildCommit(1, head, [], {
        stateChanges: [
          [k("x"), null],
          [k("y"), v("1")],
          [k("z"), v("1")],
        ],
      }),
    );
    expect(await ledger.getManyState([k("x"), k("y")])).toEqual([undefined, v("1")]);
    expect(await ledger.getState(k("z"))).toEqual(v("1"));
    expect(single).toHaveBeenCalledTimes(2);
  });

  it("takes the undo log's previous values from the cache (no read), and they are the committed ones", async () => {
    const x = k("x");
    await ledger.commitBlock(buildCommit(0, null, [], { stateChanges: [[x, v("0")]] }));
    expect(await ledger.getState(x)).toEqual(v("0")); // cached
    const store = (ledger as unknown as { store: { getMany: (keys: Uint8Array[]) => unknown } }).store;
    const many = vi.spyOn(store, "getMany");
    for (let n = 1; n <= 3; n++) {
      await ledger.commitBlock(buildCommit(n, ledger.head()!.hash, [], { stateChanges: [[x, v(`${n}`)]] }));
    }
    // No batched read of x's previous value (its undo entries came from memory).
    const stateX = Buffer.from(bytesKey(Bucket.state, x));
    expect(many.mock.calls.flat(2).some((key) => stateX.equals(key as Uint8Array))).toBe(false);
    for (let n = 0; n <= 3; n++) expect(await ledger.getStateAt(x, n)).toEqual(v(`${n}`));
  });
});
