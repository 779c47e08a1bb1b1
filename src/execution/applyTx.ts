import { Account, Address as EthAddress } from "@ethereumjs/util";
import type { Address, Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";
import { ExecutionError } from "./errors.js";
import { BASE_FEE, type BlockEnv } from "./evmEnv.js";
import { intrinsicGas } from "./intrinsicGas.js";
import { runEvm, type TxOutcome } from "./runEvm.js";

function gasPriceOf(tx: Transaction): bigint {
  if (tx.type === TxType.FeeMarket) {
    // bigints: Math.min does not apply.
    const cap: bigint = BASE_FEE + tx.maxPriorityFeePerGas;
    return tx.maxFeePerGas < cap ? tx.maxFeePerGas : cap;
  }
  return tx.gasPrice;
}

/**
 * Applies a checked transaction: the sender's nonce increment (Ethereum txs only: native txs use no account
 * nonce), then either the plain-transfer fast path (recipient without code and not a precompile: no EVM) or
 * evm.runCall (native creates use the tx hash as CREATE2 salt). The overlay is unchanged when this throws;
 * non-ExecutionError failures are wrapped as EXEC_INTERNAL.
 */
export async function applyTx(env: BlockEnv, tx: Transaction): Promise<TxOutcome> {
  const { overlay } = env;
  overlay.checkpoint();
  try {
    const sender = new EthAddress(tx.sender);
    const intrinsic = intrinsicGas(tx);
    const recipient = tx.to === null ? null : await plainRecipient(env, tx.to);
    const outcome =
      recipient !== null
        ? await transfer(env, tx, sender, recipient, intrinsic)
        : await callEvm(env, tx, sender, intrinsic);
    overlay.commit();
    return outcome;
  } catch (err) {
    while (overlay.depth > 0) overlay.revert();
    if (err instanceof ExecutionError) throw err;
    throw new ExecutionError(
      "EXEC_INTERNAL",
      `EVM failure: ${err instanceof Error ? err.message : String(err)}`,
      {
        txHash: bytesToHex(tx.hash),
      },
      { cause: err },
    );
  }
}

/** The recipient's address and account when it is neither a precompile nor a contract (no EVM needed), else null. */
async function plainRecipient(
  env: BlockEnv,
  to: Address,
): Promise<{ address: EthAddress; account: Account | undefined } | null> {
  const address = new EthAddress(to);
  if (env.evm.getPrecompile(address) !== undefined) return null;
  const account = await env.sm.getAccount(address);
  return account === undefined || !account.isContract() ? { address, account } : null;
}

/** A call or create: the sender's nonce bumped (Ethereum txs), then the EVM runs the message. */
async function callEvm(
  env: BlockEnv,
  tx: Transaction,
  sender: EthAddress,
  intrinsic: bigint,
): Promise<TxOutcome> {
  if (tx.type !== TxType.Native) {
    const account = (await env.sm.getAccount(sender)) ?? new Account();
    account.nonce += 1n;
    await env.sm.putAccount(sender, account);
  }
  return runEvm(env, {
    from: tx.sender,
    to: tx.to,
    value: tx.value,
    input: tx.input,
    gasLimit: tx.gasLimit,
    intrinsic,
    gasPrice: gasPriceOf(tx),
    salt: tx.type === TxType.Native && tx.to === null ? tx.hash : undefined,
    accessList: tx.type === TxType.AccessList || tx.type === TxType.FeeMarket ? tx.accessList : [],
    skipBalance: false,
  });
}

/**
 * The fast path: the sender's nonce and `value` moved, the intrinsic gas charged; each account read and written
 * once (a transfer is most of a busy chain's txs, and each read decodes and each write encodes an account).
 */
async function transfer(
  env: BlockEnv,
  tx: Transaction,
  from: EthAddress,
  to: { address: EthAddress; account: Account | undefined },
  intrinsic: bigint,
): Promise<TxOutcome> {
  const bumpsNonce = tx.type !== TxType.Native;
  // Zero-value transfers move nothing (EIP-161: no empty account is created).
  const moves = tx.value > 0n && !from.equals(to.address);
  if (bumpsNonce || moves) {
    const sender = (await env.sm.getAccount(from)) ?? new Account();
    if (bumpsNonce) sender.nonce += 1n;
    if (moves) sender.balance -= tx.value;
    await env.sm.putAccount(from, sender);
  }
  if (moves) {
    const recipient = to.account ?? new Account();
    recipient.balance += tx.value;
    await env.sm.putAccount(to.address, recipient);
  }
  return {
    status: 1,
    gasUsed: intrinsic,
    logs: [],
    contractAddress: null,
    output: new Uint8Array(0),
    error: null,
    haltOpcode: null,
  };
}
