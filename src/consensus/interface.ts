/**
 * What the consensus driver needs of the rest of the node, and nothing more: the chain (build, verify, commit
 * blocks; the head's validators and limits) and the pool (seal, give back, park, drop). Structural types over
 * src/types only, so consensus depends on no module above it: the node passes its Chain and TxPool, a test or a
 * simulator may pass its own.
 */
import type { Block, CommitCertificate, Hash, NodeId, Transaction, ValidatorInfo } from "../types/index.js";
import type { HardState } from "./pbft/core/index.js";

/** The head's settings that consensus reads (from the on-chain system config). */
export interface ConsensusLimits {
  txCountLimit: number;
  /** The sum of a block's tx gas limits may not exceed it. */
  blockGasLimit: bigint;
  /** Heights a leader keeps before the next one takes over. */
  consensusLeaderPeriod: number;
}

export interface ConsensusChain {
  head(): { number: number; hash: Hash };
  height(): number;
  /** Sealers in force at the next height. */
  validators(): ValidatorInfo[];
  isSealer(nodeId: NodeId): boolean;
  systemConfig(): ConsensusLimits;
  /**
   * Leader: execute `txs` on the head state (dropping invalid ones) into a block; with `parentHash`, on the state
   * after that executed, uncommitted block instead (pipelined PBFT; throws when the chain cannot build on it).
   */
  buildBlock(
    txs: Transaction[],
    opts: { proposer: NodeId; view: number; nowMs: number; parentHash?: Hash },
  ): Promise<{
    block: Block;
    hash: Hash;
    executed: { rejected: { tx: { hash: Hash }; retryable: boolean; reason: string; code: string }[] };
  }>;
  /**
   * Replica: decode, resolve, execute and compare a proposal (on its header's parent: the head or an executed,
   * uncommitted block); throws when it is invalid, or when its parent is not `parentHash` if given.
   */
  verifyBlock(
    payload: Uint8Array,
    expectedHash: Hash,
    opts: { nowMs: number; parentHash?: Hash },
  ): Promise<Block>;
  /** Null when the height was committed already (by sync). */
  commit(
    blockHash: Hash,
    certificate: CommitCertificate,
    payload: Uint8Array | undefined,
    opts: { compact: boolean },
  ): Promise<{ block: Block } | null>;
  /** The proposal payload of a block this node built. */
  encodeProposal(block: Block): Uint8Array;
  /** The validator set of the height after an executed, uncommitted block, when that block changes it. */
  nextValidators(blockHash: Hash): Promise<ValidatorInfo[] | undefined>;
}

export interface ConsensusPool {
  size(): number;
  /** Sealable txs or txs in flight: the view clock runs only while there is work. */
  hasWork(): boolean;
  seal(countMax: number, gasMax?: bigint): Transaction[];
  /** All in-flight txs sealable again when `hashes` is omitted. */
  releaseSealed(hashes?: Hash[]): void;
  park(hashes: Hash[]): void;
  /**
   * These pooled txs are in a proposal this node executed (it did not seal them): in flight, not sealed again, until
   * they commit or are released. Pipelining: the next leader then builds h + 1 from the txs h does not carry.
   */
  hold(hashes: Hash[]): void;
  drop(hashes: Hash[]): number;
  onAdded(listener: (txs: Transaction[]) => void): () => void;
}

/**
 * Time as the driver sees it: the wall clock and Node's timers in the node, a virtual clock in the simulator
 * (so the simulator runs this very driver, deterministically).
 */
export interface ConsensusClock {
  /** Milliseconds since the epoch: block timestamps, how long txs have waited, how long own work has run. */
  nowMs(): number;
  /** A monotonic clock in milliseconds, for durations in logs. */
  monotonicMs(): number;
  /** Calls `onTick` every `intervalMs` until the returned function is called. */
  every(intervalMs: number, onTick: () => void): () => void;
  /** Calls `task` once, `delayMs` from now, unless the returned function is called first. */
  after(delayMs: number, task: () => void): () => void;
  /** Runs `task` after the current turn of the event loop (the driver coalesces bursts into one such run). */
  soon(task: () => void): void;
}

/** Where the driver keeps its votes: saved durably before any message of the same Ready leaves the node. */
export interface HardStateStore {
  /** The last saved state, or null before the first save. */
  load(): Promise<HardState | null>;
  /** Resolves once the state is durable (fsynced): a crash after that cannot lose it. */
  save(state: HardState): Promise<void>;
}
