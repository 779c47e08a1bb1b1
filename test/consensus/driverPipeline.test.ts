import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Commit, PrePrepare, Prepare } from "../../src/consensus/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { fakePayload, keys, type Rig, rig, settled, signedBy, transfer, until } from "./driverHelpers.js";

/**
 * The driver's part of pipelined PBFT (pbft/PROTOCOL.md, "Pipelining"): it builds h + 1 on the executed block the
 * core names, answers with that parent, and refuses a block that extends another parent than the one the core
 * asked to execute on. keys[1] leads height 1, keys[2] height 2 (leader period 1, four validators).
 */

const hex = bytesToHex;

function prePrepareAt1() {
  const { payload, hash } = fakePayload(1, [transfer(1)]);
  return {
    hash,
    msg: signedBy<PrePrepare>(keys[1]!, { type: "prePrepare", height: 1, view: 0, blockHash: hash, payload }),
  };
}

describe("ConsensusDriver: pipelining", () => {
  let dir: string;
  const rigs: Rig[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-driver-pipeline-"));
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
  });
  afterEach(async () => {
    vi.useRealTimers();
    for (const r of rigs.splice(0)) await r.driver.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("the next leader builds h+1 on the executed, uncommitted block of h and proposes it before h commits", async () => {
    // Pipelining is the default (PIPELINE_DEFAULT): no option needed.
    const r = rig(dir, keys[2]!, keys, { txs: [transfer(7)] });
    rigs.push(r);
    await r.driver.start();
    const { hash, msg } = prePrepareAt1();
    r.net.deliver(keys[1]!, msg);
    await until(() => r.net.ofType("prePrepare").length === 1, "the early PrePrepare of height 2");
    expect(r.chain.builds).toHaveLength(1);
    expect(hex(r.chain.builds[0]!.opts.parentHash!)).toBe(hex(hash));
    expect(r.net.ofType("prePrepare")[0]!.msg).toMatchObject({ height: 2, view: 0 });
    // Height 1 is not committed: the chain is still at genesis and the core still at height 1.
    expect(r.chain.heightNow).toBe(0);
    expect(r.driver.status()!.height).toBe(1);
    expect(r.driver.coreCounters()!.pipelined).toBe(0);
  });

  it("with the option off the core waits for the commit (an operator's choice; on by default)", async () => {
    const r = rig(dir, keys[2]!, keys, { txs: [transfer(7)], options: { pipeline: false } });
    rigs.push(r);
    await r.driver.start();
    r.net.deliver(keys[1]!, prePrepareAt1().msg);
    await until(() => r.net.ofType("prepare").length === 1, "our prepare at height 1");
    await settled(r.driver);
    expect(r.chain.builds).toEqual([]);
  });

  /**
   * keys[2], the leader of height 2 with pipelining off (so the request for height 2 comes with the commit of
   * height 1), sees height 1 decided while its commit is held; `beforeVotes` runs just before the deciding votes.
   */
  async function decideHeight1WithCommitHeld(beforeVotes: (r: Rig) => void = () => {}) {
    const r = rig(dir, keys[2]!, keys, { txs: [transfer(7)], options: { pipeline: false } });
    rigs.push(r);
    await r.driver.start();
    const { hash, msg } = prePrepareAt1();
    r.net.deliver(keys[1]!, msg);
    await until(() => r.net.ofType("prepare").length === 1, "our prepare at height 1");
    const releaseCommit = r.chain.hold("commit");
    beforeVotes(r);
    const vote = (type: "prepare" | "commit", k: (typeof keys)[number]) =>
      signedBy<Prepare | Commit>(k, { type, height: 1, view: 0, blockHash: hash });
    for (const k of [keys[1]!, keys[3]!]) r.net.deliver(k, vote("prepare", k));
    for (const k of [keys[1]!, keys[3]!]) r.net.deliver(k, vote("commit", k));
    return { r, hash, releaseCommit };
  }

  it("the leader of h+1 builds while h's block is written, and proposes only once it is durable", async () => {
    const { r, hash, releaseCommit } = await decideHeight1WithCommitHeld();
    await until(
      () => r.chain.commits.length === 1 && r.chain.builds.length === 1,
      "the build beside the commit",
    );
    expect(hex(r.chain.builds[0]!.opts.parentHash!)).toBe(hex(hash));
    // The commit is held: give the build's "proposal" event time to reach the queue; it must wait there.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(r.chain.heightNow).toBe(0);
    expect(r.net.ofType("prePrepare")).toEqual([]);
    releaseCommit();
    await until(() => r.net.ofType("prePrepare").length === 1, "the PrePrepare of height 2 after the commit");
    expect(r.chain.heightNow).toBe(1);
    expect(r.net.ofType("prePrepare")[0]!.msg).toMatchObject({ height: 2, view: 0 });
  });

  it("a build refused on the block being committed is logged at debug and tried again once the commit lands", async () => {
    const { r, releaseCommit } = await decideHeight1WithCommitHeld((rig) => {
      rig.chain.buildError = new Error("parent not pipelineable");
    });
    await until(
      () =>
        r.logger.find("building on the block being committed failed: retried after its commit").length === 1,
      "the debug line",
    );
    expect(
      r.logger.find("building on the block being committed failed: retried after its commit")[0],
    ).toMatchObject({
      level: "debug",
      obj: { height: 2, err: "parent not pipelineable" },
    });
    expect(r.logger.find("building a proposal failed")).toEqual([]);
    r.chain.buildError = null;
    // The fake pool does not take back released txs: one more pending tx, without an arrival event, so that only
    // the retry after the commit can propose it.
    r.pool.pending.push(transfer(8));
    releaseCommit();
    await until(() => r.net.ofType("prePrepare").length === 1, "the PrePrepare of height 2 after the commit");
    expect(r.chain.builds).toHaveLength(2);
  });

  it("the next leader starts its build minBlockIntervalMs after the proposal it took for execution", async () => {
    // Leaders take turns: keys[2] has never built, yet the chain's last proposal (keys[1]'s, height 1) is recent,
    // and it is that one which spaces blocks (each costs every node the same fixed work).
    const now = Date.now();
    const r = rig(dir, keys[2]!, keys, {
      txs: [transfer(7)],
      options: { minBlockIntervalMs: 100, viewTimeoutMs: 1000 },
    });
    rigs.push(r);
    await r.driver.start();
    r.net.deliver(keys[1]!, prePrepareAt1().msg);
    await until(() => r.chain.verifies.length === 1, "the execution of height 1");
    for (let i = 0; i < 9; i++) {
      vi.advanceTimersByTime(10);
      await settled(r.driver);
    }
    expect(r.chain.builds).toEqual([]); // 90 ms after height 1's proposal
    vi.advanceTimersByTime(10);
    await until(() => r.chain.builds.length === 1, "the build of height 2");
    expect(r.chain.builds[0]!.opts.nowMs).toBe(now + 100);
  });

  it("the leader's own build of the timed height pauses its view clock (a slow block is not a faulty leader)", async () => {
    const r = rig(dir, keys[1]!, keys, { txs: [transfer(7)] }); // keys[1] leads height 1
    rigs.push(r);
    r.pool.work = true; // the view clock runs
    const releaseBuild = r.chain.hold("build");
    await r.driver.start();
    await until(() => r.chain.builds.length === 1, "the build of height 1");
    // viewTimeoutMs 50 / tickMs 10: 8 ticks are past the timeout, within the pause bound (10 timeouts).
    for (let i = 0; i < 8; i++) {
      vi.advanceTimersByTime(10);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    expect(r.net.ofType("viewChange")).toEqual([]);
    releaseBuild();
    await until(() => r.net.ofType("prePrepare").length === 1, "the PrePrepare of height 1");
  });

  it("an early execution of h+1 does not stop h's view clock (only work for the timed height does)", async () => {
    const r = rig(dir, keys[0]!, keys, { options: { pipeline: true } });
    rigs.push(r);
    r.pool.work = true;
    await r.driver.start();
    const first = prePrepareAt1();
    r.net.deliver(keys[1]!, first.msg);
    await until(() => r.net.ofType("prepare").length === 1, "our prepare at height 1");
    // keys[2]'s early proposal for height 2 executes here and does not finish; height 1 gets no more votes.
    const release = r.chain.hold("verify");
    const { payload, hash } = fakePayload(2, [transfer(2)]);
    r.net.deliver(
      keys[2]!,
      signedBy<PrePrepare>(keys[2]!, { type: "prePrepare", height: 2, view: 0, blockHash: hash, payload }),
    );
    await until(() => r.chain.verifies.length === 2, "the early execution of height 2");
    for (let i = 0; i < 8 && r.net.ofType("viewChange").length === 0; i++) {
      vi.advanceTimersByTime(10);
      await settled(r.driver);
    }
    expect(r.net.ofType("viewChange").map((s) => s.msg)).toMatchObject([{ height: 1, toView: 1 }]);
    release();
  });

  it("a block that extends another parent than the one the core named is invalid: no vote, a view change", async () => {
    const r = rig(dir, keys[0]!, keys, { options: { pipeline: true } });
    rigs.push(r);
    r.chain.verifiedParent = new Uint8Array(32).fill(5);
    await r.driver.start();
    r.net.deliver(keys[1]!, prePrepareAt1().msg);
    await until(() => r.logger.find("proposal rejected").length === 1, "the rejection");
    expect(r.logger.find("proposal rejected")[0]!.obj.err).toBe("the block extends another parent");
    await until(() => r.net.ofType("viewChange").length === 1, "the view change");
    expect(r.net.ofType("prepare")).toEqual([]);
  });
});
