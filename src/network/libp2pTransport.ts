import "../util/polyfill.js";
import { randomBytes } from "node:crypto";
import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import {
  type GossipSub,
  gossipsub,
  type Message,
  StrictNoSign,
  TopicValidatorResult,
} from "@libp2p/gossipsub";
import { type Identify, identify } from "@libp2p/identify";
import type { Connection, ConnectionGater, PeerId, Stream } from "@libp2p/interface";
import { type Ping, ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { createLibp2p, type Libp2p } from "libp2p";
import type { NodeId } from "../types/index.js";
import { ConsortError, errorMessage } from "../util/errors.js";
import { bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import { GossipValidationError, NetworkError } from "./errors.js";
import {
  decodeResponse,
  encodeErrorResponse,
  encodeFrame,
  encodeResponse,
  ResponseStatus,
  readFrame,
  sendFrame,
  writeFrame,
} from "./framing.js";
import { GossipStreamRepair } from "./gossipRepair.js";
import {
  type GossipHandler,
  type GossipVerdict,
  type PeerChangeHandler,
  PROTOCOL_NAMES,
  type ProtocolName,
  type RequestHandler,
  type RequestOptions,
  TOPIC_NAMES,
  type TopicName,
  type Transport,
} from "./interface.js";
import { directProtocolId, protocolId, topicId } from "./names.js";
import {
  defaultLibp2pTransportOptions,
  type Libp2pTransportOptions,
  type NetworkKey,
  validateLibp2pTransportOptions,
} from "./options.js";
import { libp2pPrivateKey, nodeIdToPeerId, peerIdStringToNodeId } from "./peerId.js";
import { PeerPenalties } from "./penalties.js";

type Services = { identify: Identify; ping: Ping; pubsub: GossipSub };

/** What the constructor takes: options (defaults filled in) plus the chain and the node key. */
export type Libp2pTransportInit = Partial<Libp2pTransportOptions> & { chainId: bigint; key: NetworkKey };

export interface Libp2pTransportDeps {
  logger: Logger;
}

/** Counters for metrics and tests (monotonic since construction, except the `*InFlight` gauges). */
export interface TransportStats {
  refusedInbound: number;
  refusedOutbound: number;
  refusedDials: number;
  gossipRejected: number;
  gossipDropped: number;
  requestsDropped: number;
  bans: number;
  /** Stale gossipsub outbound streams re-opened (see gossipRepair.ts). */
  gossipStreamsRepaired: number;
  messagesInFlight: number;
  requestsInFlight: number;
}

interface StaticPeer {
  key: string;
  peerId: PeerId;
  addr: Multiaddr;
  attempts: number;
  nextDialAtMs: number;
  dialing: boolean;
}

const DIRECT_TIMEOUT_MS_DEFAULT = 5_000;
/** Bound on the whole serving of one inbound request (read + handler + write). */
const INBOUND_REQUEST_TIMEOUT_MS = 30_000;
/** Bound on reading one inbound direct message. */
const INBOUND_DIRECT_TIMEOUT_MS = 10_000;
/** gossipsub RPC overhead allowed above the payload bound (envelope prefix, topic, control). */
const GOSSIP_RPC_OVERHEAD_BYTES = 64 * 1024;
/** A refused peer is logged at info at most once per this period (debug otherwise). */
const REFUSAL_LOG_PERIOD_MS = 60_000;
const REFUSAL_LOG_ENTRIES_MAX = 1024;
const PENALTY_ENTRIES_MAX = 1024;
/** A connection still open after this long was admitted by the remote even if identify did not report. */
const ADMISSION_SETTLE_MS = 2_000;

/**
 * Bytes in front of every gossip payload: a per-publish sequence number. gossipsub runs without per-message
 * signatures (StrictNoSign: PBFT messages and txs carry their own, noise authenticates the peer), so its message ID
 * is a hash of the data; the prefix keeps a deliberate re-publish of identical bytes (PBFT's resend of its own
 * votes) a new message instead of a duplicate that gossipsub would refuse to publish and peers would drop.
 */
const GOSSIP_PREFIX_BYTES = 8;

const VERDICT_RANK: Record<GossipVerdict, number> = { accept: 0, ignore: 1, reject: 2 };

/**
 * The libp2p host of a Consort node: TCP + noise + yamux, gossipsub (StrictNoSign, flood publish, full mesh for a
 * small consortium; a message is attributed to the admitted member it arrived from), length-prefixed
 * request/response, admission of consortium members only at the encrypted connection gate, penalties with bans, and
 * a static-peer dialer with backoff that keeps the mesh connected.
 */
export class Libp2pTransport implements Transport {
  readonly localNodeId: NodeId;
  private readonly opts: Libp2pTransportOptions;
  private readonly key: NetworkKey;
  private readonly log: Logger;
  private node: Libp2p<Services> | null = null;
  private starting: Promise<void> | null = null;
  /** Listen addresses with port 0 resolved after the first start, so a restart keeps its port. */
  private listenResolved: string[] | null = null;
  /** peerId string → node ID of every node in the consortium list (never ourselves). */
  private allowed = new Map<string, NodeId>();
  /**
   * peerId string → IDs of its open connections that are known admitted on both sides. A dial can resolve
   * before the remote's gate closes it, so a connection counts only once identify ran over it (the remote
   * served a stream) or it stayed open for ADMISSION_SETTLE_MS.
   */
  private readonly admitted = new Map<string, Set<string>>();
  private readonly penalties: PeerPenalties;
  private readonly topicHandlers = new Map<TopicName, Set<GossipHandler>>();
  private readonly requestHandlers = new Map<ProtocolName, RequestHandler>();
  private readonly peerChangeHandlers = new Set<PeerChangeHandler>();
  private staticPeers: StaticPeer[] = [];
  private readonly refusalLoggedAt = new Map<string, number>();
  private dialTimer: ReturnType<typeof setInterval> | null = null;
  private gossipRepair = new GossipStreamRepair();
  /** Sequence number put in front of each published payload (random start: a restart does not repeat IDs). */
  private publishSeq = randomBytes(8).readBigUInt64BE(0);
  private readonly counters: TransportStats = {
    refusedInbound: 0,
    refusedOutbound: 0,
    refusedDials: 0,
    gossipRejected: 0,
    gossipDropped: 0,
    requestsDropped: 0,
    bans: 0,
    gossipStreamsRepaired: 0,
    messagesInFlight: 0,
    requestsInFlight: 0,
  };

  constructor(init: Libp2pTransportInit, deps: Libp2pTransportDeps) {
    const { key, ...rest } = init;
    const opts: Libp2pTransportOptions = {
      ...defaultLibp2pTransportOptions,
      ...stripUndefined(rest),
      chainId: init.chainId,
    };
    validateLibp2pTransportOptions(opts);
    nodeIdToPeerId(key.nodeId); // length check
    this.opts = opts;
    this.key = key;
    this.localNodeId = new Uint8Array(key.nodeId);
    this.log = deps.logger;
    this.penalties = new PeerPenalties({
      threshold: opts.penaltyThreshold,
      halfLifeMs: opts.penaltyHalfLifeMs,
      banDurationMs: opts.banDurationMs,
      entriesMax: PENALTY_ENTRIES_MAX,
    });
    this.setAllowedNodes(opts.allowedNodes);
    this.setStaticPeers(opts.staticPeers);
  }

  // ---------------------------------------------------------------- lifecycle

  async start(): Promise<void> {
    if (this.node !== null) return;
    if (this.starting === null) {
      this.starting = this.startNode().finally(() => {
        this.starting = null;
      });
    }
    await this.starting;
  }

  private async startNode(): Promise<void> {
    const opts = this.opts;
    const privateKey = await libp2pPrivateKey(this.key);
    const topics = TOPIC_NAMES.map((name) => topicId(opts.chainId, name));
    const node = await createLibp2p<Services>({
      privateKey,
      addresses: { listen: this.listenResolved ?? opts.listenAddresses },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      peerDiscovery: [],
      connectionGater: this.connectionGater(),
      connectionManager: {
        maxConnections: opts.maxConnections,
        maxIncomingPendingConnections: opts.maxIncomingPendingConnections,
        inboundConnectionThreshold: opts.inboundConnectionThreshold,
        maxParallelDials: opts.maxParallelDials,
        dialTimeout: opts.dialTimeoutMs,
        // Our own dialer redials static peers; libp2p's KEEP_ALIVE reconnect queue is not used.
        reconnectRetries: 0,
      },
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({
          // No per-message Ed25519 sign/verify: payloads are signed by their authors (PBFT votes, txs) and the
          // connection gate admits members only, so the propagation source is an authenticated member.
          globalSignaturePolicy: StrictNoSign,
          allowPublishToZeroTopicPeers: true,
          floodPublish: true,
          emitSelf: false,
          fallbackToFloodsub: false,
          doPX: false,
          // Small consortium: graft every peer up to D (Dlo = D), prune only far above it.
          D: opts.gossipD,
          Dlo: opts.gossipD,
          Dhi: opts.gossipD * 2,
          Dscore: Math.min(4, opts.gossipD),
          Dout: Math.min(2, Math.floor(opts.gossipD / 2)),
          Dlazy: Math.min(6, opts.gossipD),
          heartbeatInterval: opts.gossipHeartbeatMs,
          allowedTopics: topics,
          maxInboundDataLength: opts.gossipMessageBytesMax + GOSSIP_RPC_OVERHEAD_BYTES,
          maxOutboundBufferSize: 4 * (opts.gossipMessageBytesMax + GOSSIP_RPC_OVERHEAD_BYTES),
          // Members may share an IP (NAT, one host in tests): no colocation penalty in a permissioned network.
          scoreParams: { IPColocationFactorWeight: 0 },
        }),
      },
      start: false,
    });

    node.addEventListener("peer:identify", (evt) => this.admit(evt.detail.connection, "identify"));
    node.addEventListener("connection:close", (evt) => this.onConnectionClose(evt.detail));
    const streamOpts = {
      maxInboundStreams: opts.streamsPerConnectionMax,
      maxOutboundStreams: opts.streamsPerConnectionMax,
    };
    for (const name of this.requestHandlers.keys()) {
      await node.handle(protocolId(opts.chainId, name), this.requestStreamHandler(name), streamOpts);
    }
    await node.handle(
      directProtocolId(opts.chainId),
      (stream, connection) => {
        this.serveDirect(stream, connection).catch((err: unknown) =>
          this.onServeFailure(stream, "direct", err),
        );
      },
      streamOpts,
    );
    try {
      await node.start();
      for (const name of this.topicHandlers.keys()) this.subscribeTopic(node, name);
    } catch (err) {
      await Promise.resolve(node.stop()).catch(() => undefined);
      throw err;
    }
    this.node = node;
    // handle() calls made while starting (after the loop above) are registered now.
    const served = new Set(node.getProtocols());
    for (const name of this.requestHandlers.keys()) {
      const id = protocolId(opts.chainId, name);
      if (!served.has(id)) await node.handle(id, this.requestStreamHandler(name), streamOpts);
    }
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
    this.dialStaticPeers();
  }

  async stop(): Promise<void> {
    if (this.starting !== null) await this.starting.catch(() => undefined);
    const node = this.node;
    if (node === null) return;
    if (this.dialTimer !== null) clearInterval(this.dialTimer);
    this.dialTimer = null;
    this.node = null;
    await node.stop();
    for (const key of [...this.admitted.keys()]) this.dropAdmitted(key);
    for (const sp of this.staticPeers) {
      sp.attempts = 0;
      sp.nextDialAtMs = 0;
      sp.dialing = false;
    }
    this.log.info({}, "network stopped");
  }

  listenAddresses(): string[] {
    return this.node?.getMultiaddrs().map((ma) => ma.toString()) ?? [];
  }

  /** Replaces the static peers (multiaddrs ending in /p2p/<Ed25519 peer ID>); our own address is skipped. */
  setStaticPeers(addrs: string[]): void {
    const old = new Map(this.staticPeers.map((sp) => [sp.addr.toString(), sp]));
    const next: StaticPeer[] = [];
    addrs.forEach((text, i) => {
      const addr = parseStaticPeer(text, i);
      const existing = old.get(addr.ma.toString());
      if (addr.peerId.equals(nodeIdToPeerId(this.localNodeId))) return;
      next.push(
        existing ?? {
          key: addr.peerId.toString(),
          peerId: addr.peerId,
          addr: addr.ma,
          attempts: 0,
          nextDialAtMs: 0,
          dialing: false,
        },
      );
    });
    this.staticPeers = next;
    if (this.node !== null) this.dialStaticPeers();
  }

  /** Connected members known to be subscribed to a topic (gossipsub's view). */
  topicPeers(topic: TopicName): NodeId[] {
    const node = this.node;
    if (node === null) return [];
    const out: NodeId[] = [];
    for (const peerId of node.services.pubsub.getSubscribers(topicId(this.opts.chainId, topic))) {
      const nodeId = this.allowed.get(peerId.toString());
      if (nodeId !== undefined) out.push(nodeId);
    }
    return out;
  }

  /** Members in our gossipsub mesh for a topic (those we forward to). */
  meshPeers(topic: TopicName): NodeId[] {
    const pubsub = this.node?.services.pubsub as { getMeshPeers?: (topic: string) => string[] } | undefined;
    const ids = pubsub?.getMeshPeers?.(topicId(this.opts.chainId, topic)) ?? [];
    return ids.flatMap((id) => {
      const nodeId = this.allowed.get(id);
      return nodeId === undefined ? [] : [nodeId];
    });
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  // ---------------------------------------------------------------- gossip

  async publish(topic: TopicName, data: Uint8Array): Promise<void> {
    const node = this.requireStarted();
    if (data.length > this.opts.gossipMessageBytesMax) {
      throw new NetworkError("NETWORK_OVERSIZE", "gossip message over the size bound", {
        topic,
        bytes: data.length,
        bytesMax: this.opts.gossipMessageBytesMax,
      });
    }
    const framed = new Uint8Array(GOSSIP_PREFIX_BYTES + data.length);
    this.publishSeq = BigInt.asUintN(64, this.publishSeq + 1n);
    new DataView(framed.buffer).setBigUint64(0, this.publishSeq);
    framed.set(data, GOSSIP_PREFIX_BYTES);
    try {
      await node.services.pubsub.publish(topicId(this.opts.chainId, topic), framed);
    } catch (err) {
      throw new NetworkError(
        "NETWORK_PUBLISH_FAILED",
        `publish failed: ${errorMessage(err)}`,
        { topic },
        { cause: err },
      );
    }
  }

  subscribe(topic: TopicName, handler: GossipHandler): () => void {
    if (!TOPIC_NAMES.includes(topic)) {
      throw new NetworkError("NETWORK_INVALID_OPTIONS", `unknown topic ${String(topic)}`, { topic });
    }
    let handlers = this.topicHandlers.get(topic);
    if (handlers === undefined) {
      handlers = new Set();
      this.topicHandlers.set(topic, handlers);
      if (this.node !== null) this.subscribeTopic(this.node, topic);
    }
    handlers.add(handler);
    return () => {
      const set = this.topicHandlers.get(topic);
      if (set === undefined || !set.delete(handler) || set.size > 0) return;
      this.topicHandlers.delete(topic);
      if (this.node !== null) {
        const id = topicId(this.opts.chainId, topic);
        this.node.services.pubsub.unsubscribe(id);
        this.node.services.pubsub.topicValidators.delete(id);
      }
    };
  }

  private subscribeTopic(node: Libp2p<Services>, topic: TopicName): void {
    const id = topicId(this.opts.chainId, topic);
    node.services.pubsub.topicValidators.set(id, (source, msg) => this.validateGossip(topic, source, msg));
    node.services.pubsub.subscribe(id);
  }

  /** gossipsub's topic validator: runs the subscribers once per new message and maps their verdict. */
  private async validateGossip(
    topic: TopicName,
    source: PeerId,
    msg: Message,
  ): Promise<TopicValidatorResult> {
    const sourceKey = source.toString();
    if (!this.allowed.has(sourceKey) || this.penalties.isBanned(sourceKey))
      return TopicValidatorResult.Ignore;
    // StrictNoSign: gossipsub already refused messages carrying from/seqno/signature. The message is attributed to
    // the member it arrived from (admitted at the connection gate), whom the verdict rewards or penalizes.
    const from = this.allowed.get(sourceKey);
    if (from === undefined || msg.type !== "unsigned")
      return this.rejectGossip(topic, source, "signed message under StrictNoSign");
    if (msg.data.length < GOSSIP_PREFIX_BYTES) return this.rejectGossip(topic, source, "truncated");
    if (msg.data.length - GOSSIP_PREFIX_BYTES > this.opts.gossipMessageBytesMax)
      return this.rejectGossip(topic, source, "oversized");
    const verdict = await this.deliver(topic, from, msg.data.subarray(GOSSIP_PREFIX_BYTES));
    if (verdict === "reject") return this.rejectGossip(topic, source, "rejected by a handler");
    return verdict === "accept" ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore;
  }

  private rejectGossip(topic: TopicName, source: PeerId, reason: string): TopicValidatorResult {
    this.counters.gossipRejected++;
    const nodeId = this.allowed.get(source.toString());
    this.log.debug({ topic, peer: source.toString(), reason }, "gossip message rejected");
    if (nodeId !== undefined) this.penalize(nodeId, `${topic}: ${reason}`, this.opts.gossipRejectPoints);
    return TopicValidatorResult.Reject;
  }

  /** Runs every handler of the topic (bounded in flight); the worst verdict wins. */
  private async deliver(topic: TopicName, from: NodeId, data: Uint8Array): Promise<GossipVerdict> {
    const handlers = this.topicHandlers.get(topic);
    if (handlers === undefined || handlers.size === 0) return "ignore";
    if (this.counters.messagesInFlight >= this.opts.inboundMessagesMax) {
      this.counters.gossipDropped++;
      this.log.debug({ topic, dropped: this.counters.gossipDropped }, "inbound message queue full: dropped");
      return "ignore";
    }
    this.counters.messagesInFlight++;
    try {
      let worst: GossipVerdict = "accept";
      for (const handler of [...handlers]) {
        const verdict = await this.runGossipHandler(topic, handler, from, data);
        if (VERDICT_RANK[verdict] > VERDICT_RANK[worst]) worst = verdict;
      }
      return worst;
    } finally {
      this.counters.messagesInFlight--;
    }
  }

  private async runGossipHandler(
    topic: TopicName,
    handler: GossipHandler,
    from: NodeId,
    data: Uint8Array,
  ): Promise<GossipVerdict> {
    try {
      const verdict = await handler(from, data);
      return verdict === "ignore" || verdict === "reject" ? verdict : "accept";
    } catch (err) {
      if (err instanceof GossipValidationError) {
        this.log.debug({ topic, ...err.toLog() }, "gossip handler verdict");
        return err.action;
      }
      if (err instanceof ConsortError) {
        this.log.debug({ topic, ...err.toLog() }, "gossip handler refused the message");
        return "reject";
      }
      // Not a typed error: a bug on our side; do not blame the peer.
      this.log.error({ topic, err: errorMessage(err) }, "gossip handler failed");
      return "ignore";
    }
  }

  // ---------------------------------------------------------------- direct messages

  async sendDirect(
    nodeId: NodeId,
    topic: TopicName,
    data: Uint8Array,
    opts: RequestOptions = { timeoutMs: DIRECT_TIMEOUT_MS_DEFAULT },
  ): Promise<void> {
    const topicIndex = TOPIC_NAMES.indexOf(topic);
    if (topicIndex < 0)
      throw new NetworkError("NETWORK_INVALID_OPTIONS", `unknown topic ${String(topic)}`, { topic });
    if (data.length > this.opts.gossipMessageBytesMax) {
      throw new NetworkError("NETWORK_OVERSIZE", "direct message over the size bound", {
        topic,
        bytes: data.length,
        bytesMax: this.opts.gossipMessageBytesMax,
      });
    }
    const meta = { nodeId: bytesToHex(nodeId), topic };
    await this.withStream(
      nodeId,
      directProtocolId(this.opts.chainId),
      opts.timeoutMs,
      meta,
      async (stream, signal) => {
        await writeFrame(stream, encodeFrame(Uint8Array.of(topicIndex), data), signal);
      },
    );
  }

  private async serveDirect(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer;
    const from = this.allowed.get(peer.toString());
    if (from === undefined) {
      stream.abort(new Error("not admitted"));
      return;
    }
    const timer = setTimeout(
      () => stream.abort(new Error("direct message timeout")),
      INBOUND_DIRECT_TIMEOUT_MS,
    );
    try {
      let frame: Uint8Array;
      try {
        frame = await readFrame(stream, this.opts.gossipMessageBytesMax + 1);
      } catch (err) {
        this.onBadFrame(from, "direct", err);
        stream.abort(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      await stream.close().catch(() => undefined);
      const topic = TOPIC_NAMES[frame[0] ?? 255];
      if (topic === undefined) {
        this.penalize(from, "direct: unknown topic", this.opts.malformedFramePoints);
        return;
      }
      const verdict = await this.deliver(topic, from, frame.subarray(1));
      if (verdict === "reject") this.rejectGossip(topic, peer, "direct message rejected by a handler");
    } finally {
      clearTimeout(timer);
    }
  }

  // ---------------------------------------------------------------- request / response

  handle(protocol: ProtocolName, handler: RequestHandler): void {
    if (!PROTOCOL_NAMES.includes(protocol)) {
      throw new NetworkError("NETWORK_INVALID_OPTIONS", `unknown protocol ${String(protocol)}`, { protocol });
    }
    const fresh = !this.requestHandlers.has(protocol);
    this.requestHandlers.set(protocol, handler);
    if (fresh && this.node !== null) {
      const node = this.node;
      node
        .handle(protocolId(this.opts.chainId, protocol), this.requestStreamHandler(protocol), {
          maxInboundStreams: this.opts.streamsPerConnectionMax,
          maxOutboundStreams: this.opts.streamsPerConnectionMax,
        })
        .catch((err: unknown) =>
          this.log.error({ protocol, err: errorMessage(err) }, "could not register protocol"),
        );
    }
  }

  async request(
    nodeId: NodeId,
    protocol: ProtocolName,
    request: Uint8Array,
    opts: RequestOptions,
  ): Promise<Uint8Array> {
    const meta = { nodeId: bytesToHex(nodeId), protocol };
    if (request.length > this.opts.requestBytesMax) {
      throw new NetworkError("NETWORK_OVERSIZE", "request over the size bound", {
        ...meta,
        bytes: request.length,
        bytesMax: this.opts.requestBytesMax,
      });
    }
    const id = protocolId(this.opts.chainId, protocol);
    return this.withStream(nodeId, id, opts.timeoutMs, meta, async (stream, signal) => {
      stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, this.opts.responseBytesMax + 1024);
      // Listen first, send, and close our side only once answered: a responder that answers early (busy,
      // oversize) must neither leave us stuck on a full send window nor have its answer dropped by our close.
      const reading = readFrame(stream, this.opts.responseBytesMax + 1);
      reading.catch(() => undefined); // awaited below; do not report it unhandled if sending throws first
      sendFrame(stream, encodeFrame(request));
      const frame = await reading;
      if (stream.writeBufferLength > 0) stream.abort(new Error("answered before the request was sent"));
      else await stream.close({ signal }).catch(() => undefined);
      return decodeResponse(frame, meta);
    });
  }

  /**
   * Opens a stream on an existing connection and runs `body` under a timeout. Maps libp2p failures to typed
   * errors: timeout, not connected, unsupported protocol, stream error.
   */
  private async withStream<T>(
    nodeId: NodeId,
    protocol: string,
    timeoutMs: number,
    meta: Record<string, unknown>,
    body: (stream: Stream, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const node = this.requireStarted();
    const peerId = nodeIdToPeerId(nodeId);
    if (!this.admitted.has(peerId.toString())) {
      throw new NetworkError("NETWORK_NOT_CONNECTED", "no open connection to that node", meta);
    }
    const signal = AbortSignal.timeout(timeoutMs);
    let stream: Stream | undefined;
    const onAbort = () => stream?.abort(new NetworkError("NETWORK_TIMEOUT", "request timed out", meta));
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      stream = await node.dialProtocol(peerId, protocol, { signal });
      return await body(stream, signal);
    } catch (err) {
      if (signal.aborted) {
        throw new NetworkError("NETWORK_TIMEOUT", `no answer within ${timeoutMs} ms`, { ...meta, timeoutMs });
      }
      stream?.abort(err instanceof Error ? err : new Error(String(err)));
      if (err instanceof NetworkError) throw err;
      const name = err instanceof Error ? err.name : "";
      if (name === "UnsupportedProtocolError") {
        throw new NetworkError(
          "NETWORK_UNSUPPORTED_PROTOCOL",
          "the remote does not serve that protocol",
          meta,
        );
      }
      if (stream === undefined) {
        throw new NetworkError(
          "NETWORK_NOT_CONNECTED",
          `could not open a stream: ${errorMessage(err)}`,
          meta,
          {
            cause: err,
          },
        );
      }
      throw new NetworkError("NETWORK_STREAM_ERROR", `stream failed: ${errorMessage(err)}`, meta, {
        cause: err,
      });
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  private requestStreamHandler(name: ProtocolName) {
    return (stream: Stream, connection: Connection): void => {
      this.serveRequest(name, stream, connection).catch((err: unknown) =>
        this.onServeFailure(stream, name, err),
      );
    };
  }

  /** Last resort: serving a stream threw (a bug); never let it become an unhandled rejection. */
  private onServeFailure(stream: Stream, what: string, err: unknown): void {
    this.log.error({ what, err: errorMessage(err) }, "serving an inbound stream failed");
    stream.abort(err instanceof Error ? err : new Error(String(err)));
  }

  private async serveRequest(name: ProtocolName, stream: Stream, connection: Connection): Promise<void> {
    const from = this.allowed.get(connection.remotePeer.toString());
    const handler = this.requestHandlers.get(name);
    if (from === undefined || handler === undefined) {
      stream.abort(new Error("not admitted"));
      return;
    }
    if (this.counters.requestsInFlight >= this.opts.inboundRequestsMax) {
      this.counters.requestsDropped++;
      this.log.debug(
        { protocol: name, dropped: this.counters.requestsDropped },
        "inbound request queue full",
      );
      await this.respond(stream, encodeErrorResponse(ResponseStatus.Busy, "busy"));
      return;
    }
    this.counters.requestsInFlight++;
    const timer = setTimeout(
      () => stream.abort(new Error("inbound request timeout")),
      INBOUND_REQUEST_TIMEOUT_MS,
    );
    try {
      let request: Uint8Array;
      try {
        request = await readFrame(stream, this.opts.requestBytesMax);
      } catch (err) {
        this.onBadFrame(from, name, err);
        if (err instanceof NetworkError && err.code === "NETWORK_OVERSIZE") {
          await this.respond(
            stream,
            encodeErrorResponse(ResponseStatus.Oversize, `request over ${this.opts.requestBytesMax} bytes`),
          );
        } else {
          stream.abort(err instanceof Error ? err : new Error(String(err)));
        }
        return;
      }
      let response: Uint8Array;
      try {
        response = await handler(from, request);
      } catch (err) {
        const message = err instanceof ConsortError ? `${err.code}: ${err.message}` : errorMessage(err);
        this.log.debug(
          { protocol: name, peer: connection.remotePeer.toString(), err: message },
          "request failed",
        );
        await this.respond(stream, encodeErrorResponse(ResponseStatus.Error, message));
        return;
      }
      if (response.length > this.opts.responseBytesMax) {
        this.log.warn({ protocol: name, bytes: response.length }, "response over the size bound: not sent");
        await this.respond(stream, encodeErrorResponse(ResponseStatus.Error, "response over the size bound"));
        return;
      }
      await this.respond(stream, encodeResponse(ResponseStatus.Ok, response));
    } finally {
      clearTimeout(timer);
      this.counters.requestsInFlight--;
    }
  }

  private async respond(stream: Stream, frame: ReturnType<typeof encodeResponse>): Promise<void> {
    try {
      await writeFrame(stream, frame);
    } catch (err) {
      this.log.debug({ err: errorMessage(err) }, "could not send a response");
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** A malformed or oversized inbound frame costs points; a stream that merely broke does not. */
  private onBadFrame(from: NodeId, what: string, err: unknown): void {
    const malformed =
      err instanceof NetworkError && (err.code === "NETWORK_OVERSIZE" || err.meta.malformed === true);
    this.log.debug({ what, nodeId: bytesToHex(from), err: errorMessage(err) }, "bad inbound frame");
    if (malformed) this.penalize(from, `${what}: malformed frame`, this.opts.malformedFramePoints);
  }

  // ---------------------------------------------------------------- admission and penalties

  setAllowedNodes(nodeIds: NodeId[]): void {
    const next = new Map<string, NodeId>();
    const self = nodeIdToPeerId(this.localNodeId).toString();
    for (const nodeId of nodeIds) {
      let key: string;
      try {
        key = nodeIdToPeerId(nodeId).toString();
      } catch {
        this.log.warn({ length: nodeId.length }, "allowed node list: skipped an invalid node ID");
        continue;
      }
      if (key !== self) next.set(key, new Uint8Array(nodeId));
    }
    const removed = [...this.allowed.keys()].filter((key) => !next.has(key));
    const added = [...next.keys()].filter((key) => !this.allowed.has(key));
    this.allowed = next;
    if (added.length > 0 || removed.length > 0) {
      this.log.info(
        { allowed: next.size, added: added.length, removed: removed.length },
        "allowed nodes updated",
      );
    }
    for (const sp of this.staticPeers) {
      if (added.includes(sp.key)) {
        sp.attempts = 0;
        sp.nextDialAtMs = 0;
      }
    }
    const node = this.node;
    if (node === null) return;
    for (const key of removed) {
      const conns = node.getConnections().filter((c) => c.remotePeer.toString() === key);
      if (conns.length === 0) continue;
      this.log.info({ peer: key }, "peer removed from the allowed list: disconnecting");
      void node.hangUp(conns[0]!.remotePeer).catch(() => undefined);
    }
    if (added.length > 0) this.dialStaticPeers();
  }

  penalize(nodeId: NodeId, reason: string, points: number): void {
    let peerId: PeerId;
    try {
      peerId = nodeIdToPeerId(nodeId);
    } catch {
      return;
    }
    const key = peerId.toString();
    if (!this.allowed.has(key)) return; // not a member: refused at the gate anyway
    const result = this.penalties.add(key, points);
    this.log.debug({ nodeId: bytesToHex(nodeId), reason, points, total: result.points }, "peer penalized");
    if (!result.banned) return;
    this.counters.bans++;
    this.log.warn(
      { nodeId: bytesToHex(nodeId), peer: key, reason, banMs: this.opts.banDurationMs },
      "peer banned: disconnecting",
    );
    if (this.node !== null) void this.node.hangUp(peerId).catch(() => undefined);
  }

  /** True while a node is banned (for tests and the admin RPC). */
  isBanned(nodeId: NodeId): boolean {
    return this.penalties.isBanned(nodeIdToPeerId(nodeId).toString());
  }

  private connectionGater(): ConnectionGater {
    return {
      denyDialPeer: (peerId) => this.refuse(peerId, "dial"),
      denyInboundEncryptedConnection: (peerId) => this.refuse(peerId, "inbound"),
      denyOutboundEncryptedConnection: (peerId) => this.refuse(peerId, "outbound"),
    };
  }

  /** The admission rule: members only, and not banned. */
  private refuse(peerId: PeerId, direction: "inbound" | "outbound" | "dial"): boolean {
    const key = peerId.toString();
    const reason = !this.allowed.has(key) ? "not-allowed" : this.penalties.isBanned(key) ? "banned" : null;
    if (reason === null) return false;
    if (direction === "inbound") this.counters.refusedInbound++;
    else if (direction === "outbound") this.counters.refusedOutbound++;
    else this.counters.refusedDials++;
    const now = Date.now();
    const logKey = `${key}/${reason}`;
    const last = this.refusalLoggedAt.get(logKey);
    const fields = { peer: key, direction, reason };
    if (direction !== "dial" && (last === undefined || now - last >= REFUSAL_LOG_PERIOD_MS)) {
      this.refusalLoggedAt.delete(logKey);
      this.refusalLoggedAt.set(logKey, now);
      if (this.refusalLoggedAt.size > REFUSAL_LOG_ENTRIES_MAX) {
        const oldest = this.refusalLoggedAt.keys().next().value;
        if (oldest !== undefined) this.refusalLoggedAt.delete(oldest);
      }
      this.log.info(fields, "peer refused");
    } else {
      this.log.debug(fields, "peer refused");
    }
    return true;
  }

  connectedPeers(): NodeId[] {
    const out: NodeId[] = [];
    for (const key of this.admitted.keys()) {
      const nodeId = this.allowed.get(key);
      if (nodeId !== undefined) out.push(nodeId);
    }
    return out;
  }

  peerCount(): number {
    return this.connectedPeers().length;
  }

  onPeerChange(handler: PeerChangeHandler): () => void {
    this.peerChangeHandlers.add(handler);
    return () => {
      this.peerChangeHandlers.delete(handler);
    };
  }

  /** Counts a connection as admitted (identify ran over it, or it settled); first one → "peer connected". */
  private admit(conn: Connection, via: "identify" | "settled"): void {
    // Not `this.node`: peers connect while node.start() is still running.
    if (conn.status !== "open") return;
    const key = conn.remotePeer.toString();
    const nodeId = this.allowed.get(key);
    if (nodeId === undefined || this.penalties.isBanned(key)) return;
    let ids = this.admitted.get(key);
    if (ids === undefined) {
      ids = new Set();
      this.admitted.set(key, ids);
    }
    if (ids.has(conn.id)) return;
    ids.add(conn.id);
    if (ids.size > 1) return;
    const sp = this.staticPeers.find((p) => p.key === key);
    if (sp !== undefined) sp.attempts = 0;
    this.log.info(
      { nodeId: bytesToHex(nodeId), peer: key, direction: conn.direction, via },
      "peer connected",
    );
    this.emitPeerChange(nodeId, true);
  }

  private onConnectionClose(conn: Connection): void {
    const key = conn.remotePeer.toString();
    const ids = this.admitted.get(key);
    if (ids === undefined || !ids.delete(conn.id) || ids.size > 0) return;
    this.dropAdmitted(key);
  }

  /** The peer lost its last admitted connection (or we stopped): "peer disconnected". */
  private dropAdmitted(key: string): void {
    if (!this.admitted.delete(key)) return;
    let nodeId: NodeId;
    try {
      nodeId = this.allowed.get(key) ?? peerIdStringToNodeId(key);
    } catch {
      return;
    }
    this.log.info({ nodeId: bytesToHex(nodeId), peer: key }, "peer disconnected");
    this.emitPeerChange(nodeId, false);
  }

  private emitPeerChange(nodeId: NodeId, connected: boolean): void {
    for (const handler of this.peerChangeHandlers) {
      try {
        handler(nodeId, connected);
      } catch (err) {
        this.log.error({ err: errorMessage(err) }, "peer change handler failed");
      }
    }
  }

  // ---------------------------------------------------------------- static-peer dialer

  private tick(): void {
    this.dialStaticPeers();
    const node = this.node;
    if (node === null) return;
    const open = new Map<string, { peerId: PeerId; connection: Connection }>();
    for (const connection of node.getConnections()) {
      const key = connection.remotePeer.toString();
      if (connection.status === "open" && this.admitted.has(key) && !open.has(key)) {
        open.set(key, { peerId: connection.remotePeer, connection });
      }
    }
    const repaired = this.gossipRepair.tick(node.services.pubsub, open);
    if (repaired > 0) {
      this.counters.gossipStreamsRepaired += repaired;
      this.log.debug({ repaired }, "re-opened stale gossipsub outbound streams");
    }
  }

  /** Dials every static peer that is allowed, not banned, not connected and due (exponential backoff). */
  private dialStaticPeers(): void {
    const node = this.node;
    if (node === null) return;
    const now = Date.now();
    for (const conn of node.getConnections()) {
      if (conn.status === "open" && now - conn.timeline.open >= ADMISSION_SETTLE_MS)
        this.admit(conn, "settled");
    }
    for (const sp of this.staticPeers) {
      if (sp.dialing) continue;
      // A resolved dial is not an admission: only an admitted connection stops the redials (and resets backoff).
      if (this.admitted.has(sp.key)) continue;
      // A connection is being set up (or is being refused by the remote's gate): let it settle first.
      if (node.getConnections(sp.peerId).length > 0) continue;
      if (!this.allowed.has(sp.key) || this.penalties.isBanned(sp.key) || now < sp.nextDialAtMs) continue;
      sp.dialing = true;
      sp.attempts++;
      sp.nextDialAtMs = now + this.backoffMs(sp.attempts);
      node
        .dial(sp.addr, { signal: AbortSignal.timeout(this.opts.dialTimeoutMs) })
        .then(() => this.log.debug({ peer: sp.key, attempt: sp.attempts }, "dialed static peer"))
        .catch((err: unknown) =>
          this.log.debug({ peer: sp.key, attempt: sp.attempts, err: errorMessage(err) }, "dial failed"),
        )
        .finally(() => {
          sp.dialing = false;
        });
    }
  }

  private backoffMs(attempts: number): number {
    const base = Math.min(
      this.opts.reconnectBackoffMaxMs,
      this.opts.reconnectBackoffMinMs * 2 ** Math.min(30, attempts - 1),
    );
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  private requireStarted(): Libp2p<Services> {
    if (this.node === null)
      throw new NetworkError("NETWORK_NOT_STARTED", "the network transport is not started");
    return this.node;
  }
}

function stripUndefined<T extends object>(obj: T): Partial<T> {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function parseStaticPeer(text: string, index: number): { ma: Multiaddr; peerId: PeerId } {
  const field = `network.staticPeers[${index}]`;
  let ma: Multiaddr;
  try {
    ma = multiaddr(text);
  } catch (err) {
    throw new NetworkError("NETWORK_INVALID_OPTIONS", `${field}: not a multiaddr: ${errorMessage(err)}`, {
      field,
    });
  }
  const p2p = ma.getComponents().findLast((c) => c.name === "p2p")?.value;
  if (p2p === undefined) {
    throw new NetworkError("NETWORK_INVALID_OPTIONS", `${field}: must end in /p2p/<peerId>`, { field });
  }
  let peerId: PeerId;
  try {
    peerId = nodeIdToPeerId(peerIdStringToNodeId(p2p));
  } catch (err) {
    throw new NetworkError(
      "NETWORK_INVALID_OPTIONS",
      `${field}: not an Ed25519 peer ID`,
      { field },
      { cause: err },
    );
  }
  return { ma, peerId };
}

/** Replaces /tcp/0 in the configured listen addresses by the port libp2p actually bound. */
function resolvePortZero(configured: string[], bound: Multiaddr[]): string[] {
  return configured.map((text) => {
    const comps = multiaddr(text).getComponents();
    const tcpComp = comps.find((c) => c.name === "tcp");
    if (tcpComp?.value !== "0") return text;
    const host = comps.find((c) => c.name === "ip4" || c.name === "ip6");
    const wildcard = host === undefined || host.value === "0.0.0.0" || host.value === "::";
    for (const ma of bound) {
      const b = ma.getComponents();
      const bHost = b.find((c) => c.name === "ip4" || c.name === "ip6");
      const bTcp = b.find((c) => c.name === "tcp");
      if (bTcp?.value === undefined) continue;
      if (!wildcard && bHost?.value !== host?.value) continue;
      return text.replace(/\/tcp\/0(?=\/|$)/, `/tcp/${bTcp.value}`);
    }
    return text;
  });
}
