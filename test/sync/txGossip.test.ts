import { afterEach, describe, expect, it } from "vitest";
import { defaultTxGossipOptions, TxGossip, type TxGossipOptions } from "../../src/sync/index.js";
import { decodeTxBatch, encodeTxBatch } from "../../src/sync/wire.js";
import type { AddResult, TxPoolInterface } from "../../src/txpool/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { captureLogger, type LogEntry } from "../fixtures/logger.js";
import { connectAll, hasNode, startNodes, type TestNode, waitFor } from "../network/helpers.js";
import { makePool, signEth, signNative, wallet } from "../txpool/helpers.js";

/**
 * A peer floods tx gossip at a node running TxGossip over a real TxPool, through two real transports on loopback:
 * what the peer can make the node do is bounded, and batches that can never be valid get it penalized.
 */
let nodes: TestNode[] = [];
let gossip: TxGossip | null = null;

afterEach(async () => {
  gossip?.stop();
  gossip = null;
  await Promise.all(nodes.map((n) => n.transport.stop()));
  nodes = [];
});

/** The real pool, with admissions held at a gate until `open()` (to see how many batches are in admission). */
function gatedPool() {
  const { pool } = makePool();
  let open: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  const gated: TxPoolInterface = Object.assign(Object.create(pool) as TxPoolInterface, {
    addBatch: async (raws: Uint8Array[], opts?: { origin?: "local" | "peer" }): Promise<AddResult[]> => {
      await gate;
      return pool.addBatch(raws, opts);
    },
  });
  return { pool, gated, open };
}

async function setup(
  txpool: TxPoolInterface,
  options: Partial<TxGossipOptions> = {},
  logs: LogEntry[] = [],
  onPeerBatch: (batch: Uint8Array[]) => void = () => undefined,
): Promise<{ flooder: TestNode; receiver: TestNode; gossip: TxGossip }> {
  nodes = await startNodes(2, { penaltyHalfLifeMs: 1e12, gossipRejectPoints: 10, penaltyThreshold: 1000 });
  const [flooder, receiver] = nodes as [TestNode, TestNode];
  gossip = new TxGossip(
    { ...defaultTxGossipOptions, ...options },
    { transport: receiver.transport, txpool, logger: captureLogger(logs) },
  );
  gossip.start();
  flooder.transport.subscribe("txs", (_from, data) => {
    onPeerBatch(decodeTxBatch(data).map((raw) => Uint8Array.from(raw)));
    return "ignore";
  });
  await connectAll(nodes);
  // Both directions carry gossipsub traffic once each has seen the other's subscription.
  await waitFor(
    "subscriptions exchanged",
    () =>
      hasNode(flooder.transport.topicPeers("txs"), receiver.key.nodeId) &&
      hasNode(receiver.transport.topicPeers("txs"), flooder.key.nodeId),
  );
  return { flooder, receiver, gossip };
}

describe("TxGossip under a flooding peer", () => {
  it("admits peerBatchesInFlightMax of one peer's batches at once, queues the next ones, drops beyond the queue, without blame", async () => {
    const { pool, gated, open } = gatedPool();
    const logs: LogEntry[] = [];
    const bounds = { peerBatchesInFlightMax: 2, peerBatchesQueuedMax: 3 };
    const { flooder, receiver, gossip: g } = await setup(gated, bounds, logs);
    for (let i = 0; i < 7; i++) {
      await flooder.transport.publish("txs", encodeTxBatch([signNative(wallet(i), 10)]));
    }
    await waitFor(
      "7 batches seen",
      () => g.counters.batchesIn + g.counters.batchesQueued + g.counters.batchesDropped === 7,
    );
    expect(g.counters).toMatchObject({ batchesIn: 2, batchesQueued: 3, batchesDropped: 2 });
    // One warning for the burst (rate-limited), naming the peer and the queue.
    const warnings = logs.filter((l) => l.level === "warn");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/tx gossip from a peer dropped: its admission queue is full/);
    expect(warnings[0]!.obj).toMatchObject({ peer: bytesToHex(flooder.key.nodeId), dropped: 1, waiting: 3 });
    open();
    // Every queued batch is admitted once a slot frees up: 2 + 3 txs, none lost.
    await waitFor("admitted", () => pool.size() === 5);
    expect(g.counters.batchesIn).toBe(5);
    expect(receiver.transport.penaltyPoints(flooder.key.nodeId)).toBe(0);
    // Room again once admitted.
    await flooder.transport.publish("txs", encodeTxBatch([signNative(wallet(20), 10)]));
    await waitFor("admitted after the burst", () => pool.size() === 6);
    expect(g.counters.batchesDropped).toBe(2);
  });

  it("bounds the bytes a peer's queue holds", async () => {
    const { pool, gated, open } = gatedPool();
    // Native txs carry a random nonce, so batch sizes differ by a byte or two: the bound is the sum of the two
    // batches that must fit.
    const batches = [1, 2, 3, 4].map((i) => encodeTxBatch([signNative(wallet(i), 10)]));
    const bounds = {
      peerBatchesInFlightMax: 1,
      peerBatchesQueuedMax: 10,
      peerBatchesQueuedBytesMax: batches[1]!.length + batches[2]!.length,
    };
    const { flooder, gossip: g } = await setup(gated, bounds);
    for (const batch of batches) await flooder.transport.publish("txs", batch);
    await waitFor(
      "4 batches seen",
      () => g.counters.batchesIn + g.counters.batchesQueued + g.counters.batchesDropped === 4,
    );
    expect(g.counters).toMatchObject({ batchesIn: 1, batchesQueued: 2, batchesDropped: 1 });
    open();
    await waitFor("admitted", () => pool.size() === 3);
  });

  it("wakes the batches still queued when it stops, without admitting them", async () => {
    const { pool, gated, open } = gatedPool();
    const { flooder, gossip: g } = await setup(gated, { peerBatchesInFlightMax: 1, peerBatchesQueuedMax: 4 });
    for (let i = 1; i <= 3; i++)
      await flooder.transport.publish("txs", encodeTxBatch([signNative(wallet(i), 10)]));
    await waitFor("3 batches seen", () => g.counters.batchesIn + g.counters.batchesQueued === 3);
    g.stop();
    open();
    await waitFor("the batch in admission finishes", () => pool.size() === 1);
    await new Promise((r) => setImmediate(r));
    expect(pool.size()).toBe(1);
    expect(g.counters.batchesIn).toBe(1);
  });

  it("rejects and penalizes undecodable batches and batches carrying a tx that can never be valid", async () => {
    const { pool } = makePool();
    const { flooder, receiver, gossip: g } = await setup(pool);
    const points = () => receiver.transport.penaltyPoints(flooder.key.nodeId);

    await flooder.transport.publish("txs", Uint8Array.of(0xff, 0xff, 0xff));
    await waitFor("garbage rejected", () => g.counters.batchesRejected === 1);
    await waitFor("penalized", () => points() > 0);
    expect(points()).toBeCloseTo(10, 6);

    // One valid tx and one signed for another chain: the whole batch is refused and not relayed.
    const valid = signNative(wallet(1), 10);
    const otherChain = await signEth(wallet(2), { chainId: 1n });
    await flooder.transport.publish("txs", encodeTxBatch([valid, otherChain]));
    await waitFor("invalid tx batch rejected", () => g.counters.batchesRejected === 2);
    await waitFor("penalized again", () => points() > 15);
    expect(points()).toBeCloseTo(20, 6);

    // Txs that are merely stale or known are normal in gossip: no blame.
    await flooder.transport.publish("txs", encodeTxBatch([valid]));
    await waitFor("known tx batch handled", () => g.counters.batchesIn === 2);
    expect(g.counters.batchesRejected).toBe(2);
    expect(points()).toBeCloseTo(20, 6);
    expect(pool.size()).toBe(1);
  });
});

describe("TxGossip publishing local transactions", () => {
  it("publishes the first tx after a quiet interval at once, and later ones together when the interval ends", async () => {
    const { pool } = makePool();
    const batches: Uint8Array[][] = [];
    // (No catch-up send of the pool to the peer within the test: it would arrive on the same topic handler.)
    const options = { flushIntervalMs: 3000, catchUpDelayMs: 60_000 };
    const { gossip: g } = await setup(pool, options, [], (b) => batches.push(b));
    const [first, second, third] = [1, 2, 3].map((i) => signNative(wallet(i), 10));
    await pool.add(first!, { origin: "local" });
    // Not held for the interval: a lone tx on a quiet node goes out in the turn it arrived.
    await waitFor("the lone tx published", () => batches.length === 1, 1000);
    expect(batches[0]).toEqual([first]);
    await pool.add(second!, { origin: "local" });
    await pool.add(third!, { origin: "local" });
    await new Promise((r) => setTimeout(r, 500));
    expect(batches).toHaveLength(1);
    await waitFor("the interval's batch published", () => batches.length === 2, 8000);
    expect(batches[1]).toEqual([second, third]);
    expect(g.counters.batchesOut).toBe(2);
  });

  it("does not publish peer txs again (their publisher reached every member)", async () => {
    const { pool } = makePool();
    const batches: Uint8Array[][] = [];
    const { flooder, gossip: g } = await setup(pool, { flushIntervalMs: 10 }, [], (b) => batches.push(b));
    await flooder.transport.publish("txs", encodeTxBatch([signNative(wallet(1), 10)]));
    await waitFor("admitted", () => pool.size() === 1);
    await new Promise((r) => setTimeout(r, 200));
    expect(batches).toHaveLength(0);
    expect(g.counters.batchesOut).toBe(0);
  });
});
