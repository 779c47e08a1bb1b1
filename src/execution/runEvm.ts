import type { EVMResult } from "@ethereumjs/evm";
import { Address as EthAddress } from "@ethereumjs/util";
import type { Address, Hash, Log } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";
import type { BlockEnv } from "./evmEnv.js";

/** The result of one transaction or call on the flat state. */
export interface TxOutcome {
  status: 0 | 1;
  gasUsed: bigint;
  logs: Log[];
  contractAddress: Address | null;
  /** Return data (success) or revert data (revert); empty on other failures. */
  output: Uint8Array;
  error: string | null;
  /** The opcode the top frame stopped at when it failed (for "invalid opcode: …"); null otherwise. */
  haltOpcode: number | null;
}

/** One top-level message for `runEvm` (the nonce is already incremented by the caller). */
export interface EvmMessage {
  from: Address;
  to: Address | null;
  value: bigint;
  input: Uint8Array;
  gasLimit: bigint;
  intrinsic: bigint;
  gasPrice: bigint;
  salt: Uint8Array | undefined;
  accessList: { address: Address; storageKeys: Hash[] }[];
  skipBalance: boolean;
}

/**
 * Runs `m` with evm.runCall on `env`: resets the per-tx journal state and warms the EIP-2929 set, then applies
 * EIP-6780 deletions, EIP-161 cleanup and the EIP-3529 refund cap.
 */
export async function runEvm(env: BlockEnv, m: EvmMessage): Promise<TxOutcome> {
  const { evm, sm } = env;
  const journal = evm.journal;
  journal.cleanJournal();
  evm.transientStorage.clear(); // EIP-1153: normally cleared at the end of depth 0, also after a thrown tx
  sm.originalStorageCache.clear();
  env.messages.length = 0;
  // EIP-2929 / EIP-3651 warm set: sender, recipient, coinbase, precompiles, access list.
  journal.addAlwaysWarmAddress(bytesToHex(m.from));
  if (m.to !== null) journal.addAlwaysWarmAddress(bytesToHex(m.to));
  journal.addAlwaysWarmAddress(env.coinbase.toString());
  for (const p of env.precompileAddresses) journal.addAlwaysWarmAddress(p);
  for (const item of m.accessList) {
    journal.addAlwaysWarmAddress(bytesToHex(item.address));
    for (const key of item.storageKeys) journal.addAlwaysWarmSlot(bytesToHex(item.address), bytesToHex(key));
  }
  const result = await evm.runCall({
    block: env.evmBlock,
    gasPrice: m.gasPrice,
    caller: new EthAddress(m.from),
    origin: new EthAddress(m.from),
    to: m.to === null ? undefined : new EthAddress(m.to),
    value: m.value,
    data: m.input,
    gasLimit: m.gasLimit - m.intrinsic,
    skipNonceIncrement: true,
    skipBalance: m.skipBalance,
    ...(m.salt === undefined ? {} : { salt: m.salt }),
  });
  const exec = result.execResult;
  // EIP-6780: SELFDESTRUCT deletes only contracts created in the same transaction.
  if (exec.selfdestruct !== undefined) {
    for (const addressHex of exec.selfdestruct.keys()) {
      if (exec.createdAddresses?.has(addressHex) === true) {
        await journal.deleteAccount(ethAddressFromHex(addressHex));
      }
    }
  }
  await journal.cleanup(); // EIP-161: touched empty accounts are removed
  sm.originalStorageCache.clear();
  let gasUsed = m.intrinsic + exec.executionGasUsed;
  const refund = exec.gasRefund ?? 0n;
  const maxRefund = gasUsed / 5n; // EIP-3529
  gasUsed -= refund < maxRefund ? refund : maxRefund;
  const err = exec.exceptionError;
  const failed = err !== undefined;
  return {
    status: failed ? 0 : 1,
    gasUsed,
    logs: failed ? [] : toLogs(exec.logs),
    contractAddress:
      m.to === null && !failed && result.createdAddress !== undefined ? result.createdAddress.bytes : null,
    output: !failed || err.error === "revert" ? exec.returnValue : new Uint8Array(0),
    error: failed ? err.error : null,
    haltOpcode: failed ? (exec.runState?.opCode ?? null) : null,
  };
}

function toLogs(raw: EVMResult["execResult"]["logs"]): Log[] {
  if (raw === undefined) return [];
  return raw.map(([address, topics, data]) => ({ address, topics, data }));
}

function ethAddressFromHex(hex: string): EthAddress {
  return new EthAddress(new Uint8Array(Buffer.from(hex.startsWith("0x") ? hex.slice(2) : hex, "hex")));
}
