import { Address as EthAddress } from "@ethereumjs/util";
import type { NativeTx, Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";
import { assert } from "../util/errors.js";
import { bytesToHex } from "../util/hex.js";
import type { RejectCode } from "./errors.js";
import type { BlockEnv } from "./evmEnv.js";
import { senderRefusal } from "./governance/permissions.js";
import type { BlockContext, SystemConfig } from "./interface.js";
import { intrinsicGas, MAX_INIT_CODE_SIZE } from "./intrinsicGas.js";

const NONCE_MAX = 2n ** 64n - 1n;

/** Why a transaction cannot be included in the block. */
export interface Rejection {
  code: RejectCode;
  reason: string;
}

export function reject(code: RejectCode, reason: string): Rejection {
  return { code, reason };
}

function isUnprotectedLegacy(tx: Transaction): boolean {
  return tx.type === TxType.Legacy && (tx.v === 27n || tx.v === 28n);
}

/** Block-local state of the checks: what the txs kept so far used up. */
export interface CheckState {
  /** Gas used by the txs kept so far: a tx fits only if its gas limit is at most block_gas_limit minus this. */
  cumulativeGas: bigint;
  /** Hex nonces of the native txs kept so far in this block. */
  nativeNonces: Set<string>;
  /** Hex nonces of this block's native txs that earlier blocks used (the context's nativeNoncesSeen, asked once). */
  nativeNoncesSeenBefore: Set<string>;
}

/**
 * null when `tx` can be executed now; the reason otherwise. Reads state, writes nothing.
 * Order: chain, gas limits and init code, fee cap, native replay fields (group, blockLimit, nonce reuse),
 * then the sender's account (nonce, EIP-3607, balance ≥ value).
 */
export async function checkTx(
  env: BlockEnv,
  ctx: BlockContext,
  cfg: SystemConfig,
  tx: Transaction,
  block: CheckState,
  nativeBlockLimitRange: number,
): Promise<Rejection | null> {
  return (
    checkStatic(ctx, cfg, tx, block.cumulativeGas) ??
    (tx.type === TxType.Native ? checkNativeReplay(ctx, tx, block, nativeBlockLimitRange) : null) ??
    (await checkSender(env, tx)) ??
    (await checkAccountStatus(env, tx))
  );
}

/** Hex nonces of the block's native txs that earlier blocks used: one question to the context for all of them. */
export async function nativeNoncesSeenBefore(ctx: BlockContext, txs: Transaction[]): Promise<Set<string>> {
  const seen = new Set<string>();
  if (ctx.nativeNoncesSeen === undefined) return seen;
  const nonces: Uint8Array[] = [];
  for (const tx of txs) if (tx.type === TxType.Native) nonces.push(tx.nonce);
  if (nonces.length === 0) return seen;
  const answers = await ctx.nativeNoncesSeen(nonces);
  assert(answers.length === nonces.length, "nativeNoncesSeen answered for other nonces than asked");
  nonces.forEach((nonce, i) => {
    if (answers[i]) seen.add(bytesToHex(nonce));
  });
  return seen;
}

/** A frozen or abolished account's transactions are refused (governance: account status). */
async function checkAccountStatus(env: BlockEnv, tx: Transaction): Promise<Rejection | null> {
  const why = await senderRefusal((k) => env.overlay.get(k), tx.sender);
  return why === null ? null : reject("ACCOUNT_NOT_NORMAL", why);
}

/** Checks of the tx against the chain, the config and the block's gas: no state read. */
function checkStatic(
  ctx: BlockContext,
  cfg: SystemConfig,
  tx: Transaction,
  cumulativeGasUsed: bigint,
): Rejection | null {
  if (tx.chainId !== ctx.chainId && !isUnprotectedLegacy(tx)) {
    return reject("WRONG_CHAIN_ID", `chain id ${tx.chainId} is not ${ctx.chainId}`);
  }
  if (tx.gasLimit > cfg.txGasLimit) {
    return reject("TX_GAS_LIMIT_EXCEEDED", `gas limit ${tx.gasLimit} exceeds tx_gas_limit ${cfg.txGasLimit}`);
  }
  const intrinsic = intrinsicGas(tx);
  if (tx.gasLimit < intrinsic) {
    return reject(
      "INTRINSIC_GAS_TOO_LOW",
      `gas limit ${tx.gasLimit} is below the intrinsic gas ${intrinsic}`,
    );
  }
  if (tx.to === null && tx.input.length > MAX_INIT_CODE_SIZE) {
    return reject(
      "INIT_CODE_TOO_LARGE",
      `init code of ${tx.input.length} bytes exceeds ${MAX_INIT_CODE_SIZE}`,
    );
  }
  // Ethereum's rule (yellow paper: a tx's gas limit is at most the block's gas limit minus the gas used before it):
  // whatever each tx does, the block burns at most block_gas_limit, however generous the senders' limits.
  if (tx.gasLimit > cfg.blockGasLimit - cumulativeGasUsed) {
    return reject(
      "BLOCK_GAS_LIMIT_REACHED",
      `gas limit ${tx.gasLimit} does not fit the block: ${cumulativeGasUsed} of block_gas_limit ${cfg.blockGasLimit} used already`,
    );
  }
  if (tx.type === TxType.FeeMarket && tx.maxPriorityFeePerGas > tx.maxFeePerGas) {
    return reject("FEE_CAP_BELOW_TIP", "maxPriorityFeePerGas exceeds maxFeePerGas");
  }
  return null;
}

/** Native txs: group id, blockLimit window and nonce reuse (in this block or in earlier ones). */
function checkNativeReplay(
  ctx: BlockContext,
  tx: NativeTx,
  block: CheckState,
  nativeBlockLimitRange: number,
): Rejection | null {
  if (ctx.groupId !== undefined && tx.groupId !== ctx.groupId) {
    return reject("WRONG_GROUP_ID", `group id "${tx.groupId}" is not "${ctx.groupId}"`);
  }
  // FISCO's rule against the parent (committed head) number: head < blockLimit <= head + range.
  const head = ctx.number - 1;
  if (tx.blockLimit <= head) {
    return reject("BLOCK_LIMIT_EXPIRED", `blockLimit ${tx.blockLimit} <= parent block number ${head}`);
  }
  if (tx.blockLimit > head + nativeBlockLimitRange) {
    return reject(
      "BLOCK_LIMIT_TOO_FAR",
      `blockLimit ${tx.blockLimit} > parent block number ${head} + ${nativeBlockLimitRange}`,
    );
  }
  const nonceHex = bytesToHex(tx.nonce);
  if (block.nativeNonces.has(nonceHex) || block.nativeNoncesSeenBefore.has(nonceHex)) {
    return reject("NATIVE_NONCE_REUSED", `native nonce ${nonceHex} was already used`);
  }
  return null;
}

/** The sender's account: nonce (Ethereum txs only), no code (EIP-3607), balance ≥ value. */
async function checkSender(env: BlockEnv, tx: Transaction): Promise<Rejection | null> {
  const account = await env.sm.getAccount(new EthAddress(tx.sender));
  const nonce = account?.nonce ?? 0n;
  const balance = account?.balance ?? 0n;
  if (tx.type !== TxType.Native) {
    if (tx.nonce < nonce)
      return reject("NONCE_TOO_LOW", `nonce ${tx.nonce} is below the account nonce ${nonce}`);
    if (tx.nonce > nonce)
      return reject("NONCE_TOO_HIGH", `nonce ${tx.nonce} is above the account nonce ${nonce}`);
    if (nonce >= NONCE_MAX) return reject("NONCE_MAX", "the account nonce is at its maximum");
  }
  if (account?.isContract() === true) {
    return reject("SENDER_HAS_CODE", "the sender is a contract (EIP-3607)");
  }
  if (balance < tx.value) {
    return reject("INSUFFICIENT_BALANCE", `balance ${balance} is below the value ${tx.value}`);
  }
  return null;
}
