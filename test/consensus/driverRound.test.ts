import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Commit, NewView, PrePrepare, Prepare, ViewChange } from "../../src/consensus/index.js";
import type { NodeKey } from "../../src/crypto/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { fakePayload, keys, type Rig, rig, settled, signedBy, transfer, until } from "./driverHelpers.js";

/**
 * A replica's round through the driver, four validators, this node keys[0] (the leader of height 1 view 0 is
 * keys[1]): it executes the leader's block, votes, commits, helps a lagging peer, changes views on a timeout or a
 * bad block, reports equivocation, asks sync for blocks it misses, and its view clock pauses while it executes.
 * Time is fake (setInterval and Date): each `tick()` is one 10 ms tick; the view times out after 5.
 */

const hex = bytesToHex;

function prePrepareOf(salt = 0, leader = keys[1]!) {
  const { payload, hash } = fakePayload(1, [transfer(1)], salt);
  return {
    hash,
    msg: signedBy<PrePrepare>(leader, { type: "prePrepare", height: 1, view: 0, blockHash: hash, payload }),
  };
}
const voteOf = (type: "prepare" | "commit", key: NodeKey, hash: Uint8Array, height = 1) =>
  signedBy<Prepare | Commit>(key, { type, height, view: 0, blockHash: hash });

describe("ConsensusDriver: a replica's round", () => {
  let dir: string;
  let r: Rig;

  const tick = async (n = 1) => {
    for (let i = 0; i < n; i++) {
      vi.advanceTimersByTime(10);
      await settled(r.driver);
    }
  };

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-driver-round-"));
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date"] });
    vi.setSystemTime(1_700_000_000_000);
    r = rig(dir, keys[0]!, keys);
  });
  afterEach(async () => {
    vi.useRealTimers();
    await r.driver.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("executes the leader's block, votes to all, commits with a quorum and helps a lagging peer directly", async () => {
    await r.driver.start();
    const { hash, msg } = prePrepareOf();
    expect(r.net.deliver(keys[1]!, msg)).toBe("accept");
    await until(() => r.net.ofType("prepare").length === 1, "our prepare");
    // Executed on the parent the core names: the genesis head.
    const opts = { nowMs: 1_700_000_000_000, parentHash: new Uint8Array(32) };
    expect(r.chain.verifies).toEqual([{ expectedHash: hash, opts }]);
    expect(r.net.ofType("prepare")[0]).toMatchObject({
      to: null,
      topic: "consensus",
      msg: { type: "prepare", height: 1, view: 0, blockHash: hash, sender: keys[0]!.nodeId },
    });
    // Write-ahead: the vote was on disk when it left (save, then send).
    expect(hex(r.net.ofType("prepare")[0]!.persisted!.prepareVote!)).toBe(hex(hash));

    for (const k of [keys[2]!, keys[3]!]) r.net.deliver(k, voteOf("prepare", k, hash));
    await until(() => r.net.ofType("commit").length === 1, "our commit");
    expect(r.net.ofType("commit")[0]).toMatchObject({ to: null, topic: "consensus" });
    expect(hex(r.net.ofType("commit")[0]!.persisted!.commitVote!)).toBe(hex(hash));

    const releaseCommit = r.chain.hold("commit");
    for (const k of [keys[2]!, keys[3]!]) r.net.deliver(k, voteOf("commit", k, hash));
    await until(() => r.chain.commits.length === 1, "the chain's commit");
    releaseCommit();
    await until(() => r.driver.status()!.height === 2, "height 2");
    await settled(r.driver);
    const committed = r.chain.commits[0]!;
    expect(committed.opts).toEqual({ compact: true });
    expect(committed.certificate).toMatchObject({ height: 1, view: 0 });
    expect(committed.certificate.signatures).toHaveLength(3);
    expect(r.logger.find("block committed")).toEqual([
      {
        level: "info",
        obj: {
          height: 1,
          view: 0,
          hash: hex(hash),
          txs: 1,
          signers: 3,
          commitMs: expect.any(Number),
          pipelined: 0,
        },
        msg: "block committed",
      },
    ]);
    expect(r.driver.counters).toEqual({
      queueDropped: 0,
      messagesIn: 5,
      messagesOut: 2,
      viewChanges: 0,
      commits: 1,
    });

    // keys[3] is still at height 1: its vote there gets our Commit, sent to it alone.
    r.net.deliver(keys[3]!, voteOf("prepare", keys[3]!, hash));
    await until(() => r.net.sent.some((s) => s.to !== null), "a direct send");
    expect(r.net.sent.filter((s) => s.to !== null)).toMatchObject([
      { to: hex(keys[3]!.nodeId), topic: "consensus", msg: { type: "commit", height: 1, blockHash: hash } },
    ]);
    expect(r.driver.counters.messagesOut).toBe(3);
  });

  it("logs how long the chain took to commit", async () => {
    vi.useRealTimers();
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "Date", "performance"] });
    vi.advanceTimersByTime(1000);
    await r.driver.start();
    const { hash, msg } = prePrepareOf();
    r.net.deliver(keys[1]!, msg);
    for (const k of [keys[2]!, keys[3]!]) r.net.deliver(k, voteOf("prepare", k, hash));
    const releaseCommit = r.chain.hold("commit");
    for (const k of [keys[2]!, keys[3]!]) r.net.deliver(k, voteOf("commit", k, hash));
    await until(() => r.chain.commits.length === 1, "the chain's commit");
    vi.advanceTimersByTime(40);
    releaseCommit();
    await until(() => r.logger.find("block committed").length === 1, "the commit log");
    expect(r.logger.find("block committed")[0]!.obj.commitMs).toBe(40);
  });

  it("a commit sync already made is not counted or logged as its own", async () => {
    r.chain.commitReturnsNull = true;
    await r.driver.start();
    const { hash, msg } = prePrepareOf();
    r.net.deliver(keys[1]!, msg);
    for (const k of [keys[2]!, keys[3]!]) r.net.deliver(k, voteOf("prepare", k, hash));
    for (const k of [keys[2]!, keys[3]!]) r.net.deliver(k, voteOf("commit", k, hash));
    await until(() => r.driver.status()!.height === 2, "height 2");
    await settled(r.driver);
    expect(r.chain.commits).toHaveLength(1);
    expect(r.driver.counters.commits).toBe(0);
    expect(r.logger.find("block committed")).toEqual([]);
  });

  it("an invalid block: logs why, changes views and gives sealed txs back to the pool", async () => {
    r.chain.verifyError = new Error("state root mismatch");
    await r.driver.start();
    r.net.deliver(keys[1]!, prePrepareOf().msg);
    await until(() => r.net.ofType("viewChange").length === 1, "a view change");
    expect(r.logger.find("proposal rejected")).toEqual([
      { level: "warn", obj: { height: 1, view: 0, err: "state root mismatch" }, msg: "proposal rejected" },
    ]);
    expect(r.net.ofType("prepare")).toEqual([]);
    expect(r.logger.find("view change started")).toEqual([
      { level: "warn", obj: { height: 1, toView: 1, cause: "invalidBlock" }, msg: "view change started" },
    ]);
    expect(r.driver.counters.viewChanges).toBe(1);
    expect(r.pool.released).toEqual(["all"]);
  });

  it("an idle chain never times a view out; a view change keeps ticking (resends) without pending txs", async () => {
    await r.driver.start();
    await tick(20);
    expect(r.net.sent).toEqual([]);
    r.pool.work = true;
    await tick(5);
    expect(r.net.ofType("viewChange")).toHaveLength(1);
    r.pool.work = false;
    await tick(10); // resendTicks: its ViewChange goes out again
    expect(r.net.ofType("viewChange")).toHaveLength(2);
  });

  it("a failed send is logged, not thrown", async () => {
    r.net.state.failSends = true;
    r.pool.work = true;
    await r.driver.start();
    await tick(5);
    await until(() => r.logger.find("consensus send failed").length > 0, "the send failure log");
    expect(r.logger.find("consensus send failed")[0]).toEqual({
      level: "debug",
      obj: { err: "no route to peer" },
      msg: "consensus send failed",
    });
    expect(r.fatal).toEqual([]);
  });

  it("the view clock pauses while it executes a block, at most 10 view timeouts", async () => {
    r.pool.work = true;
    const release = r.chain.hold("verify");
    await r.driver.start();
    r.net.deliver(keys[1]!, prePrepareOf().msg);
    await until(() => r.chain.verifies.length === 1, "the execution");
    await tick(45); // 9 view timeouts
    expect(r.net.ofType("viewChange")).toEqual([]);
    // From the tick at exactly 10 view timeouts (500 ms, the 50th) the clock runs: the 5th tick after times out.
    await tick(8);
    expect(r.net.ofType("viewChange")).toEqual([]);
    await tick(1);
    expect(r.net.ofType("viewChange")).toHaveLength(1);
    release();
  });

  it("the view clock runs again once the block is executed", async () => {
    r.pool.work = true;
    const release = r.chain.hold("verify");
    await r.driver.start();
    r.net.deliver(keys[1]!, prePrepareOf().msg);
    await until(() => r.chain.verifies.length === 1, "the execution");
    await tick(20);
    release();
    await until(() => r.net.ofType("prepare").length === 1, "our prepare");
    expect(r.net.ofType("viewChange")).toEqual([]);
    await tick(5); // no quorum of prepares: the view times out
    expect(r.net.ofType("viewChange")).toHaveLength(1);
  });

  it("reports a leader's equivocation with the height, view, leader and both hashes", async () => {
    await r.driver.start();
    const a = prePrepareOf(0);
    const b = prePrepareOf(1);
    r.net.deliver(keys[1]!, a.msg);
    r.net.deliver(keys[1]!, b.msg);
    await until(() => r.logger.find("leader equivocation evidence").length > 0, "the evidence log");
    expect(r.logger.find("leader equivocation evidence")[0]).toEqual({
      level: "warn",
      obj: { height: 1, view: 0, leader: hex(keys[1]!.nodeId), hashes: [hex(a.hash), hex(b.hash)] },
      msg: "leader equivocation evidence",
    });
  });

  it("a validator's message from a later height makes it ask sync for the blocks it misses", async () => {
    await r.driver.start();
    r.net.deliver(keys[2]!, voteOf("prepare", keys[2]!, prePrepareOf().hash, 3));
    await until(() => r.fetches.length > 0, "fetchBlocks");
    expect(r.fetches).toEqual([{ fromHeight: 1, peers: [hex(keys[2]!.nodeId)] }]);
  });

  it("holds the txs of a block it executed in the pool; another block committing that height gives them back", async () => {
    // keys[0] executes keys[1]'s block X at view 0 (holds its tx), enters view 1 through keys[2]'s NewView (no view
    // change of its own, so nothing releases the hold), executes and commits block Y: X's tx goes back to the pool.
    await r.driver.start();
    const x = prePrepareOf(0);
    r.net.deliver(keys[1]!, x.msg);
    await until(() => r.net.ofType("prepare").length === 1, "our prepare of X");
    expect(r.pool.held).toEqual([[hex(transfer(1).hash)]]);
    const vcs = [keys[1]!, keys[2]!, keys[3]!].map((k) =>
      signedBy<ViewChange>(k, { type: "viewChange", height: 1, toView: 1, prepared: null }),
    );
    r.net.deliver(
      keys[2]!,
      signedBy<NewView>(keys[2]!, { type: "newView", height: 1, view: 1, viewChanges: vcs }),
    );
    const { payload, hash } = fakePayload(1, [transfer(9)]);
    r.net.deliver(
      keys[2]!,
      signedBy<PrePrepare>(keys[2]!, { type: "prePrepare", height: 1, view: 1, blockHash: hash, payload }),
    );
    await until(() => r.net.ofType("prepare").length === 2, "our prepare of Y in view 1");
    expect(r.pool.held).toEqual([[hex(transfer(1).hash)], [hex(transfer(9).hash)]]);
    const vote = (type: "prepare" | "commit", k: NodeKey) =>
      signedBy<Prepare | Commit>(k, { type, height: 1, view: 1, blockHash: hash });
    for (const k of [keys[2]!, keys[3]!]) r.net.deliver(k, vote("prepare", k));
    for (const k of [keys[2]!, keys[3]!]) r.net.deliver(k, vote("commit", k));
    await until(() => r.chain.heightNow === 1, "block Y");
    await settled(r.driver);
    // X's tx is sealable again; Y's committed with its block (the pool removes it), so it is not given back.
    expect(r.pool.released).toEqual([[hex(transfer(1).hash)]]);
  });

  it("a block of that height applied by sync also gives back the txs held for the block it replaces", async () => {
    await r.driver.start();
    r.net.deliver(keys[1]!, prePrepareOf(0).msg);
    await until(() => r.net.ofType("prepare").length === 1, "our prepare of X");
    expect(r.pool.held).toEqual([[hex(transfer(1).hash)]]);
    const { hash } = fakePayload(1, [transfer(9)]);
    r.driver.synced(1, hash, { height: 1, view: 1, blockHash: hash, signatures: [] });
    expect(r.pool.released).toEqual([[hex(transfer(1).hash)]]);
    await settled(r.driver);
  });

  it("a leader's pending request is dropped when another leader's block commits that height", async () => {
    // This node (keys[1]) leads height 1 view 0 but has no txs; the view times out and keys[2] leads view 1.
    r = rig(dir, keys[1]!, keys);
    r.pool.work = true;
    await r.driver.start();
    await tick(5);
    const own = r.net.ofType("viewChange")[0]!.msg as ViewChange;
    const vcs = [
      own,
      ...[keys[2]!, keys[3]!].map((k) =>
        signedBy<ViewChange>(k, { type: "viewChange", height: 1, toView: 1, prepared: null }),
      ),
    ];
    const newLeader = keys[2]!;
    r.net.deliver(
      newLeader,
      signedBy<NewView>(newLeader, { type: "newView", height: 1, view: 1, viewChanges: vcs }),
    );
    const { payload, hash } = fakePayload(1, [transfer(9)]);
    r.net.deliver(
      newLeader,
      signedBy<PrePrepare>(newLeader, { type: "prePrepare", height: 1, view: 1, blockHash: hash, payload }),
    );
    await until(() => r.net.ofType("prepare").length === 1, "our prepare in view 1");
    const vote = (type: "prepare" | "commit", k: NodeKey) =>
      signedBy<Prepare | Commit>(k, { type, height: 1, view: 1, blockHash: hash });
    for (const k of [keys[2]!, keys[3]!]) r.net.deliver(k, vote("prepare", k));
    for (const k of [keys[2]!, keys[3]!]) r.net.deliver(k, vote("commit", k));
    await until(() => r.chain.heightNow === 1, "block 1");
    await settled(r.driver);
    expect(r.driver.status()).toMatchObject({ height: 2, view: 0 });
    // keys[2] leads height 2: a tx arriving now must not revive the old request for height 1.
    r.pool.work = null;
    r.pool.add(transfer(1));
    await tick(2);
    expect(r.chain.builds).toEqual([]);
  });
});
