import { randomBytes } from "node:crypto";
import { decodeTransaction, encodeNativeTx, hashHeader } from "../../src/codec/index.js";
import { generatePrivateKey, keccak256 } from "../../src/crypto/index.js";
import type { CommitInput, StateChange } from "../../src/ledger/index.js";
import { receiptRootOf, txRootOf } from "../../src/ledger/index.js";
import type { Block, BlockHeader, Hash, Receipt, Transaction } from "../../src/types/index.js";
import { ReceiptStatus } from "../../src/types/index.js";
import { concatBytes } from "../../src/util/hex.js";

export const CHAIN_ID = 20_200n;
export const GROUP_ID = "group0";
const ZERO_HASH = new Uint8Array(32);
const encoder = new TextEncoder();

/** Transactions in block n of the deterministic test chain (genesis: none). */
export function txCountOf(n: number): number {
  return n === 0 ? 0 : 2 + (n % 3);
}

/** A real signed native transaction (random key and nonce). */
export function nativeTx(
  key: Uint8Array = generatePrivateKey(),
  nonce: Uint8Array = randomBytes(16),
): Transaction {
  const raw = encodeNativeTx(
    {
      chainId: CHAIN_ID,
      groupId: GROUP_ID,
      nonce,
      blockLimit: 1000,
      to: randomBytes(20),
      value: 7n,
      input: encoder.encode("hello"),
      gasLimit: 100_000n,
      gasPrice: 0n,
    },
    key,
  );
  return decodeTransaction(raw, { chainId: CHAIN_ID });
}

export function receiptFor(tx: Transaction, index: number): Receipt {
  const gasUsed = 21_000n + BigInt(index);
  return {
    txHash: tx.hash,
    status: index % 2 === 0 ? ReceiptStatus.Success : ReceiptStatus.Failed,
    gasUsed,
    cumulativeGasUsed: gasUsed * BigInt(index + 1),
    logs: [{ address: tx.sender, topics: [keccak256(tx.hash)], data: tx.hash.subarray(0, 5) }],
    contractAddress: index % 3 === 0 ? tx.sender : null,
    output: index % 2 === 0 ? new Uint8Array(0) : Uint8Array.of(1, 2, 3),
    logsBloom: new Uint8Array(256),
  };
}

export function stateKey(n: number, j: number): Uint8Array {
  return encoder.encode(`s/${n}/${j}`);
}

export function stateValue(n: number, j: number): Uint8Array {
  return keccak256(encoder.encode(`v/${n}/${j}`));
}

export const COUNTER_KEY = encoder.encode("counter");

/** Block n writes s/n/0..2 and counter = n, and deletes s/(n-1)/0: s/m/0 survives only for the head. */
export function stateChangesOf(n: number): StateChange[] {
  const changes: StateChange[] = [
    [stateKey(n, 0), stateValue(n, 0)],
    [stateKey(n, 1), stateValue(n, 1)],
    [stateKey(n, 2), stateValue(n, 2)],
    [COUNTER_KEY, encoder.encode(String(n))],
  ];
  if (n > 0) changes.push([stateKey(n - 1, 0), null]);
  return changes;
}

/** A complete commit input for block n on top of `parentHash`, with a certificate over its real hash. */
export function buildCommit(
  n: number,
  parentHash: Hash | null,
  txs: Transaction[],
  opts: { stateChanges?: StateChange[] } = {},
): CommitInput {
  const receipts = txs.map(receiptFor);
  const header: BlockHeader = {
    chainId: CHAIN_ID,
    groupId: GROUP_ID,
    number: n,
    parentHash: parentHash ?? ZERO_HASH,
    timestampMs: 1_700_000_000_000 + n * 1000,
    txRoot: txRootOf(txs),
    receiptRoot: receiptRootOf(receipts),
    stateRoot: keccak256(concatBytes(encoder.encode("state"), Uint8Array.of(n & 0xff))),
    gasUsed: receipts.reduce((sum, r) => sum + r.gasUsed, 0n),
    proposer: new Uint8Array(32).fill(n % 4),
    view: 0,
  };
  const hash = hashHeader(header);
  const block: Block = {
    header,
    transactions: txs,
    certificate: {
      height: n,
      view: 0,
      blockHash: hash,
      signatures:
        n === 0 ? [] : [{ nodeId: new Uint8Array(32).fill(1), signature: new Uint8Array(64).fill(2) }],
    },
  };
  return { block, receipts, stateChanges: opts.stateChanges ?? stateChangesOf(n) };
}
