import { createCustomCommon, Hardfork, Mainnet } from "@ethereumjs/common";
import { createTx } from "@ethereumjs/tx";
import { encodeNativeTx, type NativeTxFields } from "../../src/codec/index.js";
import type { AccessListItem, Address } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";

/** Test helper: signed raw transactions of every type (Ethereum ones via @ethereumjs/tx, native via our codec). */

export interface TxSpec {
  type: 0 | 1 | 2 | 0x7c;
  nonce: bigint;
  to: Address | null;
  value: bigint;
  input: Uint8Array;
  gasLimit: bigint;
  gasPrice: bigint;
  accessList: AccessListItem[];
  /** Native only. */
  nativeNonce: Uint8Array;
  blockLimit: number;
  groupId: string;
}

const commons = new Map<bigint, ReturnType<typeof createCustomCommon>>();
function commonFor(chainId: bigint) {
  let common = commons.get(chainId);
  if (!common) {
    common = createCustomCommon({ chainId: Number(chainId) }, Mainnet, { hardfork: Hardfork.Prague });
    commons.set(chainId, common);
  }
  return common;
}

export function signTx(spec: TxSpec, chainId: bigint, privateKey: Uint8Array): Uint8Array {
  if (spec.type === 0x7c) {
    const fields: NativeTxFields = {
      chainId,
      groupId: spec.groupId,
      nonce: spec.nativeNonce,
      blockLimit: spec.blockLimit,
      to: spec.to,
      value: spec.value,
      input: spec.input,
      gasLimit: spec.gasLimit,
      gasPrice: spec.gasPrice,
    };
    return encodeNativeTx(fields, privateKey);
  }
  const accessList = spec.accessList.map((e) => ({
    address: bytesToHex(e.address),
    storageKeys: e.storageKeys.map(bytesToHex),
  }));
  const data = {
    type: spec.type,
    nonce: spec.nonce,
    to: spec.to === null ? undefined : spec.to,
    value: spec.value,
    data: spec.input,
    gasLimit: spec.gasLimit,
    ...(spec.type === 2
      ? { maxFeePerGas: spec.gasPrice, maxPriorityFeePerGas: spec.gasPrice / 2n }
      : { gasPrice: spec.gasPrice }),
    ...(spec.type === 0 ? {} : { accessList, chainId }),
  };
  const tx = createTx(data, { common: commonFor(chainId) });
  return tx.sign(privateKey).serialize();
}
