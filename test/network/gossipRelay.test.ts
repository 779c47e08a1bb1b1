import { afterEach, describe, expect, it } from "vitest";
import {
  encodeGossipFrame,
  GOSSIP_HEADER_BYTES_MAX,
  type GossipFrame,
  parseGossipFrame,
  RECIPIENTS_MAX,
  recipientTag,
} from "../../src/network/gossipFrame.js";
import { topicId } from "../../src/network/names.js";
import { nodeIdToPeerId } from "../../src/network/peerId.js";
import type { TransportNode } from "../../src/network/transportContext.js";
import { CHAIN_ID, startNodes, type TestNode, waitFor } from "./helpers.js";

/**
 * GossipRelay on real transports over loopback: a publisher names its direct recipients in the frame, and relays
 * forward only to mesh peers it did not name. Raw receptions are counted at gossipsub's RPC entry (duplicates
 * included: gossipsub drops those before any handler sees them).
 */

let nodes: TestNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.transport.stop()));
  nodes = [];
});

const MESSAGES = 10;
const MARKER = 0xff;

interface RpcEntry {
  handleReceivedRpc(from: unknown, rpc: { messages: { topic?: string }[] }): Promise<void>;
}

function pubsubOf(n: TestNode): TransportNode["services"]["pubsub"] {
  return (n.transport as unknown as { node: TransportNode }).node.services.pubsub;
}

/** Counts every "txs" message that reaches a node's gossipsub, duplicates included. */
function countReceptions(n: TestNode): { count: number } {
  const pubsub = pubsubOf(n) as unknown as RpcEntry;
  expect(typeof pubsub.handleReceivedRpc).toBe("function"); // gossipsub internals: see gossipRelay.ts
  const original = pubsub.handleReceivedRpc.bind(pubsub);
  const id = topicId(CHAIN_ID, "txs");
  const counter = { count: 0 };
  pubsub.handleReceivedRpc = (from, rpc) => {
    counter.count += rpc.messages.filter((m) => m.topic === id).length;
    return original(from, rpc);
  };
  return counter;
}

/** Links each pair both ways: static peers and allowed nodes, nothing else (no other connection can form). */
function link(pairs: [TestNode, TestNode][]): void {
  const peers = new Map<TestNode, TestNode[]>();
  for (const [x, y] of pairs) {
    peers.set(x, [...(peers.get(x) ?? []), y]);
    peers.set(y, [...(peers.get(y) ?? []), x]);
  }
  for (const [n, list] of peers) {
    n.transport.setAllowedNodes(list.map((p) => p.key.nodeId));
    n.transport.setStaticPeers(list.flatMap((p) => p.transport.listenAddresses()));
  }
}

/** Subscribes every node to "txs", recording the first byte of each payload it is handed. */
function record(list: TestNode[]): Map<TestNode, number[]> {
  const got = new Map<TestNode, number[]>();
  for (const n of list) {
    const seen: number[] = [];
    got.set(n, seen);
    n.transport.subscribe("txs", (_from, data) => {
      seen.push(data[0] as number);
      return undefined;
    });
  }
  return got;
}

async function waitForMeshes(expected: [TestNode, number][]): Promise<void> {
  await waitFor("topic meshes", () =>
    expected.every(
      ([n, size]) =>
        n.transport.topicPeers("txs").length === size && n.transport.meshPeers("txs").length === size,
    ),
  );
}

async function publishAll(from: TestNode): Promise<void> {
  for (let i = 0; i < MESSAGES; i++) await from.transport.publish("txs", Uint8Array.of(i));
}

function all(got: number[]): boolean {
  return Array.from({ length: MESSAGES }, (_, i) => i).every((i) => got.includes(i));
}

/**
 * A marker published by `from` after everything else: gossipsub keeps one ordered stream per peer, so once a
 * neighbour has the marker it has received every copy `from` forwarded to it before.
 */
async function flushFrom(from: TestNode, to: TestNode[], got: Map<TestNode, number[]>): Promise<void> {
  await from.transport.publish("txs", Uint8Array.of(MARKER, ...from.key.nodeId.subarray(0, 4)));
  await waitFor("marker", () => to.every((n) => got.get(n)?.filter((b) => b === MARKER).length === 1));
  for (const n of to) got.get(n)?.splice(got.get(n)?.indexOf(MARKER) ?? 0, 1);
}

describe("gossip relay: forward only to members the publisher did not reach", () => {
  it("in a full mesh nobody forwards: each member receives each message once", async () => {
    nodes = await startNodes(3);
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    link([
      [a, b],
      [a, c],
      [b, c],
    ]);
    const got = record(nodes);
    await waitForMeshes([
      [a, 2],
      [b, 2],
      [c, 2],
    ]);
    const atB = countReceptions(b);
    const atC = countReceptions(c);

    await publishAll(a);
    await waitFor("delivered", () => all(got.get(b) ?? []) && all(got.get(c) ?? []));
    expect([b, c].map((n) => n.transport.stats().gossipForwards)).toEqual([0, 0]);
    expect([b, c].map((n) => n.transport.stats().gossipForwardsSkipped)).toEqual([MESSAGES, MESSAGES]);

    await flushFrom(b, [a, c], got); // whatever b forwarded to c is in before b's marker
    await flushFrom(c, [a, b], got);
    // a's messages once each, plus the one marker from the other side: no forwarded copy.
    expect([atB.count, atC.count]).toEqual([MESSAGES + 1, MESSAGES + 1]);
    expect(a.transport.stats().gossipRepublished).toBe(0);
  });

  it("a member the publisher is not connected to gets every message through a relay, once", async () => {
    // a, b, c in a triangle; d talks to b only.
    nodes = await startNodes(4);
    const [a, b, c, d] = nodes as [TestNode, TestNode, TestNode, TestNode];
    link([
      [a, b],
      [a, c],
      [b, c],
      [b, d],
    ]);
    const got = record(nodes);
    await waitForMeshes([
      [a, 2],
      [b, 3],
      [c, 2],
      [d, 1],
    ]);
    const atC = countReceptions(c);
    const atD = countReceptions(d);

    await publishAll(a);
    await waitFor("delivered two hops away", () => all(got.get(d) ?? []) && all(got.get(c) ?? []));
    // b forwards to d (not named by a) and skips c (named); c has nobody a did not reach.
    expect(b.transport.stats().gossipForwards).toBe(MESSAGES);
    expect(b.transport.stats().gossipForwardsSkipped).toBe(MESSAGES);
    expect(c.transport.stats().gossipForwards).toBe(0);

    await flushFrom(b, [a, c, d], got);
    expect([atC.count, atD.count]).toEqual([MESSAGES + 1, MESSAGES + 1]);
  });

  it("a named recipient that publish did not reach gets the message through a relay (one republish)", async () => {
    nodes = await startNodes(3);
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    link([
      [a, b],
      [a, c],
      [b, c],
    ]);
    const got = record(nodes);
    await waitForMeshes([
      [a, 2],
      [b, 2],
      [c, 2],
    ]);
    // a loses its gossipsub stream to b (the race gossipRepair.ts works around; repaired ticks later): b is still
    // a subscriber, so the first frame names it, but gossipsub cannot send it there.
    const outbound = (pubsubOf(a) as unknown as { streamsOutbound: Map<string, unknown> }).streamsOutbound;
    expect(outbound.delete(nodeIdToPeerId(b.key.nodeId).toString())).toBe(true);
    await a.transport.publish("txs", Uint8Array.of(7));
    await waitFor("b gets it from c", () => got.get(b)?.includes(7) === true);
    expect(a.transport.stats().gossipRepublished).toBe(1);
    expect(c.transport.stats().gossipForwards).toBe(1); // the republished frame, to b only
  });

  it("a frame that names more recipients than it carries is rejected and its sender penalized", async () => {
    nodes = await startNodes(2);
    const [a, b] = nodes as [TestNode, TestNode];
    link([[a, b]]);
    const got = record(nodes);
    await waitForMeshes([
      [a, 1],
      [b, 1],
    ]);
    const id = topicId(CHAIN_ID, "txs");
    // seq, then a count of 2 tags with only one present: the payload cannot be found.
    const bad = Uint8Array.of(...new Uint8Array(8), 2, ...new Uint8Array(8));
    await pubsubOf(a).publish(id, bad);
    await waitFor("rejected", () => b.transport.stats().gossipRejected === 1);
    expect(got.get(b)).toEqual([]);
    expect(b.transport.penaltyPoints(a.key.nodeId)).toBeGreaterThan(0);
  });
});

describe("gossip frames: what a peer's frame may name and carry", () => {
  const ids = Array.from({ length: 70 }, (_, i) => {
    const id = new Uint8Array(32).fill(i + 1);
    id[0] = 0x80 | i; // each tag distinct, and over 2^63 as a number
    return id;
  });

  it("names at most RECIPIENTS_MAX recipients, each by its node ID's first 8 bytes, and round-trips", () => {
    const payload = Uint8Array.of(1, 2, 3);
    const frame = encodeGossipFrame(2n ** 64n + 5n, ids, payload); // the sequence wraps to 5
    expect(frame.length).toBe(GOSSIP_HEADER_BYTES_MAX + 3);
    expect([...frame.subarray(0, 9)]).toEqual([0, 0, 0, 0, 0, 0, 0, 5, RECIPIENTS_MAX]);
    const parsed = parseGossipFrame(frame) as GossipFrame;
    expect(parsed.recipients).toEqual(ids.slice(0, RECIPIENTS_MAX).map(recipientTag));
    expect(parsed.recipients[0]).toBe(0x8001010101010101n);
    expect([...parsed.payload]).toEqual([1, 2, 3]);
    // A node ID inside a larger buffer (as decoded from a message) gives the same tag.
    const inner = new Uint8Array(40);
    inner.set(ids[3]!, 8);
    expect(recipientTag(inner.subarray(8))).toBe(recipientTag(ids[3]!));
    // Parsed from a frame that sits inside a larger buffer (gossipsub hands out subarrays).
    const outer = new Uint8Array(frame.length + 16);
    outer.set(frame, 16);
    const parsedInner = parseGossipFrame(outer.subarray(16)) as GossipFrame;
    expect(parsedInner.recipients).toEqual(parsed.recipients);
    expect([...parsedInner.payload]).toEqual([1, 2, 3]);
  });

  it("refuses a frame without its header, with a missing tag or more than RECIPIENTS_MAX; accepts the edges", () => {
    const header = (count: number, tags: number) =>
      Uint8Array.of(...new Uint8Array(8), count, ...new Uint8Array(tags * 8));
    expect(parseGossipFrame(new Uint8Array(8))).toBe("truncated");
    expect(parseGossipFrame(new Uint8Array(0))).toBe("truncated");
    expect(parseGossipFrame(header(0, 0))).toEqual({ payload: new Uint8Array(0), recipients: [] });
    expect(parseGossipFrame(header(2, 1))).toBe("truncated");
    expect(parseGossipFrame(Uint8Array.of(...header(2, 1), 1, 2, 3, 4, 5, 6, 7))).toBe("truncated");
    expect(parseGossipFrame(header(2, 2))).toEqual({ payload: new Uint8Array(0), recipients: [0n, 0n] });
    expect(parseGossipFrame(header(RECIPIENTS_MAX + 1, RECIPIENTS_MAX + 1))).toBe("too many recipients");
    expect(parseGossipFrame(header(255, 0))).toBe("too many recipients");
    expect((parseGossipFrame(header(RECIPIENTS_MAX, RECIPIENTS_MAX)) as GossipFrame).recipients.length).toBe(
      RECIPIENTS_MAX,
    );
    // An empty recipient list and an empty payload: the shortest valid frame.
    expect(encodeGossipFrame(0n, [], new Uint8Array(0))).toEqual(new Uint8Array(9));
  });
});
