import { describe, expect, it } from "vitest";
import { encodePb, type PbMessage } from "../../src/codec/fields.js";
import {
  codecLimits,
  decodeBlock,
  decodeCertificate,
  decodeCompactBlock,
  decodeHeader,
  decodeReceipt,
  decodeTransaction,
  encodeBlock,
  encodeCertificate,
  encodeCompactBlock,
  encodeHeader,
  encodeNativeTx,
  encodeReceipt,
  type NativeTxFields,
} from "../../src/codec/index.js";
import { pb } from "../../src/codec/schema.js";
import { privateKeyToAddress } from "../../src/crypto/index.js";
import type { Block, BlockHeader, CommitCertificate, Log, Receipt } from "../../src/types/index.js";
import { bigintToBytes, hexToBytes } from "../../src/util/hex.js";
import { refusal } from "./refusal.js";

// Every refusal of the header, certificate, block, receipt and compact block codecs, both ways: the code, the type
// and field the error names, and its text. Decode-side inputs are written with the raw protobuf types (pb), so they
// can hold what our encoders refuse to write.

const fill = (n: number, b: number) => new Uint8Array(n).fill(b);
const KEY = hexToBytes("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const CHAIN_ID = 20200n;

const header: BlockHeader = {
  chainId: CHAIN_ID,
  groupId: "group0",
  number: 9,
  parentHash: fill(32, 1),
  timestampMs: 1_700_000_000_000,
  txRoot: fill(32, 2),
  receiptRoot: fill(32, 3),
  stateRoot: fill(32, 4),
  gasUsed: 21_000n,
  proposer: fill(32, 5),
  view: 2,
};

/** The header as the protobuf message our encoder writes, with fields overridden (anything goes). */
const headerPb = (overrides: PbMessage = {}): PbMessage => ({
  ...header,
  chainId: bigintToBytes(header.chainId),
  gasUsed: bigintToBytes(header.gasUsed),
  ...overrides,
});
const rawHeader = (overrides: PbMessage = {}) => encodePb(pb.BlockHeader, headerPb(overrides));
const TWO_POW_53 = "9007199254740992";

const certificate: CommitCertificate = {
  height: 9,
  view: 2,
  blockHash: fill(32, 6),
  signatures: [
    { nodeId: fill(32, 7), signature: fill(64, 8) },
    { nodeId: fill(32, 9), signature: fill(64, 10) },
  ],
};

const native: NativeTxFields = {
  chainId: CHAIN_ID,
  groupId: "group0",
  nonce: Uint8Array.of(1, 2, 3),
  blockLimit: 100,
  to: fill(20, 0xaa),
  value: 1n,
  input: new Uint8Array(0),
  gasLimit: 21_000n,
  gasPrice: 0n,
};

const log: Log = { address: fill(20, 1), topics: [fill(32, 2), fill(32, 3)], data: Uint8Array.of(4) };
const receipt: Receipt = {
  txHash: fill(32, 1),
  status: 1,
  gasUsed: 21_000n,
  cumulativeGasUsed: 42_000n,
  logs: [log],
  contractAddress: fill(20, 5),
  output: Uint8Array.of(6),
  logsBloom: fill(256, 7),
};
const receiptPb = (overrides: PbMessage = {}): PbMessage => ({
  ...receipt,
  gasUsed: bigintToBytes(receipt.gasUsed),
  cumulativeGasUsed: bigintToBytes(receipt.cumulativeGasUsed),
  ...overrides,
});

function expectRefusal(fn: () => unknown, code: string, type: string, field: string, message: string) {
  const err = refusal(fn);
  expect({ code: err.code, type: err.meta.type, field: err.meta.field, message: err.message }).toEqual({
    code,
    type,
    field,
    message,
  });
}

describe("header", () => {
  it("decodes every field of a valid header, and up to the bounds", () => {
    expect(decodeHeader(rawHeader())).toEqual(header);
    const atBounds = {
      ...header,
      groupId: "g".repeat(64),
      number: Number.MAX_SAFE_INTEGER,
      chainId: (1n << 256n) - 1n,
    };
    expect(decodeHeader(encodeHeader(atBounds))).toEqual(atBounds);
    // Absent quantities and numbers are zero, an absent group id is empty.
    const zero = { ...header, chainId: 0n, groupId: "", number: 0, timestampMs: 0, gasUsed: 0n, view: 0 };
    expect(decodeHeader(encodeHeader(zero))).toEqual(zero);
  });

  it("decode refuses each bad field, naming it", () => {
    const H = "BlockHeader";
    const cases: [PbMessage, string, string, string][] = [
      [{ chainId: fill(33, 1) }, "CODEC_INVALID_FIELD", "chainId", "quantity of 33 bytes exceeds 32"],
      [
        { chainId: Uint8Array.of(0, 1) },
        "CODEC_NON_CANONICAL",
        "chainId",
        "quantity has a leading zero byte",
      ],
      [{ groupId: "g".repeat(65) }, "CODEC_TOO_LARGE", "groupId", "65 chars exceeds 64"],
      [{ number: TWO_POW_53 }, "CODEC_INVALID_FIELD", "number", "exceeds Number.MAX_SAFE_INTEGER"],
      [{ parentHash: fill(31, 1) }, "CODEC_INVALID_FIELD", "parentHash", "31 bytes, want 32"],
      [{ parentHash: new Uint8Array(0) }, "CODEC_MISSING_FIELD", "parentHash", "missing (want 32 bytes)"],
      [{ timestampMs: TWO_POW_53 }, "CODEC_INVALID_FIELD", "timestampMs", "exceeds Number.MAX_SAFE_INTEGER"],
      [{ txRoot: fill(33, 1) }, "CODEC_INVALID_FIELD", "txRoot", "33 bytes, want 32"],
      [{ receiptRoot: fill(1, 1) }, "CODEC_INVALID_FIELD", "receiptRoot", "1 bytes, want 32"],
      [{ stateRoot: fill(20, 1) }, "CODEC_INVALID_FIELD", "stateRoot", "20 bytes, want 32"],
      [{ gasUsed: Uint8Array.of(0) }, "CODEC_NON_CANONICAL", "gasUsed", "quantity has a leading zero byte"],
      [{ proposer: fill(64, 1) }, "CODEC_INVALID_FIELD", "proposer", "64 bytes, want 32"],
      [{ view: TWO_POW_53 }, "CODEC_INVALID_FIELD", "view", "exceeds Number.MAX_SAFE_INTEGER"],
    ];
    for (const [overrides, code, field, text] of cases) {
      expectRefusal(() => decodeHeader(rawHeader(overrides)), code, H, field, `${H}.${field}: ${text}`);
    }
    expectRefusal(
      () => decodeHeader(new Uint8Array(codecLimits.headerBytesMax + 1)),
      "CODEC_TOO_LARGE",
      H,
      "",
      `${H}: 1025 bytes exceeds the bound of 1024`,
    );
  });

  it("encode refuses each bad field, naming it", () => {
    const H = "BlockHeader";
    const cases: [Partial<Record<keyof BlockHeader, unknown>>, string, string][] = [
      [{ chainId: -1n }, "chainId", "not a bigint in 0..2^256-1"],
      [{ groupId: 7 }, "groupId", "not a string"],
      [{ number: -1 }, "number", "not a non-negative safe integer"],
      [{ parentHash: fill(31, 0) }, "parentHash", "31 bytes, want 32"],
      [{ timestampMs: 1.5 }, "timestampMs", "not a non-negative safe integer"],
      [{ txRoot: null }, "txRoot", "not a Uint8Array"],
      [{ receiptRoot: fill(33, 0) }, "receiptRoot", "33 bytes, want 32"],
      [{ stateRoot: fill(0, 0) }, "stateRoot", "0 bytes, want 32"],
      [{ gasUsed: 1 }, "gasUsed", "not a bigint in 0..2^256-1"],
      [{ proposer: fill(20, 0) }, "proposer", "20 bytes, want 32"],
      [{ view: 2 ** 53 }, "view", "not a non-negative safe integer"],
    ];
    for (const [overrides, field, text] of cases) {
      const bad = { ...header, ...overrides } as BlockHeader;
      expectRefusal(() => encodeHeader(bad), "CODEC_INVALID_FIELD", H, field, `${H}.${field}: ${text}`);
    }
    expectRefusal(
      () => encodeHeader({ ...header, groupId: "g".repeat(65) }),
      "CODEC_TOO_LARGE",
      H,
      "groupId",
      `${H}.groupId: 65 chars exceeds 64`,
    );
    for (const notObject of [null, "header"]) {
      expectRefusal(
        () => encodeHeader(notObject as never),
        "CODEC_INVALID_FIELD",
        H,
        "",
        `${H}: not an object`,
      );
    }
  });
});

describe("certificate", () => {
  const C = "CommitCertificate";
  const certificatePb = (signatures: PbMessage[]) =>
    encodePb(pb.CommitCertificate, { height: 9, view: 2, blockHash: fill(32, 6), signatures });

  it("round trips up to the signature bound", () => {
    expect(decodeCertificate(encodeCertificate(certificate))).toEqual(certificate);
    const full = {
      ...certificate,
      signatures: Array.from(
        { length: codecLimits.certificateSignaturesMax },
        () => certificate.signatures[0]!,
      ),
    };
    expect(decodeCertificate(encodeCertificate(full)).signatures).toHaveLength(4096);
  });

  it("encode refuses each bad field, naming it", () => {
    const sig = certificate.signatures[0]!;
    const cases: [Partial<Record<keyof CommitCertificate, unknown>>, string, string, string][] = [
      [{ height: -1 }, "CODEC_INVALID_FIELD", "height", "not a non-negative safe integer"],
      [{ view: "2" }, "CODEC_INVALID_FIELD", "view", "not a non-negative safe integer"],
      [{ blockHash: fill(31, 0) }, "CODEC_INVALID_FIELD", "blockHash", "31 bytes, want 32"],
      [{ signatures: "none" }, "CODEC_INVALID_FIELD", "signatures", "not an array"],
      [
        { signatures: Array.from({ length: 4097 }, () => sig) },
        "CODEC_TOO_LARGE",
        "signatures",
        "4097 entries exceed 4096",
      ],
      [
        { signatures: [sig, { nodeId: fill(31, 0), signature: fill(64, 0) }] },
        "CODEC_INVALID_FIELD",
        "signatures[1].nodeId",
        "31 bytes, want 32",
      ],
      [
        { signatures: [sig, sig, { nodeId: fill(32, 0), signature: fill(65, 0) }] },
        "CODEC_INVALID_FIELD",
        "signatures[2].signature",
        "65 bytes, want 64",
      ],
      [{ signatures: [null] }, "CODEC_INVALID_FIELD", "signatures[0].nodeId", "not a Uint8Array"],
      [
        { signatures: [{ nodeId: fill(32, 0) }] },
        "CODEC_INVALID_FIELD",
        "signatures[0].signature",
        "not a Uint8Array",
      ],
    ];
    for (const [overrides, code, field, text] of cases) {
      const bad = { ...certificate, ...overrides } as CommitCertificate;
      expectRefusal(() => encodeCertificate(bad), code, C, field, `${C}.${field}: ${text}`);
    }
    for (const notObject of [null, "certificate"]) {
      expectRefusal(
        () => encodeCertificate(notObject as never),
        "CODEC_INVALID_FIELD",
        C,
        "",
        `${C}: not an object`,
      );
    }
    // In a block, null is "no certificate"; anything else must be one.
    expectRefusal(
      () => encodeBlock({ header, transactions: [], certificate: "certificate" as never }),
      "CODEC_INVALID_FIELD",
      C,
      "",
      `${C}: not an object`,
    );
  });

  it("decode refuses each bad field, naming the signature", () => {
    const sig = { nodeId: fill(32, 7), signature: fill(64, 8) };
    expectRefusal(
      () => decodeCertificate(certificatePb([sig, { nodeId: fill(31, 7), signature: fill(64, 8) }])),
      "CODEC_INVALID_FIELD",
      `${C}.signatures[1]`,
      "nodeId",
      `${C}.signatures[1].nodeId: 31 bytes, want 32`,
    );
    expectRefusal(
      () => decodeCertificate(certificatePb([{ nodeId: fill(32, 7) }])),
      "CODEC_MISSING_FIELD",
      `${C}.signatures[0]`,
      "signature",
      `${C}.signatures[0].signature: missing (want 64 bytes)`,
    );
    expectRefusal(
      () => decodeCertificate(certificatePb(Array.from({ length: 4097 }, () => sig))),
      "CODEC_TOO_LARGE",
      C,
      "signatures",
      `${C}.signatures: 4097 entries exceed 4096`,
    );
    expectRefusal(
      () => decodeCertificate(encodePb(pb.CommitCertificate, { height: TWO_POW_53, blockHash: fill(32, 1) })),
      "CODEC_INVALID_FIELD",
      C,
      "height",
      `${C}.height: exceeds Number.MAX_SAFE_INTEGER`,
    );
    expectRefusal(
      () => decodeCertificate(encodePb(pb.CommitCertificate, { view: TWO_POW_53, blockHash: fill(32, 1) })),
      "CODEC_INVALID_FIELD",
      C,
      "view",
      `${C}.view: exceeds Number.MAX_SAFE_INTEGER`,
    );
    expectRefusal(
      () => decodeCertificate(encodePb(pb.CommitCertificate, { blockHash: fill(33, 1) })),
      "CODEC_INVALID_FIELD",
      C,
      "blockHash",
      `${C}.blockHash: 33 bytes, want 32`,
    );
    expectRefusal(
      () => decodeCertificate(new Uint8Array(codecLimits.certificateBytesMax + 1)),
      "CODEC_TOO_LARGE",
      C,
      "",
      `${C}: 1048577 bytes exceeds the bound of 1048576`,
    );
  });
});

describe("block", () => {
  const B = "Block";
  const signed = () => decodeTransaction(encodeNativeTx(native, KEY));
  const blockPb = (overrides: PbMessage) =>
    encodePb(pb.Block, { header: headerPb(), transactions: [], ...overrides });

  it("decodes header, transactions and certificate; a missing certificate is null", () => {
    const tx = signed();
    const block: Block = { header, transactions: [tx], certificate };
    expect(decodeBlock(encodeBlock(block))).toEqual(block);
    const bare = decodeBlock(encodeBlock({ header, transactions: [], certificate: null }));
    expect(bare).toEqual({ header, transactions: [], certificate: null });
  });

  it("encode refuses each bad field, naming the transaction", () => {
    const tx = signed();
    const cases: [unknown, string, string, string][] = [
      ["none", "CODEC_INVALID_FIELD", "transactions", "not an array"],
      [[tx, { ...tx, raw: "0x7c" }], "CODEC_INVALID_FIELD", "transactions[1].raw", "not a Uint8Array"],
      [
        [{ ...tx, raw: new Uint8Array(codecLimits.txBytesMax + 1) }],
        "CODEC_TOO_LARGE",
        "transactions[0].raw",
        "131073 bytes exceeds 131072",
      ],
      [
        [tx, tx, { ...tx, sender: fill(21, 0) }],
        "CODEC_INVALID_FIELD",
        "transactions[2].sender",
        "21 bytes, want 20",
      ],
      [[null], "CODEC_INVALID_FIELD", "transactions[0].raw", "not a Uint8Array"],
      [[{ raw: tx.raw }], "CODEC_INVALID_FIELD", "transactions[0].sender", "not a Uint8Array"],
    ];
    for (const [transactions, code, field, text] of cases) {
      const bad = { header, transactions, certificate: null } as unknown as Block;
      expectRefusal(() => encodeBlock(bad), code, B, field, `${B}.${field}: ${text}`);
    }
    const tooMany = Array.from({ length: codecLimits.blockTxCountMax + 1 }, () => tx);
    expectRefusal(
      () => encodeBlock({ header, transactions: tooMany, certificate: null }),
      "CODEC_TOO_LARGE",
      B,
      "transactions",
      `${B}.transactions: 200001 entries exceed 200000`,
    );
    for (const notObject of [null, "block"]) {
      expectRefusal(
        () => encodeBlock(notObject as never),
        "CODEC_INVALID_FIELD",
        B,
        "",
        `${B}: not an object`,
      );
    }
    // The header and the certificate are checked with their own rules.
    expect(
      refusal(() => encodeBlock({ header: { ...header, view: -1 }, transactions: [], certificate })).meta,
    ).toEqual({ type: "BlockHeader", field: "view" });
    const badCertificate = { ...certificate, blockHash: fill(1, 1) };
    expect(
      refusal(() => encodeBlock({ header, transactions: [], certificate: badCertificate })).meta,
    ).toEqual({
      type: "CommitCertificate",
      field: "blockHash",
    });
  });

  it("encode accepts a block of exactly blockBytesMax bytes and refuses one more", () => {
    // 511 txs of 128 KiB (one shared buffer) and a last one sized so that the block is exactly 64 MiB. The sizes
    // add up: each entry's framing depends only on its raw length (3-byte varints from 16 KiB to 2 MiB).
    const tx = signed();
    const full = { ...tx, raw: new Uint8Array(codecLimits.txBytesMax) };
    const sizeOf = (transactions: Block["transactions"]) =>
      encodeBlock({ header, transactions, certificate: null }).length;
    const empty = sizeOf([]);
    const fullEntry = sizeOf([full]) - empty;
    const lastEntry = (rawLength: number) => sizeOf([{ ...tx, raw: new Uint8Array(rawLength) }]) - empty;
    const lastRaw = 100_000 + codecLimits.blockBytesMax - (empty + 511 * fullEntry + lastEntry(100_000));
    const block = (rawLength: number): Block => ({
      header,
      transactions: [...Array.from({ length: 511 }, () => full), { ...tx, raw: new Uint8Array(rawLength) }],
      certificate: null,
    });
    expect(encodeBlock(block(lastRaw)).length).toBe(codecLimits.blockBytesMax);
    expectRefusal(
      () => encodeBlock(block(lastRaw + 1)),
      "CODEC_TOO_LARGE",
      B,
      "",
      `${B}: 67108865 bytes exceeds 67108864`,
    );
  });

  it("decode refuses each bad entry, naming the transaction", () => {
    const tx = signed();
    expectRefusal(
      () => decodeBlock(blockPb({ header: null })),
      "CODEC_MISSING_FIELD",
      B,
      "header",
      `${B}.header: missing`,
    );
    expectRefusal(
      () => decodeBlock(blockPb({ header: headerPb({ view: TWO_POW_53 }) })),
      "CODEC_INVALID_FIELD",
      "BlockHeader",
      "view",
      "BlockHeader.view: exceeds Number.MAX_SAFE_INTEGER",
    );
    expectRefusal(
      () => decodeBlock(blockPb({ transactions: [{ raw: tx.raw, sender: fill(19, 1) }] })),
      "CODEC_INVALID_FIELD",
      `${B}.transactions[0]`,
      "sender",
      `${B}.transactions[0].sender: 19 bytes, want 20`,
    );
    expectRefusal(
      () => decodeBlock(blockPb({ transactions: [{ raw: new Uint8Array(codecLimits.txBytesMax + 1) }] })),
      "CODEC_TOO_LARGE",
      B,
      "raw",
      `${B}.raw: 131073 bytes exceeds 131072`,
    );
    const tooMany = Array.from({ length: codecLimits.blockTxCountMax + 1 }, () => ({}));
    expectRefusal(
      () => decodeBlock(blockPb({ transactions: tooMany })),
      "CODEC_TOO_LARGE",
      B,
      "transactions",
      `${B}.transactions: 200001 entries exceed 200000`,
    );
    expectRefusal(
      () => decodeBlock(blockPb({ certificate: { blockHash: fill(31, 1) } })),
      "CODEC_INVALID_FIELD",
      "CommitCertificate",
      "blockHash",
      "CommitCertificate.blockHash: 31 bytes, want 32",
    );
    expectRefusal(
      () => decodeBlock(new Uint8Array(codecLimits.blockBytesMax + 1)),
      "CODEC_TOO_LARGE",
      B,
      "",
      `${B}: 67108865 bytes exceeds the bound of 67108864`,
    );
  });

  it("a transaction's refusal keeps its code and meta, adds the index, and wraps the cause", () => {
    const tx = signed();
    const otherChain = decodeTransaction(encodeNativeTx({ ...native, chainId: 5n }, KEY));
    const bytes = blockPb({
      transactions: [
        { raw: tx.raw, sender: tx.sender },
        { raw: otherChain.raw, sender: otherChain.sender },
      ],
    });
    const err = refusal(() => decodeBlock(bytes));
    expect(err.code).toBe("CODEC_WRONG_CHAIN_ID");
    expect(err.message).toBe("Block.transactions[1]: NativeTx.chainId: chain id 5, want 20200");
    expect(err.meta).toEqual({ type: "NativeTx", field: "chainId", txIndex: 1 });
    expect((err.cause as Error).message).toBe("NativeTx.chainId: chain id 5, want 20200");
    // Trusted senders skip recovery, not the other checks.
    expect(refusal(() => decodeBlock(bytes, { trustSenders: true })).code).toBe("CODEC_WRONG_CHAIN_ID");
    expect(refusal(() => decodeBlock(bytes, { chainId: 5n })).meta.txIndex).toBe(0);
  });

  it("a stored sender that is not the recovered one is refused, unless senders are trusted", () => {
    const tx = signed();
    expect(tx.sender).toEqual(privateKeyToAddress(KEY));
    const stranger = fill(20, 0xee);
    const bytes = blockPb({
      transactions: [
        { raw: tx.raw, sender: tx.sender },
        { raw: tx.raw, sender: stranger },
      ],
    });
    expectRefusal(
      () => decodeBlock(bytes),
      "CODEC_SENDER_MISMATCH",
      B,
      "transactions[1]",
      `${B}.transactions[1]: stored sender differs from the recovered one`,
    );
    expect(refusal(() => decodeBlock(bytes)).meta.txIndex).toBe(1);
    const trusted = decodeBlock(bytes, { trustSenders: true });
    expect(trusted.transactions.map((t) => t.sender)).toEqual([tx.sender, stranger]);
  });
});

describe("receipt", () => {
  const R = "Receipt";
  const rawReceipt = (overrides: PbMessage) => encodePb(pb.Receipt, receiptPb(overrides));

  it("round trips both statuses, with and without a contract address", () => {
    for (const r of [receipt, { ...receipt, status: 0 as const, contractAddress: null, logs: [] }]) {
      expect(decodeReceipt(encodeReceipt(r))).toEqual(r);
    }
    const topics = decodeReceipt(encodeReceipt(receipt)).logs[0]!.topics;
    expect(topics.map((t) => t.constructor)).toEqual([Uint8Array, Uint8Array]);
  });

  it("encode refuses each bad field, naming it", () => {
    const cases: [Partial<Record<keyof Receipt, unknown>>, string, string, string][] = [
      [{ status: 2 }, "CODEC_INVALID_FIELD", "status", "not 0 or 1"],
      [{ status: "1" }, "CODEC_INVALID_FIELD", "status", "not 0 or 1"],
      [{ txHash: fill(31, 0) }, "CODEC_INVALID_FIELD", "txHash", "31 bytes, want 32"],
      [{ gasUsed: -1n }, "CODEC_INVALID_FIELD", "gasUsed", "not a bigint in 0..2^256-1"],
      [{ cumulativeGasUsed: 1 }, "CODEC_INVALID_FIELD", "cumulativeGasUsed", "not a bigint in 0..2^256-1"],
      [{ logs: {} }, "CODEC_INVALID_FIELD", "logs", "not an array"],
      [{ logs: [log, null] }, "CODEC_INVALID_FIELD", "logs[1]", "not an object"],
      [
        { logs: [{ ...log, address: fill(21, 0) }] },
        "CODEC_INVALID_FIELD",
        "logs[0].address",
        "21 bytes, want 20",
      ],
      [{ logs: [{ ...log, topics: "t" }] }, "CODEC_INVALID_FIELD", "logs[0].topics", "not an array"],
      [
        { logs: [log, { ...log, topics: [fill(32, 0), fill(31, 0)] }] },
        "CODEC_INVALID_FIELD",
        "logs[1].topics[1]",
        "31 bytes, want 32",
      ],
      [
        { logs: [{ ...log, topics: Array.from({ length: 5 }, () => fill(32, 0)) }] },
        "CODEC_TOO_LARGE",
        "logs[0].topics",
        "5 entries exceed 4",
      ],
      [
        { logs: [{ ...log, data: new Uint8Array(codecLimits.logDataBytesMax + 1) }] },
        "CODEC_TOO_LARGE",
        "logs[0].data",
        "8388609 bytes exceeds 8388608",
      ],
      [{ contractAddress: fill(19, 0) }, "CODEC_INVALID_FIELD", "contractAddress", "19 bytes, want 20"],
      [
        { output: new Uint8Array(codecLimits.receiptOutputBytesMax + 1) },
        "CODEC_TOO_LARGE",
        "output",
        "8388609 bytes exceeds 8388608",
      ],
      [{ output: null }, "CODEC_INVALID_FIELD", "output", "not a Uint8Array"],
      [{ logsBloom: fill(255, 0) }, "CODEC_INVALID_FIELD", "logsBloom", "255 bytes, want 256"],
      [
        { logs: Array.from({ length: codecLimits.receiptLogsMax + 1 }, () => log) },
        "CODEC_TOO_LARGE",
        "logs",
        "100001 entries exceed 100000",
      ],
    ];
    for (const [overrides, code, field, text] of cases) {
      const bad = { ...receipt, ...overrides } as Receipt;
      expectRefusal(() => encodeReceipt(bad), code, R, field, `${R}.${field}: ${text}`);
    }
    for (const notObject of [null, "receipt"]) {
      expectRefusal(
        () => encodeReceipt(notObject as never),
        "CODEC_INVALID_FIELD",
        R,
        "",
        `${R}: not an object`,
      );
      expectRefusal(
        () => encodeReceipt({ ...receipt, logs: [log, notObject as never] }),
        "CODEC_INVALID_FIELD",
        R,
        "logs[1]",
        `${R}.logs[1]: not an object`,
      );
    }
  });

  it("encode accepts a receipt of exactly receiptBytesMax bytes and refuses one more", () => {
    // One log with 8 MiB of data, and an output sized so that the receipt is exactly 16 MiB (its length varint
    // is 4 bytes for every size tried here).
    const withOutput = (length: number): Receipt => ({
      ...receipt,
      output: new Uint8Array(length),
      logs: [{ ...log, data: new Uint8Array(codecLimits.logDataBytesMax) }],
    });
    const outputLength =
      8_000_000 + codecLimits.receiptBytesMax - encodeReceipt(withOutput(8_000_000)).length;
    expect(encodeReceipt(withOutput(outputLength)).length).toBe(codecLimits.receiptBytesMax);
    expectRefusal(
      () => encodeReceipt(withOutput(outputLength + 1)),
      "CODEC_TOO_LARGE",
      R,
      "",
      `${R}: 16777217 bytes exceeds 16777216`,
    );
  });

  it("decode refuses each bad field, naming the log", () => {
    const cases: [PbMessage, string, string, string, string][] = [
      [{ status: 2 }, "CODEC_INVALID_FIELD", R, "status", "status 2 is not 0 or 1"],
      [{ txHash: fill(33, 0) }, "CODEC_INVALID_FIELD", R, "txHash", "33 bytes, want 32"],
      [
        { gasUsed: Uint8Array.of(0, 5) },
        "CODEC_NON_CANONICAL",
        R,
        "gasUsed",
        "quantity has a leading zero byte",
      ],
      [
        { cumulativeGasUsed: fill(33, 1) },
        "CODEC_INVALID_FIELD",
        R,
        "cumulativeGasUsed",
        "quantity of 33 bytes exceeds 32",
      ],
      [
        { contractAddress: fill(21, 1) },
        "CODEC_INVALID_FIELD",
        R,
        "contractAddress",
        "21 bytes, want 20 or 0",
      ],
      [
        { output: new Uint8Array(codecLimits.receiptOutputBytesMax + 1) },
        "CODEC_TOO_LARGE",
        R,
        "output",
        "8388609 bytes exceeds 8388608",
      ],
      [{ logsBloom: fill(32, 1) }, "CODEC_INVALID_FIELD", R, "logsBloom", "32 bytes, want 256"],
      [
        { logs: [log, { ...log, address: fill(19, 1) }] },
        "CODEC_INVALID_FIELD",
        `${R}.logs[1]`,
        "address",
        "19 bytes, want 20",
      ],
      [
        { logs: [{ ...log, topics: Array.from({ length: 5 }, () => fill(32, 1)) }] },
        "CODEC_TOO_LARGE",
        `${R}.logs[0]`,
        "topics",
        "5 entries exceed 4",
      ],
      [
        { logs: [{ ...log, topics: [fill(32, 1), fill(33, 1)] }] },
        "CODEC_INVALID_FIELD",
        R,
        "logs[0].topics[1]",
        "want 32 bytes",
      ],
      [
        { logs: [{ ...log, data: new Uint8Array(codecLimits.logDataBytesMax + 1) }] },
        "CODEC_TOO_LARGE",
        `${R}.logs[0]`,
        "data",
        "8388609 bytes exceeds 8388608",
      ],
      [
        { logs: Array.from({ length: codecLimits.receiptLogsMax + 1 }, () => ({})) },
        "CODEC_TOO_LARGE",
        R,
        "logs",
        "100001 entries exceed 100000",
      ],
    ];
    for (const [overrides, code, type, field, text] of cases) {
      expectRefusal(
        () => decodeReceipt(rawReceipt(overrides)),
        code,
        type,
        field,
        `${type}.${field}: ${text}`,
      );
    }
    expectRefusal(
      () => decodeReceipt(new Uint8Array(codecLimits.receiptBytesMax + 1)),
      "CODEC_TOO_LARGE",
      R,
      "",
      `${R}: 16777217 bytes exceeds the bound of 16777216`,
    );
  });
});

describe("compact block", () => {
  const K = "CompactBlock";
  const entry = { hash: fill(32, 1), sender: fill(20, 2) };

  it("encode refuses each bad field, naming the transaction", () => {
    const cases: [unknown, string, string, string][] = [
      [7, "CODEC_INVALID_FIELD", "transactions", "not an array"],
      [
        [entry, { ...entry, hash: fill(31, 1) }],
        "CODEC_INVALID_FIELD",
        "transactions[1].hash",
        "31 bytes, want 32",
      ],
      [
        [{ ...entry, sender: fill(32, 1) }],
        "CODEC_INVALID_FIELD",
        "transactions[0].sender",
        "32 bytes, want 20",
      ],
      [[null], "CODEC_INVALID_FIELD", "transactions[0].hash", "not a Uint8Array"],
      [[{ hash: entry.hash }], "CODEC_INVALID_FIELD", "transactions[0].sender", "not a Uint8Array"],
      [
        Array.from({ length: codecLimits.blockTxCountMax + 1 }, () => entry),
        "CODEC_TOO_LARGE",
        "transactions",
        "200001 entries exceed 200000",
      ],
    ];
    for (const [transactions, code, field, text] of cases) {
      const bad = { header, transactions } as never;
      expectRefusal(() => encodeCompactBlock(bad), code, K, field, `${K}.${field}: ${text}`);
    }
    for (const notObject of [null, "compact"]) {
      expectRefusal(
        () => encodeCompactBlock(notObject as never),
        "CODEC_INVALID_FIELD",
        K,
        "",
        `${K}: not an object`,
      );
    }
  });

  it("decode refuses each bad entry, naming it, and any non-canonical form", () => {
    const compactPb = (overrides: PbMessage) =>
      encodePb(pb.CompactBlock, { header: headerPb(), transactions: [entry], ...overrides });
    expect(decodeCompactBlock(compactPb({}))).toEqual({ header, transactions: [entry] });
    expectRefusal(
      () => decodeCompactBlock(compactPb({ header: null })),
      "CODEC_MISSING_FIELD",
      K,
      "header",
      `${K}.header: missing`,
    );
    expectRefusal(
      () =>
        decodeCompactBlock(compactPb({ transactions: [entry, { hash: fill(33, 1), sender: entry.sender }] })),
      "CODEC_INVALID_FIELD",
      `${K}.transactions[1]`,
      "hash",
      `${K}.transactions[1].hash: 33 bytes, want 32`,
    );
    expectRefusal(
      () => decodeCompactBlock(compactPb({ transactions: [{ hash: entry.hash }] })),
      "CODEC_MISSING_FIELD",
      `${K}.transactions[0]`,
      "sender",
      `${K}.transactions[0].sender: missing (want 20 bytes)`,
    );
    expectRefusal(
      () => decodeCompactBlock(compactPb({ transactions: Array.from({ length: 200_001 }, () => ({})) })),
      "CODEC_TOO_LARGE",
      K,
      "transactions",
      `${K}.transactions: 200001 entries exceed 200000`,
    );
    // Field 3 (unknown here), varint 0: decodes to the same value, but is not the one encoding.
    const canonical = compactPb({});
    expectRefusal(
      () => decodeCompactBlock(Uint8Array.of(...canonical, 0x18, 0)),
      "CODEC_NON_CANONICAL",
      K,
      "",
      `${K}: not the canonical encoding`,
    );
    // The same fields in another order (transactions before the header).
    const reordered = Uint8Array.of(
      ...encodePb(pb.CompactBlock, { transactions: [entry] }),
      ...encodePb(pb.CompactBlock, { header: headerPb() }),
    );
    expect(refusal(() => decodeCompactBlock(reordered)).code).toBe("CODEC_NON_CANONICAL");
  });
});
