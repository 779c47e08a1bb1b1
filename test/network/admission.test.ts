import type { PeerId } from "@libp2p/interface";
import { multiaddr } from "@multiformats/multiaddr";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { PeerAdmission } from "../../src/network/admission.js";
import { Libp2pTransport, nodeIdToPeerId } from "../../src/network/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import {
  CHAIN_ID,
  captureLogger,
  connectAll,
  FAST,
  hasNode,
  libp2pOf,
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

describe("PeerAdmission: the member list, bans and peer events", () => {
  it("skips invalid IDs and our own; only members collect points; a ban is counted and logged", () => {
    const self = makeKey();
    const member = makeKey().nodeId;
    const stranger = makeKey().nodeId;
    const log = captureLogger();
    // Not started: the list and the penalties work without a node.
    const t = new Libp2pTransport(
      {
        ...FAST,
        chainId: CHAIN_ID,
        key: self,
        allowedNodes: [],
        penaltyThreshold: 100,
        penaltyHalfLifeMs: 1e12,
      },
      { logger: log },
    );
    t.setAllowedNodes([new Uint8Array(31), self.nodeId, member]);
    expect(log.find("allowed node list: skipped an invalid node ID").map((e) => e.obj)).toEqual([
      { length: 31 },
    ]);
    expect(log.find("allowed nodes updated").map((e) => e.obj)).toEqual([
      { allowed: 1, added: 1, removed: 0 },
    ]);
    t.setAllowedNodes([member]); // no change: not logged again
    expect(log.find("allowed nodes updated").length).toBe(1);

    t.penalize(member, "bad block", 30);
    t.penalize(self.nodeId, "bad block", 30);
    t.penalize(stranger, "bad block", 30);
    t.penalize(new Uint8Array(5), "bad block", 30); // not a node ID: ignored, no throw
    // (A half-life of 1e12 ms: the few ms the test takes decay 30 points by ~1e-10.)
    const points = [member, self.nodeId, stranger].map((id) => Math.round(t.penaltyPoints(id) * 1e6) / 1e6);
    expect(points).toEqual([30, 0, 0]);
    expect(t.stats().bans).toBe(0);
    // Each penalty of a member is logged (debug) with its reason, points and the total.
    expect(log.find("peer penalized").map((e) => [e.obj.reason, e.obj.points, e.obj.total])).toEqual([
      ["bad block", 30, 30],
    ]);
    t.penalize(member, "worse block", 71);
    expect(t.isBanned(member)).toBe(true);
    expect(t.stats().bans).toBe(1);
    const peer = nodeIdToPeerId(member).toString();
    expect(log.find("peer banned: disconnecting").map((e) => [e.level, e.obj.peer, e.obj.reason])).toEqual([
      ["warn", peer, "worse block"],
    ]);

    // Removed, then allowed again: both logged with their counts; a member's points outlive the change.
    t.setAllowedNodes([]);
    t.setAllowedNodes([member, stranger]);
    expect(log.find("allowed nodes updated").map((e) => e.obj)).toEqual([
      { allowed: 1, added: 1, removed: 0 },
      { allowed: 0, added: 0, removed: 1 },
      { allowed: 2, added: 2, removed: 0 },
    ]);
  });

  it("refusals: counted per direction, each peer and reason logged at info once a minute; our own dials gated too", async () => {
    const [a, b, c] = await startNodes(3);
    nodes = [a!, b!, c!];
    a!.transport.setAllowedNodes([b!.key.nodeId]); // c is not a member for a; b and c allow everyone
    await connectAll([a!, b!]);
    const cPeer = nodeIdToPeerId(c!.key.nodeId).toString();

    // c dials a again and again (a static peer of c): refused inbound by a each time, logged at info once.
    c!.transport.setStaticPeers(a!.transport.listenAddresses());
    await waitFor("a refused c three times", () => a!.transport.stats().refusedInbound >= 3);
    const refusals = a!.log.find("peer refused").filter((e) => e.obj.peer === cPeer);
    expect(refusals.filter((e) => e.level === "info").map((e) => e.obj)).toEqual([
      { peer: cPeer, direction: "inbound", reason: "not-allowed" },
    ]);
    expect(refusals.filter((e) => e.level === "debug").length).toBeGreaterThanOrEqual(2);
    expect(a!.transport.stats().refusedOutbound).toBe(0);
    expect(a!.transport.stats().refusedDials).toBe(0);

    // a's own libp2p node dials non-members: one by its peer ID (a key no node runs, never refused before),
    // refused before dialling; c by address alone, refused once the encrypted connection names it. Neither is
    // logged at info: they are a's own dials.
    const strangerPeer = nodeIdToPeerId(makeKey().nodeId);
    await expect(libp2pOf(a!).dial(strangerPeer)).rejects.toThrow();
    expect(a!.transport.stats().refusedDials).toBe(1);
    const cAddr = c!.transport.listenAddresses()[0]!;
    await expect(libp2pOf(a!).dial(multiaddr(cAddr.slice(0, cAddr.indexOf("/p2p/"))))).rejects.toThrow();
    expect(a!.transport.stats().refusedOutbound).toBe(1);
    const ours = a!.log.find("peer refused").filter((e) => e.obj.direction !== "inbound");
    expect(ours.map((e) => [e.level, e.obj.peer, e.obj.direction, e.obj.reason])).toEqual([
      ["debug", strangerPeer.toString(), "dial", "not-allowed"],
      ["debug", cPeer, "outbound", "not-allowed"],
    ]);
    expect(a!.transport.peerCount()).toBe(1);

    // A member removed while not connected (a key no node runs): nothing to hang up, nothing logged, no throw.
    const absent = makeKey().nodeId;
    a!.transport.setAllowedNodes([b!.key.nodeId, absent]);
    a!.transport.setAllowedNodes([b!.key.nodeId]);
    expect(a!.log.find("peer removed from the allowed list: disconnecting")).toEqual([]);
    expect(a!.transport.peerCount()).toBe(1);
  });

  it("a peer with a single connection is reported connected on both sides", async () => {
    nodes = await startNodes(2);
    const [a, b] = nodes as [TestNode, TestNode];
    const events: string[] = [];
    a.transport.onPeerChange((_id, connected) => events.push(`a:${connected}`));
    b.transport.onPeerChange((_id, connected) => events.push(`b:${connected}`));
    a.transport.setStaticPeers(b.transport.listenAddresses()); // only a dials: one connection
    await waitFor("both report the other", () => events.length === 2);
    expect(libp2pOf(a).getConnections().length).toBe(1);
    expect(events.sort()).toEqual(["a:true", "b:true"]);
    // Each side logs the other once, with the connection's direction seen from its side (identify ran over it
    // at once; the settle pass would come 2 s later).
    const connected = (n: TestNode) => n.log.find("peer connected").map((e) => [e.level, e.obj]);
    const peerOf = (n: TestNode) => nodeIdToPeerId(n.key.nodeId).toString();
    expect(connected(a)).toEqual([
      ["info", { nodeId: bytesToHex(b.key.nodeId), peer: peerOf(b), direction: "outbound", via: "identify" }],
    ]);
    expect(connected(b)).toEqual([
      ["info", { nodeId: bytesToHex(a.key.nodeId), peer: peerOf(a), direction: "inbound", via: "identify" }],
    ]);
  });

  it("one 'connected' per peer however many connections, 'disconnected' with the last; a throwing handler is contained", async () => {
    nodes = await startNodes(2);
    const [a, b] = nodes as [TestNode, TestNode];
    const events: string[] = [];
    a.transport.onPeerChange(() => {
      throw new Error("handler bug");
    });
    const off = a.transport.onPeerChange((id, connected) =>
      events.push(`${connected ? "up" : "down"}:${id[0] === b.key.nodeId[0] ? "b" : "?"}`),
    );
    await connectAll(nodes);
    await waitFor("b connected at a", () => events.length === 1);
    expect(a.log.find("peer change handler failed").map((e) => [e.level, e.obj])).toEqual([
      ["error", { err: "handler bug" }],
    ]);

    // Both sides dialled (static peers): two connections, each admitted (identify, and again once settled after
    // 2 s), and still a single "up". Closing one of them: b is still connected.
    const bPeer = nodeIdToPeerId(b.key.nodeId);
    if (libp2pOf(a).getConnections(bPeer).length < 2) await libp2pOf(a).dial(bPeer, { force: true });
    await new Promise((resolve) => setTimeout(resolve, 2_300));
    expect(libp2pOf(a).getConnections(bPeer).length).toBeGreaterThanOrEqual(2);
    await libp2pOf(a).getConnections(bPeer)[0]!.close();
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(events).toEqual(["up:b"]);
    expect(a.transport.peerCount()).toBe(1);

    // Removed from a's list: not a connected peer from that moment, and "down" once its connection is gone.
    a.transport.setAllowedNodes([]);
    expect(a.transport.connectedPeers()).toEqual([]);
    expect(a.log.find("peer removed from the allowed list: disconnecting").map((e) => e.obj)).toEqual([
      { peer: bPeer.toString() },
    ]);
    await waitFor("b disconnected at a", () => events.length === 2);
    expect(events).toEqual(["up:b", "down:b"]);
    // Logged with b's node ID although b is no longer in the list (read back from its peer ID).
    expect(a.log.find("peer disconnected").map((e) => [e.level, e.obj])).toEqual([
      ["info", { nodeId: bytesToHex(b.key.nodeId), peer: bPeer.toString() }],
    ]);

    // Unsubscribed: no more events.
    off();
    a.transport.setAllowedNodes([b.key.nodeId]);
    await waitFor("b back", () => a.transport.peerCount() === 1);
    expect(events).toEqual(["up:b", "down:b"]);

    // Stopping: every admitted peer is reported disconnected.
    const atStop: boolean[] = [];
    a.transport.onPeerChange((_id, connected) => atStop.push(connected));
    await a.transport.stop();
    expect(atStop).toEqual([false]);
  });
});

describe("PeerAdmission: one member's key in two processes", () => {
  const twinLines = (n: TestNode) =>
    n.log.entries.filter((e) => e.msg?.startsWith("one member's key connects"));

  it("is named once when the key connects again listening elsewhere; one process's crossing dials are not", async () => {
    const shared = makeKey();
    nodes = await startNodes(3, {}, [makeKey(), shared, shared]);
    const [a, b, twin] = nodes as [TestNode, TestNode, TestNode];
    const peer = nodeIdToPeerId(shared.nodeId);

    // b alone, with two connections to a (its dial and a forced second one): one process, nothing to say.
    b.transport.setStaticPeers(a.transport.listenAddresses());
    await waitFor("b connected at a", () => a.transport.peerCount() === 1);
    await libp2pOf(b).dial(nodeIdToPeerId(a.key.nodeId), { force: true });
    await waitFor("b's second connection", () => libp2pOf(a).getConnections(peer).length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 500)); // identify over the second connection
    expect(twinLines(a)).toEqual([]);
    expect(a.transport.stats().peerKeyConflicts).toBe(0);

    // A second process with b's key, listening elsewhere, dials a too.
    twin.transport.setStaticPeers(a.transport.listenAddresses());
    await waitFor("the twin's connection at a", () => a.transport.stats().peerKeyConflicts > 0);
    const lines = twinLines(a);
    expect(lines.map((e) => [e.level, e.obj.nodeId, e.obj.peer])).toEqual([
      ["warn", bytesToHex(shared.nodeId), peer.toString()],
    ]);
    const listening = (lines[0]!.obj.listening as string[]).toSorted();
    const announced = (n: TestNode) =>
      n.transport
        .listenAddresses()
        .map((m) => m.split("/p2p/")[0])
        .join(" ");
    expect(listening).toEqual([announced(b), announced(twin)].toSorted());

    // Again (the twin reconnects): counted, not logged again within ten minutes.
    const before = a.transport.stats().peerKeyConflicts;
    for (const conn of libp2pOf(twin).getConnections(nodeIdToPeerId(a.key.nodeId))) await conn.close();
    await waitFor("the twin back and compared", () => a.transport.stats().peerKeyConflicts > before, 15_000);
    expect(twinLines(a).length).toBe(1);
  }, 30_000);
});

describe("the connection gate's refusal log", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("logs a peer and reason at info again after a minute, and remembers at most 1024 of them", () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const t0 = 1_000_000;
    vi.setSystemTime(t0);
    const member = makeKey().nodeId;
    const log = captureLogger();
    const t = new Libp2pTransport(
      { ...FAST, chainId: CHAIN_ID, key: makeKey(), allowedNodes: [member] },
      { logger: log },
    );
    // The gate libp2p calls for each encrypted inbound connection (the transport is not started: no node needed).
    const gate = (t as unknown as { admission: PeerAdmission }).admission.gater();
    // (Our gate reads the peer only; libp2p also passes the raw connection.)
    const refuse = gate.denyInboundEncryptedConnection as (p: PeerId) => boolean;
    const infos = (p: PeerId) =>
      log.find("peer refused").filter((e) => e.level === "info" && e.obj.peer === p.toString()).length;
    expect(refuse(nodeIdToPeerId(member))).toBe(false);

    const strangers = Array.from({ length: 1025 }, () => nodeIdToPeerId(makeKey().nodeId));
    const [first, second] = strangers as [PeerId, PeerId];
    expect(refuse(first)).toBe(true);
    vi.setSystemTime(t0 + 30_000);
    for (const p of strangers.slice(1, 1024)) expect(refuse(p)).toBe(true);
    refuse(first); // 1024 remembered, first among them: debug
    expect(infos(first)).toBe(1);
    vi.setSystemTime(t0 + 59_999);
    refuse(first);
    expect(infos(first)).toBe(1);
    vi.setSystemTime(t0 + 60_000);
    refuse(first); // a minute later: info again, and first is now the newest entry
    expect(infos(first)).toBe(2);
    refuse(strangers[1024]!); // the 1025th: the oldest (second, 30 s ago) is forgotten
    refuse(second); // so at info again within its minute
    refuse(first); // still remembered: debug
    expect([infos(first), infos(second)]).toEqual([2, 2]);
    expect(t.stats().refusedInbound).toBe(1024 + 6);
  });
});
