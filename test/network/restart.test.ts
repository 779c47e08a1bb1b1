import { afterEach, describe, expect, it } from "vitest";
import { Libp2pTransport } from "../../src/network/index.js";
import {
  CHAIN_ID,
  captureLogger,
  connectAll,
  FAST,
  hasNode,
  startNodes,
  type TestNode,
  waitFor,
} from "./helpers.js";

let nodes: TestNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.transport.stop()));
  nodes = [];
});

describe("Libp2pTransport restart", () => {
  it("others reconnect to a restarted node (same key and port), and gossip flows again", async () => {
    nodes = await startNodes(4);
    const got = new Map<TestNode, number[]>();
    const listen = (n: TestNode) =>
      n.transport.subscribe("consensus", (_from, data) => {
        got.set(n, [...(got.get(n) ?? []), data[0]!]);
        return undefined;
      });
    nodes.forEach(listen);
    await connectAll(nodes);
    const target = nodes[2]!;
    const others = nodes.filter((n) => n !== target);
    const addrs = target.transport.listenAddresses();

    // 1. stop + start of the same object: it listens on the same port again.
    await target.transport.stop();
    await waitFor("others notice", () => others.every((n) => n.transport.peerCount() === 2));
    await target.transport.start();
    expect(target.transport.listenAddresses()).toEqual(addrs);
    await waitFor(
      "reconnected after stop/start",
      () => nodes.every((n) => n.transport.peerCount() === 3),
      10_000,
    );

    // 2. A process restart: a new transport from config (same key, explicit port), no static peers of its own.
    await target.transport.stop();
    await waitFor("others notice again", () => others.every((n) => n.transport.peerCount() === 2));
    const log = captureLogger();
    const reborn: TestNode = {
      key: target.key,
      log,
      transport: new Libp2pTransport(
        {
          ...FAST,
          chainId: CHAIN_ID,
          key: target.key,
          allowedNodes: nodes.map((n) => n.key.nodeId),
          listenAddresses: addrs.map((a) => a.replace(/\/p2p\/.*$/, "")),
        },
        { logger: log },
      ),
    };
    nodes[2] = reborn;
    listen(reborn);
    await reborn.transport.start();
    await waitFor(
      "others redialled the reborn node",
      () => others.every((n) => n.transport.peerCount() === 3),
      10_000,
    );
    await waitFor("reborn sees all", () => reborn.transport.peerCount() === 3);
    for (const n of others) expect(hasNode(n.transport.connectedPeers(), reborn.key.nodeId)).toBe(true);

    // (This is where gossipsub 17.1 used to keep a stale outbound stream: see src/network/gossipRepair.ts.)
    await waitFor("topic mesh", () => nodes.every((n) => n.transport.topicPeers("consensus").length === 3));
    await reborn.transport.publish("consensus", Uint8Array.of(7));
    await others[0]!.transport.publish("consensus", Uint8Array.of(8));
    await waitFor(
      "gossip both ways",
      () => others.every((n) => got.get(n)?.includes(7)) && got.get(reborn)?.includes(8) === true,
    );
  });
});
