import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import {
  CodecError,
  codecLimits,
  decodeBlock,
  decodeCertificate,
  decodeHeader,
  decodeReceipt,
  decodeTransaction,
  encodeBlock,
  encodeHeader,
  encodeNativeTx,
  encodeReceipt,
  type NativeTxFields,
  nativeTxSigningHash,
} from "../../src/codec/index.js";
import {
  generatePrivateKey,
  privateKeyToAddress,
  recoverAddress,
  SECP256K1_N,
  secp256k1Sign,
} from "../../src/crypto/index.js";
import type { Block, BlockHeader, Receipt } from "../../src/types/index.js";
import { bigintToBytes, concatBytes } from "../../src/util/hex.js";
import { signTx } from "./txFactory.js";

const fill = (n: number, b: number) => new Uint8Array(n).fill(b);
const CHAIN_ID = 20200n;
const KEY = generatePrivateKey();

const header: BlockHeader = {
  chainId: CHAIN_ID,
  groupId: "group0",
  number: 1,
  parentHash: fill(32, 1),
  timestampMs: 1_700_000_000_000,
  txRoot: fill(32, 2),
  receiptRoot: fill(32, 3),
  stateRoot: fill(32, 4),
  gasUsed: 0n,
  proposer: fill(32, 5),
  view: 0,
};

const native: NativeTxFields = {
  chainId: CHAIN_ID,
  groupId: "group0",
  nonce: fill(16, 9),
  blockLimit: 500,
  to: null,
  value: 0n,
  input: Uint8Array.of(0x60, 0x80),
  gasLimit: 3_000_000n,
  gasPrice: 0n,
};

function codecError(fn: () => unknown, code: string, field?: string): CodecError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CodecError);
  expect((caught as CodecError).code).toBe(code);
  if (field !== undefined) expect((caught as CodecError).meta.field).toBe(field);
  return caught as CodecError;
}

/** Encodes arbitrary (possibly invalid) header fields with the raw protobuf schema, bypassing our checks. */
const rawHeaderType = protobuf
  .parse(
    `syntax = "proto3"; message H { bytes chain_id = 1; string group_id = 2; uint64 number = 3; bytes parent_hash = 4;
     uint64 timestamp_ms = 5; bytes tx_root = 6; bytes receipt_root = 7; bytes state_root = 8; bytes gas_used = 9;
     bytes proposer = 10; uint64 view = 11; }`,
  )
  .root.lookupType("H");
function rawHeader(overrides: Record<string, unknown>): Uint8Array {
  const base = { ...header, chainId: bigintToBytes(header.chainId), gasUsed: new Uint8Array(0) };
  return rawHeaderType.encode({ ...base, ...overrides }).finish();
}

describe("header validation", () => {
  it("names the field on bad lengths, missing fields, overflows and leading zeros", () => {
    codecError(
      () => decodeHeader(rawHeader({ parentHash: fill(31, 1) })),
      "CODEC_INVALID_FIELD",
      "parentHash",
    );
    codecError(
      () => decodeHeader(rawHeader({ stateRoot: new Uint8Array(0) })),
      "CODEC_MISSING_FIELD",
      "stateRoot",
    );
    codecError(() => decodeHeader(rawHeader({ proposer: fill(33, 1) })), "CODEC_INVALID_FIELD", "proposer");
    codecError(
      () => decodeHeader(rawHeader({ number: "18446744073709551615" })),
      "CODEC_INVALID_FIELD",
      "number",
    );
    codecError(
      () => decodeHeader(rawHeader({ gasUsed: Uint8Array.of(0, 1) })),
      "CODEC_NON_CANONICAL",
      "gasUsed",
    );
    codecError(() => decodeHeader(rawHeader({ chainId: fill(33, 1) })), "CODEC_INVALID_FIELD", "chainId");
    codecError(() => decodeHeader(rawHeader({ groupId: "g".repeat(65) })), "CODEC_TOO_LARGE", "groupId");
    codecError(() => decodeHeader(new Uint8Array(codecLimits.headerBytesMax + 1)), "CODEC_TOO_LARGE");
    expect(decodeHeader(rawHeader({}))).toEqual(header);
  });

  it("every truncated prefix of a header is a CodecError", () => {
    const encoded = encodeHeader(header);
    const codes = new Set<string>();
    for (let len = 0; len < encoded.length; len++) {
      try {
        decodeHeader(encoded.subarray(0, len));
        throw new Error(`prefix ${len} decoded`);
      } catch (err) {
        expect(err).toBeInstanceOf(CodecError);
        codes.add((err as CodecError).code);
      }
    }
    expect(codes.has("CODEC_TRUNCATED")).toBe(true);
  });

  it("encode rejects invalid values with typed errors", () => {
    codecError(() => encodeHeader({ ...header, number: -1 }), "CODEC_INVALID_FIELD", "number");
    codecError(() => encodeHeader({ ...header, number: 1.5 }), "CODEC_INVALID_FIELD", "number");
    codecError(() => encodeHeader({ ...header, gasUsed: -1n }), "CODEC_INVALID_FIELD", "gasUsed");
    codecError(() => encodeHeader({ ...header, chainId: 1n << 256n }), "CODEC_INVALID_FIELD", "chainId");
    codecError(() => encodeHeader({ ...header, txRoot: fill(20, 0) }), "CODEC_INVALID_FIELD", "txRoot");
  });
});

describe("receipt and certificate validation", () => {
  const receipt: Receipt = {
    txHash: fill(32, 1),
    status: 1,
    gasUsed: 1n,
    cumulativeGasUsed: 1n,
    logs: [],
    contractAddress: fill(20, 2),
    output: new Uint8Array(0),
    logsBloom: fill(256, 0),
  };
  it("rejects bad values both ways", () => {
    expect(decodeReceipt(encodeReceipt(receipt))).toEqual(receipt);
    codecError(() => encodeReceipt({ ...receipt, status: 2 as 1 }), "CODEC_INVALID_FIELD", "status");
    codecError(
      () => encodeReceipt({ ...receipt, logsBloom: fill(255, 0) }),
      "CODEC_INVALID_FIELD",
      "logsBloom",
    );
    const fiveTopics = {
      address: fill(20, 1),
      topics: [1, 2, 3, 4, 5].map((b) => fill(32, b)),
      data: fill(1, 1),
    };
    codecError(() => encodeReceipt({ ...receipt, logs: [fiveTopics] }), "CODEC_TOO_LARGE", "logs[0].topics");
    // status 2 on the wire: field 2 varint 2 appended.
    codecError(
      () => decodeReceipt(concatBytes(encodeReceipt(receipt), Uint8Array.of(0x10, 2))),
      "CODEC_INVALID_FIELD",
    );
    codecError(() => decodeCertificate(Uint8Array.of(0x1a, 0x20, 1, 2)), "CODEC_TRUNCATED");
  });
});

describe("native transactions", () => {
  it("signing hash, sender and fields", () => {
    const raw = encodeNativeTx(native, KEY);
    const tx = decodeTransaction(raw, { chainId: CHAIN_ID });
    expect(tx.type).toBe(0x7c);
    expect(tx.sender).toEqual(privateKeyToAddress(KEY));
    const { signature, recovery } = secp256k1Sign(nativeTxSigningHash(native), KEY);
    expect(recoverAddress(nativeTxSigningHash(native), signature, recovery)).toEqual(tx.sender);
    expect(tx.v).toBe(BigInt(recovery));
    expect(tx.r).toBe(BigInt(`0x${Buffer.from(signature.subarray(0, 32)).toString("hex")}`));
  });

  it("rejects wrong chain, non-canonical bytes, high-s, oversized fields, tampering", () => {
    const raw = encodeNativeTx(native, KEY);
    codecError(() => decodeTransaction(raw, { chainId: 1n }), "CODEC_WRONG_CHAIN_ID", "chainId");
    // An unknown field appended; an explicit default (recovery = 0 written out): same values, other bytes.
    codecError(() => decodeTransaction(concatBytes(raw, Uint8Array.of(0x78, 1))), "CODEC_NON_CANONICAL");
    codecError(() => decodeTransaction(concatBytes(raw, Uint8Array.of(0x58, 0))), "CODEC_NON_CANONICAL");
    // High s: replace the signature with (r, n - s), recovery flipped.
    const tx = decodeTransaction(raw);
    const highS = encodeWithSignature(pad64(tx.r, SECP256K1_N - tx.s), Number(tx.v) ^ 1);
    codecError(() => decodeTransaction(highS), "CODEC_INVALID_SIGNATURE");
    codecError(() => encodeNativeTx({ ...native, nonce: fill(65, 1) }, KEY), "CODEC_TOO_LARGE", "nonce");
    codecError(
      () => encodeNativeTx({ ...native, nonce: new Uint8Array(0) }, KEY),
      "CODEC_INVALID_FIELD",
      "nonce",
    );
    codecError(
      () => encodeNativeTx({ ...native, groupId: "g".repeat(65) }, KEY),
      "CODEC_TOO_LARGE",
      "groupId",
    );
    // Tampered body (blockLimit changed) keeps a valid-looking signature: another sender or an error.
    const other = encodeWithSignature(pad64(tx.r, tx.s), Number(tx.v), { blockLimit: 501 });
    try {
      expect(decodeTransaction(other).sender).not.toEqual(tx.sender);
    } catch (err) {
      expect((err as CodecError).code).toBe("CODEC_INVALID_SIGNATURE");
    }
  });

  function pad64(r: bigint, s: bigint): Uint8Array {
    const out = new Uint8Array(64);
    const rb = bigintToBytes(r);
    const sb = bigintToBytes(s);
    out.set(rb, 32 - rb.length);
    out.set(sb, 64 - sb.length);
    return out;
  }

  /** The canonical envelope for `native` (+ overrides) with an arbitrary signature. */
  function encodeWithSignature(
    signature: Uint8Array,
    recovery: number,
    overrides: Partial<NativeTxFields> = {},
  ) {
    const fields = { ...native, ...overrides };
    const body = encodeNativeTx(fields, KEY);
    // Strip the real signature tail (field 10: 0x52 0x40 + 64 B, then optional field 11: 0x58 0x01).
    const tailLength = body[body.length - 2] === 0x58 ? 68 : 66;
    const prefix = body.subarray(0, body.length - tailLength);
    const tail = recovery === 1 ? Uint8Array.of(0x58, 1) : new Uint8Array(0);
    return concatBytes(prefix, Uint8Array.of(0x52, 0x40), signature, tail);
  }
});

describe("blocks", () => {
  function makeBlock(): Block {
    const txs = [
      signTx(
        {
          type: 2,
          nonce: 0n,
          to: fill(20, 7),
          value: 1n,
          input: new Uint8Array(0),
          gasLimit: 21_000n,
          gasPrice: 10n,
          accessList: [],
          nativeNonce: fill(1, 1),
          blockLimit: 0,
          groupId: "",
        },
        CHAIN_ID,
        KEY,
      ),
      encodeNativeTx(native, KEY),
    ].map((raw) => decodeTransaction(raw));
    return { header, transactions: txs, certificate: null };
  }

  it("stored senders: trusted or re-checked", () => {
    const block = makeBlock();
    const stranger = fill(20, 0xee);
    const forged = { ...block, transactions: block.transactions.map((tx) => ({ ...tx, sender: stranger })) };
    const encoded = encodeBlock(forged);
    const err = codecError(() => decodeBlock(encoded), "CODEC_SENDER_MISMATCH");
    expect(err.meta.txIndex).toBe(0);
    // Trusted (our own disk): the stored sender is used without ecrecover.
    expect(decodeBlock(encoded, { trustSenders: true }).transactions[1]!.sender).toEqual(stranger);
  });

  it("transactions must match the header's (or the given) chain id; missing header is reported", () => {
    const block = makeBlock();
    const encoded = encodeBlock({ ...block, header: { ...header, chainId: 1n } });
    const err = codecError(() => decodeBlock(encoded), "CODEC_WRONG_CHAIN_ID");
    expect(err.meta.txIndex).toBe(0);
    expect(decodeBlock(encoded, { chainId: CHAIN_ID }).transactions).toHaveLength(2);
    codecError(() => decodeBlock(new Uint8Array(0)), "CODEC_MISSING_FIELD", "header");
    codecError(
      () => encodeBlock({ ...block, transactions: [{ ...block.transactions[0]!, sender: fill(19, 0) }] }),
      "CODEC_INVALID_FIELD",
    );
  });
});
