import type { Readiness } from "./interface.js";

/** How /ready's reason for a node on neither list begins (`npm start` stops waiting for such a node). */
export const NOT_ON_NODE_LIST_REASON = "not on the node list";

export interface ReadinessInput {
  height: number;
  /** Highest head any peer reported (0 if none yet). */
  bestKnownHeight: number;
  /** A peer reported its head since this process started: before that, "in sync" cannot be known. */
  peerHeadKnown: boolean;
  /** Other members are in the node list (a lone validator has nobody to sync from and is in sync by definition). */
  hasOtherMembers: boolean;
  /** Total sealer weight, and the weight this node reaches: its own if it is a sealer, plus connected sealers. */
  validatorWeightTotal: number;
  reachableValidatorWeight: number;
  /** Weight of a PBFT quorum (total - f). */
  quorumWeight: number;
  /** Lag tolerated while the chain moves (a peer may be one commit ahead for a moment). */
  lagBlocksMax: number;
  /** Answers from peers whose genesis is not this node's (block sync ignores them); 0 when absent. */
  otherGenesisAnswers?: number;
  /** This node is a sealer or an observer at its head (absent: yes). Members refuse a node that is neither. */
  onNodeList?: boolean;
}

/**
 * Ready = synced to the best known height AND connected to enough validators, where "enough" is a PBFT quorum of
 * sealer weight (counting this node's own weight if it is a sealer): with fewer, this node can neither help commit
 * nor be sure it sees the chain's head. Pure: the metrics server calls it on every /ready and scrape.
 */
export function computeReadiness(i: ReadinessInput): Readiness {
  const reasons: string[] = [];
  if (i.onNodeList === false) {
    reasons.push(
      `${NOT_ON_NODE_LIST_REASON} at block ${i.height}: members refuse this node until the committee adds it (add-observer)`,
    );
  }
  if (i.hasOtherMembers && !i.peerHeadKnown) {
    reasons.push(
      (i.otherGenesisAnswers ?? 0) > 0
        ? "no peer on this chain has reported its head yet: peers answered with another genesis (see the log)"
        : "no peer has reported its head yet",
    );
  }
  const lag = i.bestKnownHeight - i.height;
  if (lag > i.lagBlocksMax) {
    reasons.push(
      `behind: at block ${i.height}, best known ${i.bestKnownHeight} (lag ${lag} > ${i.lagBlocksMax})`,
    );
  }
  if (i.reachableValidatorWeight < i.quorumWeight) {
    reasons.push(
      `validators reachable: weight ${i.reachableValidatorWeight} of ${i.validatorWeightTotal}, a quorum needs ${i.quorumWeight}`,
    );
  }
  return {
    ready: reasons.length === 0,
    reasons,
    height: i.height,
    bestKnownHeight: Math.max(i.height, i.bestKnownHeight),
    reachableValidatorWeight: i.reachableValidatorWeight,
    quorumWeight: i.quorumWeight,
  };
}
