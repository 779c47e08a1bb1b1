import { afterEach, describe, expect, it } from "vitest";
import { decodeResponse, encodeFrame, readFrame } from "../../src/network/framing.js";
import { GossipValidationError, NetworkError, nodeIdToPeerId, TOPIC_NAMES } from "../../src/network/index.js";
import { directProtocolId, protocolId } from "../../src/network/names.js";
import type { NodeId } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import {
  CHAIN_ID,
  connectAll,
  hasNode,
  openRawStream,
  startNodes,
  type TestNode,
  waitFor,
} from "./helpers.js";

let nodes: TestNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.transport.stop()));
  nodes = [];
});

async function expectNetworkError(p: Promise<unknown>, code: string): Promise<NetworkError> {
  const err = await p.then(
    () => {
      throw new Error(`expected ${code}, got a result`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NetworkError);
  expect((err as NetworkError).code).toBe(code);
  return err as NetworkError;
}

describe("Libp2pTransport: 4 nodes over loopback", () => {
  it("gossips on both topics to every other node, and serves requests both ways", async () => {
    nodes = await startNodes(4);
    const received = new Map<string, { from: NodeId; data: string }[]>();
    for (const n of nodes) {
      for (const topic of TOPIC_NAMES) {
        n.transport.subscribe(topic, (from, data) => {
          const k = `${bytesToHex(n.key.nodeId)}/${topic}`;
          const list = received.get(k) ?? [];
          list.push({ from, data: new TextDecoder().decode(data) });
          received.set(k, list);
          return undefined;
        });
      }
      n.transport.handle("blocks", async (from, req) =>
        new TextEncoder().encode(`${bytesToHex(from).slice(0, 10)}:${new TextDecoder().decode(req)}`),
      );
    }
    await connectAll(nodes);
    await waitFor("topic meshes", () =>
      nodes.every((n) => TOPIC_NAMES.every((t) => n.transport.topicPeers(t).length === 3)),
    );

    for (const [i, n] of nodes.entries()) {
      await n.transport.publish("consensus", new TextEncoder().encode(`vote-${i}`));
      await n.transport.publish("txs", new TextEncoder().encode(`batch-${i}`));
    }
    await waitFor("all gossip delivered", () =>
      nodes.every((n) =>
        TOPIC_NAMES.every((t) => (received.get(`${bytesToHex(n.key.nodeId)}/${t}`)?.length ?? 0) === 3),
      ),
    );
    for (const [i, n] of nodes.entries()) {
      const got = received.get(`${bytesToHex(n.key.nodeId)}/consensus`)!;
      // Everyone else's message, none of its own, each attributed to the member it arrived from (gossipsub runs
      // unsigned: the sender is the admitted connection, not a signature).
      expect(got.map((m) => m.data).sort()).toEqual(
        [0, 1, 2, 3].filter((j) => j !== i).map((j) => `vote-${j}`),
      );
      // Usually the publisher itself; under load a forwarded copy can arrive first, crediting the forwarder.
      const others = nodes.filter((_, j) => j !== i).map((o) => bytesToHex(o.key.nodeId));
      for (const m of got) expect(others).toContain(bytesToHex(m.from));
    }

    // Request/response both ways between 0 and 3, and 1 → 2.
    const [a, b, c, d] = nodes as [TestNode, TestNode, TestNode, TestNode];
    const r1 = await a.transport.request(d.key.nodeId, "blocks", new TextEncoder().encode("ping"), {
      timeoutMs: 2000,
    });
    expect(new TextDecoder().decode(r1)).toBe(`${bytesToHex(a.key.nodeId).slice(0, 10)}:ping`);
    const r2 = await d.transport.request(a.key.nodeId, "blocks", new TextEncoder().encode("pong"), {
      timeoutMs: 2000,
    });
    expect(new TextDecoder().decode(r2)).toBe(`${bytesToHex(d.key.nodeId).slice(0, 10)}:pong`);
    const r3 = await b.transport.request(c.key.nodeId, "blocks", new Uint8Array(0), { timeoutMs: 2000 });
    expect(new TextDecoder().decode(r3)).toBe(`${bytesToHex(b.key.nodeId).slice(0, 10)}:`);
    expect(hasNode(a.transport.connectedPeers(), d.key.nodeId)).toBe(true);
  });

  it("maps request failures to typed errors: remote error, oversize, timeout, unsupported, not connected", async () => {
    nodes = await startNodes(2, { requestBytesMax: 64 * 1024 });
    const [a, b] = nodes as [TestNode, TestNode];
    let slowResolve: (() => void) | undefined;
    b.transport.handle("blocks", async (_from, req) => {
      if (req[0] === 1) throw new Error("no such block");
      if (req[0] === 2) {
        await new Promise<void>((resolve) => {
          slowResolve = resolve;
          setTimeout(resolve, 3_000);
        });
        return new Uint8Array([9]);
      }
      return req;
    });
    await connectAll(nodes);

    // The remote does not serve "txs" (yet).
    await expectNetworkError(
      a.transport.request(b.key.nodeId, "txs", Uint8Array.of(0), { timeoutMs: 2000 }),
      "NETWORK_UNSUPPORTED_PROTOCOL",
    );

    const remote = await expectNetworkError(
      a.transport.request(b.key.nodeId, "blocks", Uint8Array.of(1), { timeoutMs: 2000 }),
      "NETWORK_REMOTE_ERROR",
    );
    // The caller's meta names the node and protocol asked.
    const meta = { nodeId: bytesToHex(b.key.nodeId), protocol: "blocks" };
    expect(remote.meta).toEqual({ ...meta, remote: true, remoteMessage: "no such block" });

    // Local bound: never sent; the error says how far over.
    const local = await expectNetworkError(
      a.transport.request(b.key.nodeId, "blocks", new Uint8Array(64 * 1024 + 1), { timeoutMs: 2000 }),
      "NETWORK_OVERSIZE",
    );
    expect([local.message, local.meta]).toEqual([
      "request over the size bound",
      { ...meta, bytes: 64 * 1024 + 1, bytesMax: 64 * 1024 },
    ]);

    await expectNetworkError(
      a.transport.request(b.key.nodeId, "blocks", Uint8Array.of(2), { timeoutMs: 300 }),
      "NETWORK_TIMEOUT",
    );
    slowResolve?.();

    // A response over 4 MiB (the default bound is 16 MiB).
    b.transport.handle("txs", async () => new Uint8Array(5 * 1024 * 1024).fill(3));
    const big = await a.transport.request(b.key.nodeId, "txs", Uint8Array.of(0), { timeoutMs: 10_000 });
    expect(big.length).toBe(5 * 1024 * 1024);
    expect(big[big.length - 1]).toBe(3);

    // Still usable after all of that.
    const ok = await a.transport.request(b.key.nodeId, "blocks", Uint8Array.of(7, 7), { timeoutMs: 2000 });
    expect([...ok]).toEqual([7, 7]);

    const stranger = nodes[0]!.key.nodeId.map((x) => x ^ 0xff);
    await expectNetworkError(
      a.transport.request(new Uint8Array(stranger), "blocks", Uint8Array.of(0), { timeoutMs: 500 }),
      "NETWORK_NOT_CONNECTED",
    );
  });

  it("bounds inbound requests: over the limit the responder answers busy and counts the drop", async () => {
    nodes = await startNodes(2, { inboundRequestsMax: 1 });
    const [a, b] = nodes as [TestNode, TestNode];
    let release: (() => void) | undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    b.transport.handle("txs", async () => {
      await held;
      return Uint8Array.of(1);
    });
    await connectAll(nodes);
    const first = a.transport.request(b.key.nodeId, "txs", Uint8Array.of(0), { timeoutMs: 5000 });
    await waitFor("first request in flight", () => b.transport.stats().requestsInFlight === 1);
    const busy = await expectNetworkError(
      a.transport.request(b.key.nodeId, "txs", Uint8Array.of(0), { timeoutMs: 5000 }),
      "NETWORK_REMOTE_BUSY",
    );
    expect(busy.meta.remoteMessage).toBe("busy");
    expect(b.transport.stats().requestsDropped).toBe(1);
    expect(b.log.find("inbound request queue full").map((e) => [e.level, e.obj])).toEqual([
      ["debug", { protocol: "txs", dropped: 1 }],
    ]);
    release?.();
    expect([...(await first)]).toEqual([1]);
  });

  it("refuses an oversized request on the responder's side (its bound is smaller)", async () => {
    const big = await startNodes(1, { requestBytesMax: 1024 * 1024 });
    const small = await startNodes(1, { requestBytesMax: 16 * 1024 }, undefined, []);
    nodes = [...big, ...small];
    const [a, b] = nodes as [TestNode, TestNode];
    a.transport.setAllowedNodes([b.key.nodeId]);
    b.transport.setAllowedNodes([a.key.nodeId]);
    let served = 0;
    b.transport.handle("blocks", async (_from, req) => {
      served++;
      return req.subarray(0, 1);
    });
    await connectAll(nodes);
    const err = await expectNetworkError(
      a.transport.request(b.key.nodeId, "blocks", new Uint8Array(300 * 1024), { timeoutMs: 3000 }),
      "NETWORK_OVERSIZE",
    );
    expect(err.meta.remote).toBe(true);
    expect(served).toBe(0);
    const ok = await a.transport.request(b.key.nodeId, "blocks", Uint8Array.of(5), { timeoutMs: 2000 });
    expect([...ok]).toEqual([5]);
  });

  it("delivers direct messages to the topic handlers, and publishes with no peers without throwing", async () => {
    nodes = await startNodes(2);
    const [a, b] = nodes as [TestNode, TestNode];
    await a.transport.publish("consensus", Uint8Array.of(1)); // lone node: no throw
    const got: string[] = [];
    b.transport.subscribe("consensus", (from, data) => {
      if (data[0] === 0xff) return "reject";
      got.push(`${bytesToHex(from)}:${[...data].join(",")}`);
      return "accept";
    });
    await connectAll(nodes);
    await a.transport.sendDirect(b.key.nodeId, "consensus", Uint8Array.of(4, 2), { timeoutMs: 2000 });
    await waitFor("direct message", () => got.length === 1);
    expect(got[0]).toBe(`${bytesToHex(a.key.nodeId)}:4,2`);
    // A rejected direct message counts against the sender like rejected gossip.
    await a.transport.sendDirect(b.key.nodeId, "consensus", Uint8Array.of(0xff), { timeoutMs: 2000 });
    await waitFor("direct message rejected", () => b.transport.stats().gossipRejected === 1);
    expect(got.length).toBe(1);
  });

  it("a subscriber's verdict stops forwarding: rejected and ignored messages do not travel on", async () => {
    // Line a - b - c: c only hears a's messages through b.
    nodes = await startNodes(3);
    const [a, b, c] = nodes as [TestNode, TestNode, TestNode];
    a.transport.setStaticPeers(b.transport.listenAddresses());
    c.transport.setStaticPeers(b.transport.listenAddresses());
    a.transport.setAllowedNodes([b.key.nodeId]);
    c.transport.setAllowedNodes([b.key.nodeId]);
    const seenByB: number[] = [];
    const seenByC: number[] = [];
    const fromAtC: string[] = [];
    b.transport.subscribe("txs", (_from, data) => {
      seenByB.push(data[0]!);
      if (data[0] === 1) throw new GossipValidationError("reject", "bad batch");
      if (data[0] === 2) return "ignore";
      return undefined;
    });
    c.transport.subscribe("txs", (from, data) => {
      seenByC.push(data[0]!);
      fromAtC.push(bytesToHex(from));
      return undefined;
    });
    a.transport.subscribe("txs", () => undefined);
    await waitFor("line topology", () => b.transport.peerCount() === 2);
    await waitFor(
      "topic peers",
      () => b.transport.topicPeers("txs").length === 2 && a.transport.topicPeers("txs").length === 1,
    );
    await waitFor("mesh at c", () => c.transport.topicPeers("txs").length === 1);
    await waitFor("b forwards to a and c", () => b.transport.meshPeers("txs").length === 2);
    // c accepts a's message although it only talks to b, and attributes it to b, the member it came from (unsigned
    // gossip: the propagation source, admitted at c's gate, answers for what it forwards).
    await a.transport.publish("txs", Uint8Array.of(1));
    await a.transport.publish("txs", Uint8Array.of(2));
    await a.transport.publish("txs", Uint8Array.of(3));
    await waitFor("c gets the accepted one", () => seenByC.includes(3));
    expect(seenByB.sort()).toEqual([1, 2, 3]);
    expect(seenByC).toEqual([3]);
    expect(fromAtC).toEqual([bytesToHex(b.key.nodeId)]);
  });

  it("re-publishing identical bytes delivers them again (PBFT resends its own votes unchanged)", async () => {
    nodes = await startNodes(2);
    const [a, b] = nodes as [TestNode, TestNode];
    const got: number[] = [];
    b.transport.subscribe("consensus", (_from, data) => {
      got.push(data.length);
      return "accept";
    });
    a.transport.subscribe("consensus", () => undefined);
    await connectAll(nodes);
    await waitFor("topic peers", () => a.transport.topicPeers("consensus").length === 1);
    const vote = Uint8Array.of(7, 7, 7);
    await a.transport.publish("consensus", vote);
    await waitFor("first copy", () => got.length === 1);
    await a.transport.publish("consensus", vote);
    await waitFor("second copy", () => got.length === 2);
    expect(got).toEqual([3, 3]);
    expect(b.transport.stats().gossipRejected).toBe(0);
  });
});

/**
 * What a peer's frames on the stream protocols cost it: raw streams from a's libp2p node (as a peer that does not
 * run our code would open them) to b's request and direct-message handlers.
 */
describe("Libp2pTransport: inbound frames on the stream protocols", () => {
  const NO_DECAY = { penaltyHalfLifeMs: 1e12 }; // points stay exact during a test

  /** b's log entries for frames it judged (counted to know b is done with a stream). */
  const badFrames = (n: TestNode) => n.log.entries.filter((e) => e.msg === "bad inbound frame").length;

  it("a request at the bound is served; over it or malformed costs the sender points; an early end costs none", async () => {
    nodes = await startNodes(2, { ...NO_DECAY, requestBytesMax: 1024, malformedFramePoints: 20 });
    const [a, b] = nodes as [TestNode, TestNode];
    const served: number[] = [];
    b.transport.handle("blocks", async (_from, req) => {
      served.push(req.length);
      return Uint8Array.of(1);
    });
    await connectAll(nodes);
    const ok = await a.transport.request(b.key.nodeId, "blocks", new Uint8Array(1024), { timeoutMs: 2000 });
    expect([...ok]).toEqual([1]);
    expect(served).toEqual([1024]);
    expect(b.transport.penaltyPoints(a.key.nodeId)).toBe(0);

    // One byte over b's bound (a's own check would never send it): answered Oversize, 20 points.
    const id = protocolId(CHAIN_ID, "blocks");
    let s = await openRawStream(a, b, id);
    s.send(encodeFrame(new Uint8Array(1025)).subarray());
    const answer = await readFrame(s, 1024);
    let err: unknown;
    try {
      decodeResponse(answer, {});
    } catch (e) {
      err = e;
    }
    expect((err as NetworkError).code).toBe("NETWORK_OVERSIZE");
    expect((err as NetworkError).meta.remoteMessage).toBe("request over 1024 bytes");
    expect(b.transport.penaltyPoints(a.key.nodeId)).toBeCloseTo(20, 6);

    // A length prefix of 8 bytes: malformed, 20 more, and the stream is reset (no Oversize answer: the bound was
    // not what was wrong).
    s = await openRawStream(a, b, id);
    const reply = readFrame(s, 1024).then(
      () => "answered",
      (e: NetworkError) => e.code,
    );
    s.send(new Uint8Array(8).fill(0x80));
    await waitFor("malformed frame judged", () => badFrames(b) === 2);
    expect(b.transport.penaltyPoints(a.key.nodeId)).toBeCloseTo(40, 6);
    expect(await reply).toBe("NETWORK_STREAM_ERROR");

    // A stream that ends before its frame (a peer that crashed, a cut link): no blame.
    s = await openRawStream(a, b, id);
    s.send(Uint8Array.of(10, 1, 2));
    await s.close();
    await waitFor("early end judged", () => badFrames(b) === 3);
    expect(b.transport.penaltyPoints(a.key.nodeId)).toBeCloseTo(40, 6);
    expect(served).toEqual([1024]);
    expect(b.transport.stats().requestsInFlight).toBe(0);
    // Each bad frame is logged with the protocol, the sender and what was wrong; the two malformed ones cost
    // points under the protocol's name.
    const aHex = bytesToHex(a.key.nodeId);
    expect(b.log.find("bad inbound frame").map((e) => [e.level, e.obj])).toEqual([
      ["debug", { what: "blocks", nodeId: aHex, err: "frame over the size bound" }],
      ["debug", { what: "blocks", nodeId: aHex, err: "malformed frame length prefix" }],
      ["debug", { what: "blocks", nodeId: aHex, err: "stream ended before a full frame" }],
    ]);
    expect(b.log.find("peer penalized").map((e) => [e.obj.reason, e.obj.points])).toEqual([
      ["blocks: malformed frame", 20],
      ["blocks: malformed frame", 20],
    ]);
  });

  it("a requester that resets before the answer costs nothing and is not an error on the responder's side", async () => {
    nodes = await startNodes(2, NO_DECAY);
    const [a, b] = nodes as [TestNode, TestNode];
    let release: (() => void) | undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let asked = 0;
    b.transport.handle("blocks", async () => {
      asked++;
      await held;
      return Uint8Array.of(1);
    });
    await connectAll(nodes);
    const s = await openRawStream(a, b, protocolId(CHAIN_ID, "blocks"));
    s.send(encodeFrame(Uint8Array.of(7)).subarray());
    await waitFor("request handed to b's handler", () => asked === 1);
    s.abort(new Error("requester gone"));
    await new Promise((resolve) => setTimeout(resolve, 200)); // the reset reaches b
    release?.();
    await waitFor("b gave up the answer", () => b.log.find("could not send a response").length === 1);
    const [gaveUp] = b.log.find("could not send a response");
    expect([gaveUp!.level, gaveUp!.obj]).toEqual([
      "debug",
      { err: expect.stringContaining("Cannot write to a stream") },
    ]);
    expect(b.log.find("serving an inbound stream failed")).toEqual([]);
    expect(b.transport.stats().requestsInFlight).toBe(0);
    expect(b.transport.penaltyPoints(a.key.nodeId)).toBe(0);
  });

  it("direct frames: an unknown or missing topic byte, or a body over the bound, costs points and is not delivered", async () => {
    nodes = await startNodes(2, { ...NO_DECAY, gossipMessageBytesMax: 1000, malformedFramePoints: 20 });
    const [a, b] = nodes as [TestNode, TestNode];
    const got: string[] = [];
    for (const topic of TOPIC_NAMES) {
      b.transport.subscribe(topic, (_from, data) => {
        got.push(`${topic}:${data.length}`);
        return "accept";
      });
    }
    await connectAll(nodes);
    // At the bound, on each topic: delivered, no blame.
    await a.transport.sendDirect(b.key.nodeId, "txs", new Uint8Array(1000), { timeoutMs: 2000 });
    await a.transport.sendDirect(b.key.nodeId, "consensus", Uint8Array.of(1), { timeoutMs: 2000 });
    await waitFor("both delivered", () => got.length === 2);
    expect(got.sort()).toEqual(["consensus:1", "txs:1000"]);
    expect(b.transport.penaltyPoints(a.key.nodeId)).toBe(0);

    const direct = directProtocolId(CHAIN_ID);
    const sendRaw = async (frame: Uint8Array) => {
      const s = await openRawStream(a, b, direct);
      s.send(frame);
      await s.close().catch(() => undefined);
    };
    await sendRaw(encodeFrame(Uint8Array.of(TOPIC_NAMES.length), Uint8Array.of(1)).subarray()); // no such topic
    await waitFor("unknown topic penalized", () => b.transport.penaltyPoints(a.key.nodeId) > 19);
    expect(b.transport.penaltyPoints(a.key.nodeId)).toBeCloseTo(20, 6);
    await sendRaw(encodeFrame().subarray()); // an empty frame: no topic byte at all
    await waitFor("empty frame penalized", () => b.transport.penaltyPoints(a.key.nodeId) > 39);
    expect(b.transport.penaltyPoints(a.key.nodeId)).toBeCloseTo(40, 6);
    await sendRaw(encodeFrame(Uint8Array.of(1), new Uint8Array(1001)).subarray()); // one byte over
    await waitFor("oversized direct frame penalized", () => b.transport.penaltyPoints(a.key.nodeId) > 59);
    expect(b.transport.penaltyPoints(a.key.nodeId)).toBeCloseTo(60, 6);
    expect(got.sort()).toEqual(["consensus:1", "txs:1000"]);

    // A well-formed direct message its handler rejects costs what rejected gossip costs, with its reason.
    b.transport.subscribe("consensus", () => "reject");
    await a.transport.sendDirect(b.key.nodeId, "consensus", Uint8Array.of(2), { timeoutMs: 2000 });
    await waitFor("rejected direct message penalized", () => b.transport.penaltyPoints(a.key.nodeId) > 69);
    expect(b.transport.penaltyPoints(a.key.nodeId)).toBeCloseTo(70, 6);
    const reasons = b.log.find("gossip message rejected").map((e) => e.obj.reason);
    expect(reasons).toEqual(["direct: rejected by a handler"]);
    expect(b.log.find("peer penalized").map((e) => e.obj.reason)).toEqual([
      "direct: unknown topic",
      "direct: unknown topic",
      "direct: malformed frame",
      "consensus: direct: rejected by a handler",
    ]);
    expect(b.log.find("bad inbound frame").map((e) => [e.obj.what, e.obj.err])).toEqual([
      ["direct", "frame over the size bound"],
    ]);
  });

  it("responses: each side keeps its own bound, and a handler's typed error travels with its code", async () => {
    const small = await startNodes(1, { responseBytesMax: 1000 });
    const large = await startNodes(1, { responseBytesMax: 2000 }, undefined, []);
    nodes = [...small, ...large];
    const [a, b] = nodes as [TestNode, TestNode];
    a.transport.setAllowedNodes([b.key.nodeId]);
    b.transport.setAllowedNodes([a.key.nodeId]);
    // Answers as many bytes as the request's two bytes say; a request of one byte fails with a typed error.
    for (const n of nodes) {
      n.transport.handle("blocks", async (_from, req) => {
        if (req.length === 1) throw new NetworkError("NETWORK_TIMEOUT", "slow disk");
        return new Uint8Array(req[0]! * 256 + req[1]!).fill(5);
      });
    }
    await connectAll(nodes);
    const ask = (from: TestNode, to: TestNode, size: number) =>
      from.transport.request(to.key.nodeId, "blocks", Uint8Array.of(size >> 8, size & 0xff), {
        timeoutMs: 3000,
      });
    // a reads at most 1000 bytes: b's 1001 are refused on a's side (not the remote's doing).
    expect((await ask(a, b, 1000)).length).toBe(1000);
    const over = await expectNetworkError(ask(a, b, 1001), "NETWORK_OVERSIZE");
    expect(over.meta.remote).toBeUndefined();
    // a sends at most 1000: asked for 1001, it answers an error instead, which b reads.
    expect((await ask(b, a, 1000)).length).toBe(1000);
    const refused = await expectNetworkError(ask(b, a, 1001), "NETWORK_REMOTE_ERROR");
    expect(refused.meta.remoteMessage).toBe("response over the size bound");
    const typed = await expectNetworkError(
      a.transport.request(b.key.nodeId, "blocks", Uint8Array.of(0), { timeoutMs: 3000 }),
      "NETWORK_REMOTE_ERROR",
    );
    expect(typed.meta.remoteMessage).toBe("NETWORK_TIMEOUT: slow disk");
    // The responder logs what failed and what it would not send.
    const aPeer = nodeIdToPeerId(a.key.nodeId).toString();
    expect(b.log.find("request failed").map((e) => [e.level, e.obj])).toEqual([
      ["debug", { protocol: "blocks", peer: aPeer, err: "NETWORK_TIMEOUT: slow disk" }],
    ]);
    expect(a.log.find("response over the size bound: not sent").map((e) => [e.level, e.obj])).toEqual([
      ["warn", { protocol: "blocks", bytes: 1001 }],
    ]);
    expect([a, b].map((n) => n.transport.stats().requestsInFlight)).toEqual([0, 0]);
    expect(
      [a, b].map((n) => n.transport.penaltyPoints(nodes[0] === n ? b.key.nodeId : a.key.nodeId)),
    ).toEqual([0, 0]);
  });
});
