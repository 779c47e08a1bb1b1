import { afterEach, describe, expect, it } from "vitest";
import { GossipValidationError, nodeIdToPeerId } from "../../src/network/index.js";
import { connectAll, hasNode, startNodes, type TestNode, waitFor } from "./helpers.js";

let nodes: TestNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.transport.stop()));
  nodes = [];
});

const MAGIC = 0xc0;

describe("Libp2pTransport penalties", () => {
  it("disconnects and bans a peer that keeps gossiping garbage, then lets it back after the ban", async () => {
    nodes = await startNodes(3, {
      penaltyThreshold: 45,
      gossipRejectPoints: 10,
      penaltyHalfLifeMs: 1e12, // (almost) no decay within the test: the ban comes at exactly 5 rejections
      banDurationMs: 1_500,
    });
    const [honest, spammer, other] = nodes as [TestNode, TestNode, TestNode];
    const accepted: number[] = [];
    for (const n of [honest, other]) {
      n.transport.subscribe("txs", (_from, data) => {
        if (data[0] !== MAGIC) throw new GossipValidationError("reject", "not a tx batch");
        accepted.push(data[1]!);
        return undefined;
      });
    }
    spammer.transport.subscribe("txs", () => undefined);
    await connectAll(nodes);
    await waitFor("topic mesh", () => nodes.every((n) => n.transport.topicPeers("txs").length === 2));

    // A few valid messages first: no penalty for those.
    await spammer.transport.publish("txs", Uint8Array.of(MAGIC, 1));
    await waitFor("valid message accepted twice", () => accepted.length === 2);
    expect(honest.transport.isBanned(spammer.key.nodeId)).toBe(false);

    // Then garbage, one message at a time (each one rejected before the next), until the honest node has had
    // enough (bounded: 50 messages).
    let sent = 0;
    while (!honest.transport.isBanned(spammer.key.nodeId) && sent < 50) {
      const rejected = honest.transport.stats().gossipRejected;
      await spammer.transport.publish("txs", Uint8Array.of(0xff, sent++));
      await waitFor("garbage rejected", () => honest.transport.stats().gossipRejected > rejected);
    }
    expect(honest.transport.isBanned(spammer.key.nodeId)).toBe(true);
    expect(sent).toBe(5); // 5 × 10 points reach the threshold of 45, 4 × 10 do not
    await waitFor(
      "spammer disconnected",
      () => !hasNode(honest.transport.connectedPeers(), spammer.key.nodeId),
    );
    expect(honest.transport.stats().bans).toBe(1);
    expect(honest.transport.bannedPeerCount()).toBe(1);
    expect(honest.transport.stats().gossipRejected).toBe(5);
    const peer = nodeIdToPeerId(spammer.key.nodeId).toString();
    expect(
      honest.log.entries.some((e) => e.msg === "peer banned: disconnecting" && e.obj.peer === peer),
    ).toBe(true);
    // The honest nodes stay connected to each other; the spammer's redials are refused while banned.
    expect(hasNode(honest.transport.connectedPeers(), other.key.nodeId)).toBe(true);
    await waitFor("redial refused as banned", () =>
      honest.log.entries.some(
        (e) => e.msg === "peer refused" && e.obj.peer === peer && e.obj.reason === "banned",
      ),
    );
    expect(hasNode(honest.transport.connectedPeers(), spammer.key.nodeId)).toBe(false);

    // The ban ends: the static-peer dialer brings it back.
    await waitFor("spammer back after the ban", () =>
      hasNode(honest.transport.connectedPeers(), spammer.key.nodeId),
    );
    expect(honest.transport.isBanned(spammer.key.nodeId)).toBe(false);
    expect(honest.transport.bannedPeerCount()).toBe(0);
    expect(honest.transport.stats().bans).toBe(1); // bans ever given
  });

  it("penalize() from a module: explicit points, decay below the threshold, ban above it", async () => {
    nodes = await startNodes(2, { penaltyThreshold: 100, penaltyHalfLifeMs: 60_000, banDurationMs: 60_000 });
    const [a, b] = nodes as [TestNode, TestNode];
    await connectAll(nodes);
    a.transport.penalize(b.key.nodeId, "bad block", 60);
    expect(a.transport.isBanned(b.key.nodeId)).toBe(false);
    expect(a.transport.peerCount()).toBe(1);
    a.transport.penalize(b.key.nodeId, "bad block again", 60);
    expect(a.transport.isBanned(b.key.nodeId)).toBe(true);
    await waitFor("b disconnected", () => a.transport.peerCount() === 0 && b.transport.peerCount() === 0);
  });
});
