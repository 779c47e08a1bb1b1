import { afterEach, describe, expect, it } from "vitest";
import { Libp2pTransport, nodeIdToPeerId } from "../../src/network/index.js";
import {
  CHAIN_ID,
  captureLogger,
  connectAll,
  FAST,
  hasNode,
  makeKey,
  startNodes,
  type TestNode,
  waitFor,
} from "./helpers.js";

let nodes: TestNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.transport.stop()));
  nodes = [];
});

describe("Libp2pTransport admission", () => {
  it("refuses a valid key that is not a member, admits it once allowed, disconnects it once removed", async () => {
    const members = await startNodes(4);
    nodes = [...members];
    const memberIds = members.map((m) => m.key.nodeId);
    const received = new Map<TestNode, number[]>();
    const listen = (n: TestNode) =>
      n.transport.subscribe("txs", (_from, data) => {
        received.set(n, [...(received.get(n) ?? []), data[0]!]);
        return undefined;
      });
    members.forEach(listen);
    await connectAll(members);

    // The newcomer has a valid Ed25519 key, admits the members and dials them all the time.
    const newKey = makeKey();
    const newcomerLog = captureLogger();
    const newcomer: TestNode = {
      key: newKey,
      log: newcomerLog,
      transport: new Libp2pTransport(
        {
          ...FAST,
          chainId: CHAIN_ID,
          key: newKey,
          allowedNodes: memberIds,
          staticPeers: members.flatMap((m) => m.transport.listenAddresses()),
        },
        { logger: newcomerLog },
      ),
    };
    nodes.push(newcomer);
    listen(newcomer);
    const peerEvents: boolean[] = [];
    newcomer.transport.onPeerChange((_id, connected) => peerEvents.push(connected));
    await newcomer.transport.start();

    // Every member refuses it at the encrypted-connection gate, several times (it keeps redialling).
    const newPeerId = nodeIdToPeerId(newKey.nodeId).toString();
    const refusedBy = (m: TestNode) =>
      m.log.entries.some(
        (e) =>
          e.msg === "peer refused" &&
          e.level === "info" &&
          e.obj.peer === newPeerId &&
          e.obj.reason === "not-allowed",
      );
    await waitFor("every member refused the newcomer", () => members.every(refusedBy));
    await waitFor("repeated refusals", () => members.every((m) => m.transport.stats().refusedInbound >= 2));
    expect(newcomer.transport.peerCount()).toBe(0);
    for (const m of members) expect(hasNode(m.transport.connectedPeers(), newKey.nodeId)).toBe(false);
    expect(peerEvents.filter((c) => c).length).toBe(0); // no connection was ever reported to the newcomer's users

    // Gossip among members does not reach it.
    await members[0]!.transport.publish("txs", Uint8Array.of(1));
    await waitFor("members got gossip 1", () => members.slice(1).every((m) => received.get(m)?.includes(1)));
    expect(received.get(newcomer) ?? []).toEqual([]);

    // Admitted: its redials now succeed and it gets gossip.
    for (const m of members) m.transport.setAllowedNodes([...memberIds, newKey.nodeId]);
    await waitFor("newcomer connected to all members", () => newcomer.transport.peerCount() === 4);
    await waitFor("newcomer in the topic", () => newcomer.transport.topicPeers("txs").length === 4);
    await waitFor("members see the newcomer in the topic", () =>
      members.every((m) => hasNode(m.transport.topicPeers("txs"), newKey.nodeId)),
    );
    await members[1]!.transport.publish("txs", Uint8Array.of(2));
    await waitFor("newcomer got gossip 2", () => received.get(newcomer)?.includes(2) === true);
    expect(received.get(newcomer)).toEqual([2]);

    // Removed from the list: disconnected and refused again.
    const refusalsBefore = members.map((m) => m.transport.stats().refusedInbound);
    for (const m of members) m.transport.setAllowedNodes(memberIds);
    await waitFor("newcomer disconnected", () => newcomer.transport.peerCount() === 0);
    for (const m of members) expect(hasNode(m.transport.connectedPeers(), newKey.nodeId)).toBe(false);
    await waitFor("refused again", () =>
      members.some((m, i) => m.transport.stats().refusedInbound > refusalsBefore[i]!),
    );
    expect(
      members.some((m) =>
        m.log.entries.some((e) => e.msg === "peer removed from the allowed list: disconnecting"),
      ),
    ).toBe(true);
    await members[2]!.transport.publish("txs", Uint8Array.of(3));
    await waitFor("members got gossip 3", () =>
      [0, 1, 3].every((i) => received.get(members[i]!)?.includes(3)),
    );
    expect(received.get(newcomer)).toEqual([2]);
  });

  it("a node with an empty allowed list admits nobody", async () => {
    const [a] = await startNodes(1);
    const [b] = await startNodes(1, { allowedNodes: [] }, undefined, []);
    nodes = [a!, b!];
    a!.transport.setAllowedNodes([]);
    b!.transport.setAllowedNodes([a!.key.nodeId]);
    b!.transport.setStaticPeers(a!.transport.listenAddresses());
    await waitFor("a refused b", () => a!.transport.stats().refusedInbound >= 1);
    expect(a!.transport.peerCount()).toBe(0);
    expect(b!.transport.peerCount()).toBe(0);
  });
});
