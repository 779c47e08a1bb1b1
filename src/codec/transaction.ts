import { keccak256 } from "../crypto/index.js";
import type { Address, Hash, Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";
import { assert } from "../util/errors.js";
import { type DecodeTxOptions, type DeferredRecovery, decodeEthereumTx } from "./ethTx.js";
import { fail } from "./fields.js";
import { decodeNativeTx, NATIVE_TX_TYPE_BYTE } from "./nativeTx.js";
import { codecLimits } from "./options.js";

/**
 * Decodes and checks a raw transaction: Ethereum types 0, 1, 2 or native 0x7c.
 * `opts.sender` (trusted, from our own disk) skips signature recovery; `opts.chainId` rejects other chains;
 * `opts.senders` (this node's cache) skips the recovery of a tx recovered before, and records new ones.
 * Throws CodecError on every bad input. The returned tx holds its byte fields in one buffer of its own (see
 * compactTx): it shares no memory with the input.
 */
export function decodeTransaction(raw: Uint8Array, opts: DecodeTxOptions = {}): Transaction {
  const bytes = checkedBytes(raw);
  const cache = opts.senders;
  if (cache === undefined || opts.sender !== undefined) return compactTx(decodeBytes(bytes, opts));
  const hash = opts.hash ?? keccak256(bytes);
  const known = cache.get(hash);
  // A hit is the sender this node recovered from these very bytes (the hash covers the signature).
  if (known !== undefined) return compactTx(decodeBytes(bytes, { ...opts, hash, sender: known }));
  const tx = decodeBytes(bytes, { ...opts, hash });
  cache.set(hash, tx.sender);
  return compactTx(tx);
}

/** Recovers a signer's address somewhere else than the calling thread (src/crypto RecoveryThreads). */
export interface SenderRecoverer {
  /** Rejects when the signature yields no public key. */
  recoverAddress(msgHash: Hash, signature: Uint8Array, recovery: number): Promise<Address>;
}

/**
 * decodeTransaction with the sender recovered by `recoverer` (on a worker thread): the same checks, errors,
 * cache use and result; only the recovery leaves the calling thread. A cache hit or a trusted sender answers
 * without it.
 */
export async function decodeTransactionAsync(
  raw: Uint8Array,
  opts: DecodeTxOptions,
  recoverer: SenderRecoverer,
): Promise<Transaction> {
  const bytes = checkedBytes(raw);
  const cache = opts.senders;
  if (opts.sender !== undefined) return compactTx(decodeBytes(bytes, opts));
  const hash = opts.hash ?? keccak256(bytes);
  const known = cache?.get(hash);
  if (known !== undefined) return compactTx(decodeBytes(bytes, { ...opts, hash, sender: known }));
  const deferred: DeferredRecovery = {};
  const tx = decodeBytes(bytes, { ...opts, hash, deferRecovery: deferred });
  const request = deferred.request;
  assert(request !== undefined, "a decode without a trusted sender leaves its recovery");
  try {
    tx.sender = await recoverer.recoverAddress(request.msgHash, request.signature, request.recovery);
  } catch (err) {
    fail("CODEC_INVALID_SIGNATURE", request.type, "signature", "sender could not be recovered", err);
  }
  cache?.set(hash, tx.sender);
  return compactTx(tx);
}

/** The input as a plain Uint8Array of an acceptable size; throws CodecError. */
function checkedBytes(raw: Uint8Array): Uint8Array {
  if (!(raw instanceof Uint8Array)) fail("CODEC_MALFORMED", "Transaction", "", "input is not bytes");
  if (raw.length === 0) fail("CODEC_TRUNCATED", "Transaction", "", "empty input");
  if (raw.length > codecLimits.txBytesMax) {
    fail("CODEC_TOO_LARGE", "Transaction", "", `${raw.length} bytes exceeds ${codecLimits.txBytesMax}`);
  }
  // Buffers (LevelDB, fastify) share memory and slice into views: decode a plain copy (compactTx copies again, but
  // the decoders' checks compare against `raw`, and Buffer subclasses behave differently in places).
  return raw.constructor === Uint8Array ? raw : new Uint8Array(raw);
}

function decodeBytes(bytes: Uint8Array, opts: DecodeTxOptions): Transaction {
  return bytes[0] === NATIVE_TX_TYPE_BYTE ? decodeNativeTx(bytes, opts) : decodeEthereumTx(bytes, opts);
}

const NO_BYTES = new Uint8Array(0);

/**
 * Moves a decoded tx's byte fields (raw, hash, sender, to, input, a native nonce) into ONE new buffer, as views.
 * Every separate small Uint8Array costs ~200–250 B of heap (its own ArrayBuffer and backing store), so a pooled
 * legacy transfer took 1,693 B of pool memory with six of them and 1,321 B with one (bench/poolMemory.ts). The copy also
 * detaches the tx from the caller's bytes (a fastify or LevelDB buffer is not kept alive by a pooled tx).
 */
function compactTx(tx: Transaction): Transaction {
  const to = tx.to ?? NO_BYTES;
  const nonce = tx.type === TxType.Native ? tx.nonce : NO_BYTES;
  const parts = [tx.raw, tx.hash, tx.sender, to, tx.input, nonce];
  let length = 0;
  for (const part of parts) length += part.length;
  const buffer = new Uint8Array(length);
  const views: Uint8Array[] = [];
  let offset = 0;
  for (const part of parts) {
    buffer.set(part, offset);
    views.push(buffer.subarray(offset, offset + part.length));
    offset += part.length;
  }
  tx.raw = views[0] as Uint8Array;
  tx.hash = views[1] as Uint8Array;
  tx.sender = views[2] as Uint8Array;
  if (tx.to !== null) tx.to = views[3] as Uint8Array;
  tx.input = views[4] as Uint8Array;
  if (tx.type === TxType.Native) tx.nonce = views[5] as Uint8Array;
  return tx;
}
