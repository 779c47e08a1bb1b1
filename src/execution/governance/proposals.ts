import type { Address, NodeId } from "../../types/index.js";
import { bytesToHex } from "../../util/hex.js";
import { CONSENSUS_NODES_KEY, encodeNodeList, NodeType } from "../stateLayout.js";
import {
  applyNodeChange,
  checkSystemConfigChange,
  NODE_WEIGHT_MAX,
  readNodeEntries,
  writeSystemConfig,
} from "../systemContracts.js";
import { ProposalKind } from "./abi.js";
import type { Change } from "./change.js";
import { Access, AclMode, Status } from "./layout.js";
import { livenessWindowBlocks, liveSet, observerFirstRefusal, quorumRefusal } from "./nodeSafety.js";
import {
  type GovStore,
  governorWeight,
  hasCode,
  readAccountStatus,
  readCommittee,
  readContractStatus,
  writeAccountStatus,
  writeCommittee,
  writeContractAdmin,
  writeContractStatus,
  writeDeployAccess,
  writeDeployMode,
} from "./store.js";

/** Bounds of the committee (a proposal that would leave them is refused). */
export const GOVERNOR_COUNT_MAX = 100;
export const GOVERNOR_WEIGHT_MAX = 1000;

export { type Change, decodeChange, describeChange, encodeChangeArgs } from "./change.js";

/** What executing a change needs of the block. */
export interface ChangeContext {
  store: GovStore;
  blockNumber: number;
  /** Proposers of the last `count` blocks (liveness evidence); absent = every current sealer counts as live. */
  recentProposers?: (count: number) => Promise<NodeId[]>;
}

/**
 * Checks `c` against the current state and, when `write`, applies it. Called when a proposal is created (to refuse
 * bad ones at once) and again when its votes pass (the state may have changed since). null = ok; else the reason.
 */
export async function checkOrApply(ctx: ChangeContext, c: Change, write: boolean): Promise<string | null> {
  const { store, blockNumber } = ctx;
  switch (c.kind) {
    case ProposalKind.SetSysConfig: {
      if (!write) return checkSystemConfigChange(store.get, blockNumber, c.key, c.value);
      return writeSystemConfig(store, blockNumber, c.key, c.value);
    }
    case ProposalKind.AddObserver:
    case ProposalKind.RemoveNode:
    case ProposalKind.AddSealer:
    case ProposalKind.SetWeight:
      return nodeChange(ctx, c, write);
    case ProposalKind.UpdateGovernor: {
      if (!Number.isInteger(c.weight) || c.weight < 0 || c.weight > GOVERNOR_WEIGHT_MAX) {
        return `governor weight must be between 0 (remove) and ${GOVERNOR_WEIGHT_MAX}`;
      }
      const committee = await readCommittee(store.get);
      const h = bytesToHex(c.account);
      const others = committee.governors.filter((g) => bytesToHex(g.address) !== h);
      if (c.weight === 0 && others.length === committee.governors.length) return `${h} is not a governor`;
      if (c.weight === 0 && others.length === 0) return "the last governor cannot be removed";
      if (c.weight > 0 && others.length >= GOVERNOR_COUNT_MAX)
        return `the committee is full (${GOVERNOR_COUNT_MAX})`;
      if (c.weight > 0 && (await readAccountStatus(store.get, c.account)) !== Status.Normal) {
        return `${h} is frozen or abolished and cannot be a governor`;
      }
      if (!write) return null;
      const governors =
        c.weight === 0
          ? others
          : governorWeight(committee, c.account) > 0
            ? committee.governors.map((g) => (bytesToHex(g.address) === h ? { ...g, weight: c.weight } : g))
            : [...committee.governors, { address: c.account, weight: c.weight }];
      writeCommittee(store, { ...committee, governors });
      return null;
    }
    case ProposalKind.SetRate: {
      const ok = (x: number) => Number.isInteger(x) && x >= 0 && x <= 100;
      if (!ok(c.participationPct) || !ok(c.winPct)) return "rates are percentages from 0 to 100";
      if (!write) return null;
      const committee = await readCommittee(store.get);
      writeCommittee(store, { ...committee, participationPct: c.participationPct, winPct: c.winPct });
      return null;
    }
    case ProposalKind.SetDeployAuthType: {
      if (c.mode !== AclMode.Open && c.mode !== AclMode.AllowList && c.mode !== AclMode.DenyList) {
        return "deploy ACL mode must be 0 (open), 1 (allow-list) or 2 (deny-list)";
      }
      if (write) writeDeployMode(store, c.mode);
      return null;
    }
    case ProposalKind.ModifyDeployAuth:
      if (write) writeDeployAccess(store, c.account, c.open ? Access.Open : Access.Closed);
      return null;
    case ProposalKind.ResetAdmin:
      if (!(await hasCode(store.get, c.contract))) return `${bytesToHex(c.contract)} is not a contract`;
      if (write) writeContractAdmin(store, c.contract, c.admin);
      return null;
    case ProposalKind.SetAccountStatus:
    case ProposalKind.SetContractStatus:
      return statusChange(ctx, c, write);
  }
}

async function statusChange(
  ctx: ChangeContext,
  c: Extract<Change, { address: Address }>,
  write: boolean,
): Promise<string | null> {
  const { store } = ctx;
  const isAccount = c.kind === ProposalKind.SetAccountStatus;
  const what = isAccount ? "account" : "contract";
  const h = bytesToHex(c.address);
  if (c.status !== Status.Normal && c.status !== Status.Frozen && c.status !== Status.Abolished) {
    return "status must be 0 (normal), 1 (frozen) or 2 (abolished)";
  }
  const current = isAccount
    ? await readAccountStatus(store.get, c.address)
    : await readContractStatus(store.get, c.address);
  if (current === Status.Abolished) return `${what} ${h} is abolished: that is final`;
  if (current === c.status) return `${what} ${h} is already ${["normal", "frozen", "abolished"][c.status]}`;
  if (
    isAccount &&
    c.status !== Status.Normal &&
    governorWeight(await readCommittee(store.get), c.address) > 0
  ) {
    return `${h} is a governor: remove it from the committee before freezing it (a frozen governor could not vote)`;
  }
  if (!isAccount && !(await hasCode(store.get, c.address))) return `${h} is not a contract`;
  if (!write) return null;
  if (isAccount) writeAccountStatus(store, c.address, c.status);
  else writeContractStatus(store, c.address, c.status);
  return null;
}

async function nodeChange(
  ctx: ChangeContext,
  c: Extract<Change, { nodeId: NodeId }>,
  write: boolean,
): Promise<string | null> {
  const { store, blockNumber } = ctx;
  if (c.nodeId.length !== 32) return "nodeId must be 0x + 64 hex digits (Ed25519 public key)";
  const entries = await readNodeEntries(store.get);
  let op: "addSealer" | "addObserver" | "remove" | "setWeight";
  let type: NodeType;
  let weight = 0;
  switch (c.kind) {
    case ProposalKind.AddObserver:
      op = "addObserver";
      type = NodeType.Observer;
      break;
    case ProposalKind.RemoveNode:
      op = "remove";
      type = NodeType.None;
      break;
    default:
      if (!Number.isInteger(c.weight) || c.weight < 1 || c.weight > NODE_WEIGHT_MAX) {
        return `weight must be between 1 and ${NODE_WEIGHT_MAX}`;
      }
      op = c.kind === ProposalKind.AddSealer ? "addSealer" : "setWeight";
      type = NodeType.Sealer;
      weight = c.weight;
  }
  if (op === "addObserver") {
    const existing = entries.find((e) => bytesToHex(e.nodeId) === bytesToHex(c.nodeId));
    if (existing !== undefined && existing.type === NodeType.Sealer) {
      return `node ${bytesToHex(c.nodeId)} is a sealer: demoting it is a remove-node proposal`;
    }
  }
  if (op === "addSealer") {
    const refusal = observerFirstRefusal(entries, blockNumber, c.nodeId);
    if (refusal !== null) return refusal;
  }
  const after = applyNodeChange(entries, blockNumber, { nodeId: c.nodeId, type, weight, op });
  if (typeof after === "string") return after;
  const wasSealer = entries.some(
    (e) => bytesToHex(e.nodeId) === bytesToHex(c.nodeId) && e.type === NodeType.Sealer,
  );
  if (op === "addSealer" || op === "setWeight" || (op === "remove" && wasSealer)) {
    const sealerCount = entries.filter((e) => e.type === NodeType.Sealer).length;
    const proposers =
      ctx.recentProposers === undefined ? null : await ctx.recentProposers(livenessWindowBlocks(sealerCount));
    const refusal = quorumRefusal(after, blockNumber, liveSet(entries, blockNumber, proposers));
    if (refusal !== null) return refusal;
  }
  if (write) store.put(CONSENSUS_NODES_KEY, encodeNodeList(after));
  return null;
}
