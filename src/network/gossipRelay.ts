import { type GossipsubMessage, TopicValidatorResult } from "@libp2p/gossipsub";
import { errorMessage } from "../util/errors.js";
import type { PeerAdmission } from "./admission.js";
import { parseGossipFrame, recipientTag } from "./gossipFrame.js";
import type { TransportContext, TransportNode } from "./transportContext.js";

/**
 * What the relay needs of gossipsub 17.1 beyond its typed interface. `reportMessageValidationResult` and
 * `getMeshPeers` are public methods of the GossipSub class; `mcache.observeDuplicate` is internal (it records a
 * peer that already has a message, so that gossipsub's own forward skips it), and is guarded: without it the
 * relay forwards to every mesh peer, as gossipsub did before (more duplicates, nothing lost). Pinned: package.json
 * names @libp2p/gossipsub 17.1.1 exactly; test/network/gossipRelay.test.ts fails if an upgrade breaks this.
 */
interface RelayPubsub {
  getMeshPeers(topic: string): string[];
  reportMessageValidationResult(
    msgId: string,
    propagationSource: string,
    acceptance: TopicValidatorResult,
  ): void;
  mcache?: { observeDuplicate?: (msgId: string, peer: string) => void };
}

/**
 * Forwards each gossip message our topic validator accepted (gossipsub runs with asyncValidation: nothing is
 * forwarded before this runs) to the mesh peers that do not have it yet: not to the peer it came from, and not to
 * the publisher's direct recipients that the frame names (gossipFrame.ts). In a full mesh of validators that is
 * nobody: each member receives each message once, from its publisher. A member the publisher is not connected to
 * (an observer behind one validator, a broken link) is not named, so every relay next to it forwards as before.
 */
export class GossipRelay {
  constructor(
    private readonly ctx: TransportContext,
    private readonly admission: PeerAdmission,
  ) {}

  /** Listens on a freshly started node (a restart builds a new node: call again). */
  attach(node: TransportNode): void {
    const pubsub = node.services.pubsub as unknown as RelayPubsub;
    node.services.pubsub.addEventListener("gossipsub:message", (evt) => {
      // A listener that throws would be an uncaught exception (EventTarget): a bug here must not stop the node.
      try {
        this.relay(pubsub, evt.detail);
      } catch (err) {
        this.ctx.log.error({ err: errorMessage(err) }, "gossip relay failed");
      }
    });
  }

  private relay(pubsub: RelayPubsub, message: GossipsubMessage): void {
    const source = message.propagationSource.toString();
    const observeDuplicate = pubsub.mcache?.observeDuplicate?.bind(pubsub.mcache);
    const frame = parseGossipFrame(message.msg.data);
    // The topic validator refused malformed frames; this message passed it.
    const hasIt = new Set(typeof frame === "string" ? [] : frame.recipients);
    const counters = this.ctx.counters;
    for (const peer of pubsub.getMeshPeers(message.msg.topic)) {
      if (peer === source) continue;
      const nodeId = this.admission.member(peer);
      if (observeDuplicate !== undefined && nodeId !== undefined && hasIt.has(recipientTag(nodeId))) {
        observeDuplicate(message.msgId, peer);
        counters.gossipForwardsSkipped++;
      } else {
        counters.gossipForwards++;
      }
    }
    pubsub.reportMessageValidationResult(message.msgId, source, TopicValidatorResult.Accept);
  }
}
