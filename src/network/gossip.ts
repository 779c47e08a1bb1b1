import { randomBytes } from "node:crypto";
import { type Message, TopicValidatorResult } from "@libp2p/gossipsub";
import type { PeerId } from "@libp2p/interface";
import type { NodeId } from "../types/index.js";
import { ConsortError, errorMessage } from "../util/errors.js";
import type { PeerAdmission } from "./admission.js";
import { GossipValidationError, NetworkError } from "./errors.js";
import { encodeGossipFrame, parseGossipFrame } from "./gossipFrame.js";
import { GossipRelay } from "./gossipRelay.js";
import {
  type GossipCheck,
  type GossipHandler,
  type GossipValidator,
  type GossipVerdict,
  TOPIC_NAMES,
  type TopicName,
} from "./interface.js";
import { topicId } from "./names.js";
import { requireStarted, type TransportContext, type TransportNode } from "./transportContext.js";

const REJECTION_LOG_PERIOD_MS = 60_000;
const REJECTION_LOG_ENTRIES_MAX = 1024;

const VERDICT_RANK: Record<GossipVerdict, number> = { accept: 0, ignore: 1, reject: 2 };

/** What became of one inbound message: the verdict for gossipsub, and why when it is not "accept". */
export interface Delivery {
  verdict: GossipVerdict;
  reason: string;
}

/**
 * Gossip over gossipsub: publish in a frame that names the publisher's direct recipients (gossipFrame.ts), topic
 * subscriptions, and the topic validator that first runs the topic's GossipValidator (if the composition root gave
 * one), then the subscribers, and turns the worst verdict into accept / ignore / reject (a reject penalizes the peer
 * it came from). A message is relayed (GossipRelay) only once this returned Accept: nothing invalid is forwarded.
 */
export class GossipService {
  private readonly topicHandlers = new Map<TopicName, Set<GossipHandler>>();
  /** When a rejection from each peer was last logged at info. */
  private readonly rejectionLoggedAtMs = new Map<string, number>();
  /** Sequence number put in front of each published payload (random start: a restart does not repeat IDs). */
  private publishSeq = randomBytes(8).readBigUInt64BE(0);
  private readonly relay: GossipRelay;

  constructor(
    private readonly ctx: TransportContext,
    private readonly admission: PeerAdmission,
    private readonly localNodeId: NodeId,
    private readonly validators: Partial<Record<TopicName, GossipValidator>> = {},
  ) {
    this.relay = new GossipRelay(ctx, admission);
  }

  async publish(topic: TopicName, data: Uint8Array): Promise<void> {
    const node = requireStarted(this.ctx);
    const opts = this.ctx.opts;
    if (data.length > opts.gossipMessageBytesMax) {
      throw new NetworkError("NETWORK_OVERSIZE", "gossip message over the size bound", {
        topic,
        bytes: data.length,
        bytesMax: opts.gossipMessageBytesMax,
      });
    }
    const id = topicId(opts.chainId, topic);
    const pubsub = node.services.pubsub;
    // Flood publish sends to every subscribed member: the frame names them (and us), so that relays skip them.
    const direct = new Map<string, NodeId>();
    for (const peerId of pubsub.getSubscribers(id)) {
      const nodeId = this.admission.member(peerId.toString());
      if (nodeId !== undefined) direct.set(peerId.toString(), nodeId);
    }
    try {
      const { recipients } = await pubsub.publish(
        id,
        this.frame([this.localNodeId, ...direct.values()], data),
      );
      for (const peerId of recipients) direct.delete(peerId.toString());
      if (direct.size > 0) {
        // A named member was not sent the message (no outbound stream yet, a full buffer): no relay would forward
        // it there. Once more, naming nobody but us: relays forward it to everyone as plain gossipsub would.
        this.ctx.counters.gossipRepublished++;
        this.ctx.log.debug(
          { topic, missed: direct.size },
          "gossip republished: a direct recipient was missed",
        );
        await pubsub.publish(id, this.frame([this.localNodeId], data));
      }
    } catch (err) {
      throw new NetworkError(
        "NETWORK_PUBLISH_FAILED",
        `publish failed: ${errorMessage(err)}`,
        { topic },
        { cause: err },
      );
    }
  }

  /** A frame with the next sequence number (gossipFrame.ts). */
  private frame(recipients: NodeId[], data: Uint8Array): Uint8Array {
    this.publishSeq = BigInt.asUintN(64, this.publishSeq + 1n);
    return encodeGossipFrame(this.publishSeq, recipients, data);
  }

  subscribe(topic: TopicName, handler: GossipHandler): () => void {
    if (!TOPIC_NAMES.includes(topic)) {
      throw new NetworkError("NETWORK_INVALID_OPTIONS", `unknown topic ${String(topic)}`, { topic });
    }
    let handlers = this.topicHandlers.get(topic);
    if (handlers === undefined) {
      handlers = new Set();
      this.topicHandlers.set(topic, handlers);
      const node = this.ctx.node();
      if (node !== null) this.subscribeTopic(node, topic);
    }
    handlers.add(handler);
    return () => {
      const set = this.topicHandlers.get(topic);
      if (set === undefined || !set.delete(handler) || set.size > 0) return;
      this.topicHandlers.delete(topic);
      const node = this.ctx.node();
      if (node !== null) {
        const id = topicId(this.ctx.opts.chainId, topic);
        node.services.pubsub.unsubscribe(id);
        node.services.pubsub.topicValidators.delete(id);
      }
    };
  }

  /** Subscribes a freshly started node to every topic that has handlers, and relays what it accepts. */
  subscribeAll(node: TransportNode): void {
    this.relay.attach(node);
    for (const name of this.topicHandlers.keys()) this.subscribeTopic(node, name);
  }

  /** Connected members known to be subscribed to a topic (gossipsub's view). */
  topicPeers(topic: TopicName): NodeId[] {
    const node = this.ctx.node();
    if (node === null) return [];
    const out: NodeId[] = [];
    for (const peerId of node.services.pubsub.getSubscribers(topicId(this.ctx.opts.chainId, topic))) {
      const nodeId = this.admission.member(peerId.toString());
      if (nodeId !== undefined) out.push(nodeId);
    }
    return out;
  }

  /** Members in our gossipsub mesh for a topic (those we forward to). */
  meshPeers(topic: TopicName): NodeId[] {
    const pubsub = this.ctx.node()?.services.pubsub as
      | { getMeshPeers?: (topic: string) => string[] }
      | undefined;
    const ids = pubsub?.getMeshPeers?.(topicId(this.ctx.opts.chainId, topic)) ?? [];
    return ids.flatMap((id) => {
      const nodeId = this.admission.member(id);
      return nodeId === undefined ? [] : [nodeId];
    });
  }

  /** Counts a rejected message and penalizes the member it came from. */
  rejectGossip(topic: TopicName, source: PeerId, reason: string): TopicValidatorResult {
    this.ctx.counters.gossipRejected++;
    const nodeId = this.admission.member(source.toString());
    // An operator sees a misbehaving member at info, at most once a minute per peer (then debug): a flood of
    // invalid messages does not flood the log, and the ban that follows is a warning.
    const peer = source.toString();
    const now = Date.now();
    const loud =
      now - (this.rejectionLoggedAtMs.get(peer) ?? Number.NEGATIVE_INFINITY) >= REJECTION_LOG_PERIOD_MS;
    if (loud) {
      if (this.rejectionLoggedAtMs.size >= REJECTION_LOG_ENTRIES_MAX) this.rejectionLoggedAtMs.clear();
      this.rejectionLoggedAtMs.set(peer, now);
    }
    (loud ? this.ctx.log.info : this.ctx.log.debug).call(
      this.ctx.log,
      { topic, peer, reason },
      "gossip message rejected",
    );
    if (nodeId !== undefined)
      this.admission.penalize(nodeId, `${topic}: ${reason}`, this.ctx.opts.gossipRejectPoints);
    return TopicValidatorResult.Reject;
  }

  /**
   * Checks a message with the topic's validator, then runs every handler of the topic (bounded in flight); the
   * worst verdict wins. A message the validator holds reaches the handlers but is never relayed.
   */
  async deliver(topic: TopicName, from: NodeId, data: Uint8Array): Promise<Delivery> {
    const handlers = this.topicHandlers.get(topic);
    if (handlers === undefined || handlers.size === 0) return { verdict: "ignore", reason: "no handler" };
    const check = this.check(topic, from, data);
    if (check.verdict === "ignore" || check.verdict === "reject")
      return { verdict: check.verdict, reason: check.reason };
    const counters = this.ctx.counters;
    if (counters.messagesInFlight >= this.ctx.opts.inboundMessagesMax) {
      counters.gossipDropped++;
      this.ctx.log.debug({ topic, dropped: counters.gossipDropped }, "inbound message queue full: dropped");
      return { verdict: "ignore", reason: "inbound queue full" };
    }
    counters.messagesInFlight++;
    try {
      let worst: GossipVerdict = check.verdict === "hold" ? "ignore" : "accept";
      for (const handler of [...handlers]) {
        const verdict = await this.runGossipHandler(topic, handler, from, data);
        if (VERDICT_RANK[verdict] > VERDICT_RANK[worst]) worst = verdict;
      }
      return { verdict: worst, reason: worst === "reject" ? "rejected by a handler" : check.reason };
    } finally {
      counters.messagesInFlight--;
    }
  }

  /** The topic validator's verdict; a validator that throws is our bug: the message is dropped, nobody blamed. */
  private check(topic: TopicName, from: NodeId, data: Uint8Array): GossipCheck {
    const validator = this.validators[topic];
    if (validator === undefined) return { verdict: "accept", reason: "" };
    try {
      const check = validator(from, data);
      if (check.verdict === "ignore") {
        this.ctx.counters.gossipIgnored++;
        this.ctx.log.debug({ topic, reason: check.reason }, "gossip message ignored by its topic check");
      }
      return check;
    } catch (err) {
      this.ctx.log.error({ topic, err: errorMessage(err) }, "gossip topic check failed");
      return { verdict: "ignore", reason: "topic check failed" };
    }
  }

  private subscribeTopic(node: TransportNode, topic: TopicName): void {
    const id = topicId(this.ctx.opts.chainId, topic);
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
    if (!this.admission.isAllowed(sourceKey) || this.admission.isBanned(sourceKey))
      return TopicValidatorResult.Ignore;
    // StrictNoSign: gossipsub already refused messages carrying from/seqno/signature. The message is attributed to
    // the member it arrived from (admitted at the connection gate), whom the verdict rewards or penalizes.
    const from = this.admission.member(sourceKey);
    if (from === undefined || msg.type !== "unsigned")
      return this.rejectGossip(topic, source, "signed message under StrictNoSign");
    const frame = parseGossipFrame(msg.data);
    if (typeof frame === "string") return this.rejectGossip(topic, source, frame);
    if (frame.payload.length > this.ctx.opts.gossipMessageBytesMax)
      return this.rejectGossip(topic, source, "oversized");
    const delivery = await this.deliver(topic, from, frame.payload);
    if (delivery.verdict === "reject") return this.rejectGossip(topic, source, delivery.reason);
    return delivery.verdict === "accept" ? TopicValidatorResult.Accept : TopicValidatorResult.Ignore;
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
        this.ctx.log.debug({ topic, ...err.toLog() }, "gossip handler verdict");
        return err.action;
      }
      if (err instanceof ConsortError) {
        this.ctx.log.debug({ topic, ...err.toLog() }, "gossip handler refused the message");
        return "reject";
      }
      // Not a typed error: a bug on our side; do not blame the peer.
      this.ctx.log.error({ topic, err: errorMessage(err) }, "gossip handler failed");
      return "ignore";
    }
  }
}
