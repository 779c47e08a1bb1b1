import { RLP } from "@ethereumjs/rlp";
import { keccak256, secp256k1Sign } from "../../src/crypto/index.js";
import { bigintToBytes, bytesToHex, concatBytes, hexToBytes } from "../../src/util/hex.js";

/**
 * Test helper: Ethereum transactions signed with src/crypto over the signing hash the EIPs define, with any field
 * values (also ones no wallet would sign), and raw transactions taken apart and put back with one value changed.
 */

export type Rlp = Uint8Array | Rlp[];

export const KEY = hexToBytes("0x4646464646464646464646464646464646464646464646464646464646464646");
export const SENDER = "0x9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f"; // EIP-155's example key's address
export const CHAIN_ID = 20200n;
export const q = (n: bigint) => bigintToBytes(n);
export const fill = (n: number, b: number) => new Uint8Array(n).fill(b);
export const EMPTY = new Uint8Array(0);

/** Legacy unsigned fields: nonce, gasPrice, gasLimit, to, value, input. */
export const legacyFields = (nonce = 9n): Rlp[] => [
  q(nonce),
  q(20n * 10n ** 9n),
  q(21_000n),
  fill(20, 0x35),
  q(10n ** 18n),
  EMPTY,
];
/** EIP-1559 unsigned fields: chainId, nonce, maxPriorityFee, maxFee, gasLimit, to, value, input, accessList. */
export const feeMarketFields = (nonce = 1n, accessList: Rlp[] = []): Rlp[] => [
  q(CHAIN_ID),
  q(nonce),
  q(1n),
  q(2n),
  q(21_000n),
  fill(20, 0x35),
  q(1n),
  EMPTY,
  accessList,
];
/** EIP-2930 unsigned fields: chainId, nonce, gasPrice, gasLimit, to, value, input, accessList. */
export const accessListFields = (): Rlp[] => [
  q(CHAIN_ID),
  q(3n),
  q(5n),
  q(21_000n),
  fill(20, 0x35),
  EMPTY,
  Uint8Array.of(1, 2),
  [],
];

export function sign(hash: Uint8Array) {
  const { signature, recovery } = secp256k1Sign(hash, KEY);
  const trim = (b: Uint8Array) => q(BigInt(bytesToHex(b)));
  return { recovery, r: trim(signature.subarray(0, 32)), s: trim(signature.subarray(32)) };
}

/** EIP-155 legacy: v = chainId * 2 + 35 + recovery, signed over rlp(fields ++ [chainId, 0, 0]). */
export function signLegacy155(fields: Rlp[], chainId: bigint): Uint8Array {
  const { recovery, r, s } = sign(keccak256(RLP.encode([...fields, q(chainId), EMPTY, EMPTY])));
  return RLP.encode([...fields, q(chainId * 2n + 35n + BigInt(recovery)), r, s]);
}

/** A typed transaction: type || rlp(fields ++ [yParity, r, s]), signed over type || rlp(fields). */
export function signTyped(type: 1 | 2, fields: Rlp[]): Uint8Array {
  const { recovery, r, s } = sign(keccak256(concatBytes(Uint8Array.of(type), RLP.encode(fields))));
  return concatBytes(Uint8Array.of(type), RLP.encode([...fields, q(BigInt(recovery)), r, s]));
}

/** The RLP list of a raw tx (typed: without its type byte), and the inverse. */
export const valuesOf = (raw: Uint8Array): Rlp[] =>
  RLP.decode(raw[0]! < 0xc0 ? raw.subarray(1) : raw) as Rlp[];
export const rebuild = (raw: Uint8Array, values: Rlp[]) =>
  raw[0]! < 0xc0 ? concatBytes(raw.subarray(0, 1), RLP.encode(values)) : RLP.encode(values);
export function withValue(raw: Uint8Array, index: number, value: Rlp): Uint8Array {
  const values = valuesOf(raw);
  values[index] = value;
  return rebuild(raw, values);
}

/** An RLP list around items already encoded (which may be non-canonical). */
export function encodeList(encodedItems: Uint8Array[]): Uint8Array {
  const body = concatBytes(...encodedItems);
  if (body.length < 56) return concatBytes(Uint8Array.of(0xc0 + body.length), body);
  const length = q(BigInt(body.length));
  return concatBytes(Uint8Array.of(0xf7 + length.length), length, body);
}
