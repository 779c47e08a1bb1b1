import type { Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";

export const TX_GAS = 21_000n;
export const TX_CREATE_GAS = 32_000n;
const DATA_ZERO_GAS = 4n;
const DATA_NONZERO_GAS = 16n;
const ACCESS_LIST_ADDRESS_GAS = 2_400n;
const ACCESS_LIST_STORAGE_KEY_GAS = 1_900n;
const INITCODE_WORD_GAS = 2n;
/** EIP-3860 (Shanghai): 2 × 24576. */
export const INITCODE_BYTES_MAX = 49_152;

/**
 * Intrinsic gas as geth's core.IntrinsicGas at Cancun: 21000, +32000 for a create, 4/16 per zero/non-zero data byte,
 * access list 2400 per address + 1900 per key, initcode 2 per 32-byte word. Native txs use the same rules.
 */
export function intrinsicGas(tx: Transaction): bigint {
  const isCreate = tx.to === null;
  let gas = isCreate ? TX_GAS + TX_CREATE_GAS : TX_GAS;
  let zeros = 0;
  for (const b of tx.input) if (b === 0) zeros++;
  gas += BigInt(zeros) * DATA_ZERO_GAS + BigInt(tx.input.length - zeros) * DATA_NONZERO_GAS;
  if (isCreate) gas += BigInt(Math.ceil(tx.input.length / 32)) * INITCODE_WORD_GAS;
  if (tx.type === TxType.AccessList || tx.type === TxType.FeeMarket) {
    for (const item of tx.accessList) {
      gas += ACCESS_LIST_ADDRESS_GAS + BigInt(item.storageKeys.length) * ACCESS_LIST_STORAGE_KEY_GAS;
    }
  }
  return gas;
}

/** The price the pool compares with the minimum: gasPrice, or for type 2 with base fee 0, min(maxFee, tip). */
export function effectiveGasPrice(tx: Transaction): bigint {
  if (tx.type === TxType.FeeMarket) {
    if (tx.maxPriorityFeePerGas < tx.maxFeePerGas) return tx.maxPriorityFeePerGas;
    return tx.maxFeePerGas;
  }
  return tx.gasPrice;
}

/** The price a sender commits to pay at most per gas (for the balance check when fees are charged). */
export function gasFeeCap(tx: Transaction): bigint {
  return tx.type === TxType.FeeMarket ? tx.maxFeePerGas : tx.gasPrice;
}
