/**
 * Pipelining, a window of two heights (PROTOCOL.md, "Pipelining"): while height h is in its Prepare and Commit
 * rounds, the leader of (h + 1, view 0) builds h + 1 on top of the block it executed valid at h and proposes it,
 * and every node executes that proposal on top of its own executed block of h. Nobody votes on h + 1 before h
 * commits: when the core moves to h + 1 it adopts the early proposal (and its execution, when it was executed on
 * the block that was decided), or steps it again as a plain PrePrepare. The only new signature is the leader's
 * PrePrepare for (h + 1, 0), persisted (HardState.nextPrePrepareVote) before it is sent.
 */
import type { Hash, NodeId } from "../../../types/index.js";
import { equalBytes, toHex } from "./bytes.js";
import { signNextPrePrepare, verifySignature } from "./signing.js";
import {
  broadcast,
  type CoreState,
  EVIDENCE_MAX,
  isValidator,
  type NextProposal,
  reject,
  rejectEvent,
} from "./state.js";
import type { PbftEvent, PrePrepare } from "./types.js";

/** The block this node executed valid at the current height, when h + 1 may be built on it; else null. */
function pipelineParent(s: CoreState): Hash | null {
  const round = s.round;
  if (!s.cfg.pipeline || s.viewChanging || round.prePrepare === null || round.execution !== "valid")
    return null;
  // A block that changes the validator set: h + 1 has another leader and quorum; wait for the commit.
  if (round.nextValidators !== null) return null;
  return round.prePrepare.blockHash;
}

function isNextLeader(s: CoreState, sender: NodeId | string): boolean {
  const leader = s.validators.leader(s.height + 1, 0, s.cfg.leaderPeriod);
  if (leader === null) return false;
  return typeof sender === "string" ? toHex(leader) === sender : equalBytes(leader, sender);
}

/**
 * Called whenever the current round's block became valid: the leader of (h + 1, 0) asks for its proposal now,
 * and an early PrePrepare already received goes out for execution.
 */
export function onCurrentBlockValid(s: CoreState): void {
  maybeRequestNextProposal(s);
  maybeExecuteNext(s);
}

function maybeRequestNextProposal(s: CoreState): void {
  const parentHash = pipelineParent(s);
  if (parentHash === null || !isValidator(s) || !isNextLeader(s, s.self)) return;
  if (s.nextRequestParent !== null || s.nextVote !== null || s.next !== null) return;
  // One proposal request per Ready: the current height's own request (if any) goes first.
  if (s.out.requestProposal !== null) return;
  s.nextRequestParent = parentHash;
  s.out.requestProposal = { height: s.height + 1, view: 0, parentHash };
}

function maybeExecuteNext(s: CoreState): void {
  const next = s.next;
  const parentHash = pipelineParent(s);
  if (next === null || parentHash === null) return;
  if (next.parentHash !== null && equalBytes(next.parentHash, parentHash)) return;
  next.parentHash = parentHash;
  next.execution = "pending";
  next.nextValidators = null;
  s.out.execute.push({
    height: next.prePrepare.height,
    view: 0,
    parentHash,
    blockHash: next.prePrepare.blockHash,
    payload: next.prePrepare.payload,
  });
}

/**
 * A PrePrepare for (h + 1, 0) while at h. Returns false when pipelining does not take it (the caller buffers it
 * as a future message, as without pipelining).
 */
export function stepNextPrePrepare(s: CoreState, from: NodeId, msg: PrePrepare): boolean {
  if (!s.cfg.pipeline || msg.height !== s.height + 1 || msg.view !== 0) return false;
  // The leader is checked against the set in force now; a set changed by block h is checked again on adoption.
  if (!isNextLeader(s, msg.sender)) return false;
  const known = s.next?.prePrepare ?? null;
  if (known !== null && equalBytes(known.blockHash, msg.blockHash)) {
    reject(s, "DUPLICATE", msg);
    return true;
  }
  if (!verifySignature(s, msg)) {
    reject(s, "BAD_SIGNATURE", msg);
    return true;
  }
  if (known !== null && s.next !== null) {
    if (s.out.evidence.length < EVIDENCE_MAX) s.out.evidence.push([known, msg]);
    s.next.equivocated = true;
    reject(s, "EQUIVOCATION", msg);
    return true;
  }
  s.next = {
    from,
    prePrepare: msg,
    parentHash: null,
    execution: "none",
    nextValidators: null,
    equivocated: false,
  };
  maybeExecuteNext(s);
  return true;
}

/** This node's own early proposal (answer to a requestProposal for h + 1). */
export function stepNextProposal(s: CoreState, ev: Extract<PbftEvent, { type: "proposal" }>): void {
  const requested = s.nextRequestParent !== null;
  s.nextRequestParent = null;
  const parentHash = pipelineParent(s);
  const fresh =
    requested &&
    parentHash !== null &&
    ev.parentHash !== undefined &&
    equalBytes(ev.parentHash, parentHash) &&
    s.nextVote === null &&
    s.next === null &&
    isNextLeader(s, s.self);
  if (!fresh) {
    rejectEvent(s, "STALE_EVENT", { type: ev.type, height: ev.height, view: 0 });
    return;
  }
  const pp = signNextPrePrepare(s, ev.blockHash, ev.payload);
  s.nextVote = ev.blockHash;
  s.dirty = true;
  s.next = {
    from: s.cfg.nodeId,
    prePrepare: pp,
    parentHash,
    execution: "valid",
    nextValidators: ev.nextValidators ?? null,
    equivocated: false,
  };
  broadcast(s, pp);
}

/** The answer to an early execution of h + 1. */
export function stepNextExecuted(s: CoreState, ev: Extract<PbftEvent, { type: "blockExecuted" }>): void {
  const next = s.next;
  const matches =
    next !== null &&
    next.execution === "pending" &&
    next.parentHash !== null &&
    ev.parentHash !== undefined &&
    equalBytes(next.parentHash, ev.parentHash) &&
    equalBytes(next.prePrepare.blockHash, ev.blockHash);
  if (!matches) {
    rejectEvent(s, "STALE_EVENT", { type: ev.type, height: ev.height, view: 0 });
    return;
  }
  next.execution = ev.valid ? "valid" : "invalid";
  next.nextValidators = ev.nextValidators ?? null;
}

/** What the core at the new height does with the early proposal (see adoptNext in pbftCore.ts). */
export interface NextAtNewHeight {
  /** Adopt it: its PrePrepare, and its execution when that ran on the decided block. */
  adopt: NextProposal | null;
  /** Step it again as a plain message (wrong parent, changed validator set, leader no longer right). */
  restep: { from: NodeId; msg: PrePrepare } | null;
}

/**
 * Takes the pipelining state of the old height when block `decidedHash` was decided (the core has already moved
 * to the new height and its validator set). Leaves s.next, s.nextVote and s.nextRequestParent cleared.
 */
export function takeNext(s: CoreState, decidedHash: Hash, validatorsChanged: boolean): NextAtNewHeight {
  const next = s.next;
  const nextVote = s.nextVote;
  const requestParent = s.nextRequestParent;
  s.next = null;
  s.nextVote = null;
  s.nextRequestParent = null;
  if (nextVote !== null) {
    // Signed as leader of (height, 0): this node proposes nothing else there, whatever happens below.
    s.votes.prePrepare = nextVote;
    s.proposalRequested = true;
  } else if (requestParent !== null && equalBytes(requestParent, decidedHash) && !validatorsChanged) {
    // The answer to the early request is on its way, built on the decided block: no second request.
    s.proposalRequested = true;
  }
  if (next === null) return { adopt: null, restep: null };
  const leader = s.validators.leader(s.height, 0, s.cfg.leaderPeriod);
  const adoptable =
    !validatorsChanged &&
    leader !== null &&
    equalBytes(leader, next.prePrepare.sender) &&
    next.parentHash !== null &&
    equalBytes(next.parentHash, decidedHash);
  if (adoptable) return { adopt: next, restep: null };
  return { adopt: null, restep: { from: next.from, msg: next.prePrepare } };
}
