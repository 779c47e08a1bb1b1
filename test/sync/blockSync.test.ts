/**
 * BlockSync against honest peers: fetching with certificate checks, the race with consensus committing the same
 * height (never blamed on the peer), and catching up when idle (no consensus traffic) over a stale connection.
 * Real chains on LevelDB; the peers answer through an in-memory "blocks" protocol (test/sync/helpers.ts), and one
 * test runs the same catch-up over real libp2p on loopback.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Chain } from "../../src/chain/index.js";
import { NodeKey } from "../../src/crypto/index.js";
import { serveBlocks } from "../../src/sync/blockServe.js";
import { BlockSync, type BlockSyncOptions, defaultBlockSyncOptions } from "../../src/sync/index.js";
import { captureLogger, type LogEntry } from "../fixtures/logger.js";
import { connectAll, startNodes, type TestNode } from "../network/helpers.js";
import {
  ChainFactory,
  copyBlocks,
  FakeNetwork,
  growChain,
  makeGenesis,
  storedBlock,
  waitFor,
} from "./helpers.js";

const sealers = Array.from({ length: 4 }, () => NodeKey.generate());
/** No poll unless a test asks for one (a poll would race the test's own fetch). */
const NO_POLL: BlockSyncOptions = { ...defaultBlockSyncOptions, pollIntervalMs: 3_600_000 };
const honestId = NodeKey.generate().nodeId;

describe("BlockSync with honest peers", () => {
  let factory: ChainFactory;
  let source: Chain;
  let node: Chain;
  let net: FakeNetwork;
  let sync: BlockSync | null = null;
  let logs: LogEntry[];
  let synced: number[];

  function startSync(opts: BlockSyncOptions): BlockSync {
    sync = new BlockSync(opts, {
      chain: node,
      transport: net.transport(),
      logger: captureLogger(logs),
      onSynced: (height) => synced.push(height),
      onStorageFailure: (err) => {
        throw err;
      },
    });
    sync.start();
    return sync;
  }

  const honest = (chain: () => Chain) => (_from: Uint8Array, req: Uint8Array) =>
    serveBlocks(chain(), req, defaultBlockSyncOptions.responseBytesMax);

  beforeEach(async () => {
    factory = await ChainFactory.create(makeGenesis(sealers));
    source = await factory.open("source");
    node = await factory.open("node");
    await growChain(source, sealers, 3);
    net = new FakeNetwork(NodeKey.generate().nodeId);
    logs = [];
    synced = [];
  });

  afterEach(async () => {
    sync?.stop();
    net.closeAll();
    await sync?.idle();
    sync = null;
    await factory.close();
  });

  it("fetches the blocks a peer has, checks their certificates, and reports each to consensus", async () => {
    net.connect(
      honestId,
      honest(() => source),
    );
    await startSync(NO_POLL).fetch(1, [honestId]);
    expect(node.height()).toBe(3);
    expect(node.head().hash).toEqual(source.head().hash);
    expect(synced).toEqual([1, 2, 3]);
    expect(net.penalties).toEqual([]);
  });

  it("skips a block consensus committed while the fetch was in flight, without blaming the peer", async () => {
    // The peer's answer arrives after consensus committed block 1 here: the issue-17 race, made certain.
    net.connect(honestId, async (_from, req) => {
      const res = await serveBlocks(source, req, defaultBlockSyncOptions.responseBytesMax);
      if (node.height() === 0) await copyBlocks(source, node, 1);
      return res;
    });
    const s = startSync(NO_POLL);
    await s.fetch(1, [honestId]);
    expect(net.penalties).toEqual([]);
    expect(s.counters.badPeers).toBe(0);
    expect(s.counters.staleSkipped).toBe(1);
    expect(logs.filter((l) => l.msg === "peer served an invalid block")).toEqual([]);
    expect(node.height()).toBe(3);
    expect(synced).toEqual([2, 3]); // block 1 came from consensus, not from sync
  });

  it("logs evidence, keeps its block and blames no one when a peer relays a second certified block at a committed height", async () => {
    // Equivocating validators certified two blocks at height 1: ours (consensus) and the one the peer relays.
    const alt = await factory.open("alt");
    await growChain(alt, sealers, 1, 1000);
    const theirs = await storedBlock(alt, 1);
    expect(theirs.hash).not.toEqual((await storedBlock(source, 1)).hash);
    net.connect(honestId, async (_from, req) => {
      if (node.height() === 0) await copyBlocks(source, node, 1);
      return serveBlocks(alt, req, defaultBlockSyncOptions.responseBytesMax);
    });
    const s = startSync(NO_POLL);
    await s.fetch(1, [honestId]);
    expect(node.height()).toBe(1);
    expect(node.head().hash).toEqual((await storedBlock(source, 1)).hash);
    expect(net.penalties).toEqual([]);
    expect(s.counters.conflicts).toBe(1);
    const evidence = logs.filter((l) => l.level === "error" && /SAFETY VIOLATION/.test(l.msg ?? ""));
    expect(evidence).toHaveLength(1);
    expect(evidence[0]!.obj).toMatchObject({ height: 1, theirHash: expect.stringMatching(/^0x/) });
  });

  it("catches up when idle: one block behind, no consensus traffic, one peer on a stale connection", async () => {
    await copyBlocks(source, node, 2);
    const lagging = await factory.open("lagging");
    await copyBlocks(source, lagging, 2);
    const staleId = NodeKey.generate().nodeId;
    const laggingId = NodeKey.generate().nodeId;
    net.connect(staleId, "hang"); // a connection a partition left open: requests to it never answer
    net.connect(
      laggingId,
      honest(() => lagging),
    );
    net.connect(
      honestId,
      honest(() => source),
    );
    const s = startSync({
      ...defaultBlockSyncOptions,
      pollIntervalMs: 50,
      headTimeoutMs: 200,
      requestTimeoutMs: 600_000,
      behindWarnMs: 1,
    });
    await waitFor("the node to fetch the block it lacks", () => node.height() === 3);
    expect(node.head().hash).toEqual(source.head().hash);
    expect(synced).toEqual([3]);
    expect(net.penalties).toEqual([]);
    // The operator is told: behind, by how much, and what the node does about it.
    const behind = logs.find((l) => l.msg === "behind peers");
    expect(behind?.level).toBe("warn");
    expect(behind?.obj).toMatchObject({ height: 2, peerHead: 3, peersAsked: 3, peersAnswered: 2 });
    await waitFor("the caught-up notice", () => logs.some((l) => l.msg === "caught up with peers"));
    expect(s.status()).toMatchObject({ currentBlock: 3, highestBlock: 3 });
  });

  it("skips a head poll when blocks were committed since the previous one (consensus carries the node)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const peer = await factory.open("peer"); // keeps pace with the node: never ahead, nothing to fetch
      net.connect(
        honestId,
        honest(() => peer),
      );
      const s = startSync({ ...defaultBlockSyncOptions, pollIntervalMs: 50 });
      const poll = async () => {
        await vi.advanceTimersByTimeAsync(50);
        await s.idle();
      };
      await poll();
      expect(net.requests).toHaveLength(1); // the first poll asks
      for (let h = 1; h <= 3; h++) {
        await copyBlocks(source, node, h); // consensus commits a block between two polls
        await copyBlocks(source, peer, h);
        await poll();
      }
      expect(net.requests).toHaveLength(1);
      expect(s.counters.pollsSkipped).toBe(3);
      await poll(); // no block since the last poll: it asks again
      expect(net.requests).toHaveLength(2);
      expect(synced).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a consensus fetch stuck on a dead connection does not keep the poll from catching up", async () => {
    const deadId = NodeKey.generate().nodeId;
    net.connect(deadId, "hang");
    net.connect(
      honestId,
      honest(() => source),
    );
    const s = startSync({
      ...defaultBlockSyncOptions,
      pollIntervalMs: 50,
      headTimeoutMs: 200,
      requestTimeoutMs: 600_000,
    });
    // Consensus asks from the peer that sent the message; that peer's connection is dead and never answers.
    void s.fetch(1, [deadId]);
    await waitFor("the poll to fetch from the live peer", () => node.height() === 3);
    expect(s.status().syncing).toBe(true); // the consensus fetch still waits on the dead peer
    expect(net.penalties).toEqual([]);
  });

  it("over real libp2p on loopback: an idle node polls, fetches and serves blocks", async () => {
    const peers: TestNode[] = await startNodes(2);
    try {
      await connectAll(peers);
      const [server, client] = peers as [TestNode, TestNode];
      const serving = new BlockSync(NO_POLL, {
        chain: source,
        transport: server.transport,
        logger: captureLogger(),
        onSynced: () => undefined,
        onStorageFailure: () => undefined,
      });
      serving.start();
      const s = new BlockSync(
        { ...defaultBlockSyncOptions, pollIntervalMs: 50 },
        {
          chain: node,
          transport: client.transport,
          logger: captureLogger(logs),
          onSynced: (height) => synced.push(height),
          onStorageFailure: (err) => {
            throw err;
          },
        },
      );
      s.start();
      try {
        await waitFor("the idle node to fetch over libp2p", () => node.height() === 3);
        expect(node.head().hash).toEqual(source.head().hash);
        expect(synced).toEqual([1, 2, 3]);
        expect(s.counters.badPeers).toBe(0);
      } finally {
        s.stop();
        serving.stop();
        await Promise.all([s.idle(), serving.idle()]);
      }
    } finally {
      await Promise.all(peers.map((p) => p.transport.stop()));
    }
  });
});
