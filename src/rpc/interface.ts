import type {
  Address,
  BlockHeader,
  CommitCertificate,
  Hash,
  NodeId,
  Receipt,
  ReceiptStatus,
  Transaction,
  ValidatorInfo,
} from "../types/index.js";

/**
 * What the JSON-RPC server needs from the node: a narrow read/submit API over the ledger, txpool, executor and
 * consensus, plus an event source for subscriptions and filters. The node (src/node) implements it; tests use a fake.
 *
 * Errors: bad client input the backend detects (a rejected transaction, unavailable historical state, …) is thrown as
 * an `RpcError` (src/rpc/errors.ts) or any `ConsortError`; the server maps RpcError codes to JSON-RPC codes and shows
 * other ConsortErrors as -32000 with their message. Any other thrown value is reported as -32603 "internal error".
 * For `sendRawTransaction` keep geth's wording ("nonce too low", "already known", "txpool is full",
 * "insufficient funds for gas * price + value", "invalid chain id", …): ethers and viem map errors on the text.
 */
export interface RpcBackend {
  /** Ethereum chain id (eth_chainId, net_version). */
  readonly chainId: bigint;
  /** FISCO group id, e.g. "group0": FISCO-style methods take it as their first param and refuse other groups. */
  readonly groupId: string;
  /** web3_clientVersion, e.g. "consort/v0.1.0/linux-x64/node20". */
  readonly clientVersion: string;

  /** Number of the newest committed block (blocks are final at commit). */
  headNumber(): number;
  /**
   * A committed block by number or hash, or null if unknown. `withTransactions` false lets the backend skip decoding
   * transactions (`transactions` may then be null); `transactionHashes` is always filled.
   */
  getBlock(ref: number | Hash, withTransactions: boolean): Promise<RpcBlock | null>;
  /** A transaction committed in a block, or still in the pool (`location` null), or null if unknown. */
  getTransaction(hash: Hash): Promise<RpcTxLookup | null>;
  /** The receipt of a committed transaction; null while pending or unknown. */
  getReceipt(hash: Hash): Promise<RpcReceiptLookup | null>;
  /** All receipts of a committed block, in transaction order ([] for an unknown block). */
  getBlockReceipts(blockNumber: number): Promise<Receipt[]>;
  /** Merkle proof (plain JSON-able object) of the transaction against the header's txRoot; null if unknown. */
  getTransactionProof(hash: Hash): Promise<unknown | null>;
  /** Merkle proof (plain JSON-able object) of the receipt against the header's receiptRoot; null if unknown. */
  getReceiptProof(hash: Hash): Promise<unknown | null>;

  /**
   * Decode, check and add a signed raw transaction (Ethereum type 0/1/2 or native 0x7c) to the pool; returns its hash
   * (keccak256(raw)) without waiting for execution. Throws with geth wording on rejection.
   */
  sendRawTransaction(raw: Uint8Array): Promise<Hash>;
  /**
   * Execute a message call on the state at `block` without writing anything (eth_call, estimateGas). Fill `error`
   * when it fails and `gasLimit` with the limit used. A run stopped by its time budget throws a ConsortError with
   * code "EXEC_CALL_TIMEOUT" (message "execution aborted (timeout = 1s)"), shown as -32000.
   */
  call(request: RpcCallRequest, block: RpcStateBlock): Promise<RpcCallResult>;

  getBalance(address: Address, block: RpcStateBlock): Promise<bigint>;
  /** Next account nonce; with "pending" it counts the sender's transactions still in the pool. */
  getNonce(address: Address, block: RpcStateBlock): Promise<bigint>;
  getCode(address: Address, block: RpcStateBlock): Promise<Uint8Array>;
  /** The 32-byte word at `slot` (32 B) of `address`'s storage (zeros when unset). */
  getStorageAt(address: Address, slot: Uint8Array, block: RpcStateBlock): Promise<Uint8Array>;

  /** eth_gasPrice (a constant of the chain, e.g. system config tx_gas_price; 0 on a zero-fee chain). */
  gasPrice(): bigint;
  /** Gas limit shown in block headers and the cap used by eth_estimateGas (e.g. system config tx_gas_limit). */
  blockGasLimit(): bigint;

  /** Number of transactions in the pool. */
  pendingCount(): number;
  /** Committed transactions in all blocks; failed = with status Failed (0 if not tracked). */
  totalTransactionCount(): { transactionCount: number; failedTransactionCount: number };

  /** Current sealers (validators) with weights, and observers. */
  sealers(): ValidatorInfo[];
  observers(): NodeId[];
  /** A system config entry (e.g. "tx_count_limit") with the block number from which it is in force; null if unset. */
  getSystemConfig(key: string): Promise<{ value: string; enableNumber: number } | null>;
  consensusStatus(): RpcConsensusStatus;
  syncStatus(): RpcSyncStatus;
  peers(): RpcPeer[];
  nodeInfo(): RpcNodeInfo;

  /** Called once per committed block, after it can be read back with getBlock/getReceipt. Returns an unsubscribe. */
  onNewBlock(listener: (event: RpcNewBlockEvent) => void): () => void;
  /** Called with the hashes of transactions newly admitted to the pool. Returns an unsubscribe. */
  onPendingTransactions(listener: (hashes: Hash[]) => void): () => void;

  // ---- history, tracing and access lists (debug_*, eth_createAccessList, FISCO block sealer lists)

  /** The sealers in force at block `blockNumber` (the set that signed it), in stored order. */
  sealersAt(blockNumber: number): Promise<ValidatorInfo[]>;
  /** Replays the committed transaction `hash` with `tracer`; null when it is unknown or still pending. */
  traceTransaction(hash: Hash, tracer: RpcTracerSpec): Promise<unknown | null>;
  /** Replays every transaction of block `blockNumber` with `tracer`; null for an unknown block. */
  traceBlock(blockNumber: number, tracer: RpcTracerSpec): Promise<{ txHash: Hash; result: unknown }[] | null>;
  /** `call` with `tracer` attached: the tracer's result (a failed call is traced, not thrown). */
  traceCall(request: RpcCallRequest, block: RpcStateBlock, tracer: RpcTracerSpec): Promise<unknown>;
  /** Runs `request` with the access list it touches until the list is stable (geth's eth_createAccessList). */
  createAccessList(request: RpcCallRequest, block: RpcStateBlock): Promise<RpcAccessListResult>;
}

/** A debug_trace* tracer and its options (geth's TraceConfig). */
export type RpcTracerSpec =
  | {
      tracer: "structLogger";
      enableMemory: boolean;
      enableReturnData: boolean;
      disableStack: boolean;
      disableStorage: boolean;
      /** Steps logged at most (0 = no limit of its own). */
      limit: number;
      /** A trace with more steps (and no `limit`) is refused. */
      maxLogs: number;
    }
  | { tracer: "callTracer"; onlyTopCall: boolean }
  | { tracer: "prestateTracer" };

export interface RpcAccessListEntry {
  address: Address;
  storageKeys: Hash[];
}

export interface RpcAccessListResult {
  accessList: RpcAccessListEntry[];
  /** Gas used with the list (its intrinsic cost included). */
  gasUsed: bigint;
  /** geth's wording of the EVM error when the call fails with the list ("execution reverted", …). */
  error: string | null;
}

/** State to read: the head ("latest"), the head plus the pool ("pending"), or a past block number. A backend that
 * keeps no historical state throws RpcError("RPC_STATE_UNAVAILABLE") for old numbers. */
export type RpcStateBlock = "latest" | "pending" | number;

export interface RpcBlock {
  header: BlockHeader;
  hash: Hash;
  /** Hashes of the block's transactions, in order (always present). */
  transactionHashes: Hash[];
  /** Full transactions when asked for; may be null otherwise. */
  transactions: Transaction[] | null;
  /** 256-byte bloom: OR of the receipts' blooms (see `orBlooms`). */
  logsBloom: Uint8Array;
  /** Encoded size of the block in bytes (shown as `size`). */
  sizeBytes: number;
  certificate: CommitCertificate | null;
}

export interface RpcTxLocation {
  blockNumber: number;
  blockHash: Hash;
  /** Position of the transaction in its block. */
  index: number;
  /** The block's timestamp (ms): the `blockTimestamp` of the transaction and of its receipt's logs. */
  timestampMs?: number;
}

export interface RpcTxLookup {
  tx: Transaction;
  /** null while the transaction is in the pool. */
  location: RpcTxLocation | null;
}

export interface RpcReceiptLookup {
  receipt: Receipt;
  tx: Transaction;
  location: RpcTxLocation;
  /**
   * Number of logs in the block before this receipt's first log (Ethereum's block-wide logIndex base).
   * Optional: when absent the server derives it from getBlockReceipts.
   */
  firstLogIndex?: number;
}

export interface RpcCallRequest {
  from: Address | null;
  /** null = contract creation (estimateGas of a deployment). */
  to: Address | null;
  data: Uint8Array;
  value: bigint;
  /** null = the backend's cap (blockGasLimit, lowered to the executor's per-call maximum). */
  gasLimit: bigint | null;
  gasPrice: bigint | null;
  /** EIP-2930 access list of the request (warm, and charged as intrinsic gas); absent = none. */
  accessList?: RpcAccessListEntry[];
}

export interface RpcCallResult {
  status: ReceiptStatus;
  /** Return data on success; revert data (Error(string), custom error, or empty) on failure. */
  output: Uint8Array;
  gasUsed: bigint;
  /**
   * Why the call failed (status Failed): the EVM error, e.g. "revert", "out of gas", "invalid opcode: INVALID"
   * (the executor's CallResult.error; the server words it like geth). Absent or null on failure = a revert.
   */
  error?: string | null;
  /** The gas limit the call actually ran with, after the backend's caps (eth_estimateGas's upper bound). */
  gasLimit?: bigint;
}

export interface RpcConsensusStatus {
  view: number;
  /** The current leader, if known. */
  leader: NodeId | null;
  /** Highest committed block. */
  height: number;
  /** This node's index in the sealer list, or -1 when it is not a sealer. */
  nodeIndex: number;
}

export interface RpcSyncStatus {
  syncing: boolean;
  startingBlock: number;
  currentBlock: number;
  highestBlock: number;
}

export interface RpcPeer {
  nodeId: NodeId;
  /** libp2p peer id string. */
  peerId: string;
  /** Remote multiaddr, e.g. "/ip4/127.0.0.1/tcp/30301". */
  address: string;
}

export interface RpcNodeInfo {
  nodeId: NodeId;
  /** "sealer" | "observer" | other roles as strings. */
  role: string;
  version: string;
}

export interface RpcNewBlockEvent {
  block: RpcBlock;
  /** The block's receipts, in transaction order. */
  receipts: Receipt[];
}
