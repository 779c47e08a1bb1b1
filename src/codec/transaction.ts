import { keccak256 } from "../crypto/index.js";
import type { Transaction } from "../types/index.js";
import { type DecodeTxOptions, decodeEthereumTx } from "./ethTx.js";
import { fail } from "./fields.js";
import { decodeNativeTx, NATIVE_TX_TYPE_BYTE } from "./nativeTx.js";
import { codecLimits } from "./options.js";

/**
 * Decodes and checks a raw transaction: Ethereum types 0, 1, 2 or native 0x7c.
 * `opts.sender` (trusted, from our own disk) skips signature recovery; `opts.chainId` rejects other chains;
 * `opts.senders` (this node's cache) skips the recovery of a tx recovered before, and records new ones.
 * Throws CodecError on every bad input. The returned `raw` is the input (copied only if it was a Buffer).
 */
export function decodeTransaction(raw: Uint8Array, opts: DecodeTxOptions = {}): Transaction {
  if (!(raw instanceof Uint8Array)) fail("CODEC_MALFORMED", "Transaction", "", "input is not bytes");
  if (raw.length === 0) fail("CODEC_TRUNCATED", "Transaction", "", "empty input");
  if (raw.length > codecLimits.txBytesMax) {
    fail("CODEC_TOO_LARGE", "Transaction", "", `${raw.length} bytes exceeds ${codecLimits.txBytesMax}`);
  }
  // Buffers (LevelDB, fastify) share memory and slice into views: work on a plain copy.
  const bytes = raw.constructor === Uint8Array ? raw : new Uint8Array(raw);
  const cache = opts.senders;
  if (cache === undefined || opts.sender !== undefined) return decodeBytes(bytes, opts);
  const hash = opts.hash ?? keccak256(bytes);
  const known = cache.get(hash);
  // A hit is the sender this node recovered from these very bytes (the hash covers the signature).
  if (known !== undefined) return decodeBytes(bytes, { ...opts, hash, sender: known });
  const tx = decodeBytes(bytes, { ...opts, hash });
  cache.set(hash, tx.sender);
  return tx;
}

function decodeBytes(bytes: Uint8Array, opts: DecodeTxOptions): Transaction {
  return bytes[0] === NATIVE_TX_TYPE_BYTE ? decodeNativeTx(bytes, opts) : decodeEthereumTx(bytes, opts);
}
