import type { NodeId } from "../types/index.js";

/** Gossip topics, one per chain: `/consort/<chainId>/<name>/2`. "txs" carries batches of transactions. */
export type TopicName = "consensus" | "txs";
export const TOPIC_NAMES: readonly TopicName[] = ["consensus", "txs"];

/** Request/response protocols, one per chain: `/consort/<chainId>/<name>/1`. */
export type ProtocolName = "blocks" | "txs";
export const PROTOCOL_NAMES: readonly ProtocolName[] = ["blocks", "txs"];

/**
 * A gossip handler's verdict, mapped to gossipsub's TopicValidatorResult:
 * "accept" (deliver + forward), "ignore" (drop, no blame), "reject" (drop, penalize the sender).
 * Returning nothing means "accept". Throwing: see GossipValidationError.
 */
export type GossipVerdict = "accept" | "ignore" | "reject";

/**
 * Called once per new gossip message (after gossipsub's dedup, before forwarding), and for direct
 * messages. `from` is the admitted member the message arrived from: the sender of a direct message; for gossip the
 * propagation source, usually but not always the publisher (gossipsub runs unsigned; authenticate the author from
 * the payload's own signature). Must be quick: decode, check, enqueue.
 */
export type GossipHandler = (
  from: NodeId,
  data: Uint8Array,
) => GossipVerdict | undefined | Promise<GossipVerdict | undefined>;

/**
 * A topic's check of a message before any handler runs and before gossipsub may relay it (given by the composition
 * root, e.g. "consensus: signed by a validator at that height, height within a window"), for gossip and direct
 * messages alike:
 * - "accept": delivered to the handlers, and relayed if they accept it too;
 * - "hold": delivered to the handlers but never relayed (it cannot be judged here yet, e.g. a later height whose
 *   validator set this node does not know);
 * - "ignore": dropped, no blame (stale, out of window);
 * - "reject": dropped, and the peer it came from is penalized (it relayed what it should have checked).
 * Must be synchronous and cheap (decode, one signature check).
 */
export type GossipCheckVerdict = "accept" | "hold" | "ignore" | "reject";
export interface GossipCheck {
  verdict: GossipCheckVerdict;
  /** Why (logged, and in the penalty reason). */
  reason: string;
}
export type GossipValidator = (from: NodeId, data: Uint8Array) => GossipCheck;

/** Serves one request; the returned bytes are the response. A thrown error reaches the caller as NETWORK_REMOTE_ERROR. */
export type RequestHandler = (from: NodeId, request: Uint8Array) => Promise<Uint8Array>;

export interface RequestOptions {
  timeoutMs: number;
}

export type PeerChangeHandler = (nodeId: NodeId, connected: boolean) => void;

/** What consensus, txpool and sync use. Implemented by Libp2pTransport (and by test fakes). */
export interface Transport {
  /** This node's ID (its Ed25519 public key). */
  readonly localNodeId: NodeId;

  start(): Promise<void>;
  stop(): Promise<void>;

  /** Multiaddrs others can dial, each ending in /p2p/<peerId>. Empty when stopped. */
  listenAddresses(): string[];

  /** Publish to every connected member subscribed to the topic. Never throws for "no peers". */
  publish(topic: TopicName, data: Uint8Array): Promise<void>;
  /** Subscribe; several handlers per topic are allowed (the worst verdict wins). Returns an unsubscribe function. */
  subscribe(topic: TopicName, handler: GossipHandler): () => void;
  /**
   * Point-to-point message to one connected node, delivered to the remote's handlers of `topic` (as if gossiped,
   * but not forwarded). Resolves once written; no reply. Errors: NETWORK_NOT_CONNECTED, NETWORK_TIMEOUT, …
   */
  sendDirect(nodeId: NodeId, topic: TopicName, data: Uint8Array, opts?: RequestOptions): Promise<void>;

  /** Serve a protocol (one handler per protocol; a second call replaces it). */
  handle(protocol: ProtocolName, handler: RequestHandler): void;
  /** One request, one response. Never dials: throws NETWORK_NOT_CONNECTED if no connection is open. */
  request(
    nodeId: NodeId,
    protocol: ProtocolName,
    request: Uint8Array,
    opts: RequestOptions,
  ): Promise<Uint8Array>;

  /**
   * The consortium node list (sealers + observers, from genesis and on-chain changes). Only these nodes may
   * connect; connections of removed nodes are closed. Our own ID may be included (ignored).
   */
  setAllowedNodes(nodeIds: NodeId[]): void;
  /** Nodes with at least one open connection. */
  connectedPeers(): NodeId[];
  /** Remote multiaddr of an open connection to `nodeId` (e.g. "/ip4/127.0.0.1/tcp/30301"), or null when none. */
  peerAddress(nodeId: NodeId): string | null;
  peerCount(): number;
  /** Add misbehaviour points; over the threshold the peer is disconnected and refused for the ban period. */
  penalize(nodeId: NodeId, reason: string, points: number): void;
  /** Called when a node gets its first connection (true) or loses its last one (false). Returns an unsubscribe. */
  onPeerChange(handler: PeerChangeHandler): () => void;
}
