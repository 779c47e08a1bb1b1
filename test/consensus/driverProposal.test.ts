import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Prepare } from "../../src/consensus/index.js";
import { keccak256 } from "../../src/crypto/index.js";
import type { Transaction } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { keys, type Rig, rig, settled, signedBy, transfer, until } from "./driverHelpers.js";

/**
 * The leader's side of the driver: a lone validator (a quorum of one, it commits what it proposes) sealing the
 * pool into blocks. What it seals and when (minSealTimeMs, a full block at once, idle time not counted), what it
 * gives back to the pool, parks and drops, one build at a time, a build made stale by sync, failures, and the
 * leader period taking effect. Time is fake (timers and Date); the view timeout is far away.
 */

const hex = bytesToHex;
const hashes = (txs: Transaction[]) => txs.map((t) => hex(t.hash));
const NOW = 1_700_000_000_000;
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe("ConsensusDriver: proposing", () => {
  let dir: string;
  let r: Rig | null = null;
  const make = (txs: Transaction[], minSealTimeMs = 0, minBlockIntervalMs = 0) => {
    r = rig(dir, keys[0]!, [keys[0]!], {
      txs,
      options: { minSealTimeMs, minBlockIntervalMs, viewTimeoutMs: 100_000 },
    });
    return r;
  };
  const tick = async (driverRig: Rig, n = 1) => {
    for (let i = 0; i < n; i++) {
      vi.advanceTimersByTime(10);
      await settled(driverRig.driver);
    }
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-driver-proposal-"));
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "setTimeout", "clearTimeout", "Date"] });
    vi.setSystemTime(NOW);
  });
  afterEach(async () => {
    vi.useRealTimers();
    await r?.driver.stop();
    r = null;
    await rm(dir, { recursive: true, force: true });
  });

  it("seals the pool into a block, commits it, and proposes again each time txs arrive", async () => {
    const txs = [transfer(1), transfer(2)];
    const p = make(txs);
    p.chain.nextSet = [{ nodeId: keys[0]!.nodeId, weight: 2 }]; // the block changes the validator set
    await p.driver.start();
    await until(() => p.chain.heightNow === 1, "block 1");
    // Built on the parent the core named: the genesis head here (pipelining may name an executed block).
    const opts = { proposer: keys[0]!.nodeId, view: 0, nowMs: NOW, parentHash: new Uint8Array(32) };
    expect(p.chain.builds).toEqual([{ txs, opts }]);
    expect(p.pool.seals).toEqual([100]);
    expect(p.logger.find("proposing")).toEqual([
      { level: "debug", obj: { height: 1, view: 0, txs: 2 }, msg: "proposing" },
    ]);
    await settled(p.driver);
    expect(p.pool.released).toEqual([]); // all of them made the block
    expect(p.driver.status()!.validators).toEqual([{ nodeId: keys[0]!.nodeId, weight: 2 }]);

    // No tick in between: only the pool's "added" event can make it propose.
    p.pool.add(transfer(3));
    await until(() => p.chain.heightNow === 2, "block 2");
    await settled(p.driver); // asked for block 3 with an empty pool: only the next arrival can make it propose
    p.pool.add(transfer(4));
    await until(() => p.chain.heightNow === 3, "block 3");
    expect(p.chain.builds.map((b) => hashes(b.txs))).toEqual([
      hashes(txs),
      hashes([transfer(3)]),
      hashes([transfer(4)]),
    ]);
    expect(p.driver.counters.commits).toBe(3);
  });

  it("waits minSealTimeMs after the first pending tx", async () => {
    const p = make([transfer(1)], 100);
    await p.driver.start();
    await tick(p, 9);
    expect(p.chain.builds).toEqual([]);
    await tick(p, 1);
    await until(() => p.chain.builds.length === 1, "the build");
    expect(p.chain.builds[0]!.opts.nowMs).toBe(NOW + 100);
  });

  it("seals a full block at once, without waiting", async () => {
    const p = make([transfer(1), transfer(2)], 100);
    p.chain.config = { ...p.chain.config, txCountLimit: 2 };
    await p.driver.start();
    await until(() => p.chain.builds.length === 1, "the build");
    expect(p.chain.builds[0]!.opts.nowMs).toBe(NOW);
    expect(p.pool.seals).toEqual([2]);
  });

  it("starts a build minBlockIntervalMs after the previous one at the earliest, unless a full block waits", async () => {
    const p = make([transfer(1)], 0, 100);
    p.chain.config = { ...p.chain.config, txCountLimit: 3 };
    await p.driver.start();
    await until(() => p.chain.heightNow === 1, "block 1"); // the first build does not wait
    p.pool.add(transfer(2));
    await turns();
    await tick(p, 9); // 90 ms after the first build
    expect(p.chain.builds).toHaveLength(1);
    await tick(p, 1);
    await until(() => p.chain.heightNow === 2, "block 2");
    expect(p.chain.builds[1]!.opts.nowMs).toBe(NOW + 100);
    // A full block (tx_count_limit 3) is built at once, however recent the last build.
    for (const i of [3, 4, 5]) p.pool.add(transfer(i));
    await until(() => p.chain.heightNow === 3, "block 3");
    expect(p.chain.builds[2]!.opts.nowMs).toBe(NOW + 100);
    // Idle for longer than the interval: a lone tx goes at once.
    await tick(p, 20);
    p.pool.add(transfer(6));
    await until(() => p.chain.heightNow === 4, "block 4");
    expect(p.chain.builds[3]!.opts.nowMs).toBe(NOW + 300);
  });

  it("a wall clock stepped back holds no block (minBlockIntervalMs, minSealTimeMs)", async () => {
    const p = make([transfer(1)], 0, 100);
    await p.driver.start();
    await until(() => p.chain.heightNow === 1, "block 1");
    vi.setSystemTime(NOW - 60_000); // NTP steps the clock back a minute: the last build is "in the future"
    p.pool.add(transfer(2));
    await until(() => p.chain.heightNow === 2, "block 2 at once");
    expect(p.chain.builds[1]!.opts.nowMs).toBe(NOW - 60_000);
    await p.driver.stop();

    const q = make([], 100);
    await q.driver.start();
    vi.setSystemTime(NOW);
    q.pool.add(transfer(1)); // the first pending tx, at NOW
    await turns();
    vi.setSystemTime(NOW - 60_000);
    await tick(q, 1);
    await until(() => q.chain.builds.length === 1, "the build despite minSealTimeMs");
  });

  it("time spent idle does not count towards minSealTimeMs", async () => {
    const p = make([], 100);
    await p.driver.start();
    await tick(p, 50);
    p.pool.add(transfer(1));
    await turns();
    await settled(p.driver);
    expect(p.chain.builds).toEqual([]);
    await tick(p, 10);
    await until(() => p.chain.builds.length === 1, "the build");
  });

  it("a failed build is logged, its txs go back to the pool, and the next one is tried", async () => {
    const p = make([transfer(1)]);
    p.chain.buildError = new Error("executor crashed");
    await p.driver.start();
    await until(() => p.pool.released.length === 1, "the txs given back");
    expect(p.pool.released).toEqual([hashes([transfer(1)])]);
    expect(p.logger.find("building a proposal failed")).toEqual([
      { level: "error", obj: { height: 1, err: "executor crashed" }, msg: "building a proposal failed" },
    ]);
    p.chain.buildError = null;
    p.pool.add(transfer(2));
    await until(() => p.chain.heightNow === 1, "block 1");
    expect(hashes(p.chain.builds[1]!.txs)).toEqual(hashes([transfer(2)]));
  });

  it("parks txs the executor may retry, drops the dead ones and says so, gives back those a full block left over", async () => {
    const txs = [1, 2, 3, 4, 5, 6].map(transfer);
    const p = make(txs);
    p.chain.rejectOnBuild = [
      { tx: txs[0]!, retryable: true, reason: "insufficient balance", code: "INSUFFICIENT_BALANCE" },
      { tx: txs[1]!, retryable: false, reason: "nonce too low", code: "NONCE_TOO_LOW" },
      { tx: txs[2]!, retryable: false, reason: "replayed", code: "NATIVE_NONCE_USED" },
      { tx: txs[4]!, retryable: true, reason: "block full", code: "BLOCK_GAS_LIMIT_REACHED" },
      { tx: txs[5]!, retryable: true, reason: "block full", code: "BLOCK_TX_COUNT_LIMIT_REACHED" },
    ];
    await p.driver.start();
    await until(() => p.chain.heightNow === 1, "block 1");
    expect(p.pool.parked).toEqual([hashes([txs[0]!])]);
    expect(p.pool.dropped).toEqual([hashes([txs[1]!, txs[2]!])]);
    expect(p.pool.released).toEqual([hashes([txs[4]!, txs[5]!])]); // sealable again for the next block
    expect(p.logger.find("dropped transactions the executor refused")).toEqual([
      {
        level: "info",
        obj: { count: 2, reason: "nonce too low" },
        msg: "dropped transactions the executor refused",
      },
    ]);
  });

  it("a block left empty by the executor is not proposed; its txs go back", async () => {
    const txs = [transfer(1), transfer(2)];
    const p = make(txs);
    p.chain.rejectOnBuild = txs.map((tx) => ({
      tx,
      retryable: false,
      reason: "nonce too low",
      code: "NONCE_TOO_LOW",
    }));
    await p.driver.start();
    await until(() => p.pool.released.length === 1, "the txs given back");
    await settled(p.driver);
    expect(p.pool.released).toEqual([hashes(txs)]);
    expect(p.pool.parked).toEqual([]);
    expect(p.chain.commits).toEqual([]);
    expect(p.logger.find("proposing")).toEqual([]);
  });

  it("builds one block at a time: txs and ticks during a build wait for it", async () => {
    const p = make([transfer(1)]);
    const release = p.chain.hold("build");
    await p.driver.start();
    await until(() => p.chain.builds.length === 1, "the build");
    p.pool.add(transfer(2));
    await turns();
    await tick(p, 3);
    expect(p.chain.builds).toHaveLength(1);
    release();
    await until(() => p.chain.heightNow === 2, "block 2");
    expect(p.chain.builds.map((b) => hashes(b.txs))).toEqual([hashes([transfer(1)]), hashes([transfer(2)])]);
  });

  it("does not build when the pool has nothing it can seal", async () => {
    const p = make([]);
    p.pool.unsealable = 2; // counted, but parked or in flight
    await p.driver.start();
    await tick(p, 3);
    expect(p.pool.seals.length).toBeGreaterThan(0);
    expect(p.chain.builds).toEqual([]);
  });

  it("a build made stale by sync is not proposed, and its txs go back", async () => {
    const p = make([transfer(1)]);
    const release = p.chain.hold("build");
    await p.driver.start();
    await until(() => p.chain.builds.length === 1, "the build");
    const blockHash = keccak256(new TextEncoder().encode("synced block 1"));
    p.driver.synced(1, blockHash, { height: 1, view: 0, blockHash, signatures: [] });
    await until(() => p.driver.status()!.height === 2, "height 2");
    await settled(p.driver); // the request for height 2 is in place
    release();
    await until(() => p.pool.released.length === 1, "the txs given back");
    await settled(p.driver);
    expect(p.pool.released).toEqual([hashes([transfer(1)])]);
    expect(p.chain.commits).toEqual([]);
    expect(p.logger.find("proposing")).toEqual([]);
  });

  it("a leader waiting for txs stays asked to propose through Readies that do not ask again", async () => {
    const p = make([]);
    await p.driver.start();
    await settled(p.driver);
    // A refused message makes a Ready with only a rejection in it.
    const outsider = keys[3]!;
    p.net.deliver(
      outsider,
      signedBy<Prepare>(outsider, { type: "prepare", height: 1, view: 0, blockHash: new Uint8Array(32) }),
    );
    await until(() => p.logger.find("consensus input ignored").length > 0, "the rejection");
    await settled(p.driver);
    p.pool.add(transfer(1));
    await until(() => p.chain.heightNow === 1, "block 1");
  });

  it("a tx arriving as it stops is not built", async () => {
    const p = make([]);
    await p.driver.start();
    await settled(p.driver);
    p.pool.add(transfer(1));
    await p.driver.stop();
    await turns();
    expect(p.chain.builds).toEqual([]);
  });

  it("a changed leader period takes effect at the next height, logged once", async () => {
    const p = make([transfer(1)]);
    const commit = p.chain.commit.bind(p.chain);
    p.chain.commit = async (...args: Parameters<typeof commit>) => {
      const out = await commit(...args);
      p.chain.config = { ...p.chain.config, consensusLeaderPeriod: 2 }; // block 1 set it
      return out;
    };
    await p.driver.start();
    await until(() => p.chain.heightNow === 1, "block 1");
    await until(() => p.logger.find("leader period changed").length > 0, "the log");
    p.pool.add(transfer(2));
    await until(() => p.chain.heightNow === 2, "block 2");
    expect(p.logger.find("leader period changed")).toEqual([
      { level: "info", obj: { height: 2, leaderPeriod: 2 }, msg: "leader period changed" },
    ]);
  });

  it("drops ticks while its queue is full (a tick is an input like any other)", async () => {
    // A view timeout of one tick: any tick that reaches the core starts a view change.
    r = rig(dir, keys[0]!, [keys[0]!], {
      txs: [transfer(1)],
      options: { queueMax: 2, viewTimeoutMs: 10 },
    });
    const p = r;
    const release = p.chain.hold("commit");
    await p.driver.start();
    await until(() => p.chain.commits.length === 1, "the commit call");
    p.pool.work = true;
    const other = keys[2]!;
    const prepare = signedBy<Prepare>(other, {
      type: "prepare",
      height: 2,
      view: 0,
      blockHash: new Uint8Array(32),
    });
    expect([p.net.deliver(other, prepare), p.net.deliver(other, prepare)]).toEqual(["accept", "accept"]);
    vi.advanceTimersByTime(100); // ten ticks while the queue is full
    release();
    await until(() => p.chain.heightNow === 1, "block 1");
    await settled(p.driver);
    expect(p.net.ofType("viewChange")).toEqual([]);
    vi.advanceTimersByTime(10);
    await settled(p.driver);
    expect(p.net.ofType("viewChange")).toHaveLength(1);
  });
});
