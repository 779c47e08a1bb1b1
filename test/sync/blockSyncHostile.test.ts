/**
 * Hostile sync peers (issue 18): each bad answer is refused (nothing stored, height unchanged), the peer is
 * penalized, and the node then gets the right blocks from an honest peer (never penalized).
 * The node under test is the real BlockSync on a real chain (LevelDB); the peers answer through an in-memory
 * "blocks" protocol (test/sync/helpers.ts): the hostile one is a stub, it is the attacker, not the part under test.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Chain } from "../../src/chain/index.js";
import { encodeBlock } from "../../src/codec/index.js";
import { keccak256, NodeKey } from "../../src/crypto/index.js";
import { NetworkError } from "../../src/network/index.js";
import { serveBlocks } from "../../src/sync/blockServe.js";
import { BlockSync, type BlockSyncOptions, defaultBlockSyncOptions } from "../../src/sync/index.js";
import {
  decodeSyncRequest,
  decodeSyncResponse,
  encodeSyncRequest,
  encodeSyncResponse,
  SYNC_BLOCKS_PER_RESPONSE_MAX,
} from "../../src/sync/wire.js";
import type { Block } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { captureLogger, type LogEntry } from "../fixtures/logger.js";
import { ChainFactory, certify, FakeNetwork, growChain, makeGenesis, storedBlock } from "./helpers.js";

const sealers = Array.from({ length: 4 }, () => NodeKey.generate());
const strangers = Array.from({ length: 4 }, () => NodeKey.generate());
const hostileId = NodeKey.generate().nodeId;
const honestId = NodeKey.generate().nodeId;

type Stored = Awaited<ReturnType<typeof storedBlock>>;
interface Fixture {
  b1: Stored;
  b2: Stored;
  /** The sync bound of these tests: one block fits, two do not (the honest server then sends one at a time). */
  responseBytesMax: number;
}

function withBlock(b: Stored, change: Partial<Block>): Uint8Array {
  return encodeBlock({ ...b.block, ...change });
}

function response(fx: Fixture, blocks: Uint8Array[]): Uint8Array {
  return encodeSyncResponse({ headHeight: 2, headHash: fx.b2.hash, blocks });
}

/** Each case: what the hostile peer answers to "blocks from 1", and the penalty reason it must earn. */
const cases: { name: string; answer: (fx: Fixture) => Uint8Array | Error; reason: RegExp }[] = [
  {
    name: "a block with no certificate",
    answer: (fx) => response(fx, [withBlock(fx.b1, { certificate: null })]),
    reason: /block 1 has no certificate for its hash/,
  },
  {
    name: "a forged certificate (bad signatures)",
    answer: (fx) => {
      const signatures = fx.b1.certificate.signatures.map((s) => {
        const signature = s.signature.slice();
        signature[0]! ^= 0xff;
        return { ...s, signature };
      });
      return response(fx, [withBlock(fx.b1, { certificate: { ...fx.b1.certificate, signatures } })]);
    },
    reason: /certificate BAD_SIGNATURE/,
  },
  {
    name: "a certificate signed by the wrong validator set",
    answer: (fx) => response(fx, [withBlock(fx.b1, { certificate: certify(strangers, 1, 0, fx.b1.hash) })]),
    reason: /certificate NOT_VALIDATOR/,
  },
  {
    name: "a certificate of the right validators for a different hash",
    answer: (fx) =>
      response(fx, [
        withBlock(fx.b1, {
          certificate: certify(sealers, 1, 0, keccak256(new TextEncoder().encode("other"))),
        }),
      ]),
    reason: /block 1 has no certificate for its hash/,
  },
  {
    name: "a block at the wrong height (a valid block 2 when 1 was asked)",
    answer: (fx) => response(fx, [fx.b2.bytes]),
    reason: /asked for block 1, got 2/,
  },
  {
    name: "a valid certificate over a tampered body (a transaction dropped)",
    answer: (fx) => response(fx, [withBlock(fx.b1, { transactions: fx.b1.block.transactions.slice(1) })]),
    reason: /block 1: .*txRoot.* differ from local execution/,
  },
  {
    name: "an oversized response (more blocks than the protocol allows)",
    answer: (fx) =>
      response(
        fx,
        Array.from({ length: SYNC_BLOCKS_PER_RESPONSE_MAX + 1 }, () => fx.b1.bytes),
      ),
    reason: /bad sync response: sync response out of bounds/,
  },
  {
    name: "an oversized response (over the byte bound)",
    answer: (fx) => response(fx, [fx.b1.bytes, fx.b2.bytes]),
    reason: /bad sync response: sync response of \d+ bytes exceeds/,
  },
  {
    name: "a response frame over the transport's bound",
    answer: () => new NetworkError("NETWORK_OVERSIZE", "frame over the size bound"),
    reason: /bad sync response: frame over the size bound/,
  },
  {
    name: "a malformed response",
    answer: () => new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]),
    reason: /bad sync response: malformed sync response/,
  },
];

describe("BlockSync with hostile peers", () => {
  let factory: ChainFactory;
  let source: Chain;
  let node: Chain;
  let net: FakeNetwork;
  let sync: BlockSync;
  let logs: LogEntry[];
  let synced: number[];
  let fx: Fixture;

  beforeAll(() => {
    // Keys differ from the sealers' (else the "wrong validator set" case would prove nothing).
    const sealerIds = new Set(sealers.map((k) => bytesToHex(k.nodeId)));
    expect(strangers.filter((s) => sealerIds.has(bytesToHex(s.nodeId)))).toEqual([]);
  });

  beforeEach(async () => {
    factory = await ChainFactory.create(makeGenesis(sealers));
    source = await factory.open("source");
    node = await factory.open("node");
    await growChain(source, sealers, 2);
    const [b1, b2] = [await storedBlock(source, 1), await storedBlock(source, 2)];
    fx = { b1, b2, responseBytesMax: b1.bytes.length + b2.bytes.length - 1 };
    net = new FakeNetwork(NodeKey.generate().nodeId);
    logs = [];
    synced = [];
    const opts: BlockSyncOptions = {
      ...defaultBlockSyncOptions,
      pollIntervalMs: 3_600_000, // no poll: each step below is one fetch
      responseBytesMax: fx.responseBytesMax,
    };
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
  });

  afterEach(async () => {
    sync.stop();
    net.closeAll();
    await sync.idle();
    await factory.close();
  });

  it.each(cases)(
    "refuses $name, penalizes the peer, then syncs from an honest one",
    async ({ answer, reason }) => {
      net.connect(hostileId, async (_from, req) => {
        expect(decodeSyncRequest(req)).toMatchObject({ kind: "blocks", fromHeight: 1 });
        const a = answer(fx);
        if (a instanceof Error) throw a;
        return a;
      });
      await sync.fetch(1, [hostileId]);
      // Refused: nothing stored, nothing reported to consensus.
      expect(node.height()).toBe(0);
      expect(await node.blockBytes(1)).toBeNull();
      expect(synced).toEqual([]);
      const penalties = net.penaltiesOf(hostileId);
      expect(penalties).toHaveLength(1);
      expect(penalties[0]!.points).toBe(50);
      expect(penalties[0]!.reason).toMatch(reason);
      expect(sync.counters.badPeers).toBe(1);
      expect(logs.some((l) => l.level === "warn" && l.obj.peer !== undefined)).toBe(true);

      // An honest peer comes along: the node asks the hostile one first again, then gets the right blocks.
      net.connect(honestId, (_from, req) => serveBlocks(source, req, fx.responseBytesMax));
      await sync.fetch(1, [hostileId, honestId]);
      expect(node.height()).toBe(2);
      expect(node.head().hash).toEqual(fx.b2.hash);
      expect(synced).toEqual([1, 2]);
      expect(net.penaltiesOf(honestId)).toEqual([]);
      expect(net.penaltiesOf(hostileId)).toHaveLength(2);
    },
  );

  it("the honest server sends one block per response under this bound (so the byte-bound case is a real refusal)", async () => {
    const req = encodeSyncRequest({ kind: "blocks", fromHeight: 1, countMax: SYNC_BLOCKS_PER_RESPONSE_MAX });
    const res = decodeSyncResponse(await serveBlocks(source, req, fx.responseBytesMax));
    const hex = (bs: Uint8Array[]) => bs.map((b) => bytesToHex(b));
    expect(hex(res.blocks)).toEqual(hex([fx.b1.bytes]));
    const unbounded = decodeSyncResponse(
      await serveBlocks(source, req, defaultBlockSyncOptions.responseBytesMax),
    );
    expect(hex(unbounded.blocks)).toEqual(hex([fx.b1.bytes, fx.b2.bytes]));
  });

  it("blames no one for timeouts or lost connections", async () => {
    net.connect(hostileId, "hang");
    const s = new BlockSync(
      { ...defaultBlockSyncOptions, pollIntervalMs: 3_600_000, requestTimeoutMs: 50 },
      {
        chain: node,
        transport: net.transport(),
        logger: captureLogger(logs),
        onSynced: (height) => synced.push(height),
        onStorageFailure: () => undefined,
      },
    );
    await s.fetch(1, [hostileId, NodeKey.generate().nodeId]); // a timeout, then a peer not connected
    expect(net.penalties).toEqual([]);
    expect(node.height()).toBe(0);
  });
});
