/**
 * Hostile sync peers (issue 18): each bad answer is refused (nothing stored, height unchanged), the peer is
 * penalized, and the node then gets the right blocks from an honest peer (never penalized).
 * The node under test is the real BlockSync on a real chain (LevelDB); the peers answer through an in-memory
 * "blocks" protocol (test/sync/helpers.ts): the hostile one is a stub, it is the attacker, not the part under test.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Chain } from "../../src/chain/index.js";
import { encodeBlock } from "../../src/codec/index.js";
import { keccak256, NodeKey } from "../../src/crypto/index.js";
import { NetworkError } from "../../src/network/index.js";
import { serveBlocks } from "../../src/sync/blockServe.js";
import { validateBlockSyncOptions } from "../../src/sync/blockSync.js";
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
import {
  ChainFactory,
  certify,
  copyBlocks,
  FakeNetwork,
  growChain,
  makeGenesis,
  storedBlock,
} from "./helpers.js";

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
  // A liar on our chain: block 1's parent is the genesis.
  return encodeSyncResponse({
    headHeight: 2,
    headHash: fx.b2.hash,
    blocks,
    genesisHash: fx.b1.block.header.parentHash,
  });
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

/**
 * Peers that misreport their head, stall, or answer with garbage, and the node's own limits: what is asked of whom,
 * what is blamed (and what is not), with the real BlockSync on real LevelDB chains behind the in-memory protocol.
 */
describe("BlockSync: lying, stalling and garbage peers, and its own bounds", () => {
  let factory: ChainFactory;
  let source: Chain;
  let node: Chain;
  let net: FakeNetwork;
  let s: BlockSync | null = null;
  let logs: LogEntry[];
  let synced: number[];
  /** What onSynced was given besides the height: the hash, the certificate, the next validators. */
  let reported: { hash: string; certificate: unknown; next: unknown }[];
  let storageFailures: unknown[];
  const NO_POLL: BlockSyncOptions = { ...defaultBlockSyncOptions, pollIntervalMs: 3_600_000 };

  function startSync(opts: BlockSyncOptions): BlockSync {
    s = new BlockSync(opts, {
      chain: node,
      transport: net.transport(),
      logger: captureLogger(logs),
      onSynced: (height, hash, certificate, next) => {
        synced.push(height);
        reported.push({ hash: bytesToHex(hash), certificate, next });
      },
      onStorageFailure: (err) => storageFailures.push(err),
    });
    s.start();
    return s;
  }
  /** One poll of a BlockSync started with `pollIntervalMs: 50` under fake timers, and its fetches finished. */
  const pollOnce = async (sync: BlockSync) => {
    await vi.advanceTimersByTimeAsync(50);
    await sync.idle();
  };
  /** An honest peer serving `chain`, at most `bytesMax` bytes a response (1: one block per response). */
  const honest =
    (chain: Chain, bytesMax = defaultBlockSyncOptions.responseBytesMax) =>
    (_from: Uint8Array, req: Uint8Array) =>
      serveBlocks(chain, req, bytesMax);
  /** The kinds of the requests sent to `id`, in order ("head" or "blocks@<from>"). */
  const asked = (id: Uint8Array) =>
    net.requests
      .filter((r) => r.peer === bytesToHex(id))
      .map((r) => {
        const q = decodeSyncRequest(r.bytes);
        return q.kind === "head" ? "head" : `blocks@${q.fromHeight}`;
      });

  beforeEach(async () => {
    factory = await ChainFactory.create(makeGenesis(sealers));
    source = await factory.open("source");
    node = await factory.open("node");
    await growChain(source, sealers, 3);
    net = new FakeNetwork(NodeKey.generate().nodeId);
    logs = [];
    synced = [];
    reported = [];
    storageFailures = [];
  });

  afterEach(async () => {
    s?.stop();
    net.closeAll();
    await s?.idle();
    s = null;
    vi.useRealTimers();
    await factory.close();
  });

  it("options: each must be a positive safe integer", () => {
    expect(validateBlockSyncOptions({ ...defaultBlockSyncOptions })).toEqual(defaultBlockSyncOptions);
    const ones: BlockSyncOptions = {
      pollIntervalMs: 1,
      requestTimeoutMs: 1,
      headTimeoutMs: 1,
      responseBytesMax: 1,
      behindWarnMs: 1,
    };
    expect(validateBlockSyncOptions(ones)).toEqual(ones);
    for (const field of Object.keys(defaultBlockSyncOptions) as (keyof BlockSyncOptions)[]) {
      for (const v of [0, -1, 1.5, Number.NaN, 2 ** 53]) {
        const bad = { ...defaultBlockSyncOptions, [field]: v };
        let thrown: unknown;
        try {
          validateBlockSyncOptions(bad);
        } catch (err) {
          thrown = err;
        }
        expect(thrown, `${field} ${v}`).toMatchObject({
          code: "SYNC_INVALID_OPTIONS",
          message: `sync option ${field} must be a positive integer, got ${v}`,
          meta: { field },
        });
      }
    }
    expect(
      () =>
        new BlockSync(
          { ...defaultBlockSyncOptions, requestTimeoutMs: 0 },
          {
            chain: node,
            transport: net.transport(),
            logger: captureLogger(),
            onSynced: () => undefined,
            onStorageFailure: () => undefined,
          },
        ),
    ).toThrow("sync option requestTimeoutMs must be a positive integer, got 0");
  });

  it("a peer with nothing newer ends the fetch; one claiming blocks it does not serve is blamed, its claim dropped", async () => {
    const behind = await factory.open("behind"); // head 0: nothing newer
    const behindId = NodeKey.generate().nodeId;
    net.connect(behindId, honest(behind));
    net.connect(honestId, honest(source));
    const sync = startSync(NO_POLL);
    await sync.fetch(1, [behindId]);
    expect(asked(behindId)).toEqual(["blocks@1"]);
    expect(asked(honestId)).toEqual([]); // nothing newer there: the poll covers the other peers
    expect(node.height()).toBe(0);

    // A liar claims a head of 1 (exactly the next block) and serves nothing: the next peer is asked.
    net.connect(hostileId, async () =>
      encodeSyncResponse({
        headHeight: 1,
        headHash: source.head().hash,
        blocks: [],
        genesisHash: source.genesisHash(),
      }),
    );
    await sync.fetch(1, [hostileId, honestId]);
    expect(asked(hostileId)).toEqual(["blocks@1"]);
    expect(node.height()).toBe(3);
    expect(asked(honestId)).toEqual(["blocks@1"]);
    expect(net.penaltiesOf(hostileId)).toMatchObject([
      { points: 50, reason: "claims head 1 but served no block from 1" },
    ]);
    expect(net.penalties).toHaveLength(1);
    expect(logs.filter((l) => l.msg === "peer claims a head it does not serve").map((l) => l.obj)).toEqual([
      { peer: bytesToHex(hostileId), claimedHead: 1, from: 1 },
    ]);
    expect(sync.status()).toEqual({ syncing: false, currentBlock: 3, highestBlock: 3 });
  });

  it("fetches round after round from a peer that serves one block per response, asking each peer once", async () => {
    net.connect(hostileId, async () => {
      throw new NetworkError("NETWORK_REMOTE_ERROR", "stream reset");
    });
    net.connect(honestId, honest(source, 1));
    const sync = startSync(NO_POLL);
    // The hint repeats a peer that is connected too: each is asked once, the hint first.
    await sync.fetch(1, [hostileId, hostileId, honestId]);
    expect(asked(hostileId)).toEqual(["blocks@1"]);
    expect(asked(honestId)).toEqual(["blocks@1", "blocks@2", "blocks@3"]); // none after the head
    expect(node.height()).toBe(3);
    expect(synced).toEqual([1, 2, 3]);
    // Consensus is told each block's hash and certificate; no validator change in these blocks.
    const stored = await Promise.all([1, 2, 3].map((h) => storedBlock(source, h)));
    expect(reported).toEqual(
      stored.map((b) => ({ hash: bytesToHex(b.hash), certificate: b.certificate, next: undefined })),
    );
    expect(sync.counters.blocksFetched).toBe(3);
    expect(logs.filter((l) => l.msg === "block synced").map((l) => l.obj)).toEqual([
      { height: 1, txs: 2 },
      { height: 2, txs: 2 },
      { height: 3, txs: 2 },
    ]);
    expect(net.penalties).toEqual([]); // a failed stream is not the peer's lie
  });

  it("blames a peer that serves a forged block at a height committed meanwhile; keeps ours", async () => {
    const alt = await factory.open("alt");
    await growChain(alt, sealers, 1, 1000);
    const theirs = await storedBlock(alt, 1);
    const forged = encodeBlock({ ...theirs.block, certificate: certify(strangers, 1, 0, theirs.hash) });
    net.connect(hostileId, async () => {
      if (node.height() === 0) await copyBlocks(source, node, 1); // consensus commits 1 meanwhile
      return encodeSyncResponse({
        headHeight: 1,
        headHash: theirs.hash,
        blocks: [forged],
        genesisHash: alt.genesisHash(),
      });
    });
    const sync = startSync(NO_POLL);
    await sync.fetch(1, [hostileId]);
    expect(node.height()).toBe(1);
    expect(node.head().hash).toEqual((await storedBlock(source, 1)).hash);
    expect(sync.counters.conflicts).toBe(0);
    expect(logs.filter((l) => /SAFETY VIOLATION/.test(l.msg ?? ""))).toEqual([]);
    const penalties = net.penaltiesOf(hostileId);
    expect(penalties).toHaveLength(1);
    expect(penalties[0]!.reason).toMatch(/^bad block in sync: block 1: certificate NOT_VALIDATOR/);
    expect(sync.counters.staleSkipped).toBe(0);
  });

  it("a full disk while storing a synced block stops the node and blames no peer", async () => {
    net.connect(honestId, honest(source));
    const full = Object.assign(new Error("write failed: no space left on device"), { code: "ENOSPC" });
    // The one stand-in of this file: a disk cannot be filled here; the chain's commit fails as LevelDB's would.
    node.commit = async () => {
      throw full;
    };
    const sync = startSync(NO_POLL);
    await sync.fetch(1, [honestId]);
    expect(storageFailures).toEqual([full]);
    expect(net.penalties).toEqual([]);
    expect(sync.counters.badPeers).toBe(0);
    expect(synced).toEqual([]);
  });

  it("stop() during a fetch: the round in flight ends it, no next round, no next peer, no blame", async () => {
    const otherId = NodeKey.generate().nodeId;
    net.connect(otherId, honest(source));
    const sync = startSync(NO_POLL);
    net.connect(hostileId, async (from, req) => {
      sync.stop();
      return honest(source, 1)(from, req);
    });
    await sync.fetch(1, [hostileId, otherId]);
    expect(asked(hostileId)).toEqual(["blocks@1"]);
    expect(asked(otherId)).toEqual([]);
    expect(node.height()).toBe(1);
    expect(net.penalties).toEqual([]);
    // Stopped: a new fetch asks no one.
    await sync.fetch(2, [otherId]);
    expect(asked(otherId)).toEqual([]);

    // Started again; stopped while a request fails: the next peer is not asked either.
    sync.start();
    const failingId = NodeKey.generate().nodeId;
    net.connect(failingId, async () => {
      sync.stop();
      throw new NetworkError("NETWORK_REMOTE_ERROR", "stream reset");
    });
    await sync.fetch(2, [failingId, otherId]);
    expect(asked(failingId)).toEqual(["blocks@2"]);
    expect(asked(otherId)).toEqual([]);
    expect(node.height()).toBe(1);
    expect(net.penalties).toEqual([]);
  });

  it("a consensus fetch asked while one runs joins it; status says syncing meanwhile", async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    net.connect(honestId, async (from, req) => {
      await gate;
      return honest(source)(from, req);
    });
    const sync = startSync(NO_POLL);
    const first = sync.fetch(1, [honestId]);
    const second = sync.fetch(1, [honestId]);
    expect(second).toBe(first);
    expect(sync.status().syncing).toBe(true);
    release();
    await first;
    expect(sync.status().syncing).toBe(false);
    expect(asked(honestId)).toEqual(["blocks@1"]);
    expect(node.height()).toBe(3);
  });

  it("the poll: ahead by one waits a poll (consensus may be finishing it), by two fetches at once, highest peer first", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const oneAhead = await factory.open("one");
    await copyBlocks(source, oneAhead, 1);
    const oneId = NodeKey.generate().nodeId;
    net.connect(oneId, honest(oneAhead));
    const sync = startSync({ ...defaultBlockSyncOptions, pollIntervalMs: 50 });
    await pollOnce(sync);
    expect(asked(oneId)).toEqual(["head"]); // one behind: wait
    expect(node.height()).toBe(0);
    await pollOnce(sync);
    expect(asked(oneId)).toEqual(["head", "head", "blocks@1"]); // still one behind at the same height: fetch
    expect(node.height()).toBe(1);

    // Two peers ahead, by one and by two: the highest is asked first and brings the node to its head at once.
    const twoAhead = await factory.open("two");
    await copyBlocks(source, twoAhead, 2);
    const twoId = NodeKey.generate().nodeId;
    await copyBlocks(source, oneAhead, 2); // head 2: one ahead of the node
    net.connect(twoId, honest(source)); // head 3: two ahead
    net.connect(honestId, honest(twoAhead)); // head 2
    await pollOnce(sync); // skipped: the node progressed since the last poll
    await pollOnce(sync);
    expect(node.height()).toBe(3);
    expect(asked(twoId)).toEqual(["head", "blocks@2"]);
    expect(asked(honestId)).toEqual(["head"]);
    expect(synced).toEqual([1, 2, 3]);
    expect(sync.status()).toEqual({ syncing: false, currentBlock: 3, highestBlock: 3 });
  });

  it("a peer on a chain with another genesis is ignored, not blamed, and named once; peers on ours serve", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    // A member given another genesis.json (one field differs): its chain is valid, but not ours.
    const elsewhere = await ChainFactory.create({ ...makeGenesis(sealers), timestampMs: 1_700_000_000_001 });
    try {
      const other = await elsewhere.open("other");
      await growChain(other, sealers, 5);
      const otherId = NodeKey.generate().nodeId;
      net.connect(otherId, honest(other));
      const sync = startSync({ ...defaultBlockSyncOptions, pollIntervalMs: 50 });
      for (let i = 0; i < 3; i++) await pollOnce(sync);
      expect(asked(otherId)).toEqual(["head", "head", "head"]); // its head of 5 is never fetched
      expect(node.height()).toBe(0);
      expect(sync.status()).toEqual({ syncing: false, currentBlock: 0, highestBlock: 0 });
      expect(sync.counters.headsHeard).toBe(0); // /ready does not count it as a peer that reported a head
      expect(sync.counters.otherGenesis).toBe(3);
      expect(net.penalties).toEqual([]);
      const named = logs.filter((e) => e.msg?.startsWith("peer runs a chain with another genesis"));
      expect(named.map((e) => [e.level, e.obj])).toEqual([
        [
          "error",
          {
            peer: bytesToHex(otherId),
            peerGenesis: bytesToHex(other.genesisHash()),
            ourGenesis: bytesToHex(node.genesisHash()),
          },
        ],
      ]);
      // A consensus-asked fetch skips it too, and a peer on our chain brings the node to its head.
      await sync.fetch(1, [otherId]);
      expect(node.height()).toBe(0);
      net.connect(honestId, honest(source));
      await sync.fetch(1, [otherId, honestId]);
      expect(node.height()).toBe(3);
      expect(asked(otherId).filter((k) => k !== "head")).toEqual(["blocks@1", "blocks@1"]);
      expect(net.penalties).toEqual([]);
      expect(logs.filter((e) => e.msg?.startsWith("peer runs a chain with another genesis"))).toHaveLength(1);
      // A node that sends no genesis hash (an older version) is served as before.
      await growChain(source, sealers, 1, 100);
      net.disconnect(honestId);
      const olderId = NodeKey.generate().nodeId;
      net.connect(olderId, async (_from, req) => {
        const res = decodeSyncResponse(
          await serveBlocks(source, req, defaultBlockSyncOptions.responseBytesMax),
        );
        return encodeSyncResponse({ ...res, genesisHash: new Uint8Array(0) });
      });
      await sync.fetch(4, [olderId]);
      expect(node.height()).toBe(4);
    } finally {
      await elsewhere.close();
    }
  });

  it("the poll asks at most 32 peers; a garbage head answer is blamed, a stalled one is not", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const empty = await factory.open("empty");
    const ids = Array.from({ length: 34 }, () => NodeKey.generate().nodeId);
    net.connect(ids[0]!, async () => new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]));
    net.connect(ids[1]!, "hang");
    for (const id of ids.slice(2)) net.connect(id, honest(empty));
    const sync = startSync({ ...defaultBlockSyncOptions, pollIntervalMs: 50, headTimeoutMs: 100 });
    await vi.advanceTimersByTimeAsync(50);
    await vi.advanceTimersByTimeAsync(100); // the stalled peer's head request times out
    await sync.idle();
    expect(net.requests).toHaveLength(32);
    expect(ids.slice(0, 32).map((id) => asked(id).length)).toEqual(Array(32).fill(1));
    expect(asked(ids[33]!)).toEqual([]);
    expect(net.penalties).toHaveLength(1);
    expect(net.penaltiesOf(ids[0]!)[0]).toMatchObject({
      points: 50,
      reason: expect.stringMatching(/^bad head response: malformed sync response/),
    });
    expect(sync.counters).toMatchObject({ badPeers: 1, headsHeard: 30 });
  });

  it("the best known height is the connected peers' latest claims: a peer that left, or lowered its claim, no longer counts", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    let claimed = 1; // one ahead: the node waits one poll for consensus, no fetch yet
    net.connect(hostileId, async () =>
      encodeSyncResponse({
        headHeight: claimed,
        headHash: source.head().hash,
        blocks: [],
        genesisHash: source.genesisHash(),
      }),
    );
    const sync = startSync({ ...defaultBlockSyncOptions, pollIntervalMs: 50 });
    await pollOnce(sync);
    expect(sync.status()).toEqual({ syncing: false, currentBlock: 0, highestBlock: 1 });
    claimed = 0; // it says it is not ahead after all (a running maximum kept 1)
    await pollOnce(sync);
    expect(sync.status()).toEqual({ syncing: false, currentBlock: 0, highestBlock: 0 });
    claimed = 1;
    await pollOnce(sync);
    expect(sync.status().highestBlock).toBe(1);
    net.disconnect(hostileId);
    await pollOnce(sync); // nobody connected claims anything
    expect(sync.status()).toEqual({ syncing: false, currentBlock: 0, highestBlock: 0 });
    expect(net.penalties).toEqual([]);
  });

  it("warns while behind, again every behindWarnMs, naming what it does; says when it caught up", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    const t0 = Date.now();
    // A peer that claims a head it never serves: the node stays behind it.
    let claimed = 3;
    const liar = async () =>
      encodeSyncResponse({
        headHeight: claimed,
        headHash: source.head().hash,
        blocks: [],
        genesisHash: source.genesisHash(),
      });
    net.connect(hostileId, liar);
    const sync = startSync({ ...defaultBlockSyncOptions, pollIntervalMs: 50, behindWarnMs: 100 });
    const warnings = () => logs.filter((l) => l.msg === "behind peers");
    await pollOnce(sync); // t0 + 50: behind from now on
    // Asked for the blocks, it served none: caught, its claim no longer counts as the best known height.
    expect(sync.status()).toEqual({ syncing: false, currentBlock: 0, highestBlock: 0 });
    expect(net.penaltiesOf(hostileId)).toMatchObject([
      { points: 50, reason: "claims head 3 but served no block from 1" },
    ]);
    await pollOnce(sync);
    expect(warnings()).toEqual([]);
    await pollOnce(sync); // t0 + 150: behind for behindWarnMs
    const first = {
      height: 0,
      peerHead: 3,
      behindMs: 100,
      peersAsked: 1,
      peersAnswered: 1,
      action: "fetching",
    };
    expect(warnings()).toEqual([{ level: "warn", msg: "behind peers", obj: first }]);
    await pollOnce(sync); // 50 ms after the warning: not again yet
    expect(warnings()).toHaveLength(1);
    await copyBlocks(source, node, 2); // consensus commits two blocks: still behind the claimed head
    await pollOnce(sync); // skipped: the node progressed
    await pollOnce(sync); // t0 + 300: one behind at a new height, it waits one poll; still the same episode
    expect(warnings().map((l) => l.obj)).toEqual([
      first,
      { ...first, height: 2, behindMs: 250, action: "waiting one poll for consensus" },
    ]);
    expect(logs.filter((l) => l.msg === "caught up with peers")).toEqual([]);

    // Consensus reaches the episode's target (3) while the peer now claims 5: a new episode, no warning yet.
    await copyBlocks(source, node, 3);
    claimed = 5;
    await pollOnce(sync); // skipped
    await pollOnce(sync); // t0 + 400: the new episode starts
    await pollOnce(sync);
    expect(warnings()).toHaveLength(2);
    await pollOnce(sync); // t0 + 500: behind for behindWarnMs in this episode
    await pollOnce(sync);
    await pollOnce(sync); // t0 + 600: exactly behindWarnMs after the last warning: again
    const third = { ...first, height: 3, peerHead: 5, behindMs: 100 };
    expect(warnings().map((l) => l.obj)).toEqual([
      first,
      { ...first, height: 2, behindMs: 250, action: "waiting one poll for consensus" },
      third,
      { ...third, behindMs: 200 },
    ]);
    expect(logs.filter((l) => l.msg === "caught up with peers")).toEqual([]);

    net.disconnect(hostileId);
    await pollOnce(sync); // t0 + 650: nobody ahead
    const caughtUp = { level: "info", msg: "caught up with peers", obj: { height: 3, behindMs: 250 } };
    expect(logs.filter((l) => l.msg === "caught up with peers")).toEqual([caughtUp]);
    // A short episode with no warning ends without a notice.
    net.connect(hostileId, liar);
    await pollOnce(sync);
    net.disconnect(hostileId);
    await pollOnce(sync);
    expect(logs.filter((l) => l.msg === "caught up with peers")).toEqual([caughtUp]);
    expect(warnings()).toHaveLength(4);
    expect(Date.now() - t0).toBe(750);
  });

  it("the response byte bound: one block above it is taken (it always goes first), blocks summing to it are taken", async () => {
    net.connect(honestId, honest(source, 1)); // one block per response
    const sync = startSync({ ...NO_POLL, responseBytesMax: 1 });
    await sync.fetch(1, [honestId]);
    expect(node.height()).toBe(3);
    expect(net.penalties).toEqual([]);

    // Three blocks in one response, exactly at the bound: taken.
    const other = await factory.open("other");
    const sizes = await Promise.all([1, 2, 3].map(async (h) => (await storedBlock(source, h)).bytes.length));
    const net2 = new FakeNetwork(NodeKey.generate().nodeId);
    net2.connect(honestId, honest(source));
    const exact = new BlockSync(
      { ...NO_POLL, responseBytesMax: sizes[0]! + sizes[1]! + sizes[2]! },
      {
        chain: other,
        transport: net2.transport(),
        logger: captureLogger(),
        onSynced: () => undefined,
        onStorageFailure: () => undefined,
      },
    );
    await exact.fetch(1, [honestId]);
    expect(other.height()).toBe(3);
    expect(net2.requests).toHaveLength(1);
    expect(net2.penalties).toEqual([]);
  });

  it("a block consensus commits meanwhile is skipped unblamed; a conflicting certified one is logged as evidence", async () => {
    // The same block, committed before the answer arrives: skipped, no conflict, no evidence.
    net.connect(honestId, async (from, req) => {
      if (node.height() === 0) await copyBlocks(source, node, 1);
      return honest(source)(from, req);
    });
    const sync = startSync(NO_POLL);
    await sync.fetch(1, [honestId]);
    expect(node.height()).toBe(3);
    expect(sync.counters).toMatchObject({ staleSkipped: 1, conflicts: 0, badPeers: 0 });
    expect(logs.filter((l) => l.level === "error")).toEqual([]);

    // Consensus's commit of block 4 is queued at the chain before the fetched block's: the same block is skipped.
    await growChain(source, sealers, 2);
    const b4 = await storedBlock(source, 4);
    net.disconnect(honestId);
    net.connect(honestId, async (from, req) => {
      if (node.height() === 3) void node.commit(b4.hash, b4.certificate, b4.bytes);
      return honest(source)(from, req);
    });
    await sync.fetch(4, [honestId]);
    expect(node.height()).toBe(5);
    expect(synced).toEqual([2, 3, 5]); // 1 and 4 came from consensus
    expect(sync.counters).toMatchObject({ staleSkipped: 2, conflicts: 0, badPeers: 0, blocksFetched: 3 });

    // A second certified block 6 (equivocating validators) relayed while consensus's own block 6 is queued: evidence.
    const alt = await factory.open("alt");
    await copyBlocks(source, alt, 5);
    await growChain(alt, sealers, 1, 1000);
    await growChain(source, sealers, 1);
    const ours = await storedBlock(source, 6);
    const theirs = await storedBlock(alt, 6);
    net.disconnect(honestId);
    net.connect(hostileId, async (from, req) => {
      if (node.height() === 5) void node.commit(ours.hash, ours.certificate, ours.bytes);
      return honest(alt)(from, req);
    });
    await sync.fetch(6, [hostileId]);
    expect(node.height()).toBe(6);
    expect(node.head().hash).toEqual(ours.hash);
    expect(net.penalties).toEqual([]);
    expect(sync.counters).toMatchObject({ staleSkipped: 3, conflicts: 1, badPeers: 0 });
    const evidence = logs.filter((l) => l.level === "error");
    expect(evidence).toEqual([
      {
        level: "error",
        msg: "SAFETY VIOLATION evidence: a second certified block at a committed height (kept ours)",
        obj: {
          peer: bytesToHex(hostileId),
          height: 6,
          ourHash: bytesToHex(ours.hash),
          theirHash: bytesToHex(theirs.hash),
          view: 0,
          signers: sealers.map((k) => bytesToHex(k.nodeId)),
        },
      },
    ]);
  });

  it("a certificate of the right validators for the block's hash at another height is refused and blamed", async () => {
    const b1 = await storedBlock(source, 1);
    net.connect(hostileId, async () =>
      encodeSyncResponse({
        headHeight: 1,
        headHash: b1.hash,
        blocks: [encodeBlock({ ...b1.block, certificate: certify(sealers, 2, 0, b1.hash) })],
        genesisHash: source.genesisHash(),
      }),
    );
    const sync = startSync(NO_POLL);
    await sync.fetch(1, [hostileId]);
    expect(node.height()).toBe(0);
    expect(net.penaltiesOf(hostileId).map((p) => p.reason)).toEqual([
      "bad block in sync: block 1 has no certificate for its hash",
    ]);
    expect(logs.find((l) => l.msg === "peer served an invalid block")).toMatchObject({
      level: "warn",
      obj: { peer: bytesToHex(hostileId), height: 1, err: "block 1 has no certificate for its hash" },
    });
  });

  it("status, idle and stop: one poll fetch at a time, idle waits for it, no poll after stop", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    const flush = async (rounds = 50) => {
      for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
    };
    const sync = startSync({ ...defaultBlockSyncOptions, pollIntervalMs: 50, headTimeoutMs: 100 });
    expect(sync.status()).toEqual({ syncing: false, currentBlock: 0, highestBlock: 0 });
    await vi.advanceTimersByTimeAsync(50); // a poll with no peer: no head heard
    await sync.idle();
    await copyBlocks(source, node, 1); // consensus commits: progressed, but no head was ever heard, so it asks
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    net.connect(honestId, async (from, req) => {
      if (decodeSyncRequest(req).kind === "blocks") await gate;
      return honest(source)(from, req);
    });
    await vi.advanceTimersByTimeAsync(50);
    await flush();
    expect(asked(honestId)).toEqual(["head", "blocks@2"]);
    expect(sync.status()).toMatchObject({ syncing: true, currentBlock: 1, highestBlock: 3 });
    await vi.advanceTimersByTimeAsync(50); // the next poll: the fetch still runs, no second one
    await flush();
    expect(asked(honestId)).toEqual(["head", "blocks@2", "head"]);
    let idled = false;
    void sync.idle().then(() => {
      idled = true;
    });
    await flush();
    expect(idled).toBe(false);
    release();
    await sync.idle();
    expect(idled).toBe(true);
    expect(node.height()).toBe(3);
    expect(sync.status().syncing).toBe(false);

    // Stopped with a poll pending: it never runs.
    sync.stop();
    await vi.advanceTimersByTimeAsync(500);
    expect(net.requests).toHaveLength(3);
    // Stopped while a poll waits on a stalled peer: the poll ends, none follows.
    sync.start();
    net.connect(hostileId, "hang");
    await vi.advanceTimersByTimeAsync(50); // skipped: the node progressed since the last poll
    await sync.idle();
    await vi.advanceTimersByTimeAsync(50); // asks both; the stalled one holds the poll
    sync.stop();
    await vi.advanceTimersByTimeAsync(100);
    await sync.idle();
    await vi.advanceTimersByTimeAsync(500);
    expect(net.requests).toHaveLength(5);
  });

  it("a peer that brought the node to its head ends the fetch; a block failing while the node stops blames no one", async () => {
    const otherId = NodeKey.generate().nodeId;
    net.connect(honestId, honest(source));
    net.connect(otherId, honest(source));
    const sync = startSync(NO_POLL);
    await sync.fetch(1, [honestId, otherId]);
    expect(node.height()).toBe(3);
    expect(asked(otherId)).toEqual([]);

    // The ledger closes under a commit while the node stops: not the peer's fault.
    await growChain(source, sealers, 1);
    node.commit = async () => {
      sync.stop();
      throw new Error("ledger closed");
    };
    await sync.fetch(4, [honestId]);
    expect(net.penalties).toEqual([]);
    expect(sync.counters.badPeers).toBe(0);
  });

  it("the behind warning says when a fetch is already in flight", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "Date"] });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    net.connect(honestId, async (from, req) => {
      if (decodeSyncRequest(req).kind === "blocks") await gate;
      return honest(source)(from, req);
    });
    const sync = startSync({ ...defaultBlockSyncOptions, pollIntervalMs: 50, behindWarnMs: 1 });
    const flush = async () => {
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    };
    await vi.advanceTimersByTimeAsync(50); // behind by 3: fetches (held at the gate)
    await flush();
    await vi.advanceTimersByTimeAsync(50);
    await flush();
    expect(logs.filter((l) => l.msg === "behind peers").map((l) => l.obj.action)).toEqual([
      "a fetch is in flight",
    ]);
    release();
    await sync.idle();
    expect(node.height()).toBe(3);
  });
});
