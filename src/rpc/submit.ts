import { RLP } from "@ethereumjs/rlp";
import { keccak256 } from "../crypto/index.js";
import type { Hash } from "../types/index.js";
import { ReceiptStatus } from "../types/index.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import type { CallContext, WaitResult } from "./context.js";
import { RpcError } from "./errors.js";
import { decodeRevertReason } from "./revert.js";

/** geth's refusal of a pre-EIP-155 transaction (internal/ethapi: SubmitTransaction). */
export const UNPROTECTED_TX_MESSAGE =
  "only replay-protected (EIP-155) transactions allowed over RPC: sign with a chain id (this node's rpc.allowUnprotectedTxs is off)";

/**
 * True when `raw` is a legacy transaction signed without a chain id (v = 27 or 28): valid on every chain, so
 * replayable. Typed transactions (EIP-2718: first byte < 0xc0) always carry one. Undecodable input → false (the
 * pool's decoder refuses it with its own error).
 */
export function isUnprotectedLegacy(raw: Uint8Array): boolean {
  if (raw.length === 0 || raw[0]! < 0xc0) return false;
  // Almost every tx is protected: find the v item without decoding (allocating) the whole list first. The walk
  // finds the same item RLP.decode would whenever it succeeds, so "v is not 27/28" is the same answer.
  if (legacyVIsNot27Or28(raw)) return false;
  try {
    const fields = RLP.decode(raw);
    if (!Array.isArray(fields) || fields.length !== 9) return false;
    const v = fields[6];
    if (!(v instanceof Uint8Array) || v.length !== 1) return false;
    return v[0] === 27 || v[0] === 28;
  } catch {
    return false;
  }
}

/**
 * True when the 7th item (v) of the RLP list `raw` is surely not the single byte 27 or 28; false when it may be,
 * or when the walk cannot tell (lists inside, truncated input): the caller then decodes in full.
 */
function legacyVIsNot27Or28(raw: Uint8Array): boolean {
  const head = raw[0] as number;
  let pos: number;
  if (head <= 0xf7) pos = 1;
  else pos = 1 + (head - 0xf7);
  for (let item = 0; item < 7; item++) {
    if (pos >= raw.length) return false;
    const b = raw[pos] as number;
    if (item === 6) return !(b === 27 || b === 28);
    if (b < 0x80) pos += 1;
    else if (b <= 0xb7) pos += 1 + (b - 0x80);
    else if (b <= 0xbf) {
      const lengthBytes = b - 0xb7;
      if (pos + lengthBytes >= raw.length) return false;
      let length = 0;
      for (let i = 1; i <= lengthBytes; i++) length = length * 256 + (raw[pos + i] as number);
      pos += 1 + lengthBytes + length;
    } else return false; // a list where a byte string belongs: let the full decode answer
  }
  return false;
}

/** Submit a raw transaction from a client: replay protection (unless allowed), then the pool. */
export async function submitRaw(ctx: CallContext, raw: Uint8Array): Promise<Hash> {
  if (!ctx.opts.allowUnprotectedTxs && isUnprotectedLegacy(raw)) {
    throw new RpcError("RPC_INVALID_TRANSACTION", UNPROTECTED_TX_MESSAGE);
  }
  return ctx.backend.sendRawTransaction(raw);
}

/**
 * Submit and wait until a block commits the transaction (at most `timeoutMs`). The waiter is registered before the
 * submission (the hash is keccak256(raw)), so a fast commit is not missed. `waited` is null on timeout.
 */
export async function submitAndWait(
  ctx: CallContext,
  raw: Uint8Array,
  timeoutMs: number,
): Promise<{ hash: Hash; waited: WaitResult | null }> {
  const expected = keccak256(raw);
  const wait = ctx.receipts.wait(expected, timeoutMs, ctx.quotaKey);
  let hash: Hash;
  try {
    hash = await submitRaw(ctx, raw);
  } catch (err) {
    wait.cancel();
    throw err;
  }
  if (!bytesEqual(hash, expected)) wait.cancel();
  return { hash, waited: await wait.promise };
}

/** EIP-7966's timeout error: code 4, the hash as data. */
export function waitTimeoutError(hash: Hash, timeoutMs: number): RpcError {
  const seconds = timeoutMs % 1000 === 0 ? `${timeoutMs / 1000}s` : `${timeoutMs}ms`;
  return new RpcError(
    "RPC_TX_WAIT_TIMEOUT",
    `The transaction was added to the transaction pool but wasn't processed in ${seconds}.`,
    { timeoutMs },
    bytesToHex(hash),
  );
}

/** rpc.syncSend's answer for a committed transaction that failed: -32000 with the reason, the hash as data. */
export function failedTxError(hash: Hash, waited: WaitResult): RpcError {
  const reason = decodeRevertReason(waited.receipt.output);
  return new RpcError(
    "RPC_TX_FAILED",
    `transaction ${bytesToHex(hash)} failed (status 0) in block ${waited.block.header.number}${reason === null ? "" : `: execution reverted: ${reason}`}`,
    { blockNumber: waited.block.header.number },
    bytesToHex(hash),
  );
}

/** True when a committed transaction succeeded. */
export function succeeded(waited: WaitResult): boolean {
  return waited.receipt.status === ReceiptStatus.Success;
}
