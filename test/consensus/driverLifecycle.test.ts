import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  encodePbftMessage,
  HardStateLog,
  type PrePrepare,
  type Prepare,
  readHardStateLog,
} from "../../src/consensus/index.js";
import { keccak256, NodeKey } from "../../src/crypto/index.js";
import type { ConsortMetrics } from "../../src/metrics/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import {
  fakePayload,
  keys,
  type Rig,
  rig,
  settled,
  signedBy,
  transfer,
  until,
  validatorsOf,
} from "./driverHelpers.js";

/**
 * The consensus driver's life cycle and inputs, against in-memory fakes of its narrow interfaces (a real PbftCore
 * inside, a real hard state file): start and stop, the hard state file on start and on failure, halting, the
 * decoding and bounding of peer messages, sync reports.
 */

const hex = bytesToHex;
const outsider = NodeKey.fromSeed(new Uint8Array(32).fill(9));
const blockHash = keccak256(new TextEncoder().encode("block 1"));
const prepareOf = (key: NodeKey, height = 1, hash = blockHash) =>
  signedBy<Prepare>(key, { type: "prepare", height, view: 0, blockHash: hash });
/** A few turns of the event loop: enough for the driver to act on an input it would act on. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe("ConsensusDriver: start, stop, hard state, halt, inputs", () => {
  let dir: string;
  const rigs: Rig[] = [];
  const make = (...args: Parameters<typeof rig> extends [string, ...infer R] ? R : never) => {
    const r = rig(dir, ...args);
    rigs.push(r);
    return r;
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-driver-life-"));
  });
  afterEach(async () => {
    vi.useRealTimers();
    for (const r of rigs.splice(0)) await r.driver.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("start subscribes to the consensus topic and logs the height, view and whether this node seals", async () => {
    const r = make(keys[0]!, keys);
    expect(r.driver.status()).toBeNull();
    await r.driver.start();
    expect(r.net.subscribed).toEqual(["consensus"]);
    expect(r.logger.find("consensus started")).toEqual([
      { level: "info", obj: { height: 1, view: 0, sealer: true }, msg: "consensus started" },
    ]);
    expect(r.driver.status()).toMatchObject({
      height: 1,
      view: 0,
      viewChanging: false,
      leader: keys[1]!.nodeId,
    });

    const observer = make(outsider, keys);
    await observer.driver.start();
    expect(observer.logger.find("consensus started")[0]!.obj).toEqual({ height: 1, view: 0, sealer: false });
  });

  it("stop unsubscribes from the transport and the pool, clears its timer, and ignores later input", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
    const r = make(keys[0]!, keys);
    await r.driver.start();
    expect(vi.getTimerCount()).toBe(1);
    await r.driver.stop();
    expect(vi.getTimerCount()).toBe(0);
    expect(r.net.state.unsubscribed).toBe(1);
    expect(r.pool.unsubscribed).toBe(1);
    await r.driver.stop(); // a second stop is harmless
    expect(r.net.state.unsubscribed).toBe(1);

    r.driver.synced(1, blockHash, { height: 1, view: 0, blockHash, signatures: [] });
    await turns();
    expect(r.driver.status()!.height).toBe(1);
  });

  it("stop waits for the block being committed before it returns", async () => {
    const r = make(keys[0]!, [keys[0]!], { txs: [transfer(1)] });
    const release = r.chain.hold("commit");
    await r.driver.start();
    await until(() => r.chain.commits.length === 1, "the commit call");
    let stopped = false;
    const stopping = r.driver.stop().then(() => {
      stopped = true;
    });
    await turns(10);
    expect(stopped).toBe(false);
    release();
    await stopping;
    expect(r.chain.heightNow).toBe(1);
  });

  it("persists its view change and a restarted driver resumes that view from the file", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
    const r = make(keys[0]!, keys);
    r.pool.work = true; // the view clock runs
    await r.driver.start();
    // viewTimeoutMs 50 / tickMs 10: the 5th tick times the view out, not the 4th.
    for (let i = 0; i < 4; i++) {
      vi.advanceTimersByTime(10);
      await settled(r.driver);
    }
    expect(r.net.ofType("viewChange")).toEqual([]);
    vi.advanceTimersByTime(10);
    await settled(r.driver);
    expect(r.net.ofType("viewChange").map((s) => [s.to, s.topic, s.msg.height])).toEqual([
      [null, "consensus", 1],
    ]);
    expect(r.driver.status()).toMatchObject({ height: 1, view: 1, viewChanging: true });
    const hard = readHardStateLog(r.stateFile);
    expect(hard).toMatchObject({ height: 1, view: 1, viewChanging: true });
    await r.driver.stop();

    const again = make(keys[0]!, keys);
    await again.driver.start();
    expect(again.driver.status()).toMatchObject({ height: 1, view: 1, viewChanging: true });
  });

  it("a hard state file it cannot read or parse fails start (it never starts over with no votes)", async () => {
    const asDir = path.join(dir, "is-a-dir");
    await mkdir(asDir);
    const unreadable = make(keys[0]!, keys, { options: { stateFile: asDir } });
    await expect(unreadable.driver.start()).rejects.toMatchObject({ code: "EISDIR" });

    const corruptFile = path.join(dir, "corrupt.wal");
    await writeFile(corruptFile, '{"height": 1, "view"');
    const corrupt = make(keys[0]!, keys, { options: { stateFile: corruptFile } });
    await expect(corrupt.driver.start()).rejects.toMatchObject({ code: "HARD_STATE_CORRUPT" });

    // A missing file is a fresh node.
    const fresh = make(keys[0]!, keys, { options: { stateFile: path.join(dir, "none.wal") } });
    await fresh.driver.start();
    expect(fresh.driver.status()).toMatchObject({ height: 1, view: 0 });
  });

  it("votes saved above the height after the ledger's head fail start: the ledger lost blocks it had committed", async () => {
    // The votes of height 1 restored on a chain at genesis (head 0) start; those of height 3 mean blocks 1 and 2
    // were committed and are gone from the ledger (an old copy of the data directory, or its ledger deleted alone).
    const votes = (height: number) => ({
      height,
      view: 0,
      viewChanging: false,
      prePrepareVote: null,
      prepareVote: bytesToHex(keccak256(Buffer.from("block"))),
      commitVote: null,
      prepared: null,
      newViewHash: null,
    });
    const okFile = path.join(dir, "next.wal");
    await new HardStateLog(okFile).save(votes(1) as never);
    const ok = make(keys[0]!, keys, { options: { stateFile: okFile } });
    await ok.driver.start();
    expect(ok.driver.status()).toMatchObject({ height: 1, view: 0 });
    await ok.driver.stop();

    const aheadFile = path.join(dir, "ahead.wal");
    await new HardStateLog(aheadFile).save(votes(3) as never);
    const ahead = make(keys[0]!, keys, { options: { stateFile: aheadFile } });
    const failed = await ahead.driver.start().catch((err: unknown) => err);
    expect(failed).toMatchObject({
      code: "HARD_STATE_AHEAD",
      meta: { stateFile: aheadFile, votesHeight: 3, ledgerHead: 0 },
    });
    expect((failed as Error).message).toContain(`votes reach height 3, but its ledger ends at block 0`);
    expect((failed as Error).message).toContain(`delete the whole data directory (${dir})`);
  });

  it("writes no blank hard state (view 0, no vote): restarting from the previous one restores the same", async () => {
    const r = make(keys[0]!, keys);
    await r.driver.start();
    await settled(r.driver);
    expect(existsSync(r.stateFile)).toBe(false);
    const { payload, hash } = fakePayload(1, [transfer(1)]);
    r.net.deliver(
      keys[1]!,
      signedBy<PrePrepare>(keys[1]!, { type: "prePrepare", height: 1, view: 0, blockHash: hash, payload }),
    );
    await until(() => r.net.ofType("prepare").length === 1, "our prepare");
    expect(readHardStateLog(r.stateFile)).toMatchObject({ height: 1, view: 0, prepareVote: hash });
  });

  it("a hard state it cannot write halts it before the vote leaves the node", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
    const stateFile = path.join(dir, "gone", "state.wal");
    const r = make(keys[0]!, keys, { options: { stateFile } });
    await r.driver.start(); // a blank hard state (height 1, view 0, no vote) is not written: nothing fails yet
    expect(r.fatal).toEqual([]);
    // A replica's first vote: the Prepare for the leader's block. Its save fails.
    const { payload, hash } = fakePayload(1, [transfer(1)]);
    r.net.deliver(
      keys[1]!,
      signedBy<PrePrepare>(keys[1]!, { type: "prePrepare", height: 1, view: 0, blockHash: hash, payload }),
    );
    await until(() => r.fatal.length > 0, "onFatal");
    expect(r.fatal).toHaveLength(1);
    expect(r.fatal[0]).toMatchObject({ code: "ENOENT" });
    expect(r.net.sent).toEqual([]);
    const fatal = r.logger.entries.filter((l) => l.level === "fatal");
    expect(fatal).toEqual([
      {
        level: "fatal",
        obj: { err: (r.fatal[0] as Error).message, stack: (r.fatal[0] as Error).stack },
        msg: "CONSENSUS FAILURE: halting",
      },
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a full disk halts it with the data directory and what to do", async () => {
    const r = make(keys[0]!, [keys[0]!], { txs: [transfer(1)] });
    r.chain.commitError = Object.assign(new Error("write failed"), { code: "ENOSPC" });
    await r.driver.start();
    await until(() => r.fatal.length > 0, "onFatal");
    expect(r.fatal).toEqual([r.chain.commitError]);
    expect(r.logger.entries.filter((l) => l.level === "fatal")).toEqual([
      {
        level: "fatal",
        obj: { err: "write failed", dataDir: dir },
        msg: "no space left on the data directory: stopping (blocks and votes already on disk are intact); free space and restart the node",
      },
    ]);
    expect(r.driver.counters.commits).toBe(0);
  });

  it("halt reports once, stops the loop and its timer, and does nothing after stop", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
    const r = make(keys[0]!, keys);
    await r.driver.start();
    const first = new Error("sync could not store block 5");
    r.driver.halt(first);
    r.driver.halt(new Error("again"));
    expect(r.fatal).toEqual([first]);
    expect(r.logger.entries.filter((l) => l.level === "fatal")).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
    r.driver.synced(1, blockHash, { height: 1, view: 0, blockHash, signatures: [] });
    await turns();
    expect(r.driver.status()!.height).toBe(1);

    const stopped = make(keys[0]!, keys, { options: { stateFile: path.join(dir, "other.json") } });
    await stopped.driver.start();
    await stopped.driver.stop();
    stopped.driver.halt(new Error("late"));
    expect(stopped.fatal).toEqual([]);
  });

  it("peer bytes that do not decode are rejected and logged with the peer; valid ones are accepted and counted", async () => {
    const r = make(keys[0]!, keys);
    await r.driver.start();
    await settled(r.driver);
    expect(r.net.deliverBytes(keys[2]!.nodeId, new Uint8Array([1, 2, 3]))).toBe("reject");
    expect(r.logger.find("malformed consensus message")).toEqual([
      {
        level: "debug",
        obj: { from: hex(keys[2]!.nodeId), err: expect.stringMatching(/\w/) },
        msg: "malformed consensus message",
      },
    ]);
    expect(r.driver.counters.messagesIn).toBe(0);
    expect(r.net.deliver(keys[2]!, prepareOf(keys[2]!))).toBe("accept");
    expect(r.driver.counters).toEqual({
      queueDropped: 0,
      messagesIn: 1,
      messagesOut: 0,
      viewChanges: 0,
      commits: 0,
    });
  });

  it("bounds its inbound queue: messages beyond queueMax are dropped and counted", async () => {
    const r = make(keys[0]!, keys, { options: { queueMax: 2 } });
    await r.driver.start();
    await settled(r.driver);
    // Delivered in one turn of the event loop: the loop has not taken any yet.
    const verdicts = keys.concat(keys[0]!).map((k) => r.net.deliver(k, prepareOf(k)));
    expect(verdicts).toEqual(["accept", "accept", "ignore", "ignore", "ignore"]);
    expect(r.driver.counters).toMatchObject({ queueDropped: 3, messagesIn: 5 });
  });

  it("bounds its inbound queue in bytes too: a message past queueBytesMax is dropped, room comes back as it drains", async () => {
    const size = encodePbftMessage(prepareOf(keys[0]!)).length;
    const r = make(keys[0]!, keys, { options: { queueMax: 1000, queueBytesMax: 2 * size + size / 2 } });
    await r.driver.start();
    await settled(r.driver);
    const verdicts = keys.slice(0, 3).map((k) => r.net.deliver(k, prepareOf(k)));
    expect(verdicts).toEqual(["accept", "accept", "ignore"]);
    expect(r.driver.counters).toMatchObject({ queueDropped: 1, messagesIn: 3 });
    await settled(r.driver);
    expect(r.net.deliver(keys[2]!, prepareOf(keys[2]!))).toBe("accept");
  });

  it("a refused message is logged, and a Ready without hard state writes no file", async () => {
    const r = make(keys[0]!, keys);
    await r.driver.start();
    await settled(r.driver);
    expect(existsSync(r.stateFile)).toBe(false);
    r.net.deliver(outsider, prepareOf(outsider));
    await until(() => r.logger.find("consensus input ignored").length > 0, "the rejection log");
    await settled(r.driver);
    expect(r.logger.find("consensus input ignored")[0]).toMatchObject({
      level: "debug",
      obj: { type: "prepare", height: 1, view: 0 },
    });
    expect(existsSync(r.stateFile)).toBe(false);
  });

  it("synced moves the core to the next height with the validator set sync reports", async () => {
    const r = make(keys[0]!, keys);
    await r.driver.start();
    r.driver.synced(
      1,
      blockHash,
      { height: 1, view: 0, blockHash, signatures: [] },
      validatorsOf(keys.slice(0, 3)),
    );
    await until(() => r.driver.status()!.height === 2, "height 2");
    expect(r.driver.status()!.validators.map((v) => hex(v.nodeId))).toEqual(
      keys.slice(0, 3).map((k) => hex(k.nodeId)),
    );
  });

  it("a block synced before start() waits in the queue (no busy loop) and start() takes it", async () => {
    const r = make(keys[0]!, keys);
    // src/node starts sync before consensus: a synced block may arrive while the driver reads its hard state.
    r.driver.synced(
      1,
      blockHash,
      { height: 1, view: 0, blockHash, signatures: [] },
      validatorsOf(keys.slice(0, 3)),
    );
    await turns(); // with the old kick() this never returned: it re-kicked on microtasks forever
    expect(r.driver.status()).toBeNull();
    await r.driver.start();
    await until(() => r.driver.status()!.height === 2, "height 2");
    expect(r.driver.status()!.validators.map((v) => hex(v.nodeId))).toEqual(
      keys.slice(0, 3).map((k) => hex(k.nodeId)),
    );
  });

  it("feeds the phase metrics: a committed block observes its commit latency", async () => {
    const latencies: number[] = [];
    const metrics = {
      consensus: {
        phaseDuration: { observe: () => {} },
        commitLatency: { observe: (s: number) => latencies.push(s) },
        viewChanges: { inc: () => {} },
      },
    } as unknown as ConsortMetrics;
    const r = make(keys[0]!, [keys[0]!], { txs: [transfer(1)], metrics });
    await r.driver.start();
    await until(() => r.chain.heightNow === 1, "the commit");
    await settled(r.driver);
    expect(latencies).toHaveLength(1);
  });

  it("a changed leader period waits until the core is at the chain's next height, in view 0", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
    const behind = make(keys[0]!, keys);
    await behind.driver.start();
    // Sync stored blocks 1..3 (one of them set the period) and has not reported them yet: the core stays.
    behind.chain.heightNow = 3;
    behind.chain.config = { ...behind.chain.config, consensusLeaderPeriod: 2 };
    behind.net.deliver(keys[2]!, prepareOf(keys[2]!));
    await settled(behind.driver);
    expect(behind.driver.status()).toMatchObject({ height: 1, view: 0 });
    expect(behind.logger.find("leader period changed")).toEqual([]);

    const changing = make(keys[0]!, keys, { options: { stateFile: path.join(dir, "changing.json") } });
    changing.pool.work = true;
    await changing.driver.start();
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(10);
      await settled(changing.driver);
    }
    expect(changing.driver.status()).toMatchObject({ height: 1, view: 1 });
    changing.chain.config = { ...changing.chain.config, consensusLeaderPeriod: 2 };
    changing.net.deliver(keys[2]!, prepareOf(keys[2]!));
    await settled(changing.driver);
    expect(changing.logger.find("leader period changed")).toEqual([]);
  });
});
