import { RLP } from "@ethereumjs/rlp";
import { encodeNativeTx } from "../../src/codec/index.js";
import { keccak256, privateKeyToAddress, secp256k1Sign } from "../../src/crypto/index.js";
import { bigintToBytes, bytesToHex, hexToBytes } from "../../src/util/hex.js";

/** A pre-signed transaction: raw bytes as 0x-hex for eth_sendRawTransaction and its hash (keccak256 of raw). */
export interface SignedTx {
  raw: string;
  hash: string;
  /**
   * Submission lane (the sender of a nonce-ordered tx): the load generator keeps at most one submission per lane in
   * flight, in order, as a wallet does. Absent (native txs, random nonces): every tx is its own lane.
   */
  lane?: number;
}

export interface Sender {
  privateKey: Uint8Array;
  address: string;
}

export function senderFromKey(privateKey: Uint8Array): Sender {
  return { privateKey, address: bytesToHex(privateKeyToAddress(privateKey)) };
}

/** Deterministic fresh sender i of a run: keccak256("consort bench sender <seed> <i>"). */
export function benchSender(seed: string, index: number): Sender {
  return senderFromKey(keccak256(new TextEncoder().encode(`consort bench sender ${seed} ${index}`)));
}

/** A random 20-byte address (a fresh recipient: a cold account / storage slot every time, like real traffic). */
export function randomAddress(): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(20)));
}

const q = (v: bigint): Uint8Array => (v === 0n ? new Uint8Array(0) : bigintToBytes(v));

export interface LegacyTxFields {
  chainId: bigint;
  nonce: bigint;
  gasPrice: bigint;
  gasLimit: bigint;
  to: string | null;
  value: bigint;
  data: string;
}

/**
 * EIP-155 legacy transaction signed with the native secp256k1 binding (src/crypto): ~20k signatures/s, so pre-signing
 * is never the bottleneck. Type 0 is accepted by every target (anvil, ganache, Consort) with any fee settings.
 */
export function signLegacyTx(f: LegacyTxFields, privateKey: Uint8Array, lane?: number): SignedTx {
  const to = f.to ? hexToBytes(f.to) : new Uint8Array(0);
  const data = hexToBytes(f.data);
  const fields = [q(f.nonce), q(f.gasPrice), q(f.gasLimit), to, q(f.value), data];
  const digest = keccak256(RLP.encode([...fields, q(f.chainId), new Uint8Array(0), new Uint8Array(0)]));
  const { signature, recovery } = secp256k1Sign(digest, privateKey);
  const v = f.chainId * 2n + 35n + BigInt(recovery);
  const raw = RLP.encode([
    ...fields,
    q(v),
    trim(signature.subarray(0, 32)),
    trim(signature.subarray(32, 64)),
  ]);
  const tx: SignedTx = { raw: bytesToHex(raw), hash: bytesToHex(keccak256(raw)) };
  if (lane !== undefined) tx.lane = lane;
  return tx;
}

function trim(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

export interface NativeTxInput {
  chainId: bigint;
  groupId: string;
  blockLimit: number;
  to: string | null;
  value: bigint;
  data: string;
  gasLimit: bigint;
}

/** Consort's FISCO-style native tx (type 0x7c): a random 16-byte nonce, so one sender needs no nonce ordering. */
export function signNativeTx(f: NativeTxInput, privateKey: Uint8Array): SignedTx {
  const raw = encodeNativeTx(
    {
      chainId: f.chainId,
      groupId: f.groupId,
      nonce: crypto.getRandomValues(new Uint8Array(16)),
      blockLimit: f.blockLimit,
      to: f.to ? hexToBytes(f.to) : null,
      value: f.value,
      input: hexToBytes(f.data),
      gasLimit: f.gasLimit,
      gasPrice: 0n,
    },
    privateKey,
  );
  return { raw: bytesToHex(raw), hash: bytesToHex(keccak256(raw)) };
}

/** ABI: transfer(address,uint256) = 0xa9059cbb. */
export function erc20TransferData(to: string, amount: bigint): string {
  return `0xa9059cbb${to.slice(2).toLowerCase().padStart(64, "0")}${amount.toString(16).padStart(64, "0")}`;
}

/** ABI-encodes the Asset constructor (string name, string symbol, uint256 supply) after the creation bytecode. */
export function assetDeployData(bytecode: string, name: string, symbol: string, supply: bigint): string {
  const word = (n: bigint | number) => BigInt(n).toString(16).padStart(64, "0");
  const str = (s: string) => {
    const hex = Buffer.from(s, "utf8").toString("hex");
    return word(hex.length / 2) + hex.padEnd(Math.ceil(hex.length / 64) * 64, "0");
  };
  const nameEnc = str(name);
  const head = word(96) + word(96 + nameEnc.length / 2) + word(supply);
  const code = bytecode.startsWith("0x") ? bytecode : `0x${bytecode}`;
  return code + head + nameEnc + str(symbol);
}
