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
  const { overlay, sm } = env;
  overlay.checkpoint();
  try {
    const sender = new EthAddress(tx.sender);
    const intrinsic = intrinsicGas(tx);
    if (tx.type !== TxType.Native) {
      const account = (await sm.getAccount(sender)) ?? new Account();
      account.nonce += 1n;
      await sm.putAccount(sender, account);
    }
    let outcome: TxOutcome;
    if (tx.to !== null && (await isPlainAccount(env, tx.to))) {
      outcome = await transfer(env, sender, new EthAddress(tx.to), tx.value, intrinsic);
    } else {
      outcome = await runEvm(env, {
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

/** A recipient that is neither a precompile nor a contract: a value transfer needs no EVM. */
async function isPlainAccount(env: BlockEnv, to: Address): Promise<boolean> {
  if (env.evm.getPrecompile(new EthAddress(to)) !== undefined) return false;
  const account = await env.sm.getAccount(new EthAddress(to));
  return account === undefined || !account.isContract();
}

/** The fast path: moves `value` and charges the intrinsic gas only. */
async function transfer(
  env: BlockEnv,
  from: EthAddress,
  to: EthAddress,
  value: bigint,
  intrinsic: bigint,
): Promise<TxOutcome> {
  // Zero-value transfers change nothing (EIP-161: no empty account is created).
  if (value > 0n) {
    const sender = (await env.sm.getAccount(from)) ?? new Account();
    sender.balance -= value;
    await env.sm.putAccount(from, sender);
    const recipient = (await env.sm.getAccount(to)) ?? new Account();
    recipient.balance += value;
    await env.sm.putAccount(to, recipient);
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
