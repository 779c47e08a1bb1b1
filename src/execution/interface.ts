import type { Address, Hash, Log, NodeId, Receipt, Transaction, ValidatorInfo } from "../types/index.js";
import type { RejectCode } from "./errors.js";

/** Read access to the flat state of the last committed block (the Ledger satisfies it). */
export interface StateReader {
  getState(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Many keys in one batched read (the ledger's LevelDB getMany), when the reader has it: used to prefetch. */
  getManyState?(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]>;
}

/** One flat-state write of a block: value null = delete. Same shape as the ledger's StateChange. */
export type StateChange = [key: Uint8Array, value: Uint8Array | null];

/** What the EVM sees of the block being executed. */
export interface BlockContext {
  number: number;
  /** Block timestamp (ms); the EVM's TIMESTAMP is floor(timestampMs / 1000). */
  timestampMs: number;
  /** COINBASE of the EVM (no fees are paid to it). See `proposerCoinbase(nodeId)`. */
  coinbase: Address;
  chainId: bigint;
  /** Block gas limit: a tx fits while its gasLimit is at most what the block has left (Ethereum's rule; txChecks). */
  gasLimit: bigint;
  /** State root of the parent block (32 zero bytes before genesis). */
  parentStateRoot: Hash;
  /** When given, native txs must carry this group ID. */
  groupId?: string;
  /** BLOCKHASH source (the ledger's getBlockHash); without it BLOCKHASH returns zero. */
  getBlockHash?: (number: number) => Promise<Hash | null>;
  /**
   * Native-nonce replay check against earlier blocks (the ledger's hasNativeNonces): asked once per block for all
   * its native txs. Asked per tx, a ledger whose anti-replay window had outgrown memory answered each from LevelDB,
   * one event-loop turn each: a 472-tx block took seconds, past the view timeout, and a loaded chain stalled.
   */
  nativeNoncesSeen?: (nonces: Uint8Array[]) => Promise<boolean[]>;
  /**
   * Proposers of the `count` blocks before this one, from their (hashed) headers: the liveness evidence of the
   * committee's quorum rule (governance/nodeSafety.ts). Absent: every current sealer counts as live.
   */
  recentProposers?: (count: number) => Promise<NodeId[]>;
}

export interface RejectedTx {
  tx: Transaction;
  code: RejectCode;
  /** Human-readable reason. */
  reason: string;
  /** True when the tx may become valid later (nonce gap, balance, block full): keep it in the pool. */
  retryable: boolean;
}

export interface ExecutedBlock {
  /** The transactions kept, in order (build mode: minus the rejected ones; verify mode: all). */
  transactions: Transaction[];
  rejected: RejectedTx[];
  receipts: Receipt[];
  /** keccak256(parentStateRoot || keccak256(encodeStateChanges(stateChanges))). */
  stateRoot: Hash;
  gasUsed: bigint;
  /** Sorted by key (bytewise), only keys whose value differs from the parent state. */
  stateChanges: StateChange[];
  txRoot: Hash;
  receiptRoot: Hash;
  /** The consensus node list changed (effective from number + 1). */
  validatorsChanged: boolean;
  /** A system config value changed (effective from number + 1). */
  configChanged: boolean;
}

/** eth_call / eth_estimateGas request. `to` null = contract creation. */
export interface CallRequest {
  from?: Address;
  to: Address | null;
  data?: Uint8Array;
  value?: bigint;
  gasLimit?: bigint;
  /** GASPRICE of the run (0 when absent); nothing is charged. */
  gasPrice?: bigint;
  /** EIP-2930 list: warm from the start and charged as intrinsic gas (eth_createAccessList). */
  accessList?: { address: Address; storageKeys: Hash[] }[];
}

export interface CallResult {
  /** 1 success, 0 failure (revert or exceptional halt). */
  status: 0 | 1;
  /** Return data on success; revert data (Error(string) / custom error) on revert; empty on other failures. */
  output: Uint8Array;
  /** Intrinsic + execution gas, after refunds. */
  gasUsed: bigint;
  logs: Log[];
  /** Address a creation would get. */
  contractAddress: Address | null;
  /** EVM error name when status is 0 ("revert", "out of gas", …). */
  error: string | null;
}

export interface AccountState {
  nonce: bigint;
  balance: bigint;
  /** keccak256 of the code; keccak256("") for accounts without code. */
  codeHash: Hash;
}

/** A system config value and the block number from which it is in force. */
export interface SystemConfigEntry {
  value: string;
  enableNumber: number;
}

export interface SystemConfig {
  txCountLimit: number;
  txGasLimit: bigint;
  /** The sum of a block's tx gas limits may not exceed it (tx_gas_limit <= block_gas_limit). */
  blockGasLimit: bigint;
  consensusLeaderPeriod: number;
  minGasPrice: bigint;
  /** Every key in force, as stored (strings, FISCO style). */
  entries: Record<string, SystemConfigEntry>;
}

export interface ConsensusNodes {
  /** In stored order: genesis order, then the order of addSealer calls. */
  sealers: ValidatorInfo[];
  observers: NodeId[];
}
