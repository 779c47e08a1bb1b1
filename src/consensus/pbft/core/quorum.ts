/**
 * Quorum math over weighted validators (FISCO BCOS 3.x PBFTConfig::updateQuorum):
 * W = total weight, f = floor((W - 1) / 3), quorum = W - f. With n equal weights n = 3f + 1 → quorum 2f + 1.
 */
import type { NodeId, ValidatorInfo } from "../../../types/index.js";
import { toHex } from "./bytes.js";

export function totalWeight(validators: readonly ValidatorInfo[]): number {
  let w = 0;
  for (const v of validators) w += v.weight;
  return w;
}

/** The largest total weight of faulty validators tolerated. */
export function maxFaultyWeight(total: number): number {
  if (total <= 0) return 0;
  return Math.floor((total - 1) / 3);
}

/** Weight needed for a quorum (Prepare, Commit, ViewChange). */
export function quorumWeight(total: number): number {
  return total - maxFaultyWeight(total);
}

/** Weight that surely includes one honest validator (f + 1): the threshold to join a higher view. */
export function honestWeight(total: number): number {
  return maxFaultyWeight(total) + 1;
}

/** Index into the validator list of the leader of (height, view). */
export function leaderIndex(
  height: number,
  view: number,
  leaderPeriod: number,
  validatorCount: number,
): number {
  if (validatorCount <= 0) return -1;
  return (Math.floor(height / leaderPeriod) + view) % validatorCount;
}

/** A validator set with O(1) lookups; immutable. */
export class ValidatorSet {
  readonly list: readonly ValidatorInfo[];
  readonly total: number;
  readonly quorum: number;
  readonly honest: number;
  private readonly weights: Map<string, number>;

  constructor(validators: readonly ValidatorInfo[]) {
    this.list = validators.map((v) => ({ nodeId: v.nodeId, weight: v.weight }));
    this.weights = new Map();
    for (const v of this.list) if (v.weight > 0) this.weights.set(toHex(v.nodeId), v.weight);
    this.total = totalWeight(this.list.filter((v) => v.weight > 0));
    this.quorum = quorumWeight(this.total);
    this.honest = honestWeight(this.total);
  }

  weightOf(nodeId: NodeId): number {
    return this.weights.get(toHex(nodeId)) ?? 0;
  }

  weightOfKey(key: string): number {
    return this.weights.get(key) ?? 0;
  }

  has(nodeId: NodeId): boolean {
    return this.weightOf(nodeId) > 0;
  }

  leader(height: number, view: number, leaderPeriod: number): NodeId | null {
    const i = leaderIndex(height, view, leaderPeriod, this.list.length);
    return this.list[i]?.nodeId ?? null;
  }

  /** Sum of weights of distinct keys (hex node ids). */
  weightOfKeys(keys: Iterable<string>): number {
    let w = 0;
    for (const k of keys) w += this.weightOfKey(k);
    return w;
  }
}
