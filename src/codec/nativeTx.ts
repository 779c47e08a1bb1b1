import { isLowS, keccak256, secp256k1Sign } from "../crypto/index.js";
import type { Address, NativeTx } from "../types/index.js";
import { TxType } from "../types/index.js";
import { bytesEqual, bytesToBigint, concatBytes } from "../util/hex.js";
import { type DecodeTxOptions, senderOf } from "./ethTx.js";
import {
  checkNumber,
  checkOptionalAddress,
  checkString,
  checkVarBytes,
  decodePb,
  encodePb,
  fail,
  fixedBytes,
  optionalAddress,
  quantity,
  quantityToBytes,
  safeNumber,
  stringField,
  varBytes,
} from "./fields.js";
import { codecLimits } from "./options.js";
import { pb } from "./schema.js";

/**
 * Consort's native transaction (type byte 0x7c), FISCO BCOS style (random nonce + blockLimit, no sequence).
 *   raw          = 0x7c || NativeTxEnvelope (protobuf; the body fields 1..9, signature 10, recovery 11)
 *   signing hash = keccak256(0x7c || NativeTxBody)   (the same fields 1..9)
 *   hash         = keccak256(raw)
 * Decoding requires the canonical encoding (re-encoding gives the same bytes), so one signed body has one hash.
 */

export const NATIVE_TX_TYPE_BYTE = 0x7c;
const TYPE = "NativeTx";

export interface NativeTxFields {
  chainId: bigint;
  groupId: string;
  /** Random, 1..64 bytes. */
  nonce: Uint8Array;
  blockLimit: number;
  to: Address | null;
  value: bigint;
  input: Uint8Array;
  gasLimit: bigint;
  gasPrice: bigint;
}

function bodyMessage(f: NativeTxFields): Record<string, unknown> {
  const nonce = checkVarBytes(f.nonce, "nonce", TYPE, codecLimits.nativeNonceBytesMax);
  if (nonce.length === 0) fail("CODEC_INVALID_FIELD", TYPE, "nonce", "empty nonce");
  return {
    chainId: quantityToBytes(f.chainId, "chainId", TYPE),
    groupId: checkString(f.groupId, "groupId", TYPE, codecLimits.groupIdLengthMax),
    nonce,
    blockLimit: checkNumber(f.blockLimit, "blockLimit", TYPE),
    to: checkOptionalAddress(f.to, "to", TYPE),
    value: quantityToBytes(f.value, "value", TYPE),
    input: checkVarBytes(f.input, "input", TYPE, codecLimits.txBytesMax),
    gasLimit: quantityToBytes(f.gasLimit, "gasLimit", TYPE),
    gasPrice: quantityToBytes(f.gasPrice, "gasPrice", TYPE),
  };
}

function encodeBody(f: NativeTxFields): Uint8Array {
  return encodePb(pb.NativeTxBody, bodyMessage(f));
}

/** keccak256(0x7c || NativeTxBody(fields)): the hash the sender signs. */
export function nativeTxSigningHash(fields: NativeTxFields): Uint8Array {
  return keccak256(concatBytes(Uint8Array.of(NATIVE_TX_TYPE_BYTE), encodeBody(fields)));
}

/** Builds and signs a native transaction: returns the raw bytes to submit. */
export function encodeNativeTx(fields: NativeTxFields, privateKey: Uint8Array): Uint8Array {
  const body = encodeBody(fields);
  const prefixed = concatBytes(Uint8Array.of(NATIVE_TX_TYPE_BYTE), body);
  const { signature, recovery } = secp256k1Sign(keccak256(prefixed), privateKey);
  const tail = encodePb(pb.NativeTxSignature, { signature, recovery });
  const raw = concatBytes(prefixed, tail);
  if (raw.length > codecLimits.txBytesMax) {
    fail("CODEC_TOO_LARGE", TYPE, "", `${raw.length} bytes exceeds ${codecLimits.txBytesMax}`);
  }
  return raw;
}

export function decodeNativeTx(raw: Uint8Array, opts: DecodeTxOptions = {}): NativeTx {
  if (raw[0] !== NATIVE_TX_TYPE_BYTE)
    fail("CODEC_UNSUPPORTED_TYPE", TYPE, "type", "not a native transaction");
  const msg = decodePb(pb.NativeTxEnvelope, raw.subarray(1), TYPE, codecLimits.txBytesMax);
  const fields: NativeTxFields = {
    chainId: quantity(msg, "chainId", TYPE),
    groupId: stringField(msg, "groupId", TYPE, codecLimits.groupIdLengthMax),
    nonce: varBytes(msg, "nonce", TYPE, codecLimits.nativeNonceBytesMax),
    blockLimit: safeNumber(msg, "blockLimit", TYPE),
    to: optionalAddress(msg, "to", TYPE),
    value: quantity(msg, "value", TYPE),
    input: varBytes(msg, "input", TYPE, codecLimits.txBytesMax),
    gasLimit: quantity(msg, "gasLimit", TYPE),
    gasPrice: quantity(msg, "gasPrice", TYPE),
  };
  if (fields.nonce.length === 0) fail("CODEC_MISSING_FIELD", TYPE, "nonce", "empty nonce");
  const sig64 = fixedBytes(msg, "signature", TYPE, 64);
  const recovery = safeNumber(msg, "recovery", TYPE);
  if (recovery > 1) fail("CODEC_INVALID_SIGNATURE", TYPE, "recovery", `invalid recovery id ${recovery}`);
  const r = bytesToBigint(sig64.subarray(0, 32));
  const s = bytesToBigint(sig64.subarray(32));
  if (r === 0n || s === 0n) fail("CODEC_INVALID_SIGNATURE", TYPE, "signature", "r or s is zero");
  if (!isLowS(sig64)) fail("CODEC_INVALID_SIGNATURE", TYPE, "signature", "s > n/2");

  const prefixed = concatBytes(Uint8Array.of(NATIVE_TX_TYPE_BYTE), encodeBody(fields));
  const tail = encodePb(pb.NativeTxSignature, { signature: sig64, recovery });
  if (!bytesEqual(concatBytes(prefixed, tail), raw)) {
    fail("CODEC_NON_CANONICAL", TYPE, "", "not the canonical encoding of its fields");
  }
  if (opts.chainId !== undefined && fields.chainId !== opts.chainId) {
    fail("CODEC_WRONG_CHAIN_ID", TYPE, "chainId", `chain id ${fields.chainId}, want ${opts.chainId}`);
  }
  const sender = senderOf(keccak256(prefixed), sig64, recovery, TYPE, opts);
  return {
    type: TxType.Native,
    raw,
    hash: opts.hash ?? keccak256(raw),
    sender,
    chainId: fields.chainId,
    groupId: fields.groupId,
    nonce: fields.nonce,
    blockLimit: fields.blockLimit,
    to: fields.to,
    value: fields.value,
    input: fields.input,
    gasLimit: fields.gasLimit,
    gasPrice: fields.gasPrice,
    v: BigInt(recovery),
    r,
    s,
  };
}
