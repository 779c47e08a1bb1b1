/**
 * The check a PBFT message passes before the network delivers it to consensus or relays it (gossipsub's topic
 * validation): well-formed, at a height within a window of ours, from a validator of that height, and signed by
 * that validator. A peer that relays a forged or foreign message is penalized by the network; an honest peer never
 * relays one, since it runs this same check first.
 *
 * Only the validator set in force at our next height is known here (the head's). A message for another height from
 * a node outside that set cannot be judged (a validator change may be in between): it reaches the core, which
 * checks it when it gets there, but is not relayed. Nor is a validator's message far ahead of our height: it only
 * tells consensus that this node is behind. Messages older than the window are dropped.
 */
import type { GossipCheck, GossipValidator } from "../../network/index.js";
import type { NodeId } from "../../types/index.js";
import { errorMessage } from "../../util/errors.js";
import { type HashFn, messageDigest } from "./core/digest.js";
import { decodePbftMessage } from "./wire.js";

/** What the check needs to know of the chain: narrow, given by the composition root. */
export interface ConsensusGossipView {
  /** Height of the last committed block: consensus runs at committedHeight() + 1. */
  committedHeight(): number;
  /** True if the node is a validator (sealer) at committedHeight() + 1. */
  isValidator(nodeId: NodeId): boolean;
}

export interface ConsensusGossipCheckOptions {
  /** Messages up to this many heights above our next height pass (the core buffers them; theirs is the same). */
  futureHeightWindow: number;
  /** Messages up to this many heights below our next height pass (the core helps a peer one height behind). */
  pastHeightWindow: number;
}

export interface ConsensusGossipCheckDeps {
  view: ConsensusGossipView;
  hash: HashFn;
  verify(nodeId: NodeId, digest: Uint8Array, signature: Uint8Array): boolean;
}

const accept: GossipCheck = { verdict: "accept", reason: "" };

export function consensusGossipCheck(
  opts: ConsensusGossipCheckOptions,
  deps: ConsensusGossipCheckDeps,
): GossipValidator {
  return (_from, data) => {
    let msg: ReturnType<typeof decodePbftMessage>;
    try {
      msg = decodePbftMessage(data);
    } catch (err) {
      return { verdict: "reject", reason: `malformed: ${errorMessage(err)}` };
    }
    const next = deps.view.committedHeight() + 1;
    if (msg.height < next - opts.pastHeightWindow) {
      return { verdict: "ignore", reason: `height ${msg.height} too old (we are at ${next})` };
    }
    if (!deps.view.isValidator(msg.sender)) {
      return msg.height === next
        ? { verdict: "reject", reason: `${msg.type} from a non-validator at height ${msg.height}` }
        : { verdict: "hold", reason: `${msg.type} at height ${msg.height}: validator set unknown here` };
    }
    if (!deps.verify(msg.sender, messageDigest(deps.hash, msg), msg.signature)) {
      return { verdict: "reject", reason: `${msg.type} with a bad signature at height ${msg.height}` };
    }
    if (msg.height > next + opts.futureHeightWindow) {
      // Far ahead: not worth relaying, but it tells consensus that this node is behind (it asks sync to fetch).
      return { verdict: "hold", reason: `height ${msg.height} too far ahead of ${next}` };
    }
    return accept;
  };
}
