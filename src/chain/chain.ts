import { decodeCompactBlock, encodeCompactBlock, hashHeader } from "../codec/index.js";
import type { GenesisConfig } from "../config/index.js";
import { type CertificateCheck, verifyCertificate } from "../consensus/index.js";
import { keccak256, verifyNodeSignature } from "../crypto/index.js";
import {
  type BlockContext,
  type ConsensusNodes,
  type ExecutedBlock,
  type Executor,
  proposerCoinbase,
  readConsensusNodes,
  readSystemConfig,
  type StateReader,
  type SystemConfig,
} from "../execution/index.js";
import type { Ledger, LedgerHead } from "../ledger/index.js";
import type {
  Block,
  BlockHeader,
  CommitCertificate,
  Hash,
  NodeId,
  Receipt,
  Transaction,
} from "../types/index.js";
import { assert } from "../util/errors.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import {
  checkCommitsOnHead,
  checkExtends,
  checkNotInParent,
  checkRoots,
  logGasLimitEvidence,
  TIMESTAMP_DRIFT_MS_MAX,
} from "./blockChecks.js";
import { ChainError } from "./errors.js";
import { type ExecutedProposal, ExecutedProposals } from "./executedProposals.js";
import { genesisBlock } from "./genesisBlock.js";
import { ParentView, resolveParent, unknownParent } from "./parentView.js";
import { RunningVerifications } from "./runningVerifications.js";
import { TxResolver, type TxResolverDeps } from "./txResolver.js";

export interface CommittedBlock {
  block: Block;
  hash: Hash;
  receipts: Receipt[];
  /** The node list changed in this block: effective from the next height. */
  validatorsChanged: boolean;
  configChanged: boolean;
}

export type CommitListener = (committed: CommittedBlock) => void;

/** The chain's own parts, and where the txs of proposals and synced blocks come from (TxResolverDeps). */
export interface ChainDeps extends Pick<TxResolverDeps, "poolTx" | "fetchTxs" | "senders" | "recoverer"> {
  ledger: Ledger;
  executor: Executor;
  logger: Logger;
}

export { TIMESTAMP_DRIFT_MS_MAX };

/**
 * The chain as consensus, sync and RPC see it: the ledger (committed blocks, flat state) plus the executor.
 * Builds proposals (leader), verifies them by executing (replicas), commits them with their certificate, and
 * answers "who validates height h" and "what is the system config" from committed state. A block builds and
 * verifies on the head or (pipelined PBFT) on an executed, uncommitted parent (parentView.ts); it commits on the
 * head only.
 */
export class Chain {
  private readonly executed = new ExecutedProposals();
  private readonly verifying = new RunningVerifications();
  private readonly listeners: CommitListener[] = [];
  private readonly txs: TxResolver;
  private nodes: ConsensusNodes | null = null;
  private config: SystemConfig | null = null;

  constructor(
    readonly genesis: GenesisConfig,
    private readonly deps: ChainDeps,
  ) {
    this.txs = new TxResolver({
      ...deps,
      chainId: genesis.chainId,
      executedTx: (hashHex) => this.executed.tx(hashHex),
    });
  }

  get ledger(): Ledger {
    return this.deps.ledger;
  }

  /** The hash of this chain's block 0 (after init). */
  genesisHash(): Hash {
    const hash = this.deps.ledger.genesisHash();
    assert(hash !== null, "chain used before init()");
    return hash;
  }

  /** Commits the genesis block on an empty store, or checks the stored one is this genesis. */
  async init(): Promise<void> {
    const genesis = genesisBlock(this.genesis);
    const genesisHash = hashHeader(genesis.block.header);
    const stored = this.deps.ledger.genesisHash();
    if (stored === null) {
      await this.deps.ledger.commitBlock({
        block: genesis.block,
        receipts: [],
        stateChanges: genesis.stateChanges,
      });
      this.deps.logger.info({ hash: bytesToHex(genesisHash) }, "genesis block committed");
    } else if (!bytesEqual(stored, genesisHash)) {
      throw new ChainError(
        "CHAIN_GENESIS_MISMATCH",
        `the data directory holds a chain with genesis ${bytesToHex(stored)}, but the configured genesis file gives ${bytesToHex(genesisHash)}: use the genesis this data was created with, or a fresh data directory`,
      );
    }
    await this.refreshCommittedState();
    await this.warmUp();
  }

  /**
   * The first EVM run in a process pays for lazy module loading and JIT: seconds on a loaded machine, which made
   * the first proposal outlast the view timeout. Pay it at start with a throwaway contract creation call.
   */
  private async warmUp(): Promise<void> {
    const started = performance.now();
    try {
      const parent = await resolveParent(this.deps.ledger, this.executed, undefined);
      const ctx = this.blockContext(
        { number: parent.number + 1, timestampMs: Date.now(), proposer: new Uint8Array(32) },
        parent,
      );
      // init code PUSH1 0 PUSH1 0 RETURN: deploys empty code.
      await this.deps.executor.call(
        this.deps.ledger,
        { to: null, data: new Uint8Array([0x60, 0, 0x60, 0, 0xf3]) },
        ctx,
      );
    } catch (err) {
      this.deps.logger.debug({ err: String(err) }, "EVM warm-up failed");
    }
    this.deps.logger.debug({ ms: Math.round(performance.now() - started) }, "EVM warmed up");
  }

  head(): LedgerHead {
    const head = this.deps.ledger.head();
    assert(head !== null, "chain used before init()");
    return head;
  }

  height(): number {
    return this.head().number;
  }

  /** Sealers in force at the next height (from committed state). */
  validators(): ValidatorInfoList {
    assert(this.nodes !== null, "chain used before init()");
    return this.nodes.sealers;
  }

  observers(): NodeId[] {
    assert(this.nodes !== null, "chain used before init()");
    return this.nodes.observers;
  }

  systemConfig(): SystemConfig {
    assert(this.config !== null, "chain used before init()");
    return this.config;
  }

  isSealer(nodeId: NodeId): boolean {
    return this.validators().some((v) => bytesEqual(v.nodeId, nodeId));
  }

  /** A node's place in the node list at the head: "none" when it is on neither list (members refuse it). */
  roleOf(nodeId: NodeId): "sealer" | "observer" | "none" {
    if (this.isSealer(nodeId)) return "sealer";
    return this.observers().some((id) => bytesEqual(id, nodeId)) ? "observer" : "none";
  }

  onCommit(listener: CommitListener): void {
    this.listeners.push(listener);
  }

  private async refreshCommittedState(): Promise<void> {
    const next = this.height() + 1;
    this.nodes = await readConsensusNodes(this.deps.ledger, next);
    this.config = await readSystemConfig(this.deps.ledger, next);
  }

  private blockContext(
    header: Pick<BlockHeader, "number" | "timestampMs" | "proposer">,
    parent: ParentView,
  ): BlockContext {
    return {
      number: header.number,
      timestampMs: header.timestampMs,
      coinbase: proposerCoinbase(header.proposer),
      chainId: this.genesis.chainId,
      groupId: this.genesis.groupId,
      gasLimit: this.systemConfig().blockGasLimit,
      parentStateRoot: parent.header.stateRoot,
      getBlockHash: (n: number) => parent.getBlockHash(n),
      nativeNoncesSeen: (nonces: Uint8Array[]) => parent.nativeNoncesSeen(nonces),
      recentProposers: (count: number) => parent.proposersBefore(header.number, count),
    };
  }

  /** Proposers of blocks [number − count, number − 1] (not genesis), from their hashed headers: on chain, so alike on every node. */
  async proposersBefore(number: number, count: number): Promise<NodeId[]> {
    const out: NodeId[] = [];
    for (let h = Math.max(1, number - count); h < number; h++) {
      const header = await this.deps.ledger.getHeader(h);
      if (header !== null) out.push(header.proposer);
    }
    return out;
  }

  /**
   * Leader: execute `txs` (dropping invalid ones) on the state after `parentHash` (the head when omitted, or a block
   * executed here: pipelined PBFT, see parentView) and wrap the result in a block. Txs the uncommitted parents carry
   * already are left out (not rejected: they commit with their block or go back to the pool with it).
   */
  async buildBlock(
    txs: Transaction[],
    opts: { proposer: NodeId; view: number; nowMs: number; parentHash?: Hash },
  ): Promise<{ block: Block; hash: Hash; executed: ExecutedBlock }> {
    const parent = await resolveParent(this.deps.ledger, this.executed, opts.parentHash);
    const fresh =
      parent.pending.length === 0 ? txs : txs.filter((tx) => !parent.pendingTx(bytesToHex(tx.hash)));
    const timestampMs = Math.max(opts.nowMs, parent.header.timestampMs + 1);
    const ctx = this.blockContext(
      { number: parent.number + 1, timestampMs, proposer: opts.proposer },
      parent,
    );
    const executed = await this.deps.executor.executeBlock(parent.state(), ctx, fresh, "build");
    const header: BlockHeader = {
      chainId: this.genesis.chainId,
      groupId: this.genesis.groupId,
      number: parent.number + 1,
      parentHash: parent.hash,
      timestampMs,
      txRoot: executed.txRoot,
      receiptRoot: executed.receiptRoot,
      stateRoot: executed.stateRoot,
      gasUsed: executed.gasUsed,
      proposer: opts.proposer,
      view: opts.view,
    };
    const block: Block = { header, transactions: executed.transactions, certificate: null };
    const hash = hashHeader(header);
    await this.rememberIfParentLive(hash, { block, executed }, parent);
    return { block, hash, executed };
  }

  /**
   * Replica: decode a compact proposal (header + tx hashes and senders), resolve its txs (pool, executed cache,
   * ledger, then one fetch from the proposer / peers), check it extends its parent (the head, or pipelined, a block
   * executed here: see parentView), execute it on the state after the parent and compare every root.
   * Throws ChainError / CodecError / ExecutionError when the block is invalid (CHAIN_MISSING_TXS: txs it lists
   * could not be found — invalid for now). With `parentHash` (consensus: the parent it executes the block on), a
   * header naming another parent is CHAIN_BAD_PARENT.
   */
  async verifyBlock(
    payload: Uint8Array,
    expectedHash: Hash,
    opts: { nowMs: number; parentHash?: Hash },
  ): Promise<Block> {
    const compact = decodeCompactBlock(payload);
    return this.verifyDecoded(compact.header, expectedHash, opts, () => this.txs.resolve(compact));
  }

  /** Replica / sync: a FULL block (encodeBlock bytes, as sync serves them), executed and compared. */
  private async verifyFullBlock(
    payload: Uint8Array,
    expectedHash: Hash,
    opts: { nowMs: number },
  ): Promise<Block> {
    const block = await this.txs.decodeFull(payload);
    return this.verifyDecoded(block.header, expectedHash, opts, async () => block.transactions);
  }

  private async verifyDecoded(
    header: BlockHeader,
    expectedHash: Hash,
    opts: { nowMs: number; parentHash?: Hash },
    transactions: () => Promise<Transaction[]>,
  ): Promise<Block> {
    const hash = hashHeader(header);
    if (!bytesEqual(hash, expectedHash)) {
      throw new ChainError(
        "CHAIN_ROOT_MISMATCH",
        "proposal payload does not hash to the proposed block hash",
      );
    }
    if (opts.parentHash !== undefined && !bytesEqual(header.parentHash, opts.parentHash)) {
      throw new ChainError(
        "CHAIN_BAD_PARENT",
        `block ${header.number} has parent ${bytesToHex(header.parentHash)}, not the expected ${bytesToHex(opts.parentHash)}`,
      );
    }
    // The same block may be executing right now (consensus and sync): wait for it, then reuse its execution.
    while (this.verifying.has(hash)) await this.verifying.settled(hash);
    const cached = this.executed.get(hash);
    if (cached) return cached.block;
    if (header.chainId !== this.genesis.chainId || header.groupId !== this.genesis.groupId) {
      throw new ChainError("CHAIN_BAD_PARENT", `block ${header.number} is for another chain or group`);
    }
    return this.verifying.run(hash, async () => {
      await this.verifying.settled(header.parentHash); // its parent may be executing right now (pipelined)
      const parent = await resolveParent(this.deps.ledger, this.executed, header.parentHash, header.number);
      checkExtends(header, parent, opts.nowMs, (id) => this.isSealer(id));
      const txs = await transactions();
      checkNotInParent(header, txs, parent);
      try {
        return await this.executeAndRemember({ header, transactions: txs, certificate: null }, hash, parent);
      } catch (err) {
        logGasLimitEvidence(header, err, this.deps.logger);
        throw err;
      }
    });
  }

  private async executeAndRemember(block: Block, hash: Hash, parent: ParentView): Promise<Block> {
    const ctx = this.blockContext(block.header, parent);
    const executed = await this.deps.executor.executeBlock(parent.state(), ctx, block.transactions, "verify");
    checkRoots(block.header, executed);
    await this.rememberIfParentLive(hash, { block, executed }, parent);
    return block;
  }

  /**
   * Caches an execution unless a commit meanwhile left its parent behind: a block committed at the parent's height
   * that is not the parent (its state is not the one this block ran on) → CHAIN_UNKNOWN_PARENT. When the block's own
   * height got committed meanwhile (sync), there is nothing to keep.
   */
  private async rememberIfParentLive(
    hash: Hash,
    proposal: Omit<ExecutedProposal, "hash">,
    parent: ParentView,
  ): Promise<void> {
    const head = this.head();
    const number = proposal.block.header.number;
    if (number <= head.number) return;
    if (this.executed.lineage(parent.hash, head) === null) {
      throw await unknownParent(this.deps.ledger, parent.hash, head.number, number);
    }
    this.executed.remember(hash, proposal);
  }

  /** A tx by hash from the pool, the executed-but-uncommitted blocks or the ledger (what "txs" requests serve). */
  findTransaction(hash: Hash): Promise<Transaction | undefined> {
    return this.txs.find(hash);
  }

  /** Checks a commit certificate against the validator set in force at its height (the next height). */
  checkCertificate(certificate: CommitCertificate, blockHash: Hash): CertificateCheck {
    if (!bytesEqual(certificate.blockHash, blockHash)) return { ok: false, reason: "MALFORMED" };
    return verifyCertificate(certificate, this.validators(), pbftCrypto);
  }

  /**
   * Commits a block that consensus (or sync, after checking the certificate) decided. Serialized: consensus and
   * sync may race to commit the same height; the second one finds it committed and gets null (a different block at
   * a committed height is a broken invariant: safety was violated somewhere, so stop).
   * `payload`, used only when the block was not executed here: the FULL block (encodeBlock bytes, as sync serves
   * them), or with `{ compact: true }` the compact proposal consensus carries (see verifyBlock).
   */
  commit(
    blockHash: Hash,
    certificate: CommitCertificate,
    payload?: Uint8Array,
    opts: { compact?: boolean } = {},
  ): Promise<CommittedBlock | null> {
    const run = this.commitChain.then(() =>
      this.commitNow(blockHash, certificate, payload, opts.compact === true),
    );
    this.commitChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private commitChain: Promise<void> = Promise.resolve();

  private async commitNow(
    blockHash: Hash,
    certificate: CommitCertificate,
    payload: Uint8Array | undefined,
    compact: boolean,
  ): Promise<CommittedBlock | null> {
    if (certificate.height <= this.height()) {
      const existing = await this.deps.ledger.getBlockHash(certificate.height);
      assert(
        existing !== null && bytesEqual(existing, blockHash),
        `conflicting block at committed height ${certificate.height}`,
      );
      return null;
    }
    let proposal = this.executed.get(blockHash);
    if (!proposal) {
      if (!payload)
        throw new ChainError("CHAIN_NOT_EXECUTED", `block ${bytesToHex(blockHash)} was never executed here`);
      const verify = compact ? this.verifyBlock.bind(this) : this.verifyFullBlock.bind(this);
      await verify(payload, blockHash, { nowMs: Number.MAX_SAFE_INTEGER / 2 });
      proposal = this.executed.get(blockHash);
      assert(proposal !== undefined, "verified block not cached");
    }
    checkCommitsOnHead(
      proposal,
      this.head(),
      this.executed.get(proposal.block.header.parentHash) !== undefined,
    );
    const block: Block = { ...proposal.block, certificate };
    // Read the node list and config in force after this block BEFORE the write, and swap them in right after
    // it: nobody sees the new height with the old sealers or system config.
    const after = this.stateAfterChange(blockHash);
    const next = after
      ? {
          nodes: await readConsensusNodes(after.state, after.height + 1),
          config: await readSystemConfig(after.state, after.height + 1),
        }
      : null;
    await this.deps.ledger.commitBlock({
      block,
      receipts: proposal.executed.receipts,
      stateChanges: proposal.executed.stateChanges,
    });
    this.executed.pruneAfterCommit(blockHash, block.header.number);
    if (next) {
      this.nodes = next.nodes;
      this.config = next.config;
    }
    const committed: CommittedBlock = {
      block,
      hash: blockHash,
      receipts: proposal.executed.receipts,
      validatorsChanged: proposal.executed.validatorsChanged,
      configChanged: proposal.executed.configChanged,
    };
    for (const listener of this.listeners) {
      try {
        listener(committed);
      } catch (err) {
        this.deps.logger.error({ err: String(err) }, "commit listener failed");
      }
    }
    return committed;
  }

  /**
   * The validator set of the height after an executed-but-uncommitted block, when that block changed the node
   * list or the system config (undefined otherwise): consensus learns it before the block commits.
   */
  async nextValidators(blockHash: Hash): Promise<ValidatorInfoList | undefined> {
    const after = this.stateAfterChange(blockHash);
    if (!after) return undefined;
    return (await readConsensusNodes(after.state, after.height + 1)).sealers;
  }

  /**
   * The state after an executed block that changed the node list or the system config (null otherwise): its
   * changes and its uncommitted parents' over the committed state.
   */
  private stateAfterChange(blockHash: Hash): { height: number; state: StateReader } | null {
    const proposal = this.executed.get(blockHash);
    if (!proposal || !(proposal.executed.validatorsChanged || proposal.executed.configChanged)) return null;
    const head = this.head();
    // A block whose parents are gone never commits: its own changes over the committed state, as before pipelining.
    const pending = this.executed.lineage(blockHash, head) ?? [proposal];
    const view = new ParentView(this.deps.ledger, head, proposal.block.header, pending);
    return { height: proposal.block.header.number, state: view.state() };
  }

  /** What sync serves: the committed block as stored (with its certificate). */
  blockBytes(number: number): Promise<Uint8Array | null> {
    return this.deps.ledger.getBlockBytes(number);
  }

  /** The consensus proposal payload: header + tx hashes and senders (replicas resolve or fetch the txs). */
  encodeProposal(block: Block): Uint8Array {
    return encodeCompactBlock(block);
  }
}

type ValidatorInfoList = ConsensusNodes["sealers"];

/** What certificate checks need of the PBFT crypto: Ed25519 verification over keccak digests. */
export const pbftCrypto = {
  verify: (nodeId: NodeId, digest: Uint8Array, signature: Uint8Array) =>
    verifyNodeSignature(nodeId, digest, signature),
  hash: keccak256,
};
