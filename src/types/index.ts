/**
 * Consort's core data types: plain data, no behaviour. Encoding lives in src/codec, hashing in src/crypto.
 * Conventions: byte strings are Uint8Array (hashes 32 B, addresses 20 B, node IDs 32 B Ed25519 public keys);
 * Ethereum quantities (value, gas, prices, chain id) are bigint; heights, views, indexes and timestamps are number.
 */

export type Hash = Uint8Array;
export type Address = Uint8Array;
/** A validator or observer node: its Ed25519 public key (32 B). The libp2p peer ID embeds the same key. */
export type NodeId = Uint8Array;

/** Transaction envelope types. 0–2 are Ethereum's; Consort's native FISCO-style transaction is 0x7c. */
export const TxType = {
  Legacy: 0,
  AccessList: 1,
  FeeMarket: 2,
  Native: 0x7c,
} as const;
export type TxType = (typeof TxType)[keyof typeof TxType];

export interface AccessListItem {
  address: Address;
  storageKeys: Hash[];
}

/** Fields common to every decoded, signature-checked transaction. */
interface TxCommon {
  /** The exact signed bytes as submitted (Ethereum: RLP / typed envelope; native: protobuf). */
  raw: Uint8Array;
  /** keccak256(raw): what eth_sendRawTransaction returns and what clients recompute. */
  hash: Hash;
  /** Recovered from the signature once, at decode time. */
  sender: Address;
  chainId: bigint;
  /** null for contract creation. */
  to: Address | null;
  value: bigint;
  input: Uint8Array;
  gasLimit: bigint;
  /** Signature: v as on the wire (legacy: 27/28 or EIP-155 value; typed: y-parity 0/1). */
  v: bigint;
  r: bigint;
  s: bigint;
}

export interface LegacyTx extends TxCommon {
  type: typeof TxType.Legacy;
  nonce: bigint;
  gasPrice: bigint;
}

export interface AccessListTx extends TxCommon {
  type: typeof TxType.AccessList;
  nonce: bigint;
  gasPrice: bigint;
  accessList: AccessListItem[];
}

export interface FeeMarketTx extends TxCommon {
  type: typeof TxType.FeeMarket;
  nonce: bigint;
  maxFeePerGas: bigint;
  maxPriorityFeePerGas: bigint;
  accessList: AccessListItem[];
}

/**
 * Consort's native transaction, FISCO BCOS style: no sequential nonce. Replay protection is the pair
 * (random `nonce`, `blockLimit`): valid only while height < blockLimit <= height + 1000, and the nonce must be
 * unique among the transactions of the last 1000 blocks and the pool.
 */
export interface NativeTx extends TxCommon {
  type: typeof TxType.Native;
  groupId: string;
  /** Random, chosen by the client (FISCO: a string); at most 64 bytes. */
  nonce: Uint8Array;
  blockLimit: number;
  gasPrice: bigint;
}

export type EthereumTx = LegacyTx | AccessListTx | FeeMarketTx;
export type Transaction = EthereumTx | NativeTx;

export interface Log {
  address: Address;
  topics: Hash[];
  data: Uint8Array;
}

export const ReceiptStatus = {
  Failed: 0,
  Success: 1,
} as const;
export type ReceiptStatus = (typeof ReceiptStatus)[keyof typeof ReceiptStatus];

export interface Receipt {
  txHash: Hash;
  status: ReceiptStatus;
  /** Gas used by this transaction alone. */
  gasUsed: bigint;
  /** Gas used by this and all earlier transactions of the block. */
  cumulativeGasUsed: bigint;
  logs: Log[];
  /** Set when the transaction created a contract. */
  contractAddress: Address | null;
  /** Revert data (ABI-encoded Error(string) or custom error) when status is Failed; empty otherwise. */
  output: Uint8Array;
  /** 256-byte Ethereum logs bloom. */
  logsBloom: Uint8Array;
}

export interface BlockHeader {
  chainId: bigint;
  groupId: string;
  number: number;
  parentHash: Hash;
  /** Milliseconds since the Unix epoch, set by the proposer (the RPC shows seconds to Ethereum tools). */
  timestampMs: number;
  txRoot: Hash;
  receiptRoot: Hash;
  /** State root after executing this block on the parent's state. */
  stateRoot: Hash;
  gasUsed: bigint;
  /** The sealer that proposed the block. */
  proposer: NodeId;
  /** The PBFT view in which the block was proposed. */
  view: number;
}

/** One validator's signature in a commit certificate. */
export interface CertificateSignature {
  nodeId: NodeId;
  /** Ed25519 signature over the commit digest (src/consensus commitDigest: "consort/pbft/commit/v1" ‖ height ‖ view ‖ blockHash). */
  signature: Uint8Array;
}

/**
 * Proof that a block is final: signatures of validators holding a quorum (2f+1 of weight) of the validator set
 * in force at `height`, over (height, view, blockHash). Any node or observer can verify it alone.
 */
export interface CommitCertificate {
  height: number;
  view: number;
  blockHash: Hash;
  signatures: CertificateSignature[];
}

export interface Block {
  header: BlockHeader;
  transactions: Transaction[];
  /** Absent on a block that is only proposed; present on every committed block (genesis: empty signatures). */
  certificate: CommitCertificate | null;
}

/** A consensus participant with its vote weight (FISCO 3.x: quorum is computed over weights). */
export interface ValidatorInfo {
  nodeId: NodeId;
  weight: number;
}
