import { multiaddr } from "@multiformats/multiaddr";
import type { NodeId } from "../types/index.js";
import { errorMessage } from "../util/errors.js";
import { NetworkError } from "./errors.js";

/**
 * The node's Ed25519 identity, taken structurally (src/crypto's NodeKey satisfies it): `seed` is the 32-byte
 * private seed, `nodeId` the 32-byte public key derived from it.
 */
export interface NetworkKey {
  readonly seed: Uint8Array;
  readonly nodeId: NodeId;
}

export interface Libp2pTransportOptions {
  /** Names topics and protocols: `/consort/<chainId>/<name>/<version>` (names.ts). */
  chainId: bigint;
  /** TCP multiaddrs to listen on. Port 0 picks a free port; a restart (stop + start) keeps the bound port. */
  listenAddresses: string[];
  /** Multiaddrs ending in /p2p/<peerId> that the node keeps connected (redialled with backoff while allowed). */
  staticPeers: string[];
  /** The initial consortium node list (genesis); `setAllowedNodes` replaces it. Empty = nobody is admitted. */
  allowedNodes: NodeId[];

  /** libp2p connection manager: total open connections (set to a few times the consortium size). */
  maxConnections: number;
  /** libp2p: inbound connections in the handshake at once. */
  maxIncomingPendingConnections: number;
  /** libp2p: inbound connection attempts per second per remote host before it is refused. */
  inboundConnectionThreshold: number;
  maxParallelDials: number;
  dialTimeoutMs: number;

  /** How often the static-peer dialer looks for missing peers. */
  reconnectIntervalMs: number;
  /** Backoff between dials of one peer: min, doubling per failed attempt, up to max (±20 % jitter). */
  reconnectBackoffMinMs: number;
  reconnectBackoffMaxMs: number;

  /** Largest gossip payload (publish refuses bigger, gossipsub drops bigger inbound). */
  gossipMessageBytesMax: number;
  /** Largest request frame, on both sides (sending: NETWORK_OVERSIZE locally; receiving: refused). */
  requestBytesMax: number;
  /** Largest response frame, on both sides. */
  responseBytesMax: number;
  /** Inbound request handlers running at once (all peers, all protocols); beyond: answered "busy", counted. */
  inboundRequestsMax: number;
  /** Inbound gossip/direct messages being handled at once; beyond: ignored (dropped), counted. */
  inboundMessagesMax: number;
  /** libp2p: concurrent inbound streams per connection per request protocol. */
  streamsPerConnectionMax: number;

  /** gossipsub mesh degree: peers up to this many are all grafted (a consortium is small: full mesh). */
  gossipD: number;
  gossipHeartbeatMs: number;

  /** Penalty points at which a peer is disconnected and banned. */
  penaltyThreshold: number;
  /** Points halve every this many ms. */
  penaltyHalfLifeMs: number;
  banDurationMs: number;
  /** Points for a gossip/direct message the handlers rejected. */
  gossipRejectPoints: number;
  /** Points for a malformed or oversized request/direct frame. */
  malformedFramePoints: number;
}

export const defaultLibp2pTransportOptions: Omit<Libp2pTransportOptions, "chainId"> = {
  listenAddresses: ["/ip4/127.0.0.1/tcp/30300"],
  staticPeers: [],
  allowedNodes: [],
  maxConnections: 64,
  maxIncomingPendingConnections: 8,
  inboundConnectionThreshold: 25,
  maxParallelDials: 8,
  dialTimeoutMs: 5_000,
  reconnectIntervalMs: 500,
  reconnectBackoffMinMs: 500,
  reconnectBackoffMaxMs: 10_000,
  gossipMessageBytesMax: 4 * 1024 * 1024,
  requestBytesMax: 1024 * 1024,
  responseBytesMax: 16 * 1024 * 1024,
  inboundRequestsMax: 64,
  inboundMessagesMax: 1024,
  streamsPerConnectionMax: 16,
  gossipD: 16,
  gossipHeartbeatMs: 700,
  penaltyThreshold: 100,
  penaltyHalfLifeMs: 60_000,
  banDurationMs: 10 * 60_000,
  gossipRejectPoints: 10,
  malformedFramePoints: 20,
};

const POSITIVE_INTEGERS = [
  "maxConnections",
  "maxIncomingPendingConnections",
  "inboundConnectionThreshold",
  "maxParallelDials",
  "dialTimeoutMs",
  "reconnectIntervalMs",
  "reconnectBackoffMinMs",
  "reconnectBackoffMaxMs",
  "gossipMessageBytesMax",
  "requestBytesMax",
  "responseBytesMax",
  "inboundRequestsMax",
  "inboundMessagesMax",
  "streamsPerConnectionMax",
  "gossipD",
  "gossipHeartbeatMs",
  "penaltyThreshold",
  "penaltyHalfLifeMs",
  "banDurationMs",
] as const satisfies readonly (keyof Libp2pTransportOptions)[];

/** Frames above this are never accepted whatever the options say (a varint length + a Uint8Array). */
export const FRAME_BYTES_LIMIT = 64 * 1024 * 1024;

function invalid(field: string, message: string): NetworkError {
  return new NetworkError("NETWORK_INVALID_OPTIONS", `network.${field}: ${message}`, {
    field: `network.${field}`,
  });
}

/** Field-named checks; throws NETWORK_INVALID_OPTIONS. Static peers' /p2p/ IDs are checked when parsed. */
export function validateLibp2pTransportOptions(opts: Libp2pTransportOptions): void {
  if (typeof opts.chainId !== "bigint" || opts.chainId < 0n)
    throw invalid("chainId", "must be a bigint >= 0");
  for (const field of POSITIVE_INTEGERS) {
    const v = opts[field];
    if (!Number.isSafeInteger(v) || v <= 0) throw invalid(field, `must be a positive integer, got ${v}`);
  }
  for (const field of ["gossipRejectPoints", "malformedFramePoints"] as const) {
    const v = opts[field];
    if (!Number.isFinite(v) || v < 0) throw invalid(field, `must be >= 0, got ${v}`);
  }
  for (const field of ["requestBytesMax", "responseBytesMax", "gossipMessageBytesMax"] as const) {
    if (opts[field] > FRAME_BYTES_LIMIT) throw invalid(field, `must be <= ${FRAME_BYTES_LIMIT}`);
  }
  if (opts.reconnectBackoffMaxMs < opts.reconnectBackoffMinMs) {
    throw invalid("reconnectBackoffMaxMs", "must be >= reconnectBackoffMinMs");
  }
  if (opts.listenAddresses.length === 0) throw invalid("listenAddresses", "at least one address is needed");
  opts.listenAddresses.forEach((addr, i) => {
    try {
      multiaddr(addr);
    } catch (err) {
      throw invalid(`listenAddresses[${i}]`, `not a multiaddr: ${errorMessage(err)}`);
    }
  });
}
