/**
 * The chain and the pool as the real ConsensusDriver sees them, over the simulator's toy blocks. The committed
 * chain lives in the SimNode (it survives crashes); executed-but-uncommitted blocks live in the SimChain of one
 * incarnation (lost in a crash, as an executor's state is). A block may be built or verified on top of the head
 * or of an executed, uncommitted block (pipelined PBFT asks for h+1 while h is not committed yet).
 */
import type { ConsensusChain, ConsensusLimits, ConsensusPool } from "../../src/consensus/index.js";
import { toHex } from "../../src/consensus/index.js";
import type {
  Block,
  CommitCertificate,
  Hash,
  NodeId,
  Transaction,
  ValidatorInfo,
} from "../../src/types/index.js";
import { consensusBlock, decodeToyBlock, encodeToyBlock, toyBlockHash } from "./block.js";
import type { ChainEntry } from "./checker.js";

/** What a node's chain needs of the simulated world. */
export interface ChainWorld {
  /** The node's index, its committed chain (durable) and its Byzantine kind. */
  readonly index: number;
  readonly chain: ChainEntry[];
  readonly byz: string | null;
  readonly leaderPeriod: number;
  /** Runs `produce` `delayTicks` later and settles with its result; never settles if the node crashed meanwhile. */
  later<T>(delayTicks: number, produce: () => T): Promise<T>;
  /** A uniform integer in [min, max] from the seed. */
  int(min: number, max: number): number;
  validatorsAt(height: number): ValidatorInfo[];
  /** The new validator set when the block at `height` changes it. */
  validatorChangeAt(height: number): ValidatorInfo[] | undefined;
  /**
   * A decided block reaches the node's chain (checked by the safety checker): "applied"; "known" when the chain
   * has that height already (sync was first; a different block there is reported); "down" when the node crashed.
   */
  commit(entry: ChainEntry, height: number): "applied" | "known" | "down";
}

interface Executed {
  height: number;
  payload: Uint8Array;
}

/** Executed, uncommitted blocks kept at most (a leader and its replicas hold a few per height in flight). */
const EXECUTED_MAX = 256;
const LIMITS_TX_COUNT = 1000;

export class SimChain implements ConsensusChain {
  private readonly executed = new Map<string, Executed>();
  private readonly payloads = new WeakMap<Block, Uint8Array>();

  constructor(private readonly world: ChainWorld) {}

  head(): { number: number; hash: Hash } {
    const number = this.world.chain.length - 1;
    return { number, hash: this.world.chain[number]!.hash };
  }

  height(): number {
    return this.world.chain.length - 1;
  }

  validators(): ValidatorInfo[] {
    return this.world.validatorsAt(this.height() + 1);
  }

  isSealer(nodeId: NodeId): boolean {
    const hex = toHex(nodeId);
    return this.validators().some((v) => toHex(v.nodeId) === hex);
  }

  systemConfig(): ConsensusLimits {
    return {
      txCountLimit: LIMITS_TX_COUNT,
      blockGasLimit: 30_000_000n,
      consensusLeaderPeriod: this.world.leaderPeriod,
    };
  }

  /** Builds on `parentHash` when given (pipelining), else on the head; takes one tick, like execution. */
  buildBlock(
    txs: Transaction[],
    opts: { proposer: NodeId; view: number; nowMs: number; parentHash?: Hash },
  ): ReturnType<ConsensusChain["buildBlock"]> {
    const parentHash = opts.parentHash ?? this.head().hash;
    return this.world.later(1, () => {
      const parentHeight = this.heightOf(parentHash);
      if (parentHeight === null) throw new Error("the parent block is unknown here");
      const height = parentHeight + 1;
      const payload = encodeToyBlock({
        height,
        parentHash,
        proposer: this.world.index,
        nonce: this.world.int(0, 0xffff_ffff),
        valid: this.world.byz !== "invalidBlock",
      });
      const hash = toyBlockHash(payload);
      this.remember(hash, { height, payload });
      const block = consensusBlock(txs, { number: height });
      this.payloads.set(block, payload);
      return { block, hash, executed: { rejected: [] } };
    });
  }

  encodeProposal(block: Block): Uint8Array {
    const payload = this.payloads.get(block);
    if (!payload) throw new Error("not a block this chain built");
    return payload;
  }

  /**
   * Checks the toy block on its parent (the head or an executed block; the one consensus names when given) after
   * 1-2 ticks of "execution".
   */
  verifyBlock(
    payload: Uint8Array,
    expectedHash: Hash,
    opts: { nowMs: number; parentHash?: Hash },
  ): Promise<Block> {
    return this.world.later(this.world.int(1, 2), () => {
      const b = decodeToyBlock(payload);
      if (b === null || !b.valid) throw new Error("invalid block");
      if (toHex(toyBlockHash(payload)) !== toHex(expectedHash)) throw new Error("block hash mismatch");
      if (opts.parentHash && toHex(opts.parentHash) !== toHex(b.parentHash))
        throw new Error("the block extends another parent");
      const parentHeight = this.heightOf(b.parentHash);
      if (parentHeight === null || parentHeight + 1 !== b.height)
        throw new Error("the block does not extend a block executed here");
      this.remember(expectedHash, { height: b.height, payload });
      return consensusBlock([], { number: b.height, parentHash: b.parentHash });
    });
  }

  /** Applies at once (durable when it resolves); null when the height is committed already (sync was first). */
  commit(
    blockHash: Hash,
    certificate: CommitCertificate,
    payload: Uint8Array | undefined,
    _opts: { compact: boolean },
  ): Promise<{ block: Block } | null> {
    const known = this.executed.get(toHex(blockHash));
    const bytes = payload ?? known?.payload ?? new Uint8Array(0);
    const outcome = this.world.commit({ hash: blockHash, payload: bytes, certificate }, certificate.height);
    if (outcome === "down") return new Promise(() => {}); // crashed: the driver that asked is gone
    if (outcome === "known") return Promise.resolve(null);
    this.forgetUpTo(this.height());
    return Promise.resolve({ block: consensusBlock([]) });
  }

  /** A block sync applied: executed blocks at or below it are of no more use. */
  forgetUpTo(height: number): void {
    for (const [hex, e] of this.executed) if (e.height <= height) this.executed.delete(hex);
  }

  nextValidators(blockHash: Hash): Promise<ValidatorInfo[] | undefined> {
    const e = this.executed.get(toHex(blockHash));
    return Promise.resolve(e ? this.world.validatorChangeAt(e.height) : undefined);
  }

  private heightOf(hash: Hash): number | null {
    const head = this.head();
    if (toHex(hash) === toHex(head.hash)) return head.number;
    return this.executed.get(toHex(hash))?.height ?? null;
  }

  private remember(hash: Hash, e: Executed): void {
    if (this.executed.size >= EXECUTED_MAX) {
      const oldest = this.executed.keys().next().value;
      if (oldest !== undefined) this.executed.delete(oldest);
    }
    this.executed.set(toHex(hash), e);
  }
}

/**
 * A pool that never runs dry: every seal hands out one fresh transaction, so the leader always has a block to
 * propose and the view clock always runs (as the old simulator's leaders proposed whenever asked).
 */
export class SimPool implements ConsensusPool {
  private sealed = 0;

  constructor(private readonly nodeIndex: number) {}

  /** One short of a full block, as under a node's steady load: a leader waits out minBlockIntervalMs. */
  size(): number {
    return LIMITS_TX_COUNT - 1;
  }
  hasWork(): boolean {
    return true;
  }
  seal(_countMax: number, _gasMax?: bigint): Transaction[] {
    const hash = new Uint8Array(32);
    const view = new DataView(hash.buffer);
    view.setUint32(0, this.nodeIndex);
    view.setUint32(4, ++this.sealed);
    return [{ hash } as unknown as Transaction];
  }
  releaseSealed(_hashes?: Hash[]): void {}
  park(_hashes: Hash[]): void {}
  hold(_hashes: Hash[]): void {}
  drop(hashes: Hash[]): number {
    return hashes.length;
  }
  onAdded(_listener: (txs: Transaction[]) => void): () => void {
    return () => {};
  }
}
