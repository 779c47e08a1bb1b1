/**
 * View change: abandoning a view (timeout, equivocation, bad block), collecting ViewChanges, joining a higher
 * view backed by f + 1 weight, the new leader's NewView (re-proposing the highest prepared block), and checking
 * and entering a NewView.
 */
import { equalBytes, toHex } from "./bytes.js";
import { verifyPreparedCertificate } from "./certificate.js";
import { newViewDigest, viewChangeDigest } from "./digest.js";
import { highestPrepared, Round } from "./round.js";
import { sign, signPrePrepare, signViewChange, verifySignature } from "./signing.js";
import {
  acceptPrePrepare,
  broadcast,
  type CoreState,
  isLeader,
  isValidator,
  maybeRequestProposal,
  noVotes,
  OLD_VIEW_COMMITS_KEPT,
  reject,
  VERIFIED_CACHE_MAX,
} from "./state.js";
import type { NewView, PreparedCertificate, RejectReason, ViewChange, ViewChangeCause } from "./types.js";

export function timeoutTicks(s: CoreState, view: number): number {
  return s.cfg.viewTimeoutTicks * 2 ** Math.min(view, s.cfg.viewTimeoutDoublingsMax);
}

/** Abandon the current view: vote for `toView`, carrying our highest prepared certificate. */
export function startViewChange(s: CoreState, toView: number, cause: ViewChangeCause): void {
  if (!isValidator(s) || toView <= s.view) return;
  s.view = toView;
  s.viewChanging = true;
  s.viewChangeQuorumSeen = false;
  s.votes = noVotes();
  s.round = new Round(s.height, toView);
  s.requiredHash = null;
  s.newViewMsg = null;
  s.proposalRequested = false;
  s.ticksInView = 0;
  s.dirty = true;
  s.counters.viewChanges++;
  s.out.viewChangeStarted = { height: s.height, toView, cause };
  s.viewChanges.pruneBelow(toView);
  s.commits.pruneBelow(toView - OLD_VIEW_COMMITS_KEPT);
  const vc = signViewChange(s, toView);
  s.viewChanges.add(s.self, vc);
  broadcast(s, vc);
  checkViewChangeQuorum(s, toView);
}

export function stepViewChange(s: CoreState, msg: ViewChange, senderKey: string): void {
  if (s.viewChanges.has(senderKey, msg.toView)) {
    reject(s, "DUPLICATE", msg);
    return;
  }
  const bad = checkViewChange(s, msg);
  if (bad !== null) {
    reject(s, bad, msg);
    return;
  }
  s.viewChanges.add(senderKey, msg);
  if (joinHigherView(s)) return;
  checkViewChangeQuorum(s, msg.toView);
}

/** Signature and prepared certificate of a ViewChange, verified once (cached). */
function checkViewChange(s: CoreState, vc: ViewChange): RejectReason | null {
  if (vc.height !== s.height) return "BAD_NEW_VIEW";
  const digest = viewChangeDigest(s.hash, vc);
  const key = `${toHex(digest)}${toHex(vc.signature)}`;
  if (s.verified.has(key)) return null;
  if (!s.deps.crypto.verify(vc.sender, digest, vc.signature)) return "BAD_SIGNATURE";
  const p = vc.prepared;
  if (p !== null) {
    if (p.view >= vc.toView) return "BAD_CERTIFICATE";
    if (!verifyPreparedCertificate(p, s.height, s.validators, s.deps.crypto).ok) return "BAD_CERTIFICATE";
  }
  if (s.verified.size >= VERIFIED_CACHE_MAX) s.verified.clear();
  s.verified.add(key);
  return null;
}

/** f + 1 weight asks for views above ours: at least one honest node did, so join the lowest of them. */
function joinHigherView(s: CoreState): boolean {
  const above = s.viewChanges.highestAbove(s.view, s.self);
  if (s.validators.weightOfKeys(above.keys()) < s.validators.honest) return false;
  let target = Number.POSITIVE_INFINITY;
  for (const v of above.values()) target = Math.min(target, v);
  startViewChange(s, target, "joinHigherView");
  return true;
}

function checkViewChangeQuorum(s: CoreState, toView: number): void {
  if (!s.viewChanging || toView < s.view) return;
  // Timer rule: start counting once a quorum gave up on the views below ours (ViewChanges for >= our view).
  const gaveUp = s.validators.weightOfKeys(s.viewChanges.sendersAtOrAbove(s.view));
  if (!s.viewChangeQuorumSeen && gaveUp >= s.validators.quorum) {
    s.viewChangeQuorumSeen = true;
    s.ticksInView = 0;
  }
  if (toView !== s.view || !isLeader(s)) return;
  const vcs = s.viewChanges.forView(toView);
  const weight = s.validators.weightOfKeys(vcs.map((vc) => toHex(vc.sender)));
  if (weight < s.validators.quorum) return;
  const nvFields = { height: s.height, view: toView, viewChanges: vcs, sender: s.cfg.nodeId };
  const nv: NewView = {
    type: "newView",
    ...nvFields,
    signature: sign(s, newViewDigest(s.hash, nvFields)),
  };
  broadcast(s, nv);
  const selected = highestPrepared(vcs);
  enterView(s, nv, selected);
  if (selected) reProposePrepared(s, selected);
  else maybeRequestProposal(s);
}

/** The new leader proposes again the highest prepared block: it must be executed here too. */
function reProposePrepared(s: CoreState, p: PreparedCertificate): void {
  const pp = signPrePrepare(s, p.blockHash, p.payload);
  broadcast(s, pp);
  acceptPrePrepare(s, pp);
}

/** Checks and enters a NewView; true = entered (the caller then replays the buffered messages). */
export function stepNewView(s: CoreState, msg: NewView): boolean {
  const leader = s.validators.leader(s.height, msg.view, s.cfg.leaderPeriod);
  if (leader === null || !equalBytes(leader, msg.sender)) {
    reject(s, "WRONG_LEADER", msg);
    return false;
  }
  if (!verifySignature(s, msg)) {
    reject(s, "BAD_SIGNATURE", msg);
    return false;
  }
  const bad = checkNewViewProof(s, msg);
  if (bad !== null) {
    reject(s, bad, msg);
    return false;
  }
  enterView(s, msg, highestPrepared(msg.viewChanges));
  return true;
}

function checkNewViewProof(s: CoreState, msg: NewView): RejectReason | null {
  if (msg.viewChanges.length > s.validators.list.length) return "BAD_NEW_VIEW";
  const signers = new Set<string>();
  for (const vc of msg.viewChanges) {
    const key = toHex(vc.sender);
    if (vc.toView !== msg.view || signers.has(key) || s.validators.weightOfKey(key) === 0)
      return "BAD_NEW_VIEW";
    const bad = checkViewChange(s, vc);
    if (bad !== null) return bad;
    signers.add(key);
  }
  return s.validators.weightOfKeys(signers) >= s.validators.quorum ? null : "BAD_NEW_VIEW";
}

function enterView(s: CoreState, nv: NewView, selected: PreparedCertificate | null): void {
  if (nv.view !== s.view) s.votes = noVotes();
  s.view = nv.view;
  s.viewChanging = false;
  s.round = new Round(s.height, nv.view);
  s.requiredHash = selected?.blockHash ?? null;
  s.newViewMsg = nv;
  s.proposalRequested = false;
  s.ticksInView = 0;
  s.dirty = true;
  s.viewChanges.pruneBelow(nv.view + 1);
  s.commits.pruneBelow(nv.view - OLD_VIEW_COMMITS_KEPT);
}
