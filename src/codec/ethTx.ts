import { RLP } from "@ethereumjs/rlp";
import { isLowS, keccak256, recoverAddress, SECP256K1_N } from "../crypto/index.js";
import type { AccessListItem, Address, EthereumTx, Hash } from "../types/index.js";
import { TxType } from "../types/index.js";
import { bigintToBytes, concatBytes } from "../util/hex.js";
import { CodecError } from "./errors.js";
import { fail, quantityFromBytes } from "./fields.js";
import { codecLimits } from "./options.js";
import type { SenderCache } from "./senderCache.js";

/**
 * Ethereum transactions: legacy (type 0, with or without EIP-155), EIP-2930 (type 1), EIP-1559 (type 2).
 * RLP is decoded with @ethereumjs/rlp; the signing hash is keccak256 of the RLP of the unsigned fields
 * (EIP-155: plus [chainId, 0, 0]; typed: prefixed by the type byte), encoded with @ethereumjs/rlp.
 * That is ~6x faster than building an @ethereumjs/tx object and is cross-checked against
 * @ethereumjs/tx getHashedMessageToSign and ethers in test/codec/ethTx.test.ts.
 * The sender is recovered with the native secp256k1 binding (src/crypto).
 *
 * Rules: canonical RLP, no trailing bytes, exact field counts, quantities <= 32 bytes without leading zeros,
 * `to` empty or 20 bytes, r in 1..n-1, s in 1..n/2 (EIP-2), y-parity 0/1.
 * Pre-EIP-155 legacy transactions (v = 27/28) are accepted; their chainId is reported as opts.chainId
 * (or 0n when no chain id is given) since they carry none.
 */

export interface DecodeTxOptions {
  /** Reject transactions of any other chain (CODEC_WRONG_CHAIN_ID). */
  chainId?: bigint;
  /** Trusted sender (bytes from our own disk): skip signature recovery. */
  sender?: Address;
  /**
   * keccak256(raw), when the caller already computed it (the pool hashes first to dedupe). Computed by this node,
   * never taken from a peer's word: with `senders` it is the cache key.
   */
  hash?: Hash;
  /**
   * This node's senders recovered earlier, by tx hash (decodeTransaction only): a hit skips the recovery (every
   * other check still runs), a miss records the recovered sender.
   */
  senders?: SenderCache;
  /**
   * Leave the recovery to the caller (decodeTransactionAsync, which recovers on a thread): the decoder runs every
   * other check, stores what recovering takes here and returns a tx whose sender is PENDING_SENDER.
   */
  deferRecovery?: DeferredRecovery;
}

/** The inputs of the one recovery a decode left to its caller (DecodeTxOptions.deferRecovery). */
export interface DeferredRecovery {
  request?: RecoveryRequest;
}

export interface RecoveryRequest {
  /** The decoder's name of the tx type, for the error when the recovery fails. */
  type: string;
  /** The 32-byte hash the sender signed. */
  msgHash: Hash;
  /** 64 B r || s, range- and low-s-checked by the decoder. */
  signature: Uint8Array;
  recovery: number;
}

/** The sender of a decoded tx whose recovery was deferred: never leaves decodeTransactionAsync. */
const PENDING_SENDER: Address = new Uint8Array(20);

/**
 * The tx's sender: the trusted one, a placeholder while the caller recovers it (deferRecovery), or recovered here.
 * Shared by every transaction type's decoder.
 */
export function senderOf(
  msgHash: Hash,
  signature: Uint8Array,
  recovery: number,
  type: string,
  opts: DecodeTxOptions,
): Address {
  if (opts.sender !== undefined) {
    if (!(opts.sender instanceof Uint8Array) || opts.sender.length !== 20) {
      fail("CODEC_INVALID_FIELD", type, "sender", "trusted sender must be 20 bytes");
    }
    return opts.sender;
  }
  if (opts.deferRecovery !== undefined) {
    opts.deferRecovery.request = { type, msgHash, signature, recovery };
    return PENDING_SENDER;
  }
  try {
    return recoverAddress(msgHash, signature, recovery);
  } catch (err) {
    fail("CODEC_INVALID_SIGNATURE", type, "signature", "sender could not be recovered", err);
  }
}

const TYPE_NAMES: Record<number, string> = { 0: "LegacyTx", 1: "AccessListTx", 2: "FeeMarketTx" };

type RlpValue = Uint8Array | RlpValue[];

function rlpDecode(bytes: Uint8Array, type: string): RlpValue {
  if (bytes.length === 0) fail("CODEC_TRUNCATED", type, "", "empty input");
  try {
    return RLP.decode(bytes) as RlpValue;
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    const truncated = /not enough|out-of-bounds|larger than the data/.test(text);
    fail(truncated ? "CODEC_TRUNCATED" : "CODEC_MALFORMED", type, "", `invalid RLP (${text})`, err);
  }
}

function item(values: RlpValue[], index: number, field: string, type: string): Uint8Array {
  const value = values[index];
  if (!(value instanceof Uint8Array))
    fail("CODEC_MALFORMED", type, field, "expected a byte string, got a list");
  return value;
}

function q(values: RlpValue[], index: number, field: string, type: string): bigint {
  return quantityFromBytes(item(values, index, field, type), field, type);
}

function toField(values: RlpValue[], index: number, type: string): Address | null {
  const value = item(values, index, "to", type);
  if (value.length === 0) return null;
  if (value.length !== 20) fail("CODEC_INVALID_FIELD", type, "to", `${value.length} bytes, want 20 or 0`);
  return value;
}

function accessListField(values: RlpValue[], index: number, type: string): AccessListItem[] {
  const list = values[index];
  if (!Array.isArray(list)) fail("CODEC_MALFORMED", type, "accessList", "expected a list");
  if (list.length > codecLimits.accessListItemsMax)
    fail("CODEC_TOO_LARGE", type, "accessList", "too many entries");
  return list.map((entry, i) => {
    const field = `accessList[${i}]`;
    if (!Array.isArray(entry) || entry.length !== 2)
      fail("CODEC_MALFORMED", type, field, "expected [address, keys]");
    const [address, keys] = entry;
    if (!(address instanceof Uint8Array) || address.length !== 20) {
      fail("CODEC_INVALID_FIELD", type, `${field}.address`, "want 20 bytes");
    }
    if (!Array.isArray(keys)) fail("CODEC_MALFORMED", type, `${field}.storageKeys`, "expected a list");
    const storageKeys = keys.map((key, j) => {
      if (!(key instanceof Uint8Array) || key.length !== 32) {
        fail("CODEC_INVALID_FIELD", type, `${field}.storageKeys[${j}]`, "want 32 bytes");
      }
      return key;
    });
    return { address, storageKeys };
  });
}

interface Signature {
  r: bigint;
  s: bigint;
  sig64: Uint8Array;
}

function signatureField(values: RlpValue[], rIndex: number, type: string): Signature {
  const rBytes = item(values, rIndex, "r", type);
  const sBytes = item(values, rIndex + 1, "s", type);
  let r: bigint;
  let s: bigint;
  try {
    r = quantityFromBytes(rBytes, "r", type);
    s = quantityFromBytes(sBytes, "s", type);
  } catch (err) {
    if (err instanceof CodecError)
      fail("CODEC_INVALID_SIGNATURE", type, String(err.meta.field), err.message, err);
    throw err;
  }
  if (r === 0n || r >= SECP256K1_N) fail("CODEC_INVALID_SIGNATURE", type, "r", "out of range 1..n-1");
  if (s === 0n || s >= SECP256K1_N) fail("CODEC_INVALID_SIGNATURE", type, "s", "out of range 1..n-1");
  const sig64 = new Uint8Array(64);
  sig64.set(rBytes, 32 - rBytes.length);
  sig64.set(sBytes, 64 - sBytes.length);
  if (!isLowS(sig64)) fail("CODEC_INVALID_SIGNATURE", type, "s", "s > n/2 (EIP-2)");
  return { r, s, sig64 };
}

function checkChainId(chainId: bigint, opts: DecodeTxOptions, type: string): void {
  if (opts.chainId !== undefined && chainId !== opts.chainId) {
    throw new CodecError("CODEC_WRONG_CHAIN_ID", `${type}: chain id ${chainId}, want ${opts.chainId}`, {
      type,
      field: "chainId",
      chainId,
      expected: opts.chainId,
    });
  }
}

/** The last chain id's minimal bytes: a node sees one chain id, so EIP-155 signing hashes reuse them. */
let lastChainId = -1n;
let lastChainIdBytes: Uint8Array = new Uint8Array(0);

function chainIdBytes(chainId: bigint): Uint8Array {
  if (chainId !== lastChainId) {
    lastChainIdBytes = bigintToBytes(chainId);
    lastChainId = chainId;
  }
  return lastChainIdBytes;
}

function decodeLegacy(raw: Uint8Array, opts: DecodeTxOptions): EthereumTx {
  const type = TYPE_NAMES[0]!;
  const values = rlpDecode(raw, type);
  if (!Array.isArray(values)) fail("CODEC_MALFORMED", type, "", "expected an RLP list");
  if (values.length !== 9) fail("CODEC_MALFORMED", type, "", `${values.length} fields, want 9`);
  const nonce = q(values, 0, "nonce", type);
  const gasPrice = q(values, 1, "gasPrice", type);
  const gasLimit = q(values, 2, "gasLimit", type);
  const to = toField(values, 3, type);
  const value = q(values, 4, "value", type);
  const input = item(values, 5, "input", type);
  const v = q(values, 6, "v", type);
  const sig = signatureField(values, 7, type);
  let chainId: bigint;
  let recovery: number;
  let message: Uint8Array;
  if (v === 27n || v === 28n) {
    // Pre-EIP-155: no chain id in the signature; reported as the required one (see the module doc).
    recovery = Number(v - 27n);
    chainId = opts.chainId ?? 0n;
    message = RLP.encode(values.slice(0, 6));
  } else if (v >= 35n) {
    chainId = (v - 35n) >> 1n;
    recovery = Number((v - 35n) & 1n);
    checkChainId(chainId, opts, type);
    message = RLP.encode([
      ...values.slice(0, 6),
      chainIdBytes(chainId),
      new Uint8Array(0),
      new Uint8Array(0),
    ]);
  } else {
    fail("CODEC_INVALID_SIGNATURE", type, "v", `invalid v ${v}`);
  }
  const sender = senderOf(keccak256(message), sig.sig64, recovery, type, opts);
  return {
    type: TxType.Legacy,
    raw,
    hash: opts.hash ?? keccak256(raw),
    sender,
    chainId,
    nonce,
    gasPrice,
    gasLimit,
    to,
    value,
    input,
    v,
    r: sig.r,
    s: sig.s,
  };
}

function decodeTyped(raw: Uint8Array, txType: 1 | 2, opts: DecodeTxOptions): EthereumTx {
  const type = TYPE_NAMES[txType]!;
  const values = rlpDecode(raw.subarray(1), type);
  if (!Array.isArray(values)) fail("CODEC_MALFORMED", type, "", "expected an RLP list");
  const fieldCount = txType === 1 ? 11 : 12;
  if (values.length !== fieldCount)
    fail("CODEC_MALFORMED", type, "", `${values.length} fields, want ${fieldCount}`);
  const chainId = q(values, 0, "chainId", type);
  checkChainId(chainId, opts, type);
  const nonce = q(values, 1, "nonce", type);
  let i = 2;
  let gasPrice = 0n;
  let maxPriorityFeePerGas = 0n;
  let maxFeePerGas = 0n;
  if (txType === 1) {
    gasPrice = q(values, i++, "gasPrice", type);
  } else {
    maxPriorityFeePerGas = q(values, i++, "maxPriorityFeePerGas", type);
    maxFeePerGas = q(values, i++, "maxFeePerGas", type);
    if (maxPriorityFeePerGas > maxFeePerGas) {
      fail("CODEC_INVALID_FIELD", type, "maxPriorityFeePerGas", "exceeds maxFeePerGas");
    }
  }
  const gasLimit = q(values, i++, "gasLimit", type);
  const to = toField(values, i++, type);
  const value = q(values, i++, "value", type);
  const input = item(values, i++, "input", type);
  const accessList = accessListField(values, i++, type);
  const yParity = q(values, i++, "yParity", type);
  if (yParity > 1n) fail("CODEC_INVALID_SIGNATURE", type, "yParity", `invalid y-parity ${yParity}`);
  const sig = signatureField(values, i, type);
  const message = concatBytes(Uint8Array.of(txType), RLP.encode(values.slice(0, fieldCount - 3)));
  const sender = senderOf(keccak256(message), sig.sig64, Number(yParity), type, opts);
  const common = {
    raw,
    hash: opts.hash ?? keccak256(raw),
    sender,
    chainId,
    nonce,
    gasLimit,
    to,
    value,
    input,
    accessList,
  };
  const signature = { v: yParity, r: sig.r, s: sig.s };
  return txType === 1
    ? { type: TxType.AccessList, ...common, gasPrice, ...signature }
    : { type: TxType.FeeMarket, ...common, maxFeePerGas, maxPriorityFeePerGas, ...signature };
}

/** Decodes a raw Ethereum transaction (types 0, 1, 2). The caller has checked the size bound. */
export function decodeEthereumTx(raw: Uint8Array, opts: DecodeTxOptions = {}): EthereumTx {
  const first = raw[0];
  if (first === undefined) fail("CODEC_TRUNCATED", "Transaction", "", "empty input");
  if (first >= 0xc0) return decodeLegacy(raw, opts);
  if (first === 1 || first === 2) return decodeTyped(raw, first, opts);
  fail(
    "CODEC_UNSUPPORTED_TYPE",
    "Transaction",
    "type",
    `unsupported transaction type 0x${first.toString(16)}`,
  );
}
