import { generateKeyPairFromSeed, publicKeyFromRaw } from "@libp2p/crypto/keys";
import type { Ed25519PrivateKey, PeerId } from "@libp2p/interface";
import { peerIdFromPublicKey, peerIdFromString } from "@libp2p/peer-id";
import type { NodeId } from "../types/index.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import { NetworkError } from "./errors.js";
import type { NetworkKey } from "./options.js";

const ED25519_KEY_BYTES = 32;

/** The libp2p peer ID that embeds this node ID (an Ed25519 public key; identity multihash). */
export function nodeIdToPeerId(nodeId: NodeId): PeerId {
  if (!(nodeId instanceof Uint8Array) || nodeId.length !== ED25519_KEY_BYTES) {
    throw new NetworkError("NETWORK_INVALID_PEER_ID", "a node ID is a 32-byte Ed25519 public key", {
      length: nodeId instanceof Uint8Array ? nodeId.length : undefined,
    });
  }
  return peerIdFromPublicKey(publicKeyFromRaw(nodeId));
}

/** The node ID embedded in a peer ID; only Ed25519 peer IDs are Consort nodes. */
export function peerIdToNodeId(peerId: PeerId): NodeId {
  if (peerId.type !== "Ed25519") {
    throw new NetworkError("NETWORK_INVALID_PEER_ID", "not an Ed25519 peer ID", {
      peerId: peerId.toString(),
    });
  }
  return new Uint8Array(peerId.publicKey.raw);
}

/** Parses a base58 peer ID string into a node ID (NETWORK_INVALID_PEER_ID on any failure). */
export function peerIdStringToNodeId(peerIdStr: string): NodeId {
  let peerId: PeerId;
  try {
    peerId = peerIdFromString(peerIdStr);
  } catch (err) {
    throw new NetworkError("NETWORK_INVALID_PEER_ID", "not a peer ID", { peerId: peerIdStr }, { cause: err });
  }
  return peerIdToNodeId(peerId);
}

/** The libp2p private key of a node key; checks that the seed derives the node ID. */
export async function libp2pPrivateKey(key: NetworkKey): Promise<Ed25519PrivateKey> {
  if (key.seed.length !== ED25519_KEY_BYTES) {
    throw new NetworkError("NETWORK_INVALID_KEY", "the node key seed must be 32 bytes", {
      length: key.seed.length,
    });
  }
  const privateKey = await generateKeyPairFromSeed("Ed25519", key.seed);
  if (!bytesEqual(privateKey.publicKey.raw, key.nodeId)) {
    throw new NetworkError("NETWORK_INVALID_KEY", "the node key seed does not derive its nodeId", {
      nodeId: bytesToHex(key.nodeId),
    });
  }
  return privateKey;
}
