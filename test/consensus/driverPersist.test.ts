import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Chain } from "../../src/chain/index.js";
import { decodeTransaction, encodeNativeTx } from "../../src/codec/index.js";
import type { GenesisConfig } from "../../src/config/index.js";
import { ConsensusDriver } from "../../src/consensus/driver.js";
import type { HardState } from "../../src/consensus/index.js";
import { commitDigest, prepareDigest } from "../../src/consensus/pbft/core/digest.js";
import { decodePbftMessage, encodePbftMessage } from "../../src/consensus/pbft/wire.js";
import { keccak256, NodeKey, privateKeyToAddress } from "../../src/crypto/index.js";
import { Executor } from "../../src/execution/index.js";
import { LevelLedger } from "../../src/ledger/index.js";
import type { Transport } from "../../src/network/index.js";
import type { TxPoolInterface } from "../../src/txpool/index.js";
import type { Transaction } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { parseWithBytes } from "../../src/util/jsonBytes.js";
import { silentLogger } from "../../src/util/logger.js";

/**
 * The driver's ordering contract: a vote is on disk (the fsynced hard state) before any peer can see it, so a node
 * restarted after a crash never signs a different block at the same height and view. Checked at the moment of
 * every send: the hard state file already holds the vote being sent. (Swapping "save" and "send" in
 * ConsensusDriver.handleReady passed the whole suite before this test.)
 */

const ADMIN_KEY = keccak256(new TextEncoder().encode("driver persist test admin"));

const keys = [1, 2, 3, 4].map((i) => NodeKey.fromSeed(new Uint8Array(32).fill(i)));

function genesisOf(sealers: NodeKey[]): GenesisConfig {
  return {
    chainId: 20200n,
    groupId: "group0",
    timestampMs: 1_700_000_000_000,
    sealers: sealers.map((k) => ({ nodeId: k.nodeId, weight: 1 })),
    observers: [],
    committee: { governors: [{ address: privateKeyToAddress(ADMIN_KEY), weight: 1 }] },
    alloc: [{ address: privateKeyToAddress(ADMIN_KEY), balance: 10n ** 20n }],
    systemConfig: {},
  };
}

function transfer(i: number): Transaction {
  return decodeTransaction(
    encodeNativeTx(
      {
        chainId: 20200n,
        groupId: "group0",
        nonce: new Uint8Array([i]),
        blockLimit: 100,
        to: new Uint8Array(20).fill(7),
        value: 1n,
        input: new Uint8Array(),
        gasLimit: 21_000n,
        gasPrice: 0n,
      },
      ADMIN_KEY,
    ),
  );
}

/** The pool as the driver uses it, holding `txs` until they are sealed once. */
function fakePool(txs: Transaction[]): TxPoolInterface {
  let pending = [...txs];
  return {
    hasWork: () => pending.length > 0,
    size: () => pending.length,
    seal: () => {
      const out = pending;
      pending = [];
      return out;
    },
    releaseSealed: () => {},
    park: () => {},
    drop: () => 0,
  } as unknown as TxPoolInterface;
}

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

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-driver-"));
  });
  afterEach(async () => {
    await driver?.stop();
    await ledger?.close();
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
    const stateFile = path.join(dir, "consensus-state.json");
    const sent: Sent[] = [];
    const record = (data: Uint8Array): Promise<void> => {
      const msg = decodePbftMessage(data);
      let hard: HardState | null = null;
      try {
        hard = parseWithBytes<HardState>(readFileSync(stateFile, "utf8"));
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
    await driver.start();
    const deadline = Date.now() + 20_000;
    while (chain.height() < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(chain.height()).toBe(1);
    expect(fatal).toEqual([]);

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
});
