import { afterEach, describe, expect, it } from "vitest";
import { decodeTransaction, encodeNativeTx } from "../../src/codec/index.js";
import { generatePrivateKey, keccak256 } from "../../src/crypto/index.js";
import { defaultTxFetchOptions, TxFetch } from "../../src/sync/index.js";
import { decodeTxBatch, encodeTxFetchRequest, TX_FETCH_HASHES_MAX } from "../../src/sync/wire.js";
import type { Transaction } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import { connectAll, makeKey, startNodes, type TestNode } from "../network/helpers.js";

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
