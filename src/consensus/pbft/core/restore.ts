/** The hard state: what a core persists (write-ahead) and how a restarted core takes it back. */
import type { Hash } from "../../../types/index.js";
import { assert } from "../../../util/errors.js";
import { Round } from "./round.js";
import { signViewChange, signVote } from "./signing.js";
import { broadcast, type CoreState, isValidator } from "./state.js";
import type { Commit, HardState, Prepare } from "./types.js";

/** What the driver persists before sending (types.ts HardState). */
export function hardStateOf(s: CoreState): HardState {
  return {
    height: s.height,
    view: s.view,
    viewChanging: s.viewChanging,
    prePrepareVote: s.votes.prePrepare,
    prepareVote: s.votes.prepare,
    commitVote: s.votes.commit,
    prepared: s.prepared,
    newViewHash: s.requiredHash,
    nextPrePrepareVote: s.nextVote,
  };
}

/**
 * A hard state with nothing to remember: view 0 of its height, no vote, no lock, no early proposal (what a core
 * holds right after committing the height below). The driver need not save it: a restart that finds the previous
 * height's state instead restores exactly this (restoreHardState: an older state carries over only an early
 * proposal, which a blank state has none of, and restoring one that a later view voided only keeps the node from
 * proposing again at that height and view, the cautious side). Saving it cost one fdatasync per block per node.
 */
export function isBlankHardState(hs: HardState): boolean {
  return (
    hs.view === 0 &&
    !hs.viewChanging &&
    hs.prePrepareVote === null &&
    hs.prepareVote === null &&
    hs.commitVote === null &&
    hs.prepared === null &&
    hs.newViewHash === null &&
    (hs.nextPrePrepareVote ?? null) === null
  );
}

/**
 * Restart: the votes of the persisted hard state at the committed height + 1 (sent again, identical), or only a
 * pipelined early PrePrepare when the node crashed after committing the height the hard state was saved at.
 */
export function restoreHardState(s: CoreState, hs: HardState | null): void {
  if (hs !== null && hs.height === s.height - 1) {
    // Block hs.height committed after the hard state was saved: only a pipelined proposal carries over.
    restoreNextVote(s, hs.nextPrePrepareVote ?? null);
    return;
  }
  if (hs === null || hs.height < s.height) return;
  assert(
    hs.height === s.height,
    "hard state is ahead of the committed height: commits must be durable first",
  );
  s.view = hs.view;
  s.viewChanging = hs.viewChanging;
  s.round = new Round(s.height, s.view);
  s.votes = { prePrepare: hs.prePrepareVote, prepare: hs.prepareVote, commit: hs.commitVote };
  s.prepared = hs.prepared;
  s.requiredHash = hs.newViewHash;
  s.proposalRequested = hs.prePrepareVote !== null;
  s.nextVote = hs.nextPrePrepareVote ?? null;
  if (!isValidator(s)) return;
  const weight = s.validators.weightOfKey(s.self);
  if (s.viewChanging) {
    const vc = signViewChange(s, s.view);
    s.viewChanges.add(s.self, vc);
    broadcast(s, vc);
    return;
  }
  if (s.votes.prepare) {
    const prepare = signVote(s, "prepare", s.votes.prepare) as Prepare;
    s.round.prepares.add(s.self, prepare, weight);
    broadcast(s, prepare);
  }
  if (s.votes.commit) {
    const commit = signVote(s, "commit", s.votes.commit) as Commit;
    s.commits.votes(s.view).add(s.self, commit, weight);
    broadcast(s, commit);
  }
}

/** This node proposed at (height, 0) ahead of time before it crashed: it proposes nothing else there. */
function restoreNextVote(s: CoreState, vote: Hash | null): void {
  if (vote === null) return;
  s.votes.prePrepare = vote;
  s.proposalRequested = true;
  s.dirty = true;
}
