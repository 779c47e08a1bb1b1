import type { NodeId } from "../../types/index.js";
import { bytesToHex } from "../../util/hex.js";
import { NodeType, type StoredNodeEntry } from "../stateLayout.js";

/**
 * Safe validator changes (docs/governance.md, "Safe validator changes"). Pure functions over the stored node list.
 *
 * Liveness evidence is what the chain itself records, so every node decides alike: the proposers of the last
 * `livenessWindowBlocks(sealers)` blocks (the proposer is in each hashed header, and a committed block's proposer
 * took part in committing it). Commit certificates are not used: each node assembles its own certificate from the
 * commits it received first, so two honest nodes may hold different signer sets for one block, and a rule over
 * them would fork the state root.
 */

/** Weight needed for a quorum over total weight `w` (PBFT: w − floor((w − 1) / 3), as consensus/pbft quorum.ts). */
export function quorumWeightOf(total: number): number {
  if (total <= 0) return 0;
  return total - Math.floor((total - 1) / 3);
}

/** How many recent blocks count as liveness evidence: enough for every sealer to have led several times. */
export function livenessWindowBlocks(sealerCount: number): number {
  return Math.min(256, Math.max(8, 4 * sealerCount));
}

function sealersAt(entries: readonly StoredNodeEntry[], atHeight: number): { id: string; weight: number }[] {
  const out: { id: string; weight: number }[] = [];
  for (const e of entries) {
    const current = e.enableNumber <= atHeight;
    const type = current ? e.type : e.prevType;
    if (type === NodeType.Sealer)
      out.push({ id: bytesToHex(e.nodeId), weight: current ? e.weight : e.prevWeight });
  }
  return out;
}

/**
 * A node may become a sealer only when it is an observer in force at `blockNumber` (added in an earlier block):
 * it has been admitted to the network and could sync before it is asked to vote.
 */
export function observerFirstRefusal(
  entries: readonly StoredNodeEntry[],
  blockNumber: number,
  nodeId: NodeId,
): string | null {
  const id = bytesToHex(nodeId);
  const e = entries.find((x) => bytesToHex(x.nodeId) === id);
  const type = e === undefined ? NodeType.None : e.enableNumber <= blockNumber ? e.type : e.prevType;
  if (type === NodeType.Sealer) return `node ${id} is already a sealer`;
  if (type !== NodeType.Observer) {
    return `node ${id} is not an observer: a node becomes a sealer only after it has been an observer (propose add-observer first and let it sync)`;
  }
  return null;
}

/**
 * The quorum rule: with the node list `after` (in force from blockNumber + 1), the sealers seen live (`live`, node
 * IDs as hex) must hold a quorum of the new total weight. null = safe; else the reason.
 */
export function quorumRefusal(
  after: readonly StoredNodeEntry[],
  blockNumber: number,
  live: ReadonlySet<string>,
): string | null {
  const sealers = sealersAt(after, blockNumber + 1);
  if (sealers.length === 0) return "the last sealer cannot be removed";
  const total = sealers.reduce((s, x) => s + x.weight, 0);
  const quorum = quorumWeightOf(total);
  const liveWeight = sealers.filter((s) => live.has(s.id)).reduce((s, x) => s + x.weight, 0);
  if (liveWeight >= quorum) return null;
  return `quorum unreachable: after this change the sealers' total weight is ${total} and a commit needs ${quorum}, but the sealers that proposed recent blocks hold only ${liveWeight}`;
}

/** The live set: recent proposers that are sealers now; without evidence (no context) every current sealer. */
export function liveSet(
  entries: readonly StoredNodeEntry[],
  blockNumber: number,
  recentProposers: readonly NodeId[] | null,
): Set<string> {
  const current = sealersAt(entries, blockNumber).map((s) => s.id);
  if (recentProposers === null) return new Set(current);
  const seen = new Set(recentProposers.map((p) => bytesToHex(p)));
  return new Set(current.filter((id) => seen.has(id)));
}
