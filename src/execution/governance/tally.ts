import type { Address } from "../../types/index.js";
import { bytesToHex } from "../../util/hex.js";
import type { Committee } from "./layout.js";

export type Verdict = "passed" | "rejected" | "open";

export interface Tally {
  totalWeight: number;
  votedWeight: number;
  forWeight: number;
  verdict: Verdict;
}

/**
 * Counts votes with the weights of the committee as it is now (a voter no longer on the committee counts 0).
 *   passed:   voted × 100 ≥ participation% × total  and  for × 100 ≥ win% × voted  (and for > 0)
 *   rejected: it cannot pass even if every governor who has not voted votes for:
 *             (for + notVoted) × 100 < win% × total, or for + notVoted = 0
 *   open:     otherwise.
 * Integer arithmetic only (percentages × weights), so every node computes the same verdict.
 */
export function tally(committee: Committee, forVoters: Address[], againstVoters: Address[]): Tally {
  const weights = new Map(committee.governors.map((g) => [bytesToHex(g.address), g.weight]));
  const sum = (list: Address[]) => list.reduce((s, a) => s + (weights.get(bytesToHex(a)) ?? 0), 0);
  const totalWeight = committee.governors.reduce((s, g) => s + g.weight, 0);
  const forWeight = sum(forVoters);
  const votedWeight = forWeight + sum(againstVoters);
  const notVoted = totalWeight - votedWeight;
  let verdict: Verdict = "open";
  if (
    forWeight > 0 &&
    votedWeight * 100 >= committee.participationPct * totalWeight &&
    forWeight * 100 >= committee.winPct * votedWeight
  ) {
    verdict = "passed";
  } else if (forWeight + notVoted === 0 || (forWeight + notVoted) * 100 < committee.winPct * totalWeight) {
    verdict = "rejected";
  }
  return { totalWeight, votedWeight, forWeight, verdict };
}
