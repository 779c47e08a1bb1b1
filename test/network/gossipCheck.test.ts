import { afterEach, describe, expect, it } from "vitest";
import {
  consensusGossipCheck,
  decodePbftMessage,
  encodePbftMessage,
  type PbftMessage,
  prepareDigest,
} from "../../src/consensus/index.js";
import { keccak256, NodeKey, verifyNodeSignature } from "../../src/crypto/index.js";
import { Libp2pTransport, type NetworkKey } from "../../src/network/index.js";
import type { NodeId } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { CHAIN_ID, captureLogger, FAST, hasNode, type TestNode, waitFor } from "./helpers.js";

/**
 * Three real transports on loopback in a line, forger — relay — third: the forger is admitted by the relay only, so
 * whatever the third node gets from the forger came through the relay. Every node runs the consensus gossip check
 * of the composition root, with a validator set of {relay, third, V} (V: a validator key that runs no node) at
 * height 1; the forger is a member (an observer), not a validator.
 */
let nodes: TestNode[] = [];

afterEach(async () => {
  await Promise.all(nodes.map((n) => n.transport.stop()));
  nodes = [];
});

function networkKey(k: NodeKey): NetworkKey {
  return { seed: k.seed, nodeId: k.nodeId };
}

function prepare(sender: NodeKey, signer: NodeKey, blockFill: number): Uint8Array {
  const blockHash = new Uint8Array(32).fill(blockFill);
  const msg: PbftMessage = {
    type: "prepare",
    height: 1,
    view: 0,
    blockHash,
    sender: sender.nodeId,
    signature: signer.sign(prepareDigest(keccak256, 1, 0, blockHash)),
  };
  return encodePbftMessage(msg);
}

/**
 * Publishes (again every 500 ms, at most 20 times) until `done`: a gossipsub stream opened moments ago can still
 * lose a message (PBFT resends its votes for the same reason). A re-publish is a new gossip message, same payload.
 */
async function publishUntil(
  node: TestNode,
  data: Uint8Array,
  what: string,
  done: () => boolean,
): Promise<void> {
  for (let i = 0; i < 20 && !done(); i++) {
    await node.transport.publish("consensus", data);
    await waitFor(what, done, 500).catch(() => undefined);
  }
  expect(done(), what).toBe(true);
}

async function startLine(keys: NodeKey[], validators: NodeId[]): Promise<TestNode[]> {
  const [forger, relay, third] = keys.map(networkKey) as [NetworkKey, NetworkKey, NetworkKey];
  const allowed = new Map<NetworkKey, NodeId[]>([
    [forger, [relay.nodeId]],
    [relay, [forger.nodeId, third.nodeId]],
    [third, [relay.nodeId]],
  ]);
  const isValidator = (id: NodeId) => validators.some((v) => bytesToHex(v) === bytesToHex(id));
  const out = [forger, relay, third].map((key) => {
    const log = captureLogger();
    const transport = new Libp2pTransport(
      {
        ...FAST,
        chainId: CHAIN_ID,
        key,
        allowedNodes: allowed.get(key)!,
        gossipRejectPoints: 10,
        penaltyThreshold: 100,
        penaltyHalfLifeMs: 1e12, // no decay during the test: points are exact
      },
      {
        logger: log,
        gossipValidators: {
          consensus: consensusGossipCheck(
            { futureHeightWindow: 8, pastHeightWindow: 1 },
            { view: { committedHeight: () => 0, isValidator }, hash: keccak256, verify: verifyNodeSignature },
          ),
        },
      },
    );
    return { key, transport, log };
  });
  await Promise.all(out.map((n) => n.transport.start()));
  return out;
}

describe("consensus gossip is checked before it is relayed", () => {
  it("a forged signature and a non-validator's message are not relayed, and the relaying peer is penalized", async () => {
    const [forgerKey, relayKey, thirdKey, vKey] = [0, 1, 2, 3].map(() => NodeKey.generate()) as [
      NodeKey,
      NodeKey,
      NodeKey,
      NodeKey,
    ];
    nodes = await startLine([forgerKey, relayKey, thirdKey], [relayKey.nodeId, thirdKey.nodeId, vKey.nodeId]);
    const [forger, relay, third] = nodes as [TestNode, TestNode, TestNode];
    const got = new Map<TestNode, number[]>([
      [relay, []],
      [third, []],
    ]);
    for (const n of [relay, third]) {
      n.transport.subscribe("consensus", (_from, data) => {
        const msg = decodePbftMessage(data);
        got.get(n)!.push(msg.type === "prepare" ? msg.blockHash[0]! : -1); // the block hash's fill names it
        return "accept";
      });
    }
    forger.transport.subscribe("consensus", () => "accept");
    forger.transport.setStaticPeers(relay.transport.listenAddresses());
    third.transport.setStaticPeers(relay.transport.listenAddresses());
    await waitFor("line connected", () => relay.transport.peerCount() === 2);
    expect(hasNode(third.transport.connectedPeers(), forger.key.nodeId)).toBe(false);
    await waitFor("topic mesh", () => relay.transport.topicPeers("consensus").length === 2);
    // The forger publishes to the subscribers it knows of: it must have seen the relay's subscription.
    await waitFor("forger knows the relay subscribed", () =>
      hasNode(forger.transport.topicPeers("consensus"), relay.key.nodeId),
    );
    await waitFor(
      "third sees the relay in its mesh",
      () => third.transport.topicPeers("consensus").length === 1,
    );

    // Control: a validator's message (V signed it; the forger only passes it on) is relayed to the third node.
    const valid = prepare(vKey, vKey, 1);
    await publishUntil(forger, valid, "valid message relayed", () => got.get(third)!.includes(1));
    expect(relay.transport.penaltyPoints(forger.key.nodeId)).toBe(0);

    // 1. V as sender, signed with the forger's key: bad signature. 2. The forger's own vote: not a validator.
    const badSignature = prepare(vKey, forgerKey, 2);
    const notValidator = prepare(forgerKey, forgerKey, 3);
    await forger.transport.publish("consensus", badSignature);
    await forger.transport.publish("consensus", notValidator);
    await waitFor("both rejected by the relay", () => relay.transport.stats().gossipRejected === 2);
    expect(relay.transport.penaltyPoints(forger.key.nodeId)).toBeCloseTo(20, 6);
    const reasons = relay.log.entries
      .filter((e) => e.msg === "gossip message rejected")
      .map((e) => e.obj.reason);
    expect(reasons).toEqual([
      "prepare with a bad signature at height 1",
      "prepare from a non-validator at height 1",
    ]);

    // A second valid message after them is relayed: by then the forged ones would have been too.
    const valid2 = prepare(vKey, vKey, 4);
    await publishUntil(forger, valid2, "second valid message relayed", () => got.get(third)!.includes(4));
    expect(new Set(got.get(third))).toEqual(new Set([1, 4]));
    expect(new Set(got.get(relay))).toEqual(new Set([1, 4])); // the forged ones (2, 3) never reach consensus either
    expect(third.transport.stats().gossipRejected).toBe(0);
    // The honest nodes do not blame each other.
    expect(third.transport.penaltyPoints(relay.key.nodeId)).toBe(0);
  });
});
