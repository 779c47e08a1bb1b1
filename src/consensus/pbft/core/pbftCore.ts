/**
 * The pure PBFT core (etcd raft RawNode style): step(event) / tick() in, ready() out, advance(ready).
 * No I/O, no timers, no randomness: the same inputs give the same outputs. See types.ts `Ready` for the
 * ordering contract the driver must follow (commits, then persist, then send).
 *
 * One height decided at a time (the next one may be proposed and executed beside it: pipeline.ts). The view
 * restarts at 0 on every height; leader = (floor(height / leaderPeriod) + view) mod n over the validator list.
 * Phases: PrePrepare → (execute) → Prepare quorum = prepared → Commit quorum.
 *
 * This file holds the public API, admission of messages, the normal case and the height lifecycle. The state lives
 * in one `CoreState` (state.ts) that the other modules of this folder take as their first argument: view change
 * (viewChange.ts), pipelining (pipeline.ts), catch-up help (catchUp.ts), the future-message buffer
 * (futureBuffer.ts), the hard state (restore.ts) and signing (signing.ts).
 */
import type { CommitCertificate, Hash, NodeId, ValidatorInfo } from "../../../types/index.js";
import { assert } from "../../../util/errors.js";
import { equalBytes, toHex, unreachable } from "./bytes.js";
import { helpLaggingPeer, helpPeerInOldView, requestFetch, resendOwnMessages } from "./catchUp.js";
import { bufferFutureHeight, bufferFutureView, takeReplayable } from "./futureBuffer.js";
import {
  type NextAtNewHeight,
  onCurrentBlockValid,
  stepNextExecuted,
  stepNextPrePrepare,
  stepNextProposal,
  takeNext,
} from "./pipeline.js";
import { hardStateOf, restoreHardState } from "./restore.js";
import type { Tally } from "./round.js";
import { signPrePrepare, signVote, verifySignature } from "./signing.js";
import {
  acceptPrePrepare,
  broadcast,
  type CoreState,
  type CoreStatus,
  createState,
  EVIDENCE_MAX,
  emptyReady,
  enterNextHeight,
  hasOutput,
  isLeader,
  isValidator,
  maybeRequestProposal,
  messageView,
  type PbftCounters,
  reject,
  rejectEvent,
  rememberValid,
  statusOf,
} from "./state.js";
import type {
  Commit,
  HardState,
  PbftConfig,
  PbftDeps,
  PbftEvent,
  PbftMessage,
  PbftStart,
  PrePrepare,
  Prepare,
  Ready,
} from "./types.js";
import { checkMessageShape } from "./validate.js";
import { startViewChange, stepNewView, stepViewChange, timeoutTicks } from "./viewChange.js";

export type { PbftCounters } from "./state.js";

export class PbftCore {
  /** All the mutable state, shared with the helper modules (state.ts). */
  private readonly s: CoreState;
  private outstanding = false;
  readonly counters: PbftCounters;

  constructor(config: PbftConfig, deps: PbftDeps, start: PbftStart) {
    assert(config.leaderPeriod >= 1, "leaderPeriod >= 1");
    assert(config.viewTimeoutTicks >= 1, "viewTimeoutTicks >= 1");
    this.s = createState(config, deps, start);
    this.counters = this.s.counters;
    restoreHardState(this.s, start.hardState);
    maybeRequestProposal(this.s);
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
    this.s.now++;
    this.s.ticksInView++;
    if (this.s.now % this.s.cfg.resendTicks === 0) this.s.helped.clear();
    if (!isValidator(this.s)) return;
    // PBFT: in a view change the timer only runs once a quorum asked for this view (no racing ahead alone).
    const timerRunning = !this.s.viewChanging || this.s.viewChangeQuorumSeen;
    if (timerRunning && this.s.ticksInView >= timeoutTicks(this.s, this.s.view)) {
      startViewChange(this.s, this.s.view + 1, "timeout");
    } else if (this.s.ticksInView % this.s.cfg.resendTicks === 0) {
      resendOwnMessages(this.s);
    }
  }

  hasReady(): boolean {
    return hasOutput(this.s);
  }

  /** Takes the accumulated outputs. Handle them in the documented order, then call advance(ready). */
  ready(): Ready {
    assert(!this.outstanding, "ready() called twice without advance()");
    const r = this.s.out;
    if (this.s.dirty) r.persist = this.hardState();
    this.s.dirty = false;
    this.s.out = emptyReady();
    this.outstanding = true;
    return r;
  }

  advance(_ready: Ready): void {
    assert(this.outstanding, "advance() without ready()");
    this.outstanding = false;
  }

  /** Read-only status for RPC (getPbftView, getConsensusStatus) and tests. */
  status(): CoreStatus {
    return statusOf(this.s);
  }

  hardState(): HardState {
    return hardStateOf(this.s);
  }

  // ------------------------------------------------------------------ messages: admission

  private stepMessage(from: NodeId, msg: PbftMessage): void {
    const bad = checkMessageShape(msg);
    if (bad !== null) {
      rejectEvent(this.s, "MALFORMED", { type: "message", height: -1, view: -1 });
      return;
    }
    if (msg.height < this.s.height) {
      helpLaggingPeer(this.s, msg);
      reject(this.s, "OLD_HEIGHT", msg);
      return;
    }
    if (msg.height > this.s.height) {
      if (msg.type === "prePrepare" && stepNextPrePrepare(this.s, from, msg)) return;
      bufferFutureHeight(this.s, from, msg);
      return;
    }
    const senderKey = toHex(msg.sender);
    if (this.s.validators.weightOfKey(senderKey) === 0) {
      reject(this.s, "NOT_VALIDATOR", msg);
      return;
    }
    const view = messageView(msg);
    if (view > this.s.view + this.s.cfg.futureViewWindow) {
      reject(this.s, "VIEW_TOO_FAR", msg);
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
        if (view < this.s.view) {
          helpPeerInOldView(this.s, senderKey, msg.sender);
          reject(this.s, "OLD_VIEW", msg);
        } else if (view > this.s.view || this.s.viewChanging) {
          bufferFutureView(this.s, from, msg);
        } else {
          this.stepNormal(msg, senderKey);
        }
        return;
      case "viewChange":
        if (view < this.s.view || (view === this.s.view && !this.s.viewChanging)) {
          helpPeerInOldView(this.s, senderKey, msg.sender);
          reject(this.s, "OLD_VIEW", msg);
        } else {
          stepViewChange(this.s, msg, senderKey);
        }
        return;
      case "newView":
        if (view < this.s.view || (view === this.s.view && !this.s.viewChanging))
          reject(this.s, "DUPLICATE", msg);
        else if (stepNewView(this.s, msg)) this.replayFuture();
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

  // ------------------------------------------------------------------ normal case

  private stepPrePrepare(msg: PrePrepare, senderKey: string): void {
    const leader = this.s.validators.leader(this.s.height, this.s.view, this.s.cfg.leaderPeriod);
    if (leader === null || toHex(leader) !== senderKey) {
      reject(this.s, "WRONG_LEADER", msg);
      return;
    }
    const known = this.s.round.prePrepare;
    if (known && equalBytes(known.blockHash, msg.blockHash)) {
      reject(this.s, "DUPLICATE", msg);
      return;
    }
    if (!verifySignature(this.s, msg)) {
      reject(this.s, "BAD_SIGNATURE", msg);
      return;
    }
    if (known) {
      if (this.s.out.evidence.length < EVIDENCE_MAX) this.s.out.evidence.push([known, msg]);
      reject(this.s, "EQUIVOCATION", msg);
      startViewChange(this.s, this.s.view + 1, "equivocation");
      return;
    }
    if (this.s.requiredHash && !equalBytes(this.s.requiredHash, msg.blockHash)) {
      reject(this.s, "NEW_VIEW_MISMATCH", msg);
      startViewChange(this.s, this.s.view + 1, "badProposal");
      return;
    }
    if (this.s.votes.prepare && !equalBytes(this.s.votes.prepare, msg.blockHash)) {
      reject(this.s, "ALREADY_VOTED", msg);
      return;
    }
    acceptPrePrepare(this.s, msg);
  }

  private stepProposal(ev: Extract<PbftEvent, { type: "proposal" }>): void {
    if (ev.height === this.s.height + 1) {
      stepNextProposal(this.s, ev);
      return;
    }
    const r = { type: ev.type, height: ev.height, view: this.s.view };
    if (ev.height !== this.s.height || this.s.viewChanging) {
      rejectEvent(this.s, "STALE_EVENT", r);
      return;
    }
    if (ev.parentHash !== undefined && !equalBytes(ev.parentHash, this.s.parentHash)) {
      // Built ahead of time (pipelining) on a block that was not decided. Not asked again here: entering this
      // height already asked on the decided block (takeNext keeps no request on another parent), and a second
      // request would replace that one in the driver and throw away its build if it had begun.
      rejectEvent(this.s, "STALE_EVENT", r);
      return;
    }
    if (!isLeader(this.s)) {
      rejectEvent(this.s, "NOT_LEADER", r);
      return;
    }
    if (this.s.round.prePrepare !== null || this.s.votes.prePrepare !== null) {
      rejectEvent(this.s, "ALREADY_VOTED", r);
      return;
    }
    if (this.s.requiredHash !== null) {
      rejectEvent(this.s, "NEW_VIEW_MISMATCH", r);
      return;
    }
    const pp = signPrePrepare(this.s, ev.blockHash, ev.payload);
    this.s.round.prePrepare = pp;
    this.markValid(ev.blockHash, ev.payload, ev.nextValidators ?? null);
    broadcast(this.s, pp);
    this.castPrepare();
  }

  private stepBlockExecuted(ev: Extract<PbftEvent, { type: "blockExecuted" }>): void {
    if (ev.height === this.s.height + 1) {
      stepNextExecuted(this.s, ev);
      return;
    }
    const pp = this.s.round.prePrepare;
    const r = { type: ev.type, height: ev.height, view: this.s.view };
    const onParent = ev.parentHash === undefined || equalBytes(ev.parentHash, this.s.parentHash);
    if (ev.height !== this.s.height || !pp || !equalBytes(pp.blockHash, ev.blockHash) || !onParent) {
      rejectEvent(this.s, "STALE_EVENT", r);
      return;
    }
    if (this.s.round.execution !== "pending") {
      rejectEvent(this.s, "DUPLICATE", r);
      return;
    }
    if (!ev.valid) {
      this.s.round.execution = "invalid";
      startViewChange(this.s, this.s.view + 1, "invalidBlock");
      return;
    }
    this.markValid(pp.blockHash, pp.payload, ev.nextValidators ?? null);
    this.castPrepare();
    this.checkCommitted(this.s.view);
  }

  private executingBlock(blockHash: Hash): boolean {
    const pp = this.s.round.prePrepare;
    return this.s.round.execution === "pending" && pp !== null && equalBytes(pp.blockHash, blockHash);
  }

  private markValid(blockHash: Hash, payload: Uint8Array, nextValidators: ValidatorInfo[] | null): void {
    this.s.round.execution = "valid";
    this.s.round.nextValidators = nextValidators;
    rememberValid(this.s.validBlocks, toHex(blockHash), { payload, nextValidators });
    onCurrentBlockValid(this.s);
  }

  private castPrepare(): void {
    const pp = this.s.round.prePrepare!;
    if (!isValidator(this.s)) {
      this.checkPrepared();
      return;
    }
    if (this.s.votes.prepare && !equalBytes(this.s.votes.prepare, pp.blockHash)) return;
    this.s.votes.prepare = pp.blockHash;
    this.s.dirty = true;
    const prepare = signVote(this.s, "prepare", pp.blockHash) as Prepare;
    this.s.round.prepares.add(this.s.self, prepare, this.s.validators.weightOfKey(this.s.self));
    broadcast(this.s, prepare);
    this.checkPrepared();
  }

  private stepPrepare(msg: Prepare, senderKey: string): void {
    if (!this.admitVote(this.s.round.prepares, msg, senderKey)) return;
    this.s.round.prepares.add(senderKey, msg, this.s.validators.weightOfKey(senderKey));
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
      reject(this.s, equalBytes(known.blockHash, msg.blockHash) ? "DUPLICATE" : "CONFLICTING_VOTE", msg);
      return false;
    }
    if (!verifySignature(this.s, msg)) {
      reject(this.s, "BAD_SIGNATURE", msg);
      return false;
    }
    return true;
  }

  private checkPrepared(): void {
    const round = this.s.round;
    const pp = round.prePrepare;
    if (round.prepared || !pp || round.execution !== "valid") return;
    if (round.prepares.weightOf(pp.blockHash) < this.s.validators.quorum) return;
    round.prepared = true;
    this.s.prepared = {
      height: this.s.height,
      view: this.s.view,
      blockHash: pp.blockHash,
      payload: pp.payload,
      prepares: round.prepares.signaturesFor(pp.blockHash),
    };
    this.s.dirty = true;
    this.castCommit();
  }

  private castCommit(): void {
    const pp = this.s.round.prePrepare!;
    if (isValidator(this.s) && !(this.s.votes.commit && !equalBytes(this.s.votes.commit, pp.blockHash))) {
      this.s.votes.commit = pp.blockHash;
      this.s.dirty = true;
      const commit = signVote(this.s, "commit", pp.blockHash) as Commit;
      this.s.commits.votes(this.s.view).add(this.s.self, commit, this.s.validators.weightOfKey(this.s.self));
      broadcast(this.s, commit);
    }
    this.checkCommitted(this.s.view);
  }

  /** Commits count in any view of this height (a quorum in any view decides): no view gating. */
  private stepCommit(msg: Commit, senderKey: string): void {
    const votes = this.s.commits.votes(msg.view);
    if (!this.admitVote(votes, msg, senderKey)) return;
    const weight = votes.add(senderKey, msg, this.s.validators.weightOfKey(senderKey));
    if (weight >= this.s.validators.quorum) this.checkCommitted(msg.view);
  }

  private checkCommitted(view: number): void {
    const votes = this.s.commits.votes(view);
    const vote = votes.quorumVote(this.s.validators.quorum);
    if (vote === null) return;
    const block = this.s.validBlocks.get(toHex(vote.blockHash));
    if (!block) {
      // Still executing that very block: its blockExecuted commits it. A fetch would only run it a second time.
      if (this.executingBlock(vote.blockHash)) return;
      requestFetch(this.s, vote.sender);
      return;
    }
    const certificate: CommitCertificate = {
      height: this.s.height,
      view,
      blockHash: vote.blockHash,
      signatures: votes.signaturesFor(vote.blockHash),
    };
    const { payload, nextValidators } = block;
    this.s.out.commits.push({
      height: this.s.height,
      blockHash: vote.blockHash,
      payload,
      certificate,
      nextValidators,
    });
    this.s.counters.commits++;
    this.s.lastCommit = votes.get(this.s.self) ?? null;
    this.advanceHeight(vote.blockHash, nextValidators);
  }

  private stepSynced(ev: Extract<PbftEvent, { type: "synced" }>): void {
    if (ev.height !== this.s.height) {
      rejectEvent(this.s, "STALE_EVENT", { type: ev.type, height: ev.height, view: this.s.view });
      return;
    }
    this.s.lastCommit = null;
    this.advanceHeight(ev.blockHash, ev.nextValidators ?? null);
  }

  /** Block `height` is decided: move to height + 1 (state.ts), take over a pipelined proposal, replay the future. */
  private advanceHeight(blockHash: Hash, nextValidators: ValidatorInfo[] | null): void {
    enterNextHeight(this.s, blockHash, nextValidators);
    const next = takeNext(this.s, blockHash, nextValidators !== null);
    this.adoptNext(next);
    maybeRequestProposal(this.s);
    this.replayFuture();
  }

  /** Pipelining: the proposal for this height that came (or was made) while the last one was being decided. */
  private adoptNext({ adopt, restep }: NextAtNewHeight): void {
    if (restep !== null) {
      this.s.counters.pipelineRestepped++;
      this.stepMessage(restep.from, restep.msg);
      return;
    }
    if (adopt === null) return;
    const pp = adopt.prePrepare;
    this.s.round.prePrepare = pp;
    this.s.counters.pipelined++;
    if (adopt.equivocated) {
      startViewChange(this.s, 1, "equivocation");
      return;
    }
    if (adopt.execution === "valid") {
      this.markValid(pp.blockHash, pp.payload, adopt.nextValidators);
      this.castPrepare();
    } else if (adopt.execution === "invalid") {
      this.s.round.execution = "invalid";
      startViewChange(this.s, 1, "invalidBlock");
    } else {
      // Still executing on the decided block: its blockExecuted comes as for any PrePrepare of this height.
      this.s.round.execution = "pending";
    }
  }

  // ------------------------------------------------------------------ future messages

  /** Steps again the buffered messages that may now apply; the rest stay buffered. */
  private replayFuture(): void {
    for (const b of takeReplayable(this.s)) this.stepMessage(b.from, b.msg);
  }
}
