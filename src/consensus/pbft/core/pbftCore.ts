/**
 * The pure PBFT core (etcd raft RawNode style): step(event) / tick() in, ready() out, advance(ready).
 * No I/O, no timers, no randomness: the same inputs give the same outputs. See types.ts `Ready` for the
 * ordering contract the driver must follow (commits, then persist, then send).
 *
 * One height at a time. The view restarts at 0 on every height; leader = (floor(height / leaderPeriod) + view)
 * mod n over the validator list. Phases: PrePrepare → (execute) → Prepare quorum = prepared → Commit quorum.
 */
import type { CommitCertificate, Hash, NodeId, ValidatorInfo } from "../../../types/index.js";
import { assert } from "../../../util/errors.js";
import { equalBytes, toHex, unreachable } from "./bytes.js";
import { verifyPreparedCertificate } from "./certificate.js";
import {
  commitDigest,
  messageDigest,
  newViewDigest,
  prePrepareDigest,
  prepareDigest,
  viewChangeDigest,
} from "./digest.js";
import { ValidatorSet } from "./quorum.js";
import {
  CommitStore,
  highestPrepared,
  Round,
  type Tally,
  type ValidBlock,
  ViewChangeStore,
} from "./round.js";
import type {
  Commit,
  HardState,
  NewView,
  PbftConfig,
  PbftDeps,
  PbftEvent,
  PbftMessage,
  PbftStart,
  PrePrepare,
  Prepare,
  PreparedCertificate,
  Ready,
  RejectReason,
  ViewChange,
  ViewChangeCause,
} from "./types.js";
import { checkMessageShape } from "./validate.js";

interface Buffered {
  from: NodeId;
  msg: PbftMessage;
}

interface Votes {
  prePrepare: Hash | null;
  prepare: Hash | null;
  commit: Hash | null;
}

const VERIFIED_CACHE_MAX = 4096;
/** Commit tallies kept for views below the current one (a quorum in an old view still decides). */
const OLD_VIEW_COMMITS_KEPT = 8;
const EVIDENCE_MAX = 16;
const HELPED_MAX = 256;

function emptyReady(): Ready {
  return {
    commits: [],
    persist: null,
    messages: [],
    execute: [],
    requestProposal: null,
    fetchBlocks: null,
    viewChangeStarted: null,
    rejections: [],
    evidence: [],
  };
}

function noVotes(): Votes {
  return { prePrepare: null, prepare: null, commit: null };
}

function messageView(msg: PbftMessage): number {
  return msg.type === "viewChange" ? msg.toView : msg.view;
}

/** Counters for metrics and tests. */
export interface PbftCounters {
  futureDropped: number;
  rejected: number;
  viewChanges: number;
  commits: number;
}

export class PbftCore {
  private readonly cfg: PbftConfig;
  private readonly deps: PbftDeps;
  private readonly self: string;
  private readonly hash: (b: Uint8Array) => Uint8Array;

  private height: number;
  private parentHash: Hash;
  private validators: ValidatorSet;
  private view = 0;
  private viewChanging = false;
  private votes: Votes = noVotes();
  private prepared: PreparedCertificate | null = null;
  private round: Round;
  private requiredHash: Hash | null = null;
  private newViewMsg: NewView | null = null;
  private readonly viewChanges = new ViewChangeStore(4);
  private readonly commits = new CommitStore();
  private readonly validBlocks = new Map<string, ValidBlock>();
  private proposalRequested = false;
  private viewChangeQuorumSeen = false;
  private ticksInView = 0;
  private now = 0;
  private lastFetchTick = Number.NEGATIVE_INFINITY;
  private future: Buffered[] = [];
  private lastCommit: Commit | null = null;
  /** Peers helped recently (cleared every resendTicks): bounds the replies to lagging peers. */
  private readonly helped = new Set<string>();
  private readonly verified = new Set<string>();
  private out: Ready = emptyReady();
  private dirty = false;
  private outstanding = false;
  readonly counters: PbftCounters = { futureDropped: 0, rejected: 0, viewChanges: 0, commits: 0 };

  constructor(config: PbftConfig, deps: PbftDeps, start: PbftStart) {
    assert(config.leaderPeriod >= 1, "leaderPeriod >= 1");
    assert(config.viewTimeoutTicks >= 1, "viewTimeoutTicks >= 1");
    this.cfg = config;
    this.deps = deps;
    this.self = toHex(config.nodeId);
    this.hash = (b) => deps.crypto.hash(b);
    this.height = start.committedHeight + 1;
    this.parentHash = start.committedHash;
    this.validators = new ValidatorSet(start.validators);
    this.round = new Round(this.height, 0);
    this.restore(start.hardState);
    this.maybeRequestProposal();
  }

  // ------------------------------------------------------------------ public API

  step(event: PbftEvent): void {
    switch (event.type) {
      case "message":
        this.stepMessage(event.from, event.msg);
        return;
      case "proposal":
        this.stepProposal(event);
        return;
      case "blockExecuted":
        this.stepBlockExecuted(event);
        return;
      case "synced":
        this.stepSynced(event);
        return;
      default: {
        unreachable(event);
      }
    }
  }

  /** One logical time unit. The driver calls it from one interval timer. */
  tick(): void {
    this.now++;
    this.ticksInView++;
    if (this.now % this.cfg.resendTicks === 0) this.helped.clear();
    if (!this.isValidator()) return;
    // PBFT: in a view change the timer only runs once a quorum asked for this view (no racing ahead alone).
    const timerRunning = !this.viewChanging || this.viewChangeQuorumSeen;
    if (timerRunning && this.ticksInView >= this.timeoutTicks(this.view)) {
      this.startViewChange(this.view + 1, "timeout");
    } else if (this.ticksInView % this.cfg.resendTicks === 0) {
      this.resendOwnMessages();
    }
  }

  /** Re-broadcasts what this node signed in the current phase (identical bytes: receivers see duplicates). */
  private resendOwnMessages(): void {
    if (this.viewChanging) {
      const vc = this.viewChanges.forView(this.view).find((m) => equalBytes(m.sender, this.cfg.nodeId));
      if (vc) this.broadcast(vc);
      return;
    }
    const pp = this.round.prePrepare;
    if (pp && equalBytes(pp.sender, this.cfg.nodeId)) this.broadcast(pp);
    const prepare = this.round.prepares.get(this.self);
    if (prepare) this.broadcast(prepare);
    const commit = this.commits.get(this.view, this.self);
    if (commit) this.broadcast(commit);
  }

  hasReady(): boolean {
    const o = this.out;
    return (
      this.dirty ||
      o.commits.length > 0 ||
      o.messages.length > 0 ||
      o.execute.length > 0 ||
      o.requestProposal !== null ||
      o.fetchBlocks !== null ||
      o.viewChangeStarted !== null ||
      o.rejections.length > 0 ||
      o.evidence.length > 0
    );
  }

  /** Takes the accumulated outputs. Handle them in the documented order, then call advance(ready). */
  ready(): Ready {
    assert(!this.outstanding, "ready() called twice without advance()");
    const r = this.out;
    if (this.dirty) r.persist = this.hardState();
    this.dirty = false;
    this.out = emptyReady();
    this.outstanding = true;
    return r;
  }

  advance(_ready: Ready): void {
    assert(this.outstanding, "advance() without ready()");
    this.outstanding = false;
  }

  /** Read-only status for RPC (getPbftView, getConsensusStatus) and tests. */
  status(): {
    height: number;
    view: number;
    viewChanging: boolean;
    leader: NodeId | null;
    validators: readonly ValidatorInfo[];
  } {
    return {
      height: this.height,
      view: this.view,
      viewChanging: this.viewChanging,
      leader: this.validators.leader(this.height, this.view, this.cfg.leaderPeriod),
      validators: this.validators.list,
    };
  }

  hardState(): HardState {
    return {
      height: this.height,
      view: this.view,
      viewChanging: this.viewChanging,
      prePrepareVote: this.votes.prePrepare,
      prepareVote: this.votes.prepare,
      commitVote: this.votes.commit,
      prepared: this.prepared,
      newViewHash: this.requiredHash,
    };
  }

  // ------------------------------------------------------------------ restart

  private restore(hs: HardState | null): void {
    if (hs === null || hs.height < this.height) return;
    assert(
      hs.height === this.height,
      "hard state is ahead of the committed height: commits must be durable first",
    );
    this.view = hs.view;
    this.viewChanging = hs.viewChanging;
    this.round = new Round(this.height, this.view);
    this.votes = { prePrepare: hs.prePrepareVote, prepare: hs.prepareVote, commit: hs.commitVote };
    this.prepared = hs.prepared;
    this.requiredHash = hs.newViewHash;
    this.proposalRequested = hs.prePrepareVote !== null;
    if (!this.isValidator()) return;
    const weight = this.validators.weightOfKey(this.self);
    if (this.viewChanging) {
      const vc = this.signViewChange(this.view);
      this.viewChanges.add(this.self, vc);
      this.broadcast(vc);
      return;
    }
    if (this.votes.prepare) {
      const prepare = this.signVote("prepare", this.votes.prepare) as Prepare;
      this.round.prepares.add(this.self, prepare, weight);
      this.broadcast(prepare);
    }
    if (this.votes.commit) {
      const commit = this.signVote("commit", this.votes.commit) as Commit;
      this.commits.votes(this.view).add(this.self, commit, weight);
      this.broadcast(commit);
    }
  }

  // ------------------------------------------------------------------ messages: admission

  private stepMessage(from: NodeId, msg: PbftMessage): void {
    const bad = checkMessageShape(msg);
    if (bad !== null) {
      this.rejectEvent("MALFORMED", { type: "message", height: -1, view: -1 });
      return;
    }
    if (msg.height < this.height) {
      this.helpLaggingPeer(msg);
      this.reject("OLD_HEIGHT", msg);
      return;
    }
    if (msg.height > this.height) {
      this.bufferFutureHeight(from, msg);
      return;
    }
    const senderKey = toHex(msg.sender);
    if (this.validators.weightOfKey(senderKey) === 0) {
      this.reject("NOT_VALIDATOR", msg);
      return;
    }
    const view = messageView(msg);
    if (view > this.view + this.cfg.futureViewWindow) {
      this.reject("VIEW_TOO_FAR", msg);
      return;
    }
    this.stepCurrentHeight(from, msg, senderKey, view);
  }

  private stepCurrentHeight(from: NodeId, msg: PbftMessage, senderKey: string, view: number): void {
    switch (msg.type) {
      case "commit":
        this.stepCommit(msg, senderKey);
        return;
      case "prePrepare":
      case "prepare":
        if (view < this.view) {
          this.helpPeerInOldView(senderKey, msg.sender);
          this.reject("OLD_VIEW", msg);
        } else if (view > this.view || this.viewChanging) {
          this.bufferFutureView(from, msg);
        } else {
          this.stepNormal(msg, senderKey);
        }
        return;
      case "viewChange":
        if (view < this.view || (view === this.view && !this.viewChanging)) {
          this.helpPeerInOldView(senderKey, msg.sender);
          this.reject("OLD_VIEW", msg);
        } else {
          this.stepViewChange(msg, senderKey);
        }
        return;
      case "newView":
        if (view < this.view || (view === this.view && !this.viewChanging)) this.reject("DUPLICATE", msg);
        else this.stepNewView(msg);
        return;
      default: {
        unreachable(msg);
      }
    }
  }

  private stepNormal(msg: PrePrepare | Prepare, senderKey: string): void {
    switch (msg.type) {
      case "prePrepare":
        this.stepPrePrepare(msg, senderKey);
        return;
      case "prepare":
        this.stepPrepare(msg, senderKey);
        return;
      default: {
        unreachable(msg);
      }
    }
  }

  private verifySignature(msg: PbftMessage): boolean {
    return this.deps.crypto.verify(msg.sender, messageDigest(this.hash, msg), msg.signature);
  }

  // ------------------------------------------------------------------ normal case

  private stepPrePrepare(msg: PrePrepare, senderKey: string): void {
    const leader = this.validators.leader(this.height, this.view, this.cfg.leaderPeriod);
    if (leader === null || toHex(leader) !== senderKey) {
      this.reject("WRONG_LEADER", msg);
      return;
    }
    const known = this.round.prePrepare;
    if (known && equalBytes(known.blockHash, msg.blockHash)) {
      this.reject("DUPLICATE", msg);
      return;
    }
    if (!this.verifySignature(msg)) {
      this.reject("BAD_SIGNATURE", msg);
      return;
    }
    if (known) {
      if (this.out.evidence.length < EVIDENCE_MAX) this.out.evidence.push([known, msg]);
      this.reject("EQUIVOCATION", msg);
      this.startViewChange(this.view + 1, "equivocation");
      return;
    }
    if (this.requiredHash && !equalBytes(this.requiredHash, msg.blockHash)) {
      this.reject("NEW_VIEW_MISMATCH", msg);
      this.startViewChange(this.view + 1, "badProposal");
      return;
    }
    if (this.votes.prepare && !equalBytes(this.votes.prepare, msg.blockHash)) {
      this.reject("ALREADY_VOTED", msg);
      return;
    }
    this.acceptPrePrepare(msg);
  }

  private acceptPrePrepare(msg: PrePrepare): void {
    this.round.prePrepare = msg;
    this.round.execution = "pending";
    this.out.execute.push({
      height: msg.height,
      view: msg.view,
      blockHash: msg.blockHash,
      payload: msg.payload,
    });
  }

  private stepProposal(ev: Extract<PbftEvent, { type: "proposal" }>): void {
    const r = { type: ev.type, height: ev.height, view: this.view };
    if (ev.height !== this.height || this.viewChanging) {
      this.rejectEvent("STALE_EVENT", r);
      return;
    }
    if (!this.isLeader()) {
      this.rejectEvent("NOT_LEADER", r);
      return;
    }
    if (this.round.prePrepare !== null || this.votes.prePrepare !== null) {
      this.rejectEvent("ALREADY_VOTED", r);
      return;
    }
    if (this.requiredHash !== null) {
      this.rejectEvent("NEW_VIEW_MISMATCH", r);
      return;
    }
    const pp = this.signPrePrepare(ev.blockHash, ev.payload);
    this.round.prePrepare = pp;
    this.markValid(ev.blockHash, ev.payload, ev.nextValidators ?? null);
    this.broadcast(pp);
    this.castPrepare();
  }

  private stepBlockExecuted(ev: Extract<PbftEvent, { type: "blockExecuted" }>): void {
    const pp = this.round.prePrepare;
    const r = { type: ev.type, height: ev.height, view: this.view };
    if (ev.height !== this.height || !pp || !equalBytes(pp.blockHash, ev.blockHash)) {
      this.rejectEvent("STALE_EVENT", r);
      return;
    }
    if (this.round.execution !== "pending") {
      this.rejectEvent("DUPLICATE", r);
      return;
    }
    if (!ev.valid) {
      this.round.execution = "invalid";
      this.startViewChange(this.view + 1, "invalidBlock");
      return;
    }
    this.markValid(pp.blockHash, pp.payload, ev.nextValidators ?? null);
    this.castPrepare();
    this.checkCommitted(this.view);
  }

  private markValid(blockHash: Hash, payload: Uint8Array, nextValidators: ValidatorInfo[] | null): void {
    this.round.execution = "valid";
    this.round.nextValidators = nextValidators;
    if (this.validBlocks.size < 64) this.validBlocks.set(toHex(blockHash), { payload, nextValidators });
  }

  private castPrepare(): void {
    const pp = this.round.prePrepare!;
    if (!this.isValidator()) {
      this.checkPrepared();
      return;
    }
    if (this.votes.prepare && !equalBytes(this.votes.prepare, pp.blockHash)) return;
    this.votes.prepare = pp.blockHash;
    this.dirty = true;
    const prepare = this.signVote("prepare", pp.blockHash) as Prepare;
    this.round.prepares.add(this.self, prepare, this.validators.weightOfKey(this.self));
    this.broadcast(prepare);
    this.checkPrepared();
  }

  private stepPrepare(msg: Prepare, senderKey: string): void {
    if (!this.admitVote(this.round.prepares, msg, senderKey)) return;
    this.round.prepares.add(senderKey, msg, this.validators.weightOfKey(senderKey));
    this.checkPrepared();
  }

  /** Duplicate / conflicting / badly signed votes are rejected; true = store it. */
  private admitVote(
    votes: Tally<Prepare> | Tally<Commit>,
    msg: Prepare | Commit,
    senderKey: string,
  ): boolean {
    const known = votes.get(senderKey);
    if (known) {
      this.reject(equalBytes(known.blockHash, msg.blockHash) ? "DUPLICATE" : "CONFLICTING_VOTE", msg);
      return false;
    }
    if (!this.verifySignature(msg)) {
      this.reject("BAD_SIGNATURE", msg);
      return false;
    }
    return true;
  }

  private checkPrepared(): void {
    const round = this.round;
    const pp = round.prePrepare;
    if (round.prepared || !pp || round.execution !== "valid") return;
    if (round.prepares.weightOf(pp.blockHash) < this.validators.quorum) return;
    round.prepared = true;
    this.prepared = {
      height: this.height,
      view: this.view,
      blockHash: pp.blockHash,
      payload: pp.payload,
      prepares: round.prepares.signaturesFor(pp.blockHash),
    };
    this.dirty = true;
    this.castCommit();
  }

  private castCommit(): void {
    const pp = this.round.prePrepare!;
    if (this.isValidator() && !(this.votes.commit && !equalBytes(this.votes.commit, pp.blockHash))) {
      this.votes.commit = pp.blockHash;
      this.dirty = true;
      const commit = this.signVote("commit", pp.blockHash) as Commit;
      this.commits.votes(this.view).add(this.self, commit, this.validators.weightOfKey(this.self));
      this.broadcast(commit);
    }
    this.checkCommitted(this.view);
  }

  /** Commits count in any view of this height (a quorum in any view decides): no view gating. */
  private stepCommit(msg: Commit, senderKey: string): void {
    const votes = this.commits.votes(msg.view);
    if (!this.admitVote(votes, msg, senderKey)) return;
    const weight = votes.add(senderKey, msg, this.validators.weightOfKey(senderKey));
    if (weight >= this.validators.quorum) this.checkCommitted(msg.view);
  }

  private checkCommitted(view: number): void {
    const votes = this.commits.votes(view);
    const vote = votes.quorumVote(this.validators.quorum);
    if (vote === null) return;
    const block = this.validBlocks.get(toHex(vote.blockHash));
    if (!block) {
      this.requestFetch(vote.sender);
      return;
    }
    const certificate: CommitCertificate = {
      height: this.height,
      view,
      blockHash: vote.blockHash,
      signatures: votes.signaturesFor(vote.blockHash),
    };
    const { payload, nextValidators } = block;
    this.out.commits.push({
      height: this.height,
      blockHash: vote.blockHash,
      payload,
      certificate,
      nextValidators,
    });
    this.counters.commits++;
    this.lastCommit = votes.get(this.self) ?? null;
    this.advanceHeight(vote.blockHash, nextValidators);
  }

  private stepSynced(ev: Extract<PbftEvent, { type: "synced" }>): void {
    if (ev.height !== this.height) {
      this.rejectEvent("STALE_EVENT", { type: ev.type, height: ev.height, view: this.view });
      return;
    }
    this.lastCommit = null;
    this.advanceHeight(ev.blockHash, ev.nextValidators ?? null);
  }

  /** Block `height` is decided: move to height + 1, view 0. A validator change takes effect now. */
  private advanceHeight(blockHash: Hash, nextValidators: ValidatorInfo[] | null): void {
    this.height++;
    this.parentHash = blockHash;
    if (nextValidators) this.validators = new ValidatorSet(nextValidators);
    this.view = 0;
    this.viewChanging = false;
    this.votes = noVotes();
    this.prepared = null;
    this.round = new Round(this.height, 0);
    this.requiredHash = null;
    this.newViewMsg = null;
    this.viewChanges.clear();
    this.commits.clear();
    this.validBlocks.clear();
    this.helped.clear();
    this.proposalRequested = false;
    this.ticksInView = 0;
    this.dirty = true;
    this.maybeRequestProposal();
    this.replayFuture();
  }

  // ------------------------------------------------------------------ view change

  private timeoutTicks(view: number): number {
    return this.cfg.viewTimeoutTicks * 2 ** Math.min(view, this.cfg.viewTimeoutDoublingsMax);
  }

  /** Abandon the current view: vote for `toView`, carrying our highest prepared certificate. */
  private startViewChange(toView: number, cause: ViewChangeCause): void {
    if (!this.isValidator() || toView <= this.view) return;
    this.view = toView;
    this.viewChanging = true;
    this.viewChangeQuorumSeen = false;
    this.votes = noVotes();
    this.round = new Round(this.height, toView);
    this.requiredHash = null;
    this.newViewMsg = null;
    this.proposalRequested = false;
    this.ticksInView = 0;
    this.dirty = true;
    this.counters.viewChanges++;
    this.out.viewChangeStarted = { height: this.height, toView, cause };
    this.viewChanges.pruneBelow(toView);
    this.commits.pruneBelow(toView - OLD_VIEW_COMMITS_KEPT);
    const vc = this.signViewChange(toView);
    this.viewChanges.add(this.self, vc);
    this.broadcast(vc);
    this.checkViewChangeQuorum(toView);
  }

  private stepViewChange(msg: ViewChange, senderKey: string): void {
    if (this.viewChanges.has(senderKey, msg.toView)) {
      this.reject("DUPLICATE", msg);
      return;
    }
    const bad = this.checkViewChange(msg);
    if (bad !== null) {
      this.reject(bad, msg);
      return;
    }
    this.viewChanges.add(senderKey, msg);
    if (this.joinHigherView()) return;
    this.checkViewChangeQuorum(msg.toView);
  }

  /** Signature and prepared certificate of a ViewChange, verified once (cached). */
  private checkViewChange(vc: ViewChange): RejectReason | null {
    if (vc.height !== this.height) return "BAD_NEW_VIEW";
    const digest = viewChangeDigest(this.hash, vc);
    const key = `${toHex(digest)}${toHex(vc.signature)}`;
    if (this.verified.has(key)) return null;
    if (!this.deps.crypto.verify(vc.sender, digest, vc.signature)) return "BAD_SIGNATURE";
    const p = vc.prepared;
    if (p !== null) {
      if (p.view >= vc.toView) return "BAD_CERTIFICATE";
      if (!verifyPreparedCertificate(p, this.height, this.validators, this.deps.crypto).ok)
        return "BAD_CERTIFICATE";
    }
    if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.clear();
    this.verified.add(key);
    return null;
  }

  /** f + 1 weight asks for views above ours: at least one honest node did, so join the lowest of them. */
  private joinHigherView(): boolean {
    const above = this.viewChanges.highestAbove(this.view, this.self);
    if (this.validators.weightOfKeys(above.keys()) < this.validators.honest) return false;
    let target = Number.POSITIVE_INFINITY;
    for (const v of above.values()) target = Math.min(target, v);
    this.startViewChange(target, "joinHigherView");
    return true;
  }

  private checkViewChangeQuorum(toView: number): void {
    if (!this.viewChanging || toView < this.view) return;
    // Timer rule: start counting once a quorum gave up on the views below ours (ViewChanges for >= our view).
    const gaveUp = this.validators.weightOfKeys(this.viewChanges.sendersAtOrAbove(this.view));
    if (!this.viewChangeQuorumSeen && gaveUp >= this.validators.quorum) {
      this.viewChangeQuorumSeen = true;
      this.ticksInView = 0;
    }
    if (toView !== this.view || !this.isLeader()) return;
    const vcs = this.viewChanges.forView(toView);
    const weight = this.validators.weightOfKeys(vcs.map((vc) => toHex(vc.sender)));
    if (weight < this.validators.quorum) return;
    const nvFields = { height: this.height, view: toView, viewChanges: vcs, sender: this.cfg.nodeId };
    const nv: NewView = {
      type: "newView",
      ...nvFields,
      signature: this.sign(newViewDigest(this.hash, nvFields)),
    };
    this.broadcast(nv);
    const selected = highestPrepared(vcs);
    this.enterView(nv, selected);
    if (selected) this.reProposePrepared(selected);
    else this.maybeRequestProposal();
  }

  /** The new leader proposes again the highest prepared block: it must be executed here too. */
  private reProposePrepared(p: PreparedCertificate): void {
    const pp = this.signPrePrepare(p.blockHash, p.payload);
    this.broadcast(pp);
    this.acceptPrePrepare(pp);
  }

  private stepNewView(msg: NewView): void {
    const leader = this.validators.leader(this.height, msg.view, this.cfg.leaderPeriod);
    if (leader === null || !equalBytes(leader, msg.sender)) {
      this.reject("WRONG_LEADER", msg);
      return;
    }
    if (!this.verifySignature(msg)) {
      this.reject("BAD_SIGNATURE", msg);
      return;
    }
    const bad = this.checkNewViewProof(msg);
    if (bad !== null) {
      this.reject(bad, msg);
      return;
    }
    this.enterView(msg, highestPrepared(msg.viewChanges));
    this.replayFuture();
  }

  private checkNewViewProof(msg: NewView): RejectReason | null {
    if (msg.viewChanges.length > this.validators.list.length) return "BAD_NEW_VIEW";
    const signers = new Set<string>();
    for (const vc of msg.viewChanges) {
      const key = toHex(vc.sender);
      if (vc.toView !== msg.view || signers.has(key) || this.validators.weightOfKey(key) === 0)
        return "BAD_NEW_VIEW";
      const bad = this.checkViewChange(vc);
      if (bad !== null) return bad;
      signers.add(key);
    }
    return this.validators.weightOfKeys(signers) >= this.validators.quorum ? null : "BAD_NEW_VIEW";
  }

  private enterView(nv: NewView, selected: PreparedCertificate | null): void {
    if (nv.view !== this.view) this.votes = noVotes();
    this.view = nv.view;
    this.viewChanging = false;
    this.round = new Round(this.height, nv.view);
    this.requiredHash = selected?.blockHash ?? null;
    this.newViewMsg = nv;
    this.proposalRequested = false;
    this.ticksInView = 0;
    this.dirty = true;
    this.viewChanges.pruneBelow(nv.view + 1);
    this.commits.pruneBelow(nv.view - OLD_VIEW_COMMITS_KEPT);
  }

  // ------------------------------------------------------------------ lagging peers and future messages

  /** A peer one height behind: give it our Commit of that height (it may lack only that). */
  private helpLaggingPeer(msg: PbftMessage): void {
    const commit = this.lastCommit;
    if (!commit || msg.height !== commit.height) return;
    const key = `h:${toHex(msg.sender)}`;
    if (!this.markHelped(key)) return;
    this.out.messages.push({ to: msg.sender, msg: commit });
  }

  /** A peer in an older view at our height: give it the NewView that moved us, and our votes of this view. */
  private helpPeerInOldView(senderKey: string, sender: NodeId): void {
    if (this.viewChanging || this.newViewMsg === null || senderKey === this.self) return;
    if (!this.markHelped(`v:${senderKey}:${this.view}`)) return;
    this.out.messages.push({ to: sender, msg: this.newViewMsg });
    const pp = this.round.prePrepare;
    if (pp) this.out.messages.push({ to: sender, msg: pp });
    const prepare = this.round.prepares.get(this.self);
    if (prepare) this.out.messages.push({ to: sender, msg: prepare });
    const commit = this.commits.get(this.view, this.self);
    if (commit) this.out.messages.push({ to: sender, msg: commit });
  }

  private markHelped(key: string): boolean {
    if (this.helped.has(key)) return false;
    if (this.helped.size >= HELPED_MAX) return false;
    this.helped.add(key);
    return true;
  }

  private bufferFutureHeight(from: NodeId, msg: PbftMessage): void {
    if (this.validators.weightOf(msg.sender) > 0 || this.validators.weightOf(from) > 0)
      this.requestFetch(from);
    if (msg.height > this.height + this.cfg.futureHeightWindow) {
      this.reject("FUTURE_HEIGHT_TOO_FAR", msg);
      return;
    }
    this.pushFuture(from, msg);
    this.reject("FUTURE_HEIGHT_BUFFERED", msg);
  }

  private bufferFutureView(from: NodeId, msg: PbftMessage): void {
    this.pushFuture(from, msg);
    this.reject("FUTURE_VIEW_BUFFERED", msg);
  }

  private pushFuture(from: NodeId, msg: PbftMessage): void {
    if (this.future.length >= this.cfg.futureBufferMax) {
      this.future.shift();
      this.counters.futureDropped++;
    }
    this.future.push({ from, msg });
  }

  /** Steps again the buffered messages that may now apply; the rest stay buffered. */
  private replayFuture(): void {
    const now: Buffered[] = [];
    const later: Buffered[] = [];
    for (const b of this.future) {
      if (b.msg.height < this.height) continue;
      if (
        b.msg.height === this.height &&
        (b.msg.type === "viewChange" || b.msg.type === "newView" || messageView(b.msg) <= this.view)
      )
        now.push(b);
      else later.push(b);
    }
    this.future = later;
    for (const b of now) this.stepMessage(b.from, b.msg);
  }

  private requestFetch(peer: NodeId): void {
    const pending = this.out.fetchBlocks;
    if (pending) {
      if (pending.peers.length < 8 && !pending.peers.some((p) => equalBytes(p, peer)))
        pending.peers.push(peer);
      return;
    }
    if (this.now - this.lastFetchTick < this.cfg.fetchCooldownTicks) return;
    this.lastFetchTick = this.now;
    this.out.fetchBlocks = { fromHeight: this.height, peers: [peer] };
  }

  // ------------------------------------------------------------------ helpers

  private isValidator(): boolean {
    return this.validators.weightOfKey(this.self) > 0;
  }

  private isLeader(): boolean {
    const leader = this.validators.leader(this.height, this.view, this.cfg.leaderPeriod);
    return leader !== null && toHex(leader) === this.self;
  }

  private maybeRequestProposal(): void {
    if (this.viewChanging || this.proposalRequested || this.round.prePrepare !== null) return;
    if (this.requiredHash !== null || !this.isLeader()) return;
    this.proposalRequested = true;
    this.out.requestProposal = { height: this.height, view: this.view, parentHash: this.parentHash };
  }

  private sign(digest: Uint8Array): Uint8Array {
    return this.deps.crypto.sign(digest);
  }

  private signPrePrepare(blockHash: Hash, payload: Uint8Array): PrePrepare {
    assert(
      this.votes.prePrepare === null || equalBytes(this.votes.prePrepare, blockHash),
      "one proposal per view",
    );
    this.votes.prePrepare = blockHash;
    this.dirty = true;
    const fields = { height: this.height, view: this.view, blockHash, payload, sender: this.cfg.nodeId };
    return { type: "prePrepare", ...fields, signature: this.sign(prePrepareDigest(this.hash, fields)) };
  }

  private signVote(type: "prepare" | "commit", blockHash: Hash): Prepare | Commit {
    const digest =
      type === "prepare"
        ? prepareDigest(this.hash, this.height, this.view, blockHash)
        : commitDigest(this.hash, this.height, this.view, blockHash);
    const fields = { height: this.height, view: this.view, blockHash, sender: this.cfg.nodeId };
    return { type, ...fields, signature: this.sign(digest) };
  }

  private signViewChange(toView: number): ViewChange {
    const fields = { height: this.height, toView, prepared: this.prepared, sender: this.cfg.nodeId };
    return { type: "viewChange", ...fields, signature: this.sign(viewChangeDigest(this.hash, fields)) };
  }

  private broadcast(msg: PbftMessage): void {
    this.out.messages.push({ to: null, msg });
  }

  private reject(reason: RejectReason, msg: PbftMessage): void {
    this.rejectEvent(reason, { type: msg.type, height: msg.height, view: messageView(msg) });
  }

  private rejectEvent(
    reason: RejectReason,
    r: { type: Ready["rejections"][number]["type"]; height: number; view: number },
  ): void {
    this.counters.rejected++;
    if (this.out.rejections.length < this.cfg.rejectionsMax) this.out.rejections.push({ reason, ...r });
  }
}
