/**
 * Types of the pure PBFT core: messages, events in, Ready out, hard state, config and injected dependencies.
 * Plain data only. Byte strings are Uint8Array; heights and views are non-negative safe integers.
 */
import type {
  CertificateSignature,
  CommitCertificate,
  Hash,
  NodeId,
  ValidatorInfo,
} from "../../../types/index.js";

// ---------------------------------------------------------------- messages (every one signed by `sender`)

/** The leader's proposal for (height, view): carries the whole encoded block. */
export interface PrePrepare {
  type: "prePrepare";
  height: number;
  view: number;
  blockHash: Hash;
  payload: Uint8Array;
  sender: NodeId;
  signature: Uint8Array;
}

/** A replica executed the proposed block and found it valid. Signed over prepareDigest. */
export interface Prepare {
  type: "prepare";
  height: number;
  view: number;
  blockHash: Hash;
  sender: NodeId;
  signature: Uint8Array;
}

/** The sender is prepared on blockHash. Signed over commitDigest: a quorum of these is the CommitCertificate. */
export interface Commit {
  type: "commit";
  height: number;
  view: number;
  blockHash: Hash;
  sender: NodeId;
  signature: Uint8Array;
}

/** Proof that a quorum prepared blockHash at (height, view): their Prepare signatures, plus the block itself. */
export interface PreparedCertificate {
  height: number;
  view: number;
  blockHash: Hash;
  payload: Uint8Array;
  prepares: CertificateSignature[];
}

/** The sender gives up on the views below toView at this height; carries its highest prepared certificate. */
export interface ViewChange {
  type: "viewChange";
  height: number;
  toView: number;
  prepared: PreparedCertificate | null;
  sender: NodeId;
  signature: Uint8Array;
}

/** The leader of `view` proves a quorum of ViewChanges for it; a PrePrepare in `view` follows. */
export interface NewView {
  type: "newView";
  height: number;
  view: number;
  viewChanges: ViewChange[];
  sender: NodeId;
  signature: Uint8Array;
}

export type PbftMessage = PrePrepare | Prepare | Commit | ViewChange | NewView;
export type PbftMessageType = PbftMessage["type"];

// ---------------------------------------------------------------- events (inputs)

export type PbftEvent =
  /** A message from the network. `from` is the transport peer (a hint for fetchBlocks); the signer is msg.sender. */
  | { type: "message"; from: NodeId; msg: PbftMessage }
  /** Answer to requestProposal: the leader's driver built AND executed this block on the parent state. */
  | {
      type: "proposal";
      height: number;
      /** The parent it was built on (the requestProposal's parentHash); absent = the committed head. */
      parentHash?: Hash;
      blockHash: Hash;
      payload: Uint8Array;
      /** Set when executing this block changed the validator set (takes effect at height + 1). */
      nextValidators?: ValidatorInfo[];
    }
  /** Answer to executeBlock: `valid` = the block decodes, hashes to blockHash, extends the head, its roots check. */
  | {
      type: "blockExecuted";
      height: number;
      /** The block it was executed on (the executeBlock action's parentHash); absent = the committed head. */
      parentHash?: Hash;
      blockHash: Hash;
      valid: boolean;
      nextValidators?: ValidatorInfo[];
    }
  /** The driver applied block `height` obtained through sync, after verifying its certificate. */
  | {
      type: "synced";
      height: number;
      blockHash: Hash;
      certificate: CommitCertificate;
      nextValidators?: ValidatorInfo[];
    };

// ---------------------------------------------------------------- Ready (outputs)

/** What the driver must fsync BEFORE sending the messages of the same Ready. Small: one height, one view. */
export interface HardState {
  /** The height being decided (= committed height + 1). */
  height: number;
  /** The current view at `height`; in view change this is the view voted for. Never decreases at a height. */
  view: number;
  viewChanging: boolean;
  /** Block hashes this node signed in `view` (null = not signed yet). */
  prePrepareVote: Hash | null;
  prepareVote: Hash | null;
  commitVote: Hash | null;
  /** The highest prepared certificate at `height` (the lock reported in ViewChanges). */
  prepared: PreparedCertificate | null;
  /** The block the NewView of `view` mandates (its highest prepared certificate); null = the leader is free. */
  newViewHash: Hash | null;
  /**
   * Pipelining: the block this node, as leader of (height + 1, view 0), proposed ahead of time on top of the block
   * it executed at `height`. Never another one at (height + 1, 0), even after a restart. Absent in older files.
   */
  nextPrePrepareVote?: Hash | null;
}

/** One outbound message: `to` null = broadcast to every validator (the driver may also send to observers). */
export interface Outbound {
  to: NodeId | null;
  msg: PbftMessage;
}

export interface CommitBlockAction {
  height: number;
  blockHash: Hash;
  payload: Uint8Array;
  certificate: CommitCertificate;
  /** The validator set for height + 1 when this block changed it (also now in force in the core). */
  nextValidators: ValidatorInfo[] | null;
}

export interface ExecuteBlockAction {
  height: number;
  view: number;
  /**
   * Execute on top of this block: the committed head, or (pipelining) the block this node executed valid at
   * height - 1 and has not committed yet. A payload whose parent is another block is invalid.
   */
  parentHash: Hash;
  blockHash: Hash;
  payload: Uint8Array;
}

export interface RequestProposalAction {
  height: number;
  view: number;
  /** Build on this block: the committed head, or (pipelining) this node's executed, uncommitted block at height - 1. */
  parentHash: Hash;
}

export interface FetchBlocksAction {
  fromHeight: number;
  /** Peers that showed they are ahead (best first); may be empty. */
  peers: NodeId[];
}

/** Why an input was ignored: for debug logs and metrics, never thrown. */
export interface Rejection {
  reason: RejectReason;
  type: PbftMessageType | PbftEvent["type"];
  height: number;
  view: number;
}

export type RejectReason =
  | "NOT_VALIDATOR"
  | "BAD_SIGNATURE"
  | "WRONG_LEADER"
  | "OLD_HEIGHT"
  | "FUTURE_HEIGHT_BUFFERED"
  | "FUTURE_HEIGHT_TOO_FAR"
  | "OLD_VIEW"
  | "FUTURE_VIEW_BUFFERED"
  | "VIEW_TOO_FAR"
  | "DUPLICATE"
  | "CONFLICTING_VOTE"
  | "EQUIVOCATION"
  | "NEW_VIEW_MISMATCH"
  | "BAD_CERTIFICATE"
  | "BAD_NEW_VIEW"
  | "MALFORMED"
  | "STALE_EVENT"
  | "NOT_LEADER"
  | "ALREADY_VOTED";

/**
 * The outputs of one batch of steps. The driver handles them IN THIS ORDER:
 *  1. commits: write each block + certificate durably (the ledger batch), in order;
 *  2. persist: if non-null, save the hard state durably (fsync);
 *  3. messages: send (only now: a vote is on disk before anyone can see it);
 *  4. execute / requestProposal / fetchBlocks: start them (their answers come back as events later);
 * then call advance(ready). step()/tick() may be called at any time; their outputs go to the next Ready.
 */
export interface Ready {
  commits: CommitBlockAction[];
  persist: HardState | null;
  messages: Outbound[];
  execute: ExecuteBlockAction[];
  requestProposal: RequestProposalAction | null;
  fetchBlocks: FetchBlocksAction | null;
  /** The view timer expired or a view change started: for metrics/logs only (the core counts ticks itself). */
  viewChangeStarted: { height: number; toView: number; cause: ViewChangeCause } | null;
  /** Inputs the core ignored and why (bounded). */
  rejections: Rejection[];
  /** Evidence of Byzantine leaders: two signed PrePrepares for the same (height, view) with different hashes. */
  evidence: [PrePrepare, PrePrepare][];
}

export type ViewChangeCause = "timeout" | "invalidBlock" | "equivocation" | "joinHigherView" | "badProposal";

// ---------------------------------------------------------------- config and dependencies

export interface PbftCrypto {
  /** Sign a 32-byte digest with this node's key. */
  sign(digest: Uint8Array): Uint8Array;
  verify(nodeId: NodeId, digest: Uint8Array, signature: Uint8Array): boolean;
  hash(bytes: Uint8Array): Uint8Array;
}

export interface PbftLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface PbftDeps {
  crypto: PbftCrypto;
  logger?: PbftLogger;
}

export interface PbftConfig {
  /** This node's id (its Ed25519 public key). */
  nodeId: NodeId;
  /** Heights per leader before rotating (FISCO leader_period, >= 1). */
  leaderPeriod: number;
  /** Ticks in view 0 before a view change; doubled per consecutive failed view. */
  viewTimeoutTicks: number;
  /** Cap of the doubling: timeout = viewTimeoutTicks * 2^min(view, viewTimeoutDoublingsMax). */
  viewTimeoutDoublingsMax: number;
  /** Messages for heights in (height, height + futureHeightWindow] are buffered; beyond: dropped. */
  futureHeightWindow: number;
  /** Messages for views in (view, view + futureViewWindow] are buffered; beyond: dropped. */
  futureViewWindow: number;
  /** Bound of the future-message buffer; when full, the sender holding the most loses its oldest message. */
  futureBufferMax: number;
  /**
   * Future messages buffered per sender (the peer that delivered them) at most; beyond, that sender's oldest one
   * is dropped. 128 covers the 8 heights of futureHeightWindow with a round's messages (PrePrepare, Prepare,
   * Commit, ViewChange, NewView) in several views each, from an honest member; one member cannot evict others'.
   */
  futurePerSenderMax: number;
  /**
   * Bytes of future messages per sender at most (a PrePrepare carries its block: up to the gossip message bound):
   * counted alone, 128 messages of 4 MiB from a member, unsigned while their signer's validator set is unknown,
   * would be 512 MiB. 32 MiB holds a PrePrepare of each of the 8 heights of futureHeightWindow at 4 MiB.
   */
  futurePerSenderBytesMax: number;
  /** Bytes of the whole future buffer at most; beyond, the sender holding the most bytes loses its oldest message. */
  futureBufferBytesMax: number;
  /** Ticks between re-broadcasts of this node's own messages of the current phase (lossy networks). */
  resendTicks: number;
  /** Minimum ticks between two fetchBlocks actions. */
  fetchCooldownTicks: number;
  /** Bound of Ready.rejections. */
  rejectionsMax: number;
  /**
   * Pipelining (a window of two heights, PROTOCOL.md): the leader of (h + 1, view 0) builds and proposes h + 1 on
   * top of the block it executed at h before h commits, and replicas execute it on top of theirs. Votes on h + 1
   * still wait for h's commit.
   */
  pipeline: boolean;
}

export const defaultPbftConfig: Omit<PbftConfig, "nodeId"> = {
  leaderPeriod: 1,
  viewTimeoutTicks: 30,
  viewTimeoutDoublingsMax: 4,
  futureHeightWindow: 8,
  futureViewWindow: 16,
  futureBufferMax: 1024,
  futurePerSenderMax: 128,
  futurePerSenderBytesMax: 32 * 1024 * 1024,
  futureBufferBytesMax: 128 * 1024 * 1024,
  resendTicks: 10,
  fetchCooldownTicks: 20,
  rejectionsMax: 64,
  pipeline: true,
};

/** Where a (re)started core begins: the ledger head, its validator set, and the persisted hard state. */
export interface PbftStart {
  /** Committed height (0 = only genesis). */
  committedHeight: number;
  committedHash: Hash;
  /** Validator set in force at committedHeight + 1. */
  validators: ValidatorInfo[];
  /** The last persisted hard state, or null on first start. */
  hardState: HardState | null;
}
