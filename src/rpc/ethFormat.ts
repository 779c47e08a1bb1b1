import { keccak256 } from "../crypto/index.js";
import type { Hash, Log, NodeId, Receipt, Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";
import { bytesToHex, toQuantity } from "../util/hex.js";
import type { RpcBlock, RpcTxLocation } from "./interface.js";

/** keccak256(rlp([])): the uncles hash of a block without uncles. */
export const EMPTY_UNCLES_HASH = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347";
const ZERO_HASH = `0x${"00".repeat(32)}`;
const ZERO_NONCE = "0x0000000000000000";
export const BLOOM_BYTES = 256;

export type Json = Record<string, unknown>;

/** OR of 256-byte blooms (the block bloom is the OR of its receipts' blooms). */
export function orBlooms(blooms: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(BLOOM_BYTES);
  for (const b of blooms) {
    const n = Math.min(b.length, BLOOM_BYTES);
    for (let i = 0; i < n; i++) out[i]! |= b[i]!;
  }
  return out;
}

/**
 * The proposer of a block is an Ed25519 node ID, not an account: Ethereum tools get a stable pseudo-address,
 * the last 20 bytes of keccak256(nodeId).
 */
export function nodeIdToMiner(nodeId: NodeId): string {
  return bytesToHex(keccak256(nodeId).subarray(12));
}

export function hex(b: Uint8Array): string {
  return bytesToHex(b);
}

/** The gas price the transaction pays with a zero base fee. */
export function effectiveGasPrice(tx: Transaction): bigint {
  if (tx.type === TxType.FeeMarket) {
    if (tx.maxPriorityFeePerGas < tx.maxFeePerGas) return tx.maxPriorityFeePerGas;
    return tx.maxFeePerGas;
  }
  return tx.gasPrice;
}

export function txTypeQuantity(tx: Transaction): string {
  return toQuantity(tx.type);
}

/** Where the `index`-th transaction of block `b` stands (with the block's timestamp, for `blockTimestamp`). */
export function txLocation(b: RpcBlock, index: number): RpcTxLocation {
  return { blockNumber: b.header.number, blockHash: b.hash, index, timestampMs: b.header.timestampMs };
}

/** Ethereum JSON of a transaction; `loc` null = pending (block fields null). */
export function formatEthTx(tx: Transaction, loc: RpcTxLocation | null): Json {
  const out: Json = {
    blockHash: loc ? hex(loc.blockHash) : null,
    blockNumber: loc ? toQuantity(loc.blockNumber) : null,
    transactionIndex: loc ? toQuantity(loc.index) : null,
    hash: hex(tx.hash),
    from: hex(tx.sender),
    to: tx.to ? hex(tx.to) : null,
    input: hex(tx.input),
    value: toQuantity(tx.value),
    gas: toQuantity(tx.gasLimit),
    type: txTypeQuantity(tx),
    chainId: toQuantity(tx.chainId),
  };
  if (loc?.timestampMs !== undefined) out.blockTimestamp = toQuantity(Math.floor(loc.timestampMs / 1000));
  switch (tx.type) {
    case TxType.Legacy:
      out.nonce = toQuantity(tx.nonce);
      out.gasPrice = toQuantity(tx.gasPrice);
      break;
    case TxType.AccessList:
      out.nonce = toQuantity(tx.nonce);
      out.gasPrice = toQuantity(tx.gasPrice);
      out.accessList = formatAccessList(tx.accessList);
      out.yParity = toQuantity(tx.v);
      break;
    case TxType.FeeMarket:
      out.nonce = toQuantity(tx.nonce);
      out.gasPrice = toQuantity(effectiveGasPrice(tx));
      out.maxFeePerGas = toQuantity(tx.maxFeePerGas);
      out.maxPriorityFeePerGas = toQuantity(tx.maxPriorityFeePerGas);
      out.accessList = formatAccessList(tx.accessList);
      out.yParity = toQuantity(tx.v);
      break;
    case TxType.Native:
      // Native txs have a random nonce and a blockLimit, not an account nonce: Ethereum tools see nonce 0x0;
      // the native fields are added under their own names.
      out.nonce = "0x0";
      out.gasPrice = toQuantity(tx.gasPrice);
      out.yParity = toQuantity(tx.v);
      out.nativeNonce = hex(tx.nonce);
      out.blockLimit = toQuantity(tx.blockLimit);
      out.groupId = tx.groupId;
      break;
  }
  out.v = toQuantity(tx.v);
  out.r = toQuantity(tx.r);
  out.s = toQuantity(tx.s);
  return out;
}

function formatAccessList(list: { address: Uint8Array; storageKeys: Hash[] }[]): Json[] {
  return list.map((item) => ({ address: hex(item.address), storageKeys: item.storageKeys.map(hex) }));
}

export interface LogPosition {
  blockNumber: number;
  blockHash: Hash;
  txHash: Hash;
  txIndex: number;
  /** Position of the log in the block. */
  logIndex: number;
  blockTimestampMs?: number;
}

export function formatEthLog(log: Log, pos: LogPosition): Json {
  const out: Json = {
    address: hex(log.address),
    topics: log.topics.map(hex),
    data: hex(log.data),
    blockNumber: toQuantity(pos.blockNumber),
    blockHash: hex(pos.blockHash),
    transactionHash: hex(pos.txHash),
    transactionIndex: toQuantity(pos.txIndex),
    logIndex: toQuantity(pos.logIndex),
    removed: false,
  };
  if (pos.blockTimestampMs !== undefined)
    out.blockTimestamp = toQuantity(Math.floor(pos.blockTimestampMs / 1000));
  return out;
}

export function formatEthReceipt(
  receipt: Receipt,
  tx: Transaction,
  loc: RpcTxLocation,
  firstLogIndex: number,
): Json {
  return {
    transactionHash: hex(tx.hash),
    transactionIndex: toQuantity(loc.index),
    blockHash: hex(loc.blockHash),
    blockNumber: toQuantity(loc.blockNumber),
    from: hex(tx.sender),
    to: tx.to ? hex(tx.to) : null,
    cumulativeGasUsed: toQuantity(receipt.cumulativeGasUsed),
    gasUsed: toQuantity(receipt.gasUsed),
    // No fee is ever charged (FISCO style): tools that compute fees as gasUsed * effectiveGasPrice (Hardhat's
    // balance helpers) must see 0, or their balance arithmetic disagrees with the chain.
    effectiveGasPrice: "0x0",
    contractAddress: receipt.contractAddress ? hex(receipt.contractAddress) : null,
    logs: receipt.logs.map((log, i) =>
      formatEthLog(log, {
        blockNumber: loc.blockNumber,
        blockHash: loc.blockHash,
        txHash: tx.hash,
        txIndex: loc.index,
        logIndex: firstLogIndex + i,
        blockTimestampMs: loc.timestampMs,
      }),
    ),
    logsBloom: hex(receipt.logsBloom),
    status: toQuantity(receipt.status),
    type: txTypeQuantity(tx),
  };
}

/** Ethereum JSON of a block header (newHeads) — without transactions. */
export function formatEthHeader(b: RpcBlock, gasLimit: bigint): Json {
  const h = b.header;
  return {
    number: toQuantity(h.number),
    hash: hex(b.hash),
    parentHash: hex(h.parentHash),
    sha3Uncles: EMPTY_UNCLES_HASH,
    miner: nodeIdToMiner(h.proposer),
    stateRoot: hex(h.stateRoot),
    transactionsRoot: hex(h.txRoot),
    receiptsRoot: hex(h.receiptRoot),
    logsBloom: hex(b.logsBloom.length === BLOOM_BYTES ? b.logsBloom : orBlooms([b.logsBloom])),
    difficulty: "0x0",
    totalDifficulty: "0x0",
    gasLimit: toQuantity(gasLimit),
    gasUsed: toQuantity(h.gasUsed),
    timestamp: toQuantity(Math.floor(h.timestampMs / 1000)),
    extraData: "0x",
    mixHash: ZERO_HASH,
    nonce: ZERO_NONCE,
    baseFeePerGas: "0x0",
    size: toQuantity(b.sizeBytes),
  };
}

/** Ethereum JSON of a block; `full` needs b.transactions. */
export function formatEthBlock(b: RpcBlock, full: boolean, gasLimit: bigint): Json {
  const out = formatEthHeader(b, gasLimit);
  if (full && b.transactions) {
    const txs = b.transactions;
    out.transactions = txs.map((tx, index) => formatEthTx(tx, txLocation(b, index)));
  } else {
    out.transactions = b.transactionHashes.map(hex);
  }
  out.uncles = [];
  return out;
}
