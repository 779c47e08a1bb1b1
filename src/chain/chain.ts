import {
  type CompactBlock,
  decodeBlock,
  decodeCompactBlock,
  decodeTransaction,
  encodeBlock,
  encodeCompactBlock,
  hashHeader,
} from "../codec/index.js";
import type { GenesisConfig } from "../config/index.js";
import { type CertificateCheck, verifyCertificate } from "../consensus/index.js";
import { keccak256, verifyNodeSignature } from "../crypto/index.js";
import {
  type ConsensusNodes,
  type ExecutedBlock,
  type Executor,
  genesisState,
  proposerCoinbase,
  readConsensusNodes,
  readSystemConfig,
  type StateReader,
  type SystemConfig,
} from "../execution/index.js";
import { type Ledger, type LedgerHead, receiptRootOf, txRootOf } from "../ledger/index.js";
import type {
  Address,
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
import { ChainError } from "./errors.js";

/** Block gas limit shown to EVM code and Ethereum tools (a realistic constant; tx_gas_limit bounds each tx). */
export const BLOCK_GAS_LIMIT = 30_000_000_000n;
/** A proposal's timestamp may run ahead of this node's clock by at most this much. */
export const TIMESTAMP_DRIFT_MS_MAX = 15_000;
/** Executed-but-uncommitted blocks kept for commit (a few views' worth of proposals). */
const EXECUTED_CACHE_MAX = 16;

const ZERO_HASH = new Uint8Array(32);

export interface CommittedBlock {
  block: Block;
  hash: Hash;
  receipts: Receipt[];
  /** The node list changed in this block: effective from the next height. */
  validatorsChanged: boolean;
  configChanged: boolean;
}

export type CommitListener = (committed: CommittedBlock) => void;

interface ExecutedProposal {
  block: Block;
  executed: ExecutedBlock;
}

/**
 * The chain as consensus, sync and RPC see it: the ledger (committed blocks, flat state) plus the executor.
 * Builds proposals (leader), verifies them by executing (replicas), commits them with their certificate, and
 * answers "who validates height h" and "what is the system config" from committed state.
 */
export class Chain {
  private readonly executed = new Map<string, ExecutedProposal>();
  /** Txs of the executed-but-uncommitted blocks by hash hex: built on first use, dropped when `executed` changes. */
  private executedTxs: Map<string, Transaction> | null = null;
  private readonly listeners: CommitListener[] = [];
  private nodes: ConsensusNodes | null = null;
  private config: SystemConfig | null = null;

  constructor(
    readonly genesis: GenesisConfig,
    private readonly deps: {
      ledger: Ledger;
      executor: Executor;
      logger: Logger;
      /** The sender this node already recovered for a tx hash (the pool's), if any. */
      knownSender?: (txHash: Hash) => Address | undefined;
      /** The pool's decoded tx for a hash, if any (sender already recovered on admission). */
      poolTx?: (txHash: Hash) => Transaction | undefined;
      /**
       * Fetches the raw bytes of txs a compact proposal lists but this node lacks: asks the proposer first, then
       * other peers. Returns whatever it got (untrusted: each is decoded with sender recovery and checked here).
       */
      fetchTxs?: (txHashes: Hash[], proposer: NodeId) => Promise<Uint8Array[]>;
    },
  ) {}

  get ledger(): Ledger {
    return this.deps.ledger;
  }

  /** Commits the genesis block on an empty store, or checks the stored one is this genesis. */
  async init(): Promise<void> {
    const genesisBlock = this.genesisBlock();
    const genesisHash = hashHeader(genesisBlock.block.header);
    const stored = this.deps.ledger.genesisHash();
    if (stored === null) {
      await this.deps.ledger.commitBlock({
        block: genesisBlock.block,
        receipts: [],
        stateChanges: genesisBlock.stateChanges,
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
    const head = this.head();
    const started = performance.now();
    try {
      const ctx = await this.blockContext({
        number: head.number + 1,
        timestampMs: Date.now(),
        proposer: new Uint8Array(32),
      });
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

  private genesisBlock(): { block: Block; stateChanges: ExecutedBlock["stateChanges"] } {
    const { stateChanges, stateRoot } = genesisState(this.genesis);
    const header: BlockHeader = {
      chainId: this.genesis.chainId,
      groupId: this.genesis.groupId,
      number: 0,
      parentHash: ZERO_HASH,
      timestampMs: this.genesis.timestampMs,
      txRoot: txRootOf([]),
      receiptRoot: receiptRootOf([]),
      stateRoot,
      gasUsed: 0n,
      proposer: new Uint8Array(32),
      view: 0,
    };
    const certificate: CommitCertificate = {
      height: 0,
      view: 0,
      blockHash: hashHeader(header),
      signatures: [],
    };
    return { block: { header, transactions: [], certificate }, stateChanges };
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

  isMember(nodeId: NodeId): boolean {
    return this.isSealer(nodeId) || this.observers().some((o) => bytesEqual(o, nodeId));
  }

  onCommit(listener: CommitListener): void {
    this.listeners.push(listener);
  }

  private async refreshCommittedState(): Promise<void> {
    const next = this.height() + 1;
    this.nodes = await readConsensusNodes(this.deps.ledger, next);
    this.config = await readSystemConfig(this.deps.ledger, next);
  }

  private async blockContext(header: Pick<BlockHeader, "number" | "timestampMs" | "proposer">) {
    const parent = await this.deps.ledger.getHeader(header.number - 1);
    assert(parent !== null, `parent of block ${header.number} missing`);
    return {
      number: header.number,
      timestampMs: header.timestampMs,
      coinbase: proposerCoinbase(header.proposer),
      chainId: this.genesis.chainId,
      groupId: this.genesis.groupId,
      gasLimit: BLOCK_GAS_LIMIT,
      parentStateRoot: parent.stateRoot,
      getBlockHash: (n: number) => this.deps.ledger.getBlockHash(n),
      nativeNonceSeen: (nonce: Uint8Array) => this.deps.ledger.hasNativeNonce(nonce),
    };
  }

  /** Leader: execute `txs` on the head state (dropping invalid ones) and wrap the result in a block. */
  async buildBlock(
    txs: Transaction[],
    opts: { proposer: NodeId; view: number; nowMs: number },
  ): Promise<{ block: Block; hash: Hash; executed: ExecutedBlock }> {
    const head = this.head();
    const parent = await this.deps.ledger.getHeader(head.number);
    assert(parent !== null, "head header missing");
    const timestampMs = Math.max(opts.nowMs, parent.timestampMs + 1);
    const ctx = await this.blockContext({ number: head.number + 1, timestampMs, proposer: opts.proposer });
    const executed = await this.deps.executor.executeBlock(this.deps.ledger, ctx, txs, "build");
    const header: BlockHeader = {
      chainId: this.genesis.chainId,
      groupId: this.genesis.groupId,
      number: head.number + 1,
      parentHash: head.hash,
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
    this.remember(hash, { block, executed });
    return { block, hash, executed };
  }

  /**
   * Replica: decode a compact proposal (header + tx hashes and senders), resolve its txs (pool, executed cache,
   * ledger, then one fetch from the proposer / peers), check it extends the head, execute it and compare every root.
   * Throws ChainError / CodecError / ExecutionError when the block is invalid (CHAIN_MISSING_TXS: txs it lists
   * could not be found — invalid for now).
   */
  async verifyBlock(payload: Uint8Array, expectedHash: Hash, opts: { nowMs: number }): Promise<Block> {
    const compact = decodeCompactBlock(payload);
    const hash = hashHeader(compact.header);
    if (!bytesEqual(hash, expectedHash)) {
      throw new ChainError(
        "CHAIN_ROOT_MISMATCH",
        "proposal payload does not hash to the proposed block hash",
      );
    }
    const cached = this.executed.get(bytesToHex(hash));
    if (cached) return cached.block;
    await this.checkExtendsHead(compact.header, opts.nowMs);
    const block: Block = {
      header: compact.header,
      transactions: await this.resolveTransactions(compact),
      certificate: null,
    };
    return this.executeAndRemember(block, hash);
  }

  /** Replica / sync: a FULL block (encodeBlock bytes, as sync serves them), executed and compared. */
  private async verifyFullBlock(
    payload: Uint8Array,
    expectedHash: Hash,
    opts: { nowMs: number },
  ): Promise<Block> {
    const block = this.decodeProposal(payload);
    const hash = hashHeader(block.header);
    if (!bytesEqual(hash, expectedHash)) {
      throw new ChainError(
        "CHAIN_ROOT_MISMATCH",
        "proposal payload does not hash to the proposed block hash",
      );
    }
    const cached = this.executed.get(bytesToHex(hash));
    if (cached) return cached.block;
    await this.checkExtendsHead(block.header, opts.nowMs);
    return this.executeAndRemember(block, hash);
  }

  private async executeAndRemember(block: Block, hash: Hash): Promise<Block> {
    const ctx = await this.blockContext(block.header);
    const executed = await this.deps.executor.executeBlock(
      this.deps.ledger,
      ctx,
      block.transactions,
      "verify",
    );
    this.checkRoots(block.header, executed);
    this.remember(hash, { block, executed });
    return block;
  }

  /**
   * The txs a compact proposal lists, in order: from the pool, the executed cache or the ledger (each checked
   * against the listed sender), the rest fetched (decoded with sender recovery, checked against hash and sender).
   */
  private async resolveTransactions(compact: CompactBlock): Promise<Transaction[]> {
    const listed = compact.transactions;
    const found: (Transaction | undefined)[] = new Array(listed.length);
    const missing = new Map<string, number[]>();
    for (let i = 0; i < listed.length; i++) {
      const entry = listed[i] as CompactBlock["transactions"][number];
      const key = bytesToHex(entry.hash);
      const tx = this.deps.poolTx?.(entry.hash) ?? this.executedTx(key) ?? (await this.ledgerTx(entry.hash));
      if (tx) {
        this.checkListedSender(tx, entry.sender);
        found[i] = tx;
      } else {
        missing.set(key, [...(missing.get(key) ?? []), i]);
      }
    }
    if (missing.size > 0) {
      const wanted = [...missing.values()].map(
        (indexes) => (listed[indexes[0] as number] as CompactBlock["transactions"][number]).hash,
      );
      let raws: Uint8Array[] = [];
      try {
        raws = this.deps.fetchTxs ? await this.deps.fetchTxs(wanted, compact.header.proposer) : [];
      } catch (err) {
        this.deps.logger.debug({ err: String(err) }, "fetching proposal txs failed");
      }
      for (const raw of raws) {
        let tx: Transaction;
        try {
          tx = decodeTransaction(raw, { chainId: this.genesis.chainId });
        } catch {
          continue; // garbage from a peer: the tx stays missing
        }
        const indexes = missing.get(bytesToHex(tx.hash));
        if (!indexes) continue;
        for (const i of indexes) {
          this.checkListedSender(tx, (listed[i] as CompactBlock["transactions"][number]).sender);
          found[i] = tx;
        }
        missing.delete(bytesToHex(tx.hash));
      }
    }
    if (missing.size > 0) {
      throw new ChainError(
        "CHAIN_MISSING_TXS",
        `block ${compact.header.number}: ${missing.size} of ${listed.length} txs not found here nor at peers`,
        { missing: missing.size },
      );
    }
    return found as Transaction[];
  }

  private checkListedSender(tx: Transaction, listedSender: Address): void {
    if (!bytesEqual(tx.sender, listedSender)) {
      throw new ChainError(
        "CHAIN_ROOT_MISMATCH",
        `tx ${bytesToHex(tx.hash)}: the proposal lists sender ${bytesToHex(listedSender)}, the signature gives ${bytesToHex(tx.sender)}`,
      );
    }
  }

  private executedTx(hashHex: string): Transaction | undefined {
    if (this.executedTxs === null) {
      this.executedTxs = new Map();
      for (const proposal of this.executed.values()) {
        for (const tx of proposal.block.transactions) this.executedTxs.set(bytesToHex(tx.hash), tx);
      }
    }
    return this.executedTxs.get(hashHex);
  }

  private async ledgerTx(hash: Hash): Promise<Transaction | undefined> {
    return (await this.deps.ledger.getTransaction(hash))?.tx;
  }

  /** A tx by hash from the pool, the executed-but-uncommitted blocks or the ledger (what "txs" requests serve). */
  async findTransaction(hash: Hash): Promise<Transaction | undefined> {
    return this.deps.poolTx?.(hash) ?? this.executedTx(bytesToHex(hash)) ?? (await this.ledgerTx(hash));
  }

  /**
   * Decodes a full block, recovering only the senders this node has not recovered already: a tx that is in our pool
   * had its signature checked on admission (recovery costs ~65 µs; a replica would otherwise redo it for every tx).
   */
  private decodeProposal(payload: Uint8Array): Block {
    const block = decodeBlock(payload, { chainId: this.genesis.chainId, trustSenders: true });
    const known = this.deps.knownSender;
    block.transactions = block.transactions.map((tx) => {
      const sender = known?.(tx.hash);
      if (sender && bytesEqual(sender, tx.sender)) return tx;
      const checked = decodeTransaction(tx.raw, { chainId: this.genesis.chainId });
      if (!bytesEqual(checked.sender, tx.sender)) {
        throw new ChainError(
          "CHAIN_ROOT_MISMATCH",
          `tx ${bytesToHex(tx.hash)}: stored sender differs from the signature`,
        );
      }
      return checked;
    });
    return block;
  }

  private async checkExtendsHead(header: BlockHeader, nowMs: number): Promise<void> {
    const head = this.head();
    if (header.number !== head.number + 1) {
      throw new ChainError("CHAIN_BAD_HEIGHT", `block ${header.number} does not follow head ${head.number}`);
    }
    if (!bytesEqual(header.parentHash, head.hash)) {
      throw new ChainError(
        "CHAIN_BAD_PARENT",
        `block ${header.number} has parent ${bytesToHex(header.parentHash)}, head is ${bytesToHex(head.hash)}`,
      );
    }
    if (header.chainId !== this.genesis.chainId || header.groupId !== this.genesis.groupId) {
      throw new ChainError("CHAIN_BAD_PARENT", `block ${header.number} is for another chain or group`);
    }
    const parent = await this.deps.ledger.getHeader(head.number);
    if (
      !parent ||
      header.timestampMs <= parent.timestampMs ||
      header.timestampMs > nowMs + TIMESTAMP_DRIFT_MS_MAX
    ) {
      throw new ChainError(
        "CHAIN_BAD_TIMESTAMP",
        `block ${header.number} timestamp ${header.timestampMs} is out of range`,
      );
    }
    if (!this.isSealer(header.proposer)) {
      throw new ChainError("CHAIN_BAD_PROPOSER", `block ${header.number} proposer is not a sealer`);
    }
  }

  private checkRoots(header: BlockHeader, executed: ExecutedBlock): void {
    const mismatches: string[] = [];
    if (!bytesEqual(header.stateRoot, executed.stateRoot)) mismatches.push("stateRoot");
    if (!bytesEqual(header.txRoot, executed.txRoot)) mismatches.push("txRoot");
    if (!bytesEqual(header.receiptRoot, executed.receiptRoot)) mismatches.push("receiptRoot");
    if (header.gasUsed !== executed.gasUsed) mismatches.push("gasUsed");
    if (mismatches.length > 0) {
      throw new ChainError(
        "CHAIN_ROOT_MISMATCH",
        `block ${header.number}: ${mismatches.join(", ")} differ from local execution`,
      );
    }
  }

  private remember(hash: Hash, proposal: ExecutedProposal): void {
    this.executed.set(bytesToHex(hash), proposal);
    this.executedTxs = null;
    while (this.executed.size > EXECUTED_CACHE_MAX) {
      const oldest = this.executed.keys().next().value as string;
      this.executed.delete(oldest);
    }
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
    let proposal = this.executed.get(bytesToHex(blockHash));
    if (!proposal) {
      if (!payload)
        throw new ChainError("CHAIN_NOT_EXECUTED", `block ${bytesToHex(blockHash)} was never executed here`);
      const verify = compact ? this.verifyBlock.bind(this) : this.verifyFullBlock.bind(this);
      await verify(payload, blockHash, { nowMs: Number.MAX_SAFE_INTEGER / 2 });
      proposal = this.executed.get(bytesToHex(blockHash));
      assert(proposal !== undefined, "verified block not cached");
    }
    const block: Block = { ...proposal.block, certificate };
    // Read the node list and config in force after this block BEFORE the write, and swap them in right after
    // it: nobody sees the new height with the old sealers or system config.
    const after = this.executedStateReader(blockHash);
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
    this.executed.clear();
    this.executedTxs = null;
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
   * State after an executed-but-uncommitted block that changed the node list or the system config (null
   * otherwise): lets consensus learn the validator set for the next height before the block commits.
   */
  executedStateReader(blockHash: Hash): { height: number; state: StateReader } | null {
    const proposal = this.executed.get(bytesToHex(blockHash));
    if (!proposal || !(proposal.executed.validatorsChanged || proposal.executed.configChanged)) return null;
    const changes = new Map(proposal.executed.stateChanges.map(([k, v]) => [bytesToHex(k), v]));
    const ledger = this.deps.ledger;
    return {
      height: proposal.block.header.number,
      state: {
        async getState(key: Uint8Array) {
          const hex = bytesToHex(key);
          if (changes.has(hex)) return changes.get(hex) ?? undefined;
          return ledger.getState(key);
        },
      },
    };
  }

  /** What sync serves: the committed block as stored (with its certificate). */
  blockBytes(number: number): Promise<Uint8Array | null> {
    return this.deps.ledger.getBlockBytes(number);
  }

  /** The full block (raw txs): what the ledger stores and sync serves. */
  encode(block: Block): Uint8Array {
    return encodeBlock(block);
  }

  /** The consensus proposal payload: header + tx hashes and senders (replicas resolve or fetch the txs). */
  encodeProposal(block: Block): Uint8Array {
    return encodeCompactBlock(block);
  }
}

type ValidatorInfoList = ConsensusNodes["sealers"];

/** Ed25519 over the PBFT digests: the production crypto of the PBFT core. */
export const pbftCrypto = {
  sign: (): Uint8Array => {
    throw new Error("chain verifies only");
  },
  verify: (nodeId: NodeId, digest: Uint8Array, signature: Uint8Array) =>
    verifyNodeSignature(nodeId, digest, signature),
  hash: keccak256,
};
