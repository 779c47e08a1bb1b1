import { describe, expect, it } from "vitest";
import { encodePb, type PbMessage } from "../../src/codec/fields.js";
import { codecLimits, decodeReceipt, encodeReceipt } from "../../src/codec/index.js";
import { pb } from "../../src/codec/schema.js";
import type { Log, Receipt } from "../../src/types/index.js";
import { bigintToBytes } from "../../src/util/hex.js";
import { fill } from "./headerFixture.js";
import { expectRefusal } from "./refusal.js";

// Every refusal of the receipt codec, both ways: the code, the type and field the error names, and its text.
// Decode-side inputs are written with the raw protobuf type (pb), so they can hold what encodeReceipt refuses.

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
