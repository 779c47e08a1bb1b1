/**
 * The mutable state of one PbftCore, shared by the modules of the core (view change, catch-up, future buffer,
 * signing), plus the small steps they all use: role checks, outputs (broadcast, rejections), proposals.
 * Everything here is pure: it only reads and writes the state object.
 */
import type { Hash, NodeId, ValidatorInfo } from "../../../types/index.js";
import { toHex } from "./bytes.js";
import { ValidatorSet } from "./quorum.js";
import { CommitStore, type Execution, Round, type ValidBlock, ViewChangeStore } from "./round.js";
import type {
  Commit,
  NewView,
  PbftConfig,
  PbftDeps,
  PbftMessage,
  PbftStart,
  PrePrepare,
  PreparedCertificate,
  Ready,
  RejectReason,
} from "./types.js";

export interface Buffered {
  from: NodeId;
  /** hex of `from`: the per-sender bound of the future buffer is kept by it. */
  fromKey: string;
  msg: PbftMessage;
  /** What it holds, roughly (futureBuffer.ts messageBytes): the buffer is bounded in bytes too. */
  bytes: number;
}

/** What this node signed at the current height and view (persisted in HardState). */
export interface Votes {
  prePrepare: Hash | null;
  prepare: Hash | null;
  commit: Hash | null;
}

/**
 * Pipelining: the leader's PrePrepare for (height + 1, view 0) received (or made) while this node is still at
 * `height`, and its execution on top of the block this node executed valid at `height` (pipeline.ts).
 */
export interface NextProposal {
  /** The transport peer it came from (to step it again as a plain message if it cannot be adopted). */
  from: NodeId;
  prePrepare: PrePrepare;
  /** The block it is being (or was) executed on; null = not executed yet. */
  parentHash: Hash | null;
  execution: Execution;
  nextValidators: ValidatorInfo[] | null;
  /** The leader signed two different PrePrepares for (height + 1, 0): change view there at once. */
  equivocated: boolean;
}

/** Counters for metrics and tests. */
export interface PbftCounters {
  futureDropped: number;
  rejected: number;
  viewChanges: number;
  commits: number;
  /** Pipelining: early proposals adopted at the new height with their execution (the window at work). */
  pipelined: number;
  /** Pipelining: early proposals stepped again as plain PrePrepares (built on a block that was not decided). */
  pipelineRestepped: number;
}

export const VERIFIED_CACHE_MAX = 4096;
/** Commit tallies kept for views below the current one (a quorum in an old view still decides). */
export const OLD_VIEW_COMMITS_KEPT = 8;
export const EVIDENCE_MAX = 16;
export const HELPED_MAX = 256;
/**
 * Blocks executed valid at one height, kept for a commit quorum to apply (one per view the height went through;
 * each holds a proposal's payload, up to 4 MiB).
 */
export const VALID_BLOCKS_MAX = 64;

/**
 * Keeps a block executed valid at this height. Past VALID_BLOCKS_MAX the oldest goes: a long run of view changes
 * keeps the blocks of its latest views, the ones a quorum is still voting on (an evicted block that is decided
 * after all is fetched).
 */
export function rememberValid(blocks: Map<string, ValidBlock>, hashHex: string, block: ValidBlock): void {
  if (!blocks.has(hashHex) && blocks.size >= VALID_BLOCKS_MAX) {
    const oldest = blocks.keys().next().value as string;
    blocks.delete(oldest);
  }
  blocks.set(hashHex, block);
}

export interface CoreState {
  readonly cfg: PbftConfig;
  readonly deps: PbftDeps;
  /** Hex of our node id. */
  readonly self: string;
  readonly hash: (b: Uint8Array) => Uint8Array;

  height: number;
  parentHash: Hash;
  validators: ValidatorSet;
  view: number;
  viewChanging: boolean;
  votes: Votes;
  prepared: PreparedCertificate | null;
  round: Round;
  requiredHash: Hash | null;
  newViewMsg: NewView | null;
  readonly viewChanges: ViewChangeStore;
  readonly commits: CommitStore;
  readonly validBlocks: Map<string, ValidBlock>;
  proposalRequested: boolean;
  /** Pipelining: the proposal for height + 1 this node received or made ahead of time (null = none). */
  next: NextProposal | null;
  /** Pipelining: the block hash this node signed as leader of (height + 1, 0) (persisted: never another). */
  nextVote: Hash | null;
  /** Pipelining: a requestProposal for height + 1 is out, on this parent (its answer is awaited); null = none. */
  nextRequestParent: Hash | null;
  viewChangeQuorumSeen: boolean;
  ticksInView: number;
  now: number;
  lastFetchTick: number;
  /** Future messages in arrival order (bounded in all and per sender: futureBuffer.ts). */
  future: Buffered[];
  /** Messages in `future` per sender key. */
  readonly futureBySender: Map<string, number>;
  /** Bytes of `future` per sender key, and in all. */
  readonly futureBytesBySender: Map<string, number>;
  futureBytes: number;
  lastCommit: Commit | null;
  /** Peers helped recently (cleared every resendTicks): bounds the replies to lagging peers. */
  readonly helped: Set<string>;
  readonly verified: Set<string>;
  out: Ready;
  dirty: boolean;
  readonly counters: PbftCounters;
}

export function createState(config: PbftConfig, deps: PbftDeps, start: PbftStart): CoreState {
  const height = start.committedHeight + 1;
  return {
    cfg: config,
    deps,
    self: toHex(config.nodeId),
    hash: (b) => deps.crypto.hash(b),
    height,
    parentHash: start.committedHash,
    validators: new ValidatorSet(start.validators),
    view: 0,
    viewChanging: false,
    votes: noVotes(),
    prepared: null,
    round: new Round(height, 0),
    requiredHash: null,
    newViewMsg: null,
    viewChanges: new ViewChangeStore(4),
    commits: new CommitStore(),
    validBlocks: new Map<string, ValidBlock>(),
    proposalRequested: false,
    next: null,
    nextVote: null,
    nextRequestParent: null,
    viewChangeQuorumSeen: false,
    ticksInView: 0,
    now: 0,
    lastFetchTick: Number.NEGATIVE_INFINITY,
    future: [],
    futureBySender: new Map<string, number>(),
    futureBytesBySender: new Map<string, number>(),
    futureBytes: 0,
    lastCommit: null,
    helped: new Set<string>(),
    verified: new Set<string>(),
    out: emptyReady(),
    dirty: false,
    counters: {
      futureDropped: 0,
      rejected: 0,
      viewChanges: 0,
      commits: 0,
      pipelined: 0,
      pipelineRestepped: 0,
    },
  };
}

/**
 * Block `s.height` is decided: the state of the next height, view 0, with no vote, lock or round left over. A
 * validator change takes effect now. (What a pipelined proposal brings over is the caller's: pipeline.ts.)
 */
export function enterNextHeight(s: CoreState, blockHash: Hash, nextValidators: ValidatorInfo[] | null): void {
  s.height++;
  s.parentHash = blockHash;
  if (nextValidators) s.validators = new ValidatorSet(nextValidators);
  s.view = 0;
  s.viewChanging = false;
  s.votes = noVotes();
  s.prepared = null;
  s.round = new Round(s.height, 0);
  s.requiredHash = null;
  s.newViewMsg = null;
  s.viewChanges.clear();
  s.commits.clear();
  s.validBlocks.clear();
  s.helped.clear();
  s.proposalRequested = false;
  s.ticksInView = 0;
  s.dirty = true;
}

export function emptyReady(): Ready {
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

export function noVotes(): Votes {
  return { prePrepare: null, prepare: null, commit: null };
}

export function messageView(msg: PbftMessage): number {
  return msg.type === "viewChange" ? msg.toView : msg.view;
}

/** Takes the PrePrepare of this view: the block goes out for execution. */
export function acceptPrePrepare(s: CoreState, msg: PrePrepare): void {
  s.round.prePrepare = msg;
  s.round.execution = "pending";
  s.out.execute.push({
    height: msg.height,
    view: msg.view,
    parentHash: s.parentHash,
    blockHash: msg.blockHash,
    payload: msg.payload,
  });
}

export function isValidator(s: CoreState): boolean {
  return s.validators.weightOfKey(s.self) > 0;
}

export function isLeader(s: CoreState): boolean {
  const leader = s.validators.leader(s.height, s.view, s.cfg.leaderPeriod);
  return leader !== null && toHex(leader) === s.self;
}

export function maybeRequestProposal(s: CoreState): void {
  if (s.viewChanging || s.proposalRequested || s.round.prePrepare !== null) return;
  if (s.requiredHash !== null || !isLeader(s)) return;
  s.proposalRequested = true;
  s.out.requestProposal = { height: s.height, view: s.view, parentHash: s.parentHash };
}

export function broadcast(s: CoreState, msg: PbftMessage): void {
  s.out.messages.push({ to: null, msg });
}

export function reject(s: CoreState, reason: RejectReason, msg: PbftMessage): void {
  rejectEvent(s, reason, { type: msg.type, height: msg.height, view: messageView(msg) });
}

export function rejectEvent(
  s: CoreState,
  reason: RejectReason,
  r: { type: Ready["rejections"][number]["type"]; height: number; view: number },
): void {
  s.counters.rejected++;
  if (s.out.rejections.length < s.cfg.rejectionsMax) s.out.rejections.push({ reason, ...r });
}

/** Something for the driver: outputs, or a hard state to persist. */
export function hasOutput(s: CoreState): boolean {
  const o = s.out;
  return (
    s.dirty ||
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

export interface CoreStatus {
  height: number;
  view: number;
  viewChanging: boolean;
  leader: NodeId | null;
  validators: readonly ValidatorInfo[];
}

export function statusOf(s: CoreState): CoreStatus {
  return {
    height: s.height,
    view: s.view,
    viewChanging: s.viewChanging,
    leader: s.validators.leader(s.height, s.view, s.cfg.leaderPeriod),
    validators: s.validators.list,
  };
}
