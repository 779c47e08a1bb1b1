import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Chain } from "../../src/chain/index.js";
import { ConsensusDriver } from "../../src/consensus/driver.js";
import { type HardState, readHardStateLog } from "../../src/consensus/index.js";
import { commitDigest, prePrepareDigest, prepareDigest } from "../../src/consensus/pbft/core/digest.js";
import { decodePbftMessage, encodePbftMessage } from "../../src/consensus/pbft/wire.js";
import { SignerWatch, type SignerWatchDeps } from "../../src/consensus/signerWatch.js";
import { keccak256, type NodeKey } from "../../src/crypto/index.js";
import { Executor } from "../../src/execution/index.js";
import { LevelLedger } from "../../src/ledger/index.js";
import type { Transport } from "../../src/network/index.js";
import type { Transaction } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import { captureLogger } from "../fixtures/logger.js";
import { fakePool, genesisOf, keys, transfer } from "./driverHelpers.js";

/**
 * The driver's ordering contract: a vote is on disk (the fsynced hard state) before any peer can see it, so a node
 * restarted after a crash never signs a different block at the same height and view. Checked at the moment of
 * every send: the hard state file already holds the vote being sent. (Swapping "save" and "send" in
 * ConsensusDriver.handleReady passed the whole suite before this test.)
 * And the view clock of a replica stops while it executes a proposal (issue 11): a slow block is not a faulty leader.
 */

interface Sent {
  type: string;
  height: number;
  blockHash: string;
  /** The vote the hard state file held for that message type when it was sent. */
  persisted: string | null;
}

describe("ConsensusDriver: hard state before messages", () => {
  let dir: string;
  let ledger: LevelLedger | null = null;
  let driver: ConsensusDriver | null = null;
  const opened: LevelLedger[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-driver-"));
  });
  afterEach(async () => {
    await driver?.stop();
    driver = null;
    await ledger?.close();
    ledger = null;
    for (const l of opened.splice(0)) await l.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("every vote it sends is already in the hard state file", async () => {
    ledger = await LevelLedger.open(
      { dataDir: path.join(dir, "ledger"), chainId: 20200n, groupId: "group0" },
      { logger: silentLogger() },
    );
    const chain = new Chain(genesisOf(keys), {
      ledger,
      executor: new Executor({}, { logger: silentLogger() }),
      logger: silentLogger(),
    });
    await chain.init();
    const stateFile = path.join(dir, "consensus-state.wal");
    const sent: Sent[] = [];
    const record = (data: Uint8Array): Promise<void> => {
      const msg = decodePbftMessage(data);
      let hard: HardState | null = null;
      try {
        hard = readHardStateLog(stateFile);
      } catch {}
      const vote =
        msg.type === "prePrepare"
          ? hard?.prePrepareVote
          : msg.type === "prepare"
            ? hard?.prepareVote
            : msg.type === "commit"
              ? hard?.commitVote
              : undefined;
      sent.push({
        type: msg.type,
        height: msg.height,
        blockHash: "blockHash" in msg ? bytesToHex(msg.blockHash) : "",
        persisted: vote === undefined || vote === null ? null : bytesToHex(vote),
      });
      return Promise.resolve();
    };
    let deliver: ((from: Uint8Array, data: Uint8Array) => unknown) | null = null;
    const transport = {
      subscribe: (_topic: string, handler: (from: Uint8Array, data: Uint8Array) => unknown) => {
        deliver = handler;
        return () => {};
      },
      publish: (_topic: string, data: Uint8Array) => record(data),
      sendDirect: (_to: Uint8Array, _topic: string, data: Uint8Array) => record(data),
    } as unknown as Transport;
    const fatal: unknown[] = [];
    const driverWith = (nodeKey: NodeKey, txs: Transaction[]) =>
      new ConsensusDriver(
        { tickMs: 10, viewTimeoutMs: 5000, minSealTimeMs: 0, queueMax: 1000, stateFile },
        {
          chain,
          txpool: fakePool(txs),
          transport,
          nodeKey,
          logger: silentLogger(),
          fetchBlocks: () => {},
          onFatal: (err) => fatal.push(err),
        },
      );
    // Which of the four leads height 1 view 0: ask an idle driver (an empty pool: it proposes nothing).
    const probe = driverWith(keys[0]!, []);
    await probe.start();
    const leaderHex = bytesToHex(probe.status()!.leader!);
    await probe.stop();
    const leader = keys.find((k) => bytesToHex(k.nodeId) === leaderHex)!;
    const others = keys.filter((k) => k !== leader).slice(0, 2);
    // The two other validators vote as soon as the leader does: with the leader, a quorum of 3 of 4.
    const voteOf = (
      k: NodeKey,
      type: "prepare" | "commit",
      height: number,
      view: number,
      hash: Uint8Array,
    ) => {
      const digest = (type === "prepare" ? prepareDigest : commitDigest)(keccak256, height, view, hash);
      return encodePbftMessage({
        type,
        height,
        view,
        blockHash: hash,
        sender: k.nodeId,
        signature: k.sign(digest),
      });
    };
    const onSent = (data: Uint8Array) => {
      const msg = decodePbftMessage(data);
      if (msg.type !== "prePrepare" && msg.type !== "commit") return;
      const type = msg.type === "prePrepare" ? "prepare" : "commit";
      setImmediate(() => {
        for (const k of others) deliver?.(k.nodeId, voteOf(k, type, msg.height, msg.view, msg.blockHash));
      });
    };
    const recordAndVote = (data: Uint8Array) => {
      const done = record(data);
      onSent(data);
      return done;
    };
    (transport as unknown as { publish: unknown }).publish = (_t: string, d: Uint8Array) => recordAndVote(d);
    (transport as unknown as { sendDirect: unknown }).sendDirect = (
      _to: Uint8Array,
      _t: string,
      d: Uint8Array,
    ) => recordAndVote(d);
    driver = driverWith(leader, [transfer(1), transfer(2)]);
    // Two watches of the committed certificate (which carries the leader's own commit vote): one asks this driver
    // what it signed; the other a driver that signed nothing, as a second process holding the same key would be.
    const watchLog = captureLogger();
    const watchOf = (signedCommit: SignerWatchDeps["signedCommit"]) =>
      new SignerWatch({ self: leader.nodeId, startedAtMs: 0, signedCommit, logger: watchLog });
    const own = watchOf((h, v, hash) => driver!.signedCommit(h, v, hash));
    const twin = watchOf(() => false);
    chain.onCommit((c) => {
      own.check(c.block);
      twin.check(c.block);
    });
    await driver.start();
    const deadline = Date.now() + 20_000;
    while (chain.height() < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(chain.height()).toBe(1);
    expect(fatal).toEqual([]);
    const certificate = (await ledger.getBlock(1))!.certificate!;
    expect(driver.signedCommit(1, certificate.view, certificate.blockHash)).toBe(true);
    expect(driver.signedCommit(1, certificate.view + 1, certificate.blockHash)).toBe(false);
    expect(driver.signedCommit(2, certificate.view, certificate.blockHash)).toBe(false);
    expect([own.conflictCount(), twin.conflictCount()]).toEqual([0, 1]);
    expect(watchLog.entries.map((e) => [e.level, e.obj.height])).toEqual([["error", 1]]);

    const votes = sent.filter((s) => s.type === "prePrepare" || s.type === "prepare" || s.type === "commit");
    expect(votes.map((v) => v.type)).toEqual(expect.arrayContaining(["prePrepare", "prepare", "commit"]));
    const blockHash = bytesToHex((await ledger.getBlockHash(1))!);
    for (const v of votes) {
      expect(v, `${v.type} at height ${v.height}`).toEqual({
        type: v.type,
        height: 1,
        blockHash,
        persisted: blockHash,
      });
    }
  });

  it("a replica busy executing a proposal does not start a view change (its view clock pauses)", async () => {
    const VIEW_TIMEOUT_MS = 300;
    const EXECUTION_MS = 5 * VIEW_TIMEOUT_MS; // well past the timeout, within the pause bound (10 timeouts)
    const open = async (sub: string, executor: Executor, extra = {}) => {
      const l = await LevelLedger.open(
        { dataDir: path.join(dir, sub), chainId: 20200n, groupId: "group0" },
        { logger: silentLogger() },
      );
      opened.push(l);
      const c = new Chain(genesisOf(keys), { ledger: l, executor, logger: silentLogger(), ...extra });
      await c.init();
      return c;
    };
    const leaderChain = await open("leader", new Executor({}, { logger: silentLogger() }));
    /** The replica's executor takes EXECUTION_MS for every block (a large block on a slow machine). */
    class SlowExecutor extends Executor {
      override async executeBlock(...args: Parameters<Executor["executeBlock"]>) {
        await new Promise((r) => setTimeout(r, EXECUTION_MS));
        return super.executeBlock(...args);
      }
    }
    const replicaChain = await open("replica", new SlowExecutor({}, { logger: silentLogger() }), {
      fetchTxs: async (hashes: Uint8Array[]) => {
        const out: Uint8Array[] = [];
        for (const h of hashes) {
          const tx = await leaderChain.findTransaction(h);
          if (tx) out.push(tx.raw);
        }
        return out;
      },
    });

    const sent: string[] = [];
    let deliver: ((from: Uint8Array, data: Uint8Array) => unknown) | null = null;
    const transport = {
      subscribe: (_topic: string, handler: (from: Uint8Array, data: Uint8Array) => unknown) => {
        deliver = handler;
        return () => {};
      },
      publish: (_topic: string, data: Uint8Array) => {
        sent.push(decodePbftMessage(data).type);
        return Promise.resolve();
      },
      sendDirect: (_to: Uint8Array, _topic: string, data: Uint8Array) => {
        sent.push(decodePbftMessage(data).type);
        return Promise.resolve();
      },
    } as unknown as Transport;
    const pool = fakePool([]);
    (pool as unknown as { hasWork: () => boolean }).hasWork = () => true; // the view clock runs
    const driverWith = (nodeKey: NodeKey) =>
      new ConsensusDriver(
        {
          tickMs: 10,
          viewTimeoutMs: VIEW_TIMEOUT_MS,
          minSealTimeMs: 0,
          queueMax: 1000,
          stateFile: path.join(dir, `state-${bytesToHex(nodeKey.nodeId).slice(2, 10)}.json`),
        },
        {
          chain: replicaChain,
          txpool: pool,
          transport,
          nodeKey,
          logger: silentLogger(),
          fetchBlocks: () => {},
          onFatal: () => {},
        },
      );
    const probe = driverWith(keys[0]!);
    await probe.start();
    const leaderHex = bytesToHex(probe.status()!.leader!);
    await probe.stop();
    const leader = keys.find((k) => bytesToHex(k.nodeId) === leaderHex)!;
    const replica = keys.find((k) => k !== leader)!;

    const built = await leaderChain.buildBlock([transfer(1)], {
      proposer: leader.nodeId,
      view: 0,
      nowMs: Date.now(),
    });
    const payload = leaderChain.encodeProposal(built.block);
    const unsigned = { height: 1, view: 0, blockHash: built.hash, payload, sender: leader.nodeId };
    const prePrepare = encodePbftMessage({
      type: "prePrepare",
      ...unsigned,
      signature: leader.sign(prePrepareDigest(keccak256, unsigned)),
    });
    sent.length = 0;
    driver = driverWith(replica);
    await driver.start();
    deliver!(leader.nodeId, prePrepare);
    const deadline = Date.now() + 20_000;
    while (!sent.includes("prepare") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    // It voted for the block once executed, and asked for no view change while executing.
    expect(sent).toContain("prepare");
    expect(sent.slice(0, sent.indexOf("prepare"))).not.toContain("viewChange");
  });
});
