import { describe, expect, it } from "vitest";
import { encodePb, type PbMessage } from "../../src/codec/fields.js";
import {
  codecLimits,
  decodeBlock,
  decodeCompactBlock,
  decodeTransaction,
  encodeBlock,
  encodeCompactBlock,
  encodeNativeTx,
  type NativeTxFields,
} from "../../src/codec/index.js";
import { pb } from "../../src/codec/schema.js";
import { privateKeyToAddress } from "../../src/crypto/index.js";
import type { Block, CommitCertificate } from "../../src/types/index.js";
import { hexToBytes } from "../../src/util/hex.js";
import { CHAIN_ID, fill, header, headerPb, TWO_POW_53 } from "./headerFixture.js";
import { expectRefusal, refusal } from "./refusal.js";

// Every refusal of the block and compact block codecs, both ways: the code, the type and field the error names, and
// its text. Decode-side inputs are written with the raw protobuf types (pb), so they can hold what our encoders
// refuse to write.

const KEY = hexToBytes("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");

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
