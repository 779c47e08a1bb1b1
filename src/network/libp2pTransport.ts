import "../util/polyfill.js";
import type { Connection, PeerId } from "@libp2p/interface";
import type { NodeId } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import { definedOnly } from "../util/objects.js";
import { listenFailureCode, listenFailureReason } from "../util/ports.js";
import { PeerAdmission } from "./admission.js";
import { NetworkError } from "./errors.js";
import { GossipService } from "./gossip.js";
import { GossipStreamRepair } from "./gossipRepair.js";
import type {
  GossipHandler,
  GossipValidator,
  PeerChangeHandler,
  ProtocolName,
  RequestHandler,
  RequestOptions,
  TopicName,
  Transport,
} from "./interface.js";
import { createTransportNode, resolvePortZero } from "./libp2pNode.js";
import {
  defaultLibp2pTransportOptions,
  type Libp2pTransportOptions,
  type NetworkKey,
  validateLibp2pTransportOptions,
} from "./options.js";
import { libp2pPrivateKey, nodeIdToPeerId } from "./peerId.js";
import { StaticPeerDialer } from "./staticPeerDialer.js";
import { StreamService } from "./streams.js";
import type { TransportContext, TransportNode, TransportStats } from "./transportContext.js";

export type { TransportStats } from "./transportContext.js";

/** What the constructor takes: options (defaults filled in) plus the chain and the node key. */
export type Libp2pTransportInit = Partial<Libp2pTransportOptions> & { chainId: bigint; key: NetworkKey };

export interface Libp2pTransportDeps {
  logger: Logger;
  /**
   * Per-topic checks run before any handler and before gossipsub relays a message (see GossipValidator). The
   * composition root builds them from what it knows (the validator set), so the network module stays ignorant
   * of chain and consensus.
   */
  gossipValidators?: Partial<Record<TopicName, GossipValidator>>;
}

/**
 * The libp2p host of a Consort node: TCP + noise + yamux, gossipsub (StrictNoSign, flood publish, full mesh for a
 * small consortium; a message is attributed to the admitted member it arrived from), length-prefixed
 * request/response, admission of consortium members only at the encrypted connection gate, penalties with bans, and
 * a static-peer dialer with backoff that keeps the mesh connected.
 *
 * This class owns the node's lifecycle and delegates each concern to a helper: {@link PeerAdmission} (members,
 * gate, bans, admitted peers), {@link StaticPeerDialer}, {@link GossipService} (publish/subscribe, verdicts) and
 * {@link StreamService} (request/response, direct messages); the node itself is built by `libp2pNode.ts`.
 */
export class Libp2pTransport implements Transport {
  readonly localNodeId: NodeId;
  private readonly opts: Libp2pTransportOptions;
  private readonly key: NetworkKey;
  private readonly log: Logger;
  private node: TransportNode | null = null;
  private starting: Promise<void> | null = null;
  /** Listen addresses with port 0 resolved after the first start, so a restart keeps its port. */
  private listenResolved: string[] | null = null;
  private dialTimer: ReturnType<typeof setInterval> | null = null;
  private gossipRepair = new GossipStreamRepair();
  private readonly counters: TransportStats = {
    refusedInbound: 0,
    refusedOutbound: 0,
    refusedDials: 0,
    gossipRejected: 0,
    gossipIgnored: 0,
    gossipDropped: 0,
    requestsDropped: 0,
    bans: 0,
    peerKeyConflicts: 0,
    gossipStreamsRepaired: 0,
    gossipForwards: 0,
    gossipForwardsSkipped: 0,
    gossipRepublished: 0,
    windowUpdatesSent: 0,
    windowUpdatesWithheld: 0,
    messagesInFlight: 0,
    requestsInFlight: 0,
  };
  private readonly admission: PeerAdmission;
  private readonly dialer: StaticPeerDialer;
  private readonly gossip: GossipService;
  private readonly streams: StreamService;

  constructor(init: Libp2pTransportInit, deps: Libp2pTransportDeps) {
    const { key, ...rest } = init;
    const opts: Libp2pTransportOptions = {
      ...defaultLibp2pTransportOptions,
      ...definedOnly(rest),
      chainId: init.chainId,
    };
    validateLibp2pTransportOptions(opts);
    nodeIdToPeerId(key.nodeId); // length check
    this.opts = opts;
    this.key = key;
    this.localNodeId = new Uint8Array(key.nodeId);
    this.log = deps.logger;
    const ctx: TransportContext = {
      opts,
      log: this.log,
      counters: this.counters,
      node: () => this.node,
    };
    this.admission = new PeerAdmission(ctx, this.localNodeId, (peerKey) => this.dialer.onAdmitted(peerKey));
    this.dialer = new StaticPeerDialer(ctx, this.admission, this.localNodeId);
    this.gossip = new GossipService(ctx, this.admission, this.localNodeId, deps.gossipValidators);
    this.streams = new StreamService(ctx, this.admission, this.gossip);
    this.setAllowedNodes(opts.allowedNodes);
    this.setStaticPeers(opts.staticPeers);
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.node !== null) return;
    if (this.starting === null) {
      this.starting = this.startNode()
        .catch((err: unknown) => {
          throw this.listenError(err);
        })
        .finally(() => {
          this.starting = null;
        });
    }
    await this.starting;
  }

  /** A listen address that could not be bound, in an operator's words; other start failures as they are. */
  private listenError(err: unknown): unknown {
    const unsupported = err instanceof Error && err.name === "UnsupportedListenAddressesError";
    if (!unsupported && listenFailureCode(err) === null) return err;
    const addresses = this.listenResolved ?? this.opts.listenAddresses;
    return new NetworkError(
      "NETWORK_LISTEN",
      `P2P cannot listen on ${addresses.join(", ")}: ${listenFailureReason(err)} (p2p.listen in node.json)`,
      { addresses },
      { cause: err },
    );
  }

  private async startNode(): Promise<void> {
    const opts = this.opts;
    const node = await createTransportNode(opts, {
      privateKey: await libp2pPrivateKey(this.key),
      listen: this.listenResolved ?? opts.listenAddresses,
      connectionGater: this.admission.gater(),
      windowUpdateCounters: this.counters,
    });
    node.addEventListener("peer:identify", (evt) =>
      this.admission.admit(evt.detail.connection, "identify", evt.detail.listenAddrs),
    );
    node.addEventListener("connection:close", (evt) => this.admission.onConnectionClose(evt.detail));
    await this.streams.registerProtocols(node);
    try {
      await node.start();
      this.gossip.subscribeAll(node);
    } catch (err) {
      await Promise.resolve(node.stop()).catch(() => undefined);
      throw err;
    }
    this.node = node;
    // handle() calls made while starting (after registerProtocols above) are registered now.
    await this.streams.registerLateProtocols(node);
    this.listenResolved ??= resolvePortZero(opts.listenAddresses, node.getMultiaddrs());
    this.gossipRepair = new GossipStreamRepair();
    this.dialTimer = setInterval(() => this.tick(), opts.reconnectIntervalMs);
    this.dialTimer.unref();
    this.log.info(
      {
        nodeId: bytesToHex(this.localNodeId),
        peerId: node.peerId.toString(),
        listen: this.listenAddresses(),
      },
      "network started",
    );
    this.dialer.dialStaticPeers();
  }

  async stop(): Promise<void> {
    if (this.starting !== null) await this.starting.catch(() => undefined);
    const node = this.node;
    if (node === null) return;
    if (this.dialTimer !== null) clearInterval(this.dialTimer);
    this.dialTimer = null;
    this.node = null;
    await node.stop();
    this.admission.dropAll();
    this.dialer.reset();
    this.log.info({}, "network stopped");
  }

  listenAddresses(): string[] {
    return this.node?.getMultiaddrs().map((ma) => ma.toString()) ?? [];
  }

  /** Replaces the static peers (multiaddrs ending in /p2p/<Ed25519 peer ID>); our own address is skipped. */
  setStaticPeers(addrs: string[]): void {
    this.dialer.setStaticPeers(addrs);
  }

  /** Connected members known to be subscribed to a topic (gossipsub's view). */
  topicPeers(topic: TopicName): NodeId[] {
    return this.gossip.topicPeers(topic);
  }

  /** Members in our gossipsub mesh for a topic (those we forward to). */
  meshPeers(topic: TopicName): NodeId[] {
    return this.gossip.meshPeers(topic);
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  /** Periodic upkeep: redial static peers, re-open stale gossipsub outbound streams. */
  private tick(): void {
    this.dialer.dialStaticPeers();
    const node = this.node;
    if (node === null) return;
    const open = new Map<string, { peerId: PeerId; connection: Connection }>();
    for (const connection of node.getConnections()) {
      const key = connection.remotePeer.toString();
      if (connection.status === "open" && this.admission.isAdmitted(key) && !open.has(key)) {
        open.set(key, { peerId: connection.remotePeer, connection });
      }
    }
    const repaired = this.gossipRepair.tick(node.services.pubsub, open);
    if (repaired > 0) {
      this.counters.gossipStreamsRepaired += repaired;
      this.log.debug({ repaired }, "re-opened stale gossipsub outbound streams");
    }
  }

  // ---------------------------------------------------------------- gossip

  publish(topic: TopicName, data: Uint8Array): Promise<void> {
    return this.gossip.publish(topic, data);
  }

  subscribe(topic: TopicName, handler: GossipHandler): () => void {
    return this.gossip.subscribe(topic, handler);
  }

  // ---------------------------------------------------------------- streams

  sendDirect(nodeId: NodeId, topic: TopicName, data: Uint8Array, opts?: RequestOptions): Promise<void> {
    return this.streams.sendDirect(nodeId, topic, data, opts);
  }

  handle(protocol: ProtocolName, handler: RequestHandler): void {
    this.streams.handle(protocol, handler);
  }

  request(
    nodeId: NodeId,
    protocol: ProtocolName,
    request: Uint8Array,
    opts: RequestOptions,
  ): Promise<Uint8Array> {
    return this.streams.request(nodeId, protocol, request, opts);
  }

  // ---------------------------------------------------------------- admission and penalties

  setAllowedNodes(nodeIds: NodeId[]): void {
    const { added, removed } = this.admission.setAllowed(nodeIds);
    this.dialer.resetBackoff(added);
    if (this.node === null) return;
    this.admission.disconnectRemoved(removed);
    if (added.length > 0) this.dialer.dialStaticPeers();
  }

  penalize(nodeId: NodeId, reason: string, points: number): void {
    this.admission.penalize(nodeId, reason, points);
  }

  /** A node's misbehaviour points now (after decay; 0 when banned or unknown): for tests and the admin RPC. */
  penaltyPoints(nodeId: NodeId): number {
    return this.admission.penaltyPoints(nodeIdToPeerId(nodeId).toString());
  }

  /** True while a node is banned (for tests and the admin RPC). */
  isBanned(nodeId: NodeId): boolean {
    return this.admission.isBanned(nodeIdToPeerId(nodeId).toString());
  }

  /** Peers refused now for a ban (the bans counter in stats() counts bans ever given). */
  bannedPeerCount(): number {
    return this.admission.bannedCount();
  }

  connectedPeers(): NodeId[] {
    return this.admission.connectedPeers();
  }

  /** Remote multiaddr of an open connection to `nodeId` (FISCO getPeers' endPoint), or null when none is open. */
  peerAddress(nodeId: NodeId): string | null {
    const conn = this.node?.getConnections(nodeIdToPeerId(nodeId)).find((c) => c.status === "open");
    return conn === undefined ? null : conn.remoteAddr.toString();
  }

  peerCount(): number {
    return this.connectedPeers().length;
  }

  onPeerChange(handler: PeerChangeHandler): () => void {
    return this.admission.onPeerChange(handler);
  }
}
