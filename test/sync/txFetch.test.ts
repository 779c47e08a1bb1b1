import { afterEach, describe, expect, it } from "vitest";
import { decodeTransaction, encodeNativeTx } from "../../src/codec/index.js";
import { generatePrivateKey, keccak256 } from "../../src/crypto/index.js";
import { NetworkError } from "../../src/network/index.js";
import { defaultTxFetchOptions, TxFetch } from "../../src/sync/index.js";
import {
  decodeTxBatch,
  decodeTxFetchRequest,
  encodeTxBatch,
  encodeTxFetchRequest,
  TX_FETCH_HASHES_MAX,
} from "../../src/sync/wire.js";
import type { Transaction } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import { captureLogger, type LogEntry } from "../fixtures/logger.js";
import { connectAll, makeKey, startNodes, type TestNode } from "../network/helpers.js";
import { FakeNetwork } from "./helpers.js";

const KEY = generatePrivateKey();

function transfer(i: number): Transaction {
  return decodeTransaction(
    encodeNativeTx(
      {
        chainId: 20200n,
        groupId: "group0",
        nonce: new Uint8Array([i >> 8, i & 0xff, 2]),
        blockLimit: 100,
        to: new Uint8Array(20).fill(7),
        value: 1n,
        input: new Uint8Array(),
        gasLimit: 21000n,
        gasPrice: 0n,
      },
      KEY,
    ),
  );
}

function store(txs: Transaction[]) {
  const map = new Map(txs.map((t) => [bytesToHex(t.hash), t]));
  return async (hash: Uint8Array) => map.get(bytesToHex(hash));
}

describe('TxFetch (the "txs" protocol)', () => {
  let nodes: TestNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.transport.stop()));
    nodes = [];
  });

  it("fetches missing txs from the proposer, then from other peers, over real libp2p", async () => {
    nodes = await startNodes(3);
    await connectAll(nodes);
    const [proposer, other, replica] = nodes as [TestNode, TestNode, TestNode];
    const txs = Array.from({ length: 6 }, (_, i) => transfer(i));
    // The proposer has txs 0..3, the other peer 3..5, the replica none.
    const serveA = new TxFetch(defaultTxFetchOptions, {
      transport: proposer.transport,
      lookup: store(txs.slice(0, 4)),
      logger: silentLogger(),
    });
    const serveB = new TxFetch(defaultTxFetchOptions, {
      transport: other.transport,
      lookup: store(txs.slice(3)),
      logger: silentLogger(),
    });
    serveA.start();
    serveB.start();
    const client = new TxFetch(defaultTxFetchOptions, {
      transport: replica.transport,
      lookup: store([]),
      logger: silentLogger(),
    });
    const unknown = keccak256(new Uint8Array([1, 2, 3]));
    const got = await client.fetch([...txs.map((t) => t.hash), unknown], proposer.key.nodeId);
    expect(got.map((raw) => bytesToHex(keccak256(raw))).sort()).toEqual(
      txs.map((t) => bytesToHex(t.hash)).sort(),
    );
    expect(serveA.counters.txsServed).toBe(4);
    expect(serveB.counters.txsServed).toBe(2); // asked only for what the proposer lacked (4, 5) + unknown
    expect(client.counters.requestsSent).toBe(2);

    // A proposer that is not connected: the other peers still answer; never throws.
    const stranger = makeKey().nodeId;
    const again = await client.fetch([txs[5]?.hash as Uint8Array], stranger);
    expect(again).toHaveLength(1);
  });

  it("serving is bounded in count and bytes and refuses malformed requests", async () => {
    nodes = await startNodes(1);
    const [node] = nodes as [TestNode];
    const txs = Array.from({ length: 20 }, (_, i) => transfer(i));
    const small = new TxFetch(
      {
        ...defaultTxFetchOptions,
        responseBytesMax: txs.slice(0, 5).reduce((n, t) => n + t.raw.length + 8, 0),
      },
      { transport: node.transport, lookup: store(txs), logger: silentLogger() },
    );
    const served = decodeTxBatch(await small.serve(encodeTxFetchRequest(txs.map((t) => t.hash))));
    expect(served.length).toBe(5);
    expect(new Uint8Array(served[0] as Uint8Array)).toEqual(txs[0]?.raw);
    const tooMany = Array.from({ length: TX_FETCH_HASHES_MAX + 1 }, () => new Uint8Array(32));
    await expect(small.serve(encodeTxFetchRequest(tooMany))).rejects.toMatchObject({
      code: "SYNC_MALFORMED",
    });
    await expect(small.serve(encodeTxFetchRequest([new Uint8Array(31)]))).rejects.toMatchObject({
      code: "SYNC_MALFORMED",
    });
    await expect(small.serve(new Uint8Array([0xff, 0xff]))).rejects.toMatchObject({ code: "SYNC_MALFORMED" });
  });
});

/**
 * Whom fetch() asks and what it keeps, with peers behind the in-memory request protocol of test/sync/helpers.ts
 * (each honest peer is a real TxFetch serving its own txs; the others answer garbage, txs nobody asked for, or fail).
 */
describe("TxFetch: whom it asks, and what it keeps of what peers send", () => {
  const txs = Array.from({ length: 6 }, (_, i) => transfer(100 + i));
  const servingAll = (net: FakeNetwork) => (_from: Uint8Array, req: Uint8Array) =>
    new TxFetch(defaultTxFetchOptions, {
      transport: net.transport(),
      lookup: store(txs),
      logger: silentLogger(),
    }).serve(req);
  const client = (net: FakeNetwork, logs: LogEntry[] = [], extraPeersMax = 2) =>
    new TxFetch(
      { ...defaultTxFetchOptions, extraPeersMax },
      { transport: net.transport(), lookup: store([]), logger: captureLogger(logs) },
    );
  const hexes = (raws: Uint8Array[]) => raws.map((raw) => bytesToHex(keccak256(raw))).sort();
  const askedOf = (net: FakeNetwork, id: Uint8Array) =>
    net.requests.filter((r) => r.peer === bytesToHex(id)).length;

  it("the proposer, then at most extraPeersMax others (never itself); none once nothing is missing", async () => {
    const self = makeKey().nodeId;
    const net = new FakeNetwork(self);
    const proposer = makeKey().nodeId;
    const others = Array.from({ length: 4 }, () => makeKey().nodeId);
    net.connect(proposer, async () => encodeTxBatch([]));
    for (const id of others) net.connect(id, async () => encodeTxBatch([]));
    const logs: LogEntry[] = [];
    const c = client(net, logs);
    expect(await c.fetch([txs[0]!.hash], proposer)).toEqual([]);
    expect(askedOf(net, proposer)).toBe(1);
    expect(others.map((id) => askedOf(net, id))).toEqual([1, 1, 0, 0]);
    expect(logs.filter((l) => l.level === "warn")).toEqual([
      { level: "warn", msg: "proposal txs not found at peers", obj: { missing: 1, asked: 1 } },
    ]);

    // The proposer has them all: no one else is asked, nothing is missing.
    const net2 = new FakeNetwork(self);
    net2.connect(proposer, servingAll(net2));
    for (const id of others) net2.connect(id, servingAll(net2));
    const logs2: LogEntry[] = [];
    const c2 = client(net2, logs2, 4);
    const got = await c2.fetch(
      txs.map((t) => t.hash),
      proposer,
    );
    expect(hexes(got)).toEqual(txs.map((t) => bytesToHex(t.hash)).sort());
    expect(net2.requests).toHaveLength(1);
    expect(c2.counters).toMatchObject({ requestsSent: 1, txsFetched: 6 });
    expect(logs2.filter((l) => l.level === "warn")).toEqual([]);

    // This node proposed (its own id): it does not ask itself, only the others.
    const net3 = new FakeNetwork(self);
    net3.connect(self, servingAll(net3));
    net3.connect(proposer, servingAll(net3));
    expect(hexes(await client(net3).fetch([txs[1]!.hash], self))).toEqual([bytesToHex(txs[1]!.hash)]);
    expect(askedOf(net3, self)).toBe(0);
    expect(askedOf(net3, proposer)).toBe(1);
  });

  it("keeps only txs it asked for, once each; a peer's garbage (blamed) or failure moves on to the next peer", async () => {
    const net = new FakeNetwork(makeKey().nodeId);
    const liar = makeKey().nodeId;
    const broken = makeKey().nodeId;
    const good = makeKey().nodeId;
    const stranger = transfer(999);
    // The liar sends one wanted tx twice and one nobody asked for (within the count asked).
    net.connect(liar, async () => encodeTxBatch([txs[0]!.raw, txs[0]!.raw, stranger.raw]));
    net.connect(broken, async () => new Uint8Array([0xff, 0xff, 0xff]));
    net.connect(good, servingAll(net));
    const c = client(net);
    const got = await c.fetch(
      txs.slice(0, 3).map((t) => t.hash),
      liar,
    );
    expect(hexes(got)).toEqual(hexes(txs.slice(0, 3).map((t) => t.raw)));
    expect(got).toHaveLength(3);
    // Both are the peer's fault, as for a bad block: the duplicate and the stranger, the undecodable answer.
    expect(net.penaltiesOf(liar)).toMatchObject([{ points: 50, reason: "sent 2 txs it was not asked for" }]);
    expect(net.penaltiesOf(broken)).toMatchObject([
      { points: 50, reason: expect.stringMatching(/^bad txs response: /) },
    ]);
    expect(net.penaltiesOf(good)).toEqual([]);
    expect(c.counters).toMatchObject({ requestsSent: 3, txsFetched: 3 });
    // What was still missing after the liar, not everything: tx 0 came from it.
    const goodReq = net.requests.find((r) => r.peer === bytesToHex(good))!;
    expect(
      decodeTxFetchRequest(goodReq.bytes)
        .map((h) => bytesToHex(h))
        .sort(),
    ).toEqual(
      txs
        .slice(1, 3)
        .map((t) => bytesToHex(t.hash))
        .sort(),
    );
  });

  it(`asks in chunks of ${TX_FETCH_HASHES_MAX} hashes; a failed chunk skips that peer's next ones`, async () => {
    const net = new FakeNetwork(makeKey().nodeId);
    const proposer = makeKey().nodeId;
    const other = makeKey().nodeId;
    const wanted = [
      ...txs.map((t) => t.hash),
      ...Array.from({ length: TX_FETCH_HASHES_MAX + 1 }, (_, i) =>
        keccak256(new Uint8Array([i >> 8, i & 0xff, 7])),
      ),
    ];
    const sizes: number[] = [];
    net.connect(proposer, async (from, req) => {
      sizes.push(decodeTxFetchRequest(req).length);
      return servingAll(net)(from, req);
    });
    net.connect(other, async () => {
      throw new NetworkError("NETWORK_REMOTE_ERROR", "stream reset");
    });
    const c = client(net);
    expect(hexes(await c.fetch(wanted, proposer))).toEqual(txs.map((t) => bytesToHex(t.hash)).sort());
    expect(sizes).toEqual([TX_FETCH_HASHES_MAX, 7]);
    // The other peer is asked for the TX_FETCH_HASHES_MAX + 1 still missing: its first chunk failed, so not the second.
    expect(askedOf(net, other)).toBe(1);
  });

  it("serving: the byte bound counts 8 bytes a tx, exactly; each request is counted", async () => {
    const net = new FakeNetwork(makeKey().nodeId);
    const cost = (t: Transaction) => t.raw.length + 8;
    const bound = txs.slice(0, 6).reduce((n, t) => n + cost(t), 0) - 1; // the sixth does not fit, by one byte
    const server = new TxFetch(
      { ...defaultTxFetchOptions, responseBytesMax: bound },
      { transport: net.transport(), lookup: store(txs), logger: silentLogger() },
    );
    const served = decodeTxBatch(await server.serve(encodeTxFetchRequest(txs.map((t) => t.hash))));
    expect(served).toHaveLength(5);
    expect(server.counters).toEqual({ requestsServed: 1, txsServed: 5, requestsSent: 0, txsFetched: 0 });
  });

  it(`exactly ${TX_FETCH_HASHES_MAX} hashes: one request, no empty one after it`, async () => {
    const net = new FakeNetwork(makeKey().nodeId);
    const proposer = makeKey().nodeId;
    net.connect(proposer, async () => encodeTxBatch([]));
    const wanted = Array.from({ length: TX_FETCH_HASHES_MAX }, (_, i) =>
      keccak256(new Uint8Array([i >> 8, i & 0xff, 9])),
    );
    expect(await client(net).fetch(wanted, proposer)).toEqual([]);
    expect(net.requests.map((r) => decodeTxFetchRequest(r.bytes).length)).toEqual([TX_FETCH_HASHES_MAX]);
  });
});
