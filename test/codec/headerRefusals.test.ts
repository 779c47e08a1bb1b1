import { describe, expect, it } from "vitest";
import { encodePb, type PbMessage } from "../../src/codec/fields.js";
import {
  codecLimits,
  decodeCertificate,
  decodeHeader,
  encodeBlock,
  encodeCertificate,
  encodeHeader,
} from "../../src/codec/index.js";
import { pb } from "../../src/codec/schema.js";
import type { BlockHeader, CommitCertificate } from "../../src/types/index.js";
import { fill, header, rawHeader, TWO_POW_53 } from "./headerFixture.js";
import { expectRefusal } from "./refusal.js";

// Every refusal of the header and certificate codecs, both ways: the code, the type and field the error names, and
// its text. Decode-side inputs are written with the raw protobuf types (pb), so they can hold what our encoders
// refuse to write.

const certificate: CommitCertificate = {
  height: 9,
  view: 2,
  blockHash: fill(32, 6),
  signatures: [
    { nodeId: fill(32, 7), signature: fill(64, 8) },
    { nodeId: fill(32, 9), signature: fill(64, 10) },
  ],
};

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
