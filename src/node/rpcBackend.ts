import type { Chain, CommittedBlock } from "../chain/index.js";
import type { ConsensusDriver } from "../consensus/driver.js";
import {
  type BlockContext,
  type CallRequest,
  type Executor,
  mergeBlooms,
  proposerCoinbase,
  readAccount,
  readCode,
  readStorage,
  type StateReader,
} from "../execution/index.js";
import { type LedgerBlock, LedgerError, type TxLookup } from "../ledger/index.js";
import { nodeIdToPeerId, type Transport } from "../network/index.js";
import {
  type RpcAccessListResult,
  type RpcBackend,
  type RpcBlock,
  type RpcCallRequest,
  type RpcCallResult,
  type RpcConsensusStatus,
  RpcError,
  type RpcNewBlockEvent,
  type RpcNodeInfo,
  type RpcPeer,
  type RpcReceiptLookup,
  type RpcStateBlock,
  type RpcSyncStatus,
  type RpcTracerSpec,
  type RpcTxLocation,
  type RpcTxLookup,
} from "../rpc/index.js";
import type { BlockSync } from "../sync/index.js";
import type { TxPoolInterface } from "../txpool/index.js";
import type {
  Address,
  BlockHeader,
  Hash,
  NodeId,
  Receipt,
  Transaction,
  ValidatorInfo,
} from "../types/index.js";
import { bytesEqual } from "../util/hex.js";
import { makeTracer, TraceBackend } from "./traceBackend.js";

export const CLIENT_VERSION = `consort/v0.1.0/${process.platform}-${process.arch}/node${process.versions.node}`;

const EMPTY_BLOOM = new Uint8Array(256);
/** COINBASE of an eth_call (no proposer: the all-zero node ID's), hashed once rather than per call. */
const CALL_COINBASE = proposerCoinbase(new Uint8Array(32));

export interface NodeRpcBackendDeps {
  chain: Chain;
  executor: Executor;
  txpool: TxPoolInterface;
  transport: Transport;
  consensus: ConsensusDriver;
  sync: BlockSync;
  nodeId: NodeId;
}

/** The node's side of the JSON-RPC server: thin reads over the ledger, pool, executor and consensus. */
export class NodeRpcBackend implements RpcBackend {
  readonly chainId: bigint;
  readonly groupId: string;
  readonly clientVersion = CLIENT_VERSION;
  private readonly startingBlock: number;
  private readonly blockListeners = new Set<(event: RpcNewBlockEvent) => void>();
  private commitHooked = false;
  private blockEvents: Promise<void> = Promise.resolve();

  private readonly traces: TraceBackend;

  constructor(private readonly deps: NodeRpcBackendDeps) {
    this.traces = new TraceBackend({
      chain: deps.chain,
      executor: deps.executor,
      stateAfter: (n) => this.stateAt(n).state,
    });
    this.chainId = deps.chain.genesis.chainId;
    this.groupId = deps.chain.genesis.groupId;
    this.startingBlock = deps.chain.height();
  }

  private get ledger() {
    return this.deps.chain.ledger;
  }

  headNumber(): number {
    return this.deps.chain.height();
  }

  async getBlock(ref: number | Hash, withTransactions: boolean): Promise<RpcBlock | null> {
    const block = (await this.ledger.getBlock(ref, { withTransactions: true })) as LedgerBlock | null;
    if (!block) return null;
    const receipts = await this.ledger.getBlockReceipts(block.header.number);
    const bytes = await this.ledger.getBlockBytes(block.header.number);
    return toRpcBlock(
      block.header,
      block.hash,
      block.transactions,
      receipts,
      withTransactions,
      bytes?.length ?? 0,
      block.certificate,
    );
  }

  async getTransaction(hash: Hash): Promise<RpcTxLookup | null> {
    const found = await this.ledger.getTransaction(hash);
    if (found) {
      return {
        tx: found.tx,
        location: locationOf(found),
      };
    }
    const pending = this.deps.txpool.get(hash);
    return pending ? { tx: pending, location: null } : null;
  }

  async getReceipt(hash: Hash): Promise<RpcReceiptLookup | null> {
    const found = await this.ledger.getReceipt(hash);
    if (!found) return null;
    return {
      receipt: found.receipt,
      tx: found.tx,
      location: locationOf(found),
    };
  }

  getBlockReceipts(blockNumber: number): Promise<Receipt[]> {
    return this.ledger.getBlockReceipts(blockNumber);
  }

  getTransactionProof(hash: Hash): Promise<unknown | null> {
    return this.ledger.getTxProof(hash);
  }

  getReceiptProof(hash: Hash): Promise<unknown | null> {
    return this.ledger.getReceiptProof(hash);
  }

  async sendRawTransaction(raw: Uint8Array): Promise<Hash> {
    const tx = await this.deps.txpool.add(raw, { origin: "local" });
    return tx.hash;
  }

  /**
   * The state `block` names and its height: the head's (the ledger itself), or a past block's through the ledger's
   * state history (the last `stateHistoryBlocks` blocks). Older → RPC_STATE_UNAVAILABLE naming the window.
   */
  private stateAt(block: RpcStateBlock): { state: StateReader; number: number } {
    const head = this.headNumber();
    if (typeof block !== "number" || block === head) return { state: this.ledger, number: head };
    let reader: StateReader;
    try {
      reader = this.ledger.stateReaderAt(block);
    } catch (err) {
      throw this.stateError(err, block);
    }
    return {
      number: block,
      state: {
        // The window may move past `block` during a long read: same error as when it already had.
        getState: (key) =>
          reader.getState(key).catch((err: unknown) => {
            throw this.stateError(err, block);
          }),
      },
    };
  }

  private stateError(err: unknown, block: number): unknown {
    if (!(err instanceof LedgerError)) return err;
    if (err.code === "LEDGER_STATE_UNKNOWN_BLOCK") return new RpcError("RPC_NOT_FOUND", "header not found");
    if (err.code !== "LEDGER_STATE_PRUNED") return err;
    const head = this.headNumber();
    const window = this.ledger.stateHistoryBlocks();
    const kept =
      window === 0
        ? `the state of the latest block (${head}) only`
        : `the state of the last ${window} blocks (stateHistoryBlocks; now blocks ${this.ledger.oldestStateBlock()}..${head})`;
    return new RpcError(
      "RPC_STATE_UNAVAILABLE",
      `state of block ${block} is not available: this node keeps ${kept}`,
      {
        block,
        head,
        stateHistoryBlocks: window,
      },
    );
  }

  /**
   * What a call at `block` runs on: that block's state, in the context of the block after it (number + 1; a
   * timestamp after the block's, its real successor's for a past block; PREVRANDAO = the block's state root, as the
   * next block's) with the gas cap: the request's gas or the block gas limit, lowered to the executor's maximum.
   */
  private async callSetup(request: RpcCallRequest, block: RpcStateBlock) {
    const { state, number } = this.stateAt(block);
    const header = await this.ledger.getHeader(number);
    const next = number < this.headNumber() ? await this.ledger.getHeader(number + 1) : null;
    // The executor lowers any limit to its per-call cap: use (and report) that limit, so estimateGas's bound and
    // its "gas required exceeds allowance (…)" message are the real ones.
    const callCap = this.deps.executor.callGasLimitMax;
    let gasLimit = request.gasLimit ?? this.blockGasLimit();
    if (gasLimit > callCap) gasLimit = callCap;
    const req: CallRequest = {
      from: request.from ?? undefined,
      to: request.to,
      data: request.data,
      value: request.value,
      gasLimit,
      ...(request.gasPrice === null ? {} : { gasPrice: request.gasPrice }),
      ...(request.accessList === undefined ? {} : { accessList: request.accessList }),
    };
    const ctx: BlockContext = {
      number: number + 1,
      timestampMs: next?.timestampMs ?? Math.max(Date.now(), (header?.timestampMs ?? 0) + 1),
      coinbase: CALL_COINBASE,
      chainId: this.chainId,
      groupId: this.groupId,
      gasLimit: this.blockGasLimit(),
      parentStateRoot: header?.stateRoot ?? new Uint8Array(32),
      getBlockHash: (n) => (n <= number ? this.ledger.getBlockHash(n) : Promise.resolve(null)),
      recentProposers: (count) => this.deps.chain.proposersBefore(number + 1, count),
    };
    return { state, req, ctx, gasLimit };
  }

  async call(request: RpcCallRequest, block: RpcStateBlock): Promise<RpcCallResult> {
    const { state, req, ctx, gasLimit } = await this.callSetup(request, block);
    const result = await this.deps.executor.call(state, req, ctx);
    // EXEC_CALL_TIMEOUT (a ConsortError) propagates: the RPC layer shows it as -32000 "execution aborted (…)".
    return {
      status: result.status,
      output: result.output,
      gasUsed: result.gasUsed,
      error: result.error,
      gasLimit,
    };
  }

  async traceCall(request: RpcCallRequest, block: RpcStateBlock, spec: RpcTracerSpec): Promise<unknown> {
    const { state, req, ctx } = await this.callSetup(request, block);
    const tracer = makeTracer(spec);
    await this.deps.executor.traceCall(state, req, ctx, tracer);
    return tracer.result();
  }

  async createAccessList(request: RpcCallRequest, block: RpcStateBlock): Promise<RpcAccessListResult> {
    return this.traces.createAccessList(async (r, tracer) => {
      const { state, req, ctx } = await this.callSetup(r, block);
      const res = await this.deps.executor.traceCall(state, req, ctx, tracer);
      return { gasUsed: res.gasUsed, error: res.error };
    }, request);
  }

  sealersAt(blockNumber: number): Promise<ValidatorInfo[]> {
    return this.traces.sealersAt(blockNumber);
  }

  traceTransaction(hash: Hash, spec: RpcTracerSpec): Promise<unknown | null> {
    return this.traces.traceTransaction(hash, spec);
  }

  traceBlock(blockNumber: number, spec: RpcTracerSpec): Promise<{ txHash: Hash; result: unknown }[] | null> {
    return this.traces.traceBlock(blockNumber, spec);
  }

  async getBalance(address: Address, block: RpcStateBlock): Promise<bigint> {
    return (await readAccount(this.stateAt(block).state, address)).balance;
  }

  async getNonce(address: Address, block: RpcStateBlock): Promise<bigint> {
    if (block === "pending") return this.deps.txpool.pendingNonce(address);
    return (await readAccount(this.stateAt(block).state, address)).nonce;
  }

  async getCode(address: Address, block: RpcStateBlock): Promise<Uint8Array> {
    return readCode(this.stateAt(block).state, address);
  }

  async getStorageAt(address: Address, slot: Uint8Array, block: RpcStateBlock): Promise<Uint8Array> {
    return readStorage(this.stateAt(block).state, address, slot);
  }

  gasPrice(): bigint {
    return this.deps.chain.systemConfig().minGasPrice;
  }

  blockGasLimit(): bigint {
    return this.deps.chain.systemConfig().blockGasLimit;
  }

  pendingCount(): number {
    return this.deps.txpool.size();
  }

  pendingTransactions(limit: number): Transaction[] {
    return this.deps.txpool.pending(limit);
  }

  totalTransactionCount(): { transactionCount: number; failedTransactionCount: number } {
    return {
      transactionCount: this.ledger.totalTransactionCount(),
      failedTransactionCount: this.ledger.failedTransactionCount(),
    };
  }

  sealers(): ValidatorInfo[] {
    return this.deps.chain.validators();
  }

  observers(): NodeId[] {
    return this.deps.chain.observers();
  }

  async getSystemConfig(key: string): Promise<{ value: string; enableNumber: number } | null> {
    return this.deps.chain.systemConfig().entries[key] ?? null;
  }

  consensusStatus(): RpcConsensusStatus {
    const status = this.deps.consensus.status();
    const sealers = this.deps.chain.validators();
    return {
      view: status?.view ?? 0,
      leader: status?.leader ?? null,
      height: this.deps.chain.height(),
      nodeIndex: sealers.findIndex((s) => bytesEqual(s.nodeId, this.deps.nodeId)),
    };
  }

  syncStatus(): RpcSyncStatus {
    const s = this.deps.sync.status();
    return {
      syncing: s.syncing,
      startingBlock: this.startingBlock,
      currentBlock: s.currentBlock,
      highestBlock: s.highestBlock,
    };
  }

  peers(): RpcPeer[] {
    return this.deps.transport.connectedPeers().map((nodeId) => ({
      nodeId,
      peerId: nodeIdToPeerId(nodeId).toString(),
      address: this.deps.transport.peerAddress(nodeId) ?? "",
    }));
  }

  nodeInfo(): RpcNodeInfo {
    return {
      nodeId: this.deps.nodeId,
      role: this.deps.chain.roleOf(this.deps.nodeId),
      version: CLIENT_VERSION,
    };
  }

  /**
   * New-block events, after commit and off the commit path: the chain's listener only chains the work; the event (with
   * the stored block's size, as eth_getBlockByNumber reports it) reaches listeners in commit order. One chain listener
   * serves all, so an unsubscribe really detaches.
   */
  onNewBlock(listener: (event: RpcNewBlockEvent) => void): () => void {
    if (!this.commitHooked) {
      this.commitHooked = true;
      this.deps.chain.onCommit((c: CommittedBlock) => {
        if (this.blockListeners.size === 0) return;
        this.blockEvents = this.blockEvents.then(() => this.emitBlock(c)).catch(() => {});
      });
    }
    this.blockListeners.add(listener);
    return () => {
      this.blockListeners.delete(listener);
    };
  }

  /** Listeners currently attached (tests: an unsubscribe detaches). */
  get newBlockListenerCount(): number {
    return this.blockListeners.size;
  }

  private async emitBlock(c: CommittedBlock): Promise<void> {
    const bytes = await this.ledger.getBlockBytes(c.block.header.number).catch(() => null);
    const block = toRpcBlock(
      c.block.header,
      c.hash,
      c.block.transactions,
      c.receipts,
      true,
      bytes?.length ?? 0,
      c.block.certificate,
    );
    for (const l of this.blockListeners) l({ block, receipts: c.receipts });
  }

  onPendingTransactions(listener: (hashes: Hash[]) => void): () => void {
    return this.deps.txpool.onAdded((txs) => listener(txs.map((t) => t.hash)));
  }
}

function toRpcBlock(
  header: BlockHeader,
  hash: Hash,
  transactions: Transaction[],
  receipts: Receipt[],
  withTransactions: boolean,
  sizeBytes: number,
  certificate: RpcBlock["certificate"],
): RpcBlock {
  return {
    header,
    hash,
    transactionHashes: transactions.map((t) => t.hash),
    transactions: withTransactions ? transactions : null,
    logsBloom: receipts.length > 0 ? mergeBlooms(receipts.map((r) => r.logsBloom)) : EMPTY_BLOOM,
    sizeBytes,
    certificate,
  };
}

/** Where the ledger found a committed transaction, as the RPC layer names it. */
function locationOf(found: TxLookup): RpcTxLocation {
  const { blockNumber, blockHash, index, timestampMs } = found;
  return { blockNumber, blockHash, index, timestampMs };
}
