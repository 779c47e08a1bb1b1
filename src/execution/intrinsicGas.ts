import type { Transaction } from "../types/index.js";

export const TX_GAS = 21_000n;
export const TX_CREATE_GAS = 32_000n;
export const TX_DATA_ZERO_GAS = 4n;
export const TX_DATA_NONZERO_GAS = 16n;
export const INIT_CODE_WORD_GAS = 2n;
export const ACCESS_LIST_ADDRESS_GAS = 2_400n;
export const ACCESS_LIST_STORAGE_KEY_GAS = 1_900n;
/** EIP-3860 (Shanghai): the most init code a creation may carry. */
export const MAX_INIT_CODE_SIZE = 49_152;

/** Intrinsic gas of a call or creation with this data (Shanghai/Cancun rules, no EIP-7623 floor). */
export function intrinsicGasOf(
  input: Uint8Array,
  isCreate: boolean,
  accessList?: { storageKeys: unknown[] }[],
): bigint {
  let gas = TX_GAS;
  let zeros = 0;
  for (let i = 0; i < input.length; i++) if (input[i] === 0) zeros++;
  gas += BigInt(zeros) * TX_DATA_ZERO_GAS + BigInt(input.length - zeros) * TX_DATA_NONZERO_GAS;
  if (isCreate) gas += TX_CREATE_GAS + BigInt(Math.ceil(input.length / 32)) * INIT_CODE_WORD_GAS;
  if (accessList !== undefined) {
    for (const item of accessList) {
      gas += ACCESS_LIST_ADDRESS_GAS + BigInt(item.storageKeys.length) * ACCESS_LIST_STORAGE_KEY_GAS;
    }
  }
  return gas;
}

export function intrinsicGas(tx: Transaction): bigint {
  const accessList = tx.type === 1 || tx.type === 2 ? tx.accessList : undefined;
  return intrinsicGasOf(tx.input, tx.to === null, accessList);
}
