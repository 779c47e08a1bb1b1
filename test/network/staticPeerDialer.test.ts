import { afterEach, describe, expect, it } from "vitest";
import { nodeIdToPeerId } from "../../src/network/peerId.js";
import { makeKey, startNodes, type TestNode, waitFor } from "./helpers.js";

let nodes: TestNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.transport.stop()));
  nodes = [];
});

describe("StaticPeerDialer: a static peer it cannot reach", () => {
  it("warns the operator at the fifth failed dial in a row, with the address and the last error", async () => {
    // A member's address given with another member's peer ID (a copy-paste slip in p2p.peers): every dial reaches a
    // node whose key is not the one asked for, and fails in the handshake.
    const absent = makeKey();
    nodes = await startNodes(2, {}, [makeKey(), makeKey()], [absent.nodeId]);
    const [a, b] = nodes as [TestNode, TestNode];
    const wrong = `${b.transport.listenAddresses()[0]!.split("/p2p/")[0]}/p2p/${nodeIdToPeerId(absent.nodeId).toString()}`;
    a.transport.setStaticPeers([wrong]);
    const warned = () =>
      a.log.find(
        "static peer unreachable: check its address and peer ID in p2p.peers, and that its node runs",
      );
    await waitFor("the warning", () => warned().length > 0, 20_000);
    const failures = a.log.find("dial failed");
    expect(failures.map((e) => e.obj.attempt)).toEqual([1, 2, 3, 4]);
    expect(failures.every((e) => e.level === "debug")).toBe(true);
    expect(warned()[0]).toMatchObject({
      level: "warn",
      obj: { peer: nodeIdToPeerId(absent.nodeId).toString(), address: wrong, attempt: 5 },
    });
    expect(String(warned()[0]!.obj.err)).toContain("does not match expected remote identity key");
    expect(a.transport.peerCount()).toBe(0);
  });
});
