import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { describe, expect, it } from "vitest";
import {
  defaultLibp2pTransportOptions,
  Libp2pTransport,
  NetworkError,
  nodeIdToPeerId,
  peerIdStringToNodeId,
  peerIdToNodeId,
  protocolId,
  topicId,
  validateLibp2pTransportOptions,
} from "../../src/network/index.js";
import { libp2pPrivateKey } from "../../src/network/peerId.js";
import { bytesToHex } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import { CHAIN_ID, makeKey } from "./helpers.js";

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof NetworkError ? err.code : `not a NetworkError: ${String(err)}`;
  }
  return undefined;
}

describe("node IDs and peer IDs", () => {
  it("round-trips: the peer ID embeds the node ID, and matches libp2p's own derivation", async () => {
    const key = makeKey();
    const peerId = nodeIdToPeerId(key.nodeId);
    expect(peerId.type).toBe("Ed25519");
    expect(bytesToHex(peerIdToNodeId(peerId))).toBe(bytesToHex(key.nodeId));
    expect(bytesToHex(peerIdStringToNodeId(peerId.toString()))).toBe(bytesToHex(key.nodeId));
    const privateKey = await libp2pPrivateKey(key);
    expect(peerIdFromPrivateKey(privateKey).equals(peerId)).toBe(true);
    expect(privateKey.raw.length).toBe(64); // seed || public key
    expect(bytesToHex(privateKey.raw.subarray(0, 32))).toBe(bytesToHex(key.seed));
  });

  it("refuses bad node IDs, non-Ed25519 peer IDs and mismatched keys with typed errors", async () => {
    expect(codeOf(() => nodeIdToPeerId(new Uint8Array(33)))).toBe("NETWORK_INVALID_PEER_ID");
    expect(codeOf(() => peerIdStringToNodeId("not-a-peer-id"))).toBe("NETWORK_INVALID_PEER_ID");
    const secp = peerIdFromPrivateKey(await generateKeyPair("secp256k1"));
    expect(codeOf(() => peerIdToNodeId(secp))).toBe("NETWORK_INVALID_PEER_ID");
    const a = makeKey();
    const b = makeKey();
    await expect(libp2pPrivateKey({ seed: a.seed, nodeId: b.nodeId })).rejects.toMatchObject({
      code: "NETWORK_INVALID_KEY",
    });
  });

  it("names topics and protocols per chain", () => {
    expect(topicId(20200n, "consensus")).toBe("/consort/20200/consensus/2");
    expect(topicId(1n, "txs")).toBe("/consort/1/txs/2");
    expect(protocolId(20200n, "blocks")).toBe("/consort/20200/blocks/1");
  });
});

describe("options", () => {
  it("defaults are valid and field-named errors catch bad values", () => {
    expect(() =>
      validateLibp2pTransportOptions({ ...defaultLibp2pTransportOptions, chainId: 1n }),
    ).not.toThrow();
    const bad = (patch: object) => {
      try {
        validateLibp2pTransportOptions({ ...defaultLibp2pTransportOptions, chainId: 1n, ...patch });
      } catch (err) {
        return (err as NetworkError).meta.field;
      }
      return undefined;
    };
    expect(bad({ requestBytesMax: 0 })).toBe("network.requestBytesMax");
    expect(bad({ reconnectBackoffMinMs: 5000, reconnectBackoffMaxMs: 100 })).toBe(
      "network.reconnectBackoffMaxMs",
    );
    expect(bad({ listenAddresses: ["not a multiaddr"] })).toBe("network.listenAddresses[0]");
    expect(bad({ responseBytesMax: 1024 * 1024 * 1024 })).toBe("network.responseBytesMax");
  });

  it("static peers must name an Ed25519 peer ID", () => {
    const key = makeKey();
    const make = (staticPeers: string[]) => () =>
      new Libp2pTransport({ chainId: CHAIN_ID, key, staticPeers }, { logger: silentLogger() });
    expect(codeOf(make(["/ip4/127.0.0.1/tcp/30301"]))).toBe("NETWORK_INVALID_OPTIONS");
    expect(codeOf(make(["/ip4/127.0.0.1/tcp/30301/p2p/QmNotAPeer"]))).toBe("NETWORK_INVALID_OPTIONS");
    const other = nodeIdToPeerId(makeKey().nodeId).toString();
    expect(codeOf(make([`/ip4/127.0.0.1/tcp/30301/p2p/${other}`]))).toBeUndefined();
  });

  it("calls before start fail with NETWORK_NOT_STARTED", async () => {
    const t = new Libp2pTransport({ chainId: CHAIN_ID, key: makeKey() }, { logger: silentLogger() });
    await expect(t.publish("txs", new Uint8Array(1))).rejects.toMatchObject({ code: "NETWORK_NOT_STARTED" });
    await expect(
      t.request(makeKey().nodeId, "blocks", new Uint8Array(1), { timeoutMs: 100 }),
    ).rejects.toMatchObject({
      code: "NETWORK_NOT_STARTED",
    });
    expect(t.connectedPeers()).toEqual([]);
    expect(t.listenAddresses()).toEqual([]);
    await t.stop(); // stop before start is a no-op
  });
});
