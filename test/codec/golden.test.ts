import { describe, expect, it } from "vitest";
import {
  decodeBlock,
  decodeTransaction,
  encodeBlock,
  encodeCertificate,
  encodeHeader,
  encodeNativeTx,
  encodeReceipt,
  hashHeader,
  type NativeTxFields,
} from "../../src/codec/index.js";
import { keccak256, privateKeyToAddress } from "../../src/crypto/index.js";
import type { BlockHeader, CommitCertificate, Receipt } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";

/**
 * Golden values: fixed inputs → committed bytes / hashes. If one of these fails, the on-disk / on-wire format
 * changed (block hashes would change): that needs a deliberate decision, not a test update.
 */

const fill = (n: number, b: number) => new Uint8Array(n).fill(b);

const header: BlockHeader = {
  chainId: 20200n,
  groupId: "group0",
  number: 42,
  parentHash: fill(32, 0x11),
  timestampMs: 1_760_000_000_123,
  txRoot: fill(32, 0x22),
  receiptRoot: fill(32, 0x33),
  stateRoot: fill(32, 0x44),
  gasUsed: 21000n,
  proposer: fill(32, 0x55),
  view: 3,
};

const certificate: CommitCertificate = {
  height: 42,
  view: 3,
  blockHash: fill(32, 0x66),
  signatures: [
    { nodeId: fill(32, 0x01), signature: fill(64, 0x02) },
    { nodeId: fill(32, 0x03), signature: fill(64, 0x04) },
  ],
};

const receipt: Receipt = {
  txHash: fill(32, 0x77),
  status: 1,
  gasUsed: 21000n,
  cumulativeGasUsed: 42000n,
  logs: [{ address: fill(20, 0x88), topics: [fill(32, 0x99)], data: Uint8Array.of(1, 2, 3) }],
  contractAddress: null,
  output: new Uint8Array(0),
  logsBloom: fill(256, 0),
};

const nativeFields: NativeTxFields = {
  chainId: 20200n,
  groupId: "group0",
  nonce: hexToBytes("0x0102030405060708"),
  blockLimit: 1000,
  to: fill(20, 0xaa),
  value: 10n ** 18n,
  input: hexToBytes("0xa9059cbb"),
  gasLimit: 100_000n,
  gasPrice: 0n,
};
const KEY = hexToBytes("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");

const GOLDEN = {
  header:
    "0x0a024ee8120667726f757030182a2220111111111111111111111111111111111111111111111111111111111111111128fb80b3c19c3332" +
    "2022222222222222222222222222222222222222222222222222222222222222223a2033333333333333333333333333333333333333333333" +
    "33333333333333333333422044444444444444444444444444444444444444444444444444444444444444444a0252085220555555555555" +
    "55555555555555555555555555555555555555555555555555555803",
  headerHash: "0x3f0bd081d6167b1268fb824afd621f4b3f64c8492ba2c15a5d72e954e69671c8",
  certificateHash: "0x67823121be7c108fe43670f0bbb8dc77be1ef23fde808d2757efdf86a8686f46",
  receiptHash: "0x987fb9d41c4342a14f6de5d09e90e7e460f8eb2a299e3c3b9bdee886eedde089",
  nativeTx:
    "0x7c0a024ee8120667726f7570301a08010203040506070820e8072a14aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa32" +
    "080de0b6b3a76400003a04a9059cbb42030186a052400746bbc163ac09b1bcc892f3b18d2dfae432db7b323bbb7a0bb132a9" +
    "df2ee7b466785a994c32de1d70f1bcf16373bc447af078aa21059aa9fcc15373a33d340c5801",
  nativeTxHash: "0x87eb7ecad68667b91caf37765179f09004b2826203c1aff2fd04dc0ff9ec9cf6",
  blockHash: "0x04c8db1e359e2bb3606781eac4ac72a17ee30b5c769ce82508b9b8200f343d84",
};

describe("golden encodings", () => {
  it("header bytes and hash", () => {
    expect(bytesToHex(encodeHeader(header))).toBe(GOLDEN.header);
    expect(bytesToHex(hashHeader(header))).toBe(GOLDEN.headerHash);
  });

  it("certificate and receipt", () => {
    expect(bytesToHex(keccak256(encodeCertificate(certificate)))).toBe(GOLDEN.certificateHash);
    expect(bytesToHex(keccak256(encodeReceipt(receipt)))).toBe(GOLDEN.receiptHash);
  });

  it("native transaction (RFC 6979 signatures are deterministic)", () => {
    const raw = encodeNativeTx(nativeFields, KEY);
    expect(bytesToHex(raw)).toBe(GOLDEN.nativeTx);
    const tx = decodeTransaction(raw);
    expect(bytesToHex(tx.hash)).toBe(GOLDEN.nativeTxHash);
    expect(tx.sender).toEqual(privateKeyToAddress(KEY));
  });

  it("block", () => {
    const tx = decodeTransaction(hexToBytes(GOLDEN.nativeTx));
    const block = { header, transactions: [tx], certificate };
    const encoded = encodeBlock(block);
    expect(bytesToHex(keccak256(encoded))).toBe(GOLDEN.blockHash);
    expect(decodeBlock(encoded)).toEqual(block);
  });
});
