import { describe, expect, it } from "vitest";
import { encodePb, type PbMessage } from "../../src/codec/fields.js";
import {
  codecLimits,
  decodeNativeTx,
  decodeTransaction,
  encodeNativeTx,
  type NativeTxFields,
  nativeTxSigningHash,
} from "../../src/codec/index.js";
import { pb } from "../../src/codec/schema.js";
import { keccak256, privateKeyToAddress, SECP256K1_N, secp256k1Sign } from "../../src/crypto/index.js";
import { bigintToBytes, concatBytes, hexToBytes } from "../../src/util/hex.js";
import { refusal } from "./refusal.js";

// Native transactions (0x7c): every refusal both ways with its code, field and text, the size bound at the last
// accepted byte, and what a decoded tx reports (v, r, s, hash). Decode-side inputs are written with the raw
// protobuf envelope, so they can hold what encodeNativeTx refuses to write.

const N = "NativeTx";
const KEY = hexToBytes("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
const fill = (n: number, b: number) => new Uint8Array(n).fill(b);

const fields: NativeTxFields = {
  chainId: 20200n,
  groupId: "group0",
  nonce: Uint8Array.of(1, 2, 3),
  blockLimit: 100,
  to: fill(20, 0xaa),
  value: 5n,
  input: Uint8Array.of(0xa9),
  gasLimit: 21_000n,
  gasPrice: 1n,
};

/** The envelope of `fields` (+ overrides) as protobuf fields, signed over its body unless a signature is given. */
function envelope(overrides: PbMessage = {}, signed: Partial<NativeTxFields> = {}): Uint8Array {
  const f = { ...fields, ...signed };
  const { signature, recovery } = secp256k1Sign(nativeTxSigningHash(f), KEY);
  const message: PbMessage = {
    chainId: bigintToBytes(f.chainId),
    groupId: f.groupId,
    nonce: f.nonce,
    blockLimit: f.blockLimit,
    to: f.to ?? new Uint8Array(0),
    value: bigintToBytes(f.value),
    input: f.input,
    gasLimit: bigintToBytes(f.gasLimit),
    gasPrice: bigintToBytes(f.gasPrice),
    signature,
    recovery,
    ...overrides,
  };
  return concatBytes(Uint8Array.of(0x7c), encodePb(pb.NativeTxEnvelope, message));
}

function expectRefusal(fn: () => unknown, code: string, field: string, message: string) {
  const err = refusal(fn);
  expect({ code: err.code, type: err.meta.type, field: err.meta.field, message: err.message }).toEqual({
    code,
    type: N,
    field,
    message,
  });
}

describe("native transactions", () => {
  it("the envelope written here is the one encodeNativeTx writes, and decodes to its fields", () => {
    const raw = encodeNativeTx(fields, KEY);
    expect(envelope()).toEqual(raw);
    const tx = decodeTransaction(raw);
    const { signature, recovery } = secp256k1Sign(nativeTxSigningHash(fields), KEY);
    expect(tx).toMatchObject({
      type: 0x7c,
      ...fields,
      sender: privateKeyToAddress(KEY),
      hash: keccak256(raw),
      v: BigInt(recovery),
      r: BigInt(`0x${Buffer.from(signature.subarray(0, 32)).toString("hex")}`),
      s: BigInt(`0x${Buffer.from(signature.subarray(32)).toString("hex")}`),
    });
    const hash = fill(32, 0xcd);
    expect(decodeNativeTx(raw, { hash }).hash).toEqual(hash);
    // A contract creation (to empty), zero value and gas price: absent fields.
    const creation = { ...fields, to: null, value: 0n, gasPrice: 0n, groupId: "" };
    expect(decodeTransaction(encodeNativeTx(creation, KEY))).toMatchObject(creation);
  });

  it("encode refuses each bad field, naming it", () => {
    const cases: [Partial<Record<keyof NativeTxFields, unknown>>, string, string, string][] = [
      [{ chainId: -1n }, "CODEC_INVALID_FIELD", "chainId", "not a bigint in 0..2^256-1"],
      [{ groupId: "g".repeat(65) }, "CODEC_TOO_LARGE", "groupId", "65 chars exceeds 64"],
      [{ nonce: new Uint8Array(0) }, "CODEC_INVALID_FIELD", "nonce", "empty nonce"],
      [{ nonce: fill(65, 1) }, "CODEC_TOO_LARGE", "nonce", "65 bytes exceeds 64"],
      [{ nonce: [1] }, "CODEC_INVALID_FIELD", "nonce", "not a Uint8Array"],
      [{ blockLimit: -1 }, "CODEC_INVALID_FIELD", "blockLimit", "not a non-negative safe integer"],
      [{ to: fill(19, 1) }, "CODEC_INVALID_FIELD", "to", "19 bytes, want 20"],
      [{ value: 1 }, "CODEC_INVALID_FIELD", "value", "not a bigint in 0..2^256-1"],
      [
        { input: fill(codecLimits.txBytesMax + 1, 1) },
        "CODEC_TOO_LARGE",
        "input",
        "131073 bytes exceeds 131072",
      ],
      [{ gasLimit: 1n << 256n }, "CODEC_INVALID_FIELD", "gasLimit", "not a bigint in 0..2^256-1"],
      [{ gasPrice: null }, "CODEC_INVALID_FIELD", "gasPrice", "not a bigint in 0..2^256-1"],
    ];
    for (const [overrides, code, field, text] of cases) {
      const bad = { ...fields, ...overrides } as NativeTxFields;
      expectRefusal(() => encodeNativeTx(bad, KEY), code, field, `${N}.${field}: ${text}`);
    }
    expect(
      encodeNativeTx({ ...fields, nonce: fill(64, 1), groupId: "g".repeat(64) }, KEY).length,
    ).toBeGreaterThan(0);
  });

  it("the raw size bound: 131072 bytes are accepted both ways, one more is refused", () => {
    // The input that makes the raw tx exactly txBytesMax (the framing is the same for both lengths).
    const probe = encodeNativeTx({ ...fields, input: new Uint8Array(100_000) }, KEY);
    const inputLength = 100_000 + codecLimits.txBytesMax - probe.length;
    let raw = encodeNativeTx({ ...fields, input: new Uint8Array(inputLength) }, KEY);
    // The signature tail may differ by the recovery field (2 bytes); shorten the input to match.
    if (raw.length !== codecLimits.txBytesMax) {
      raw = encodeNativeTx(
        { ...fields, input: new Uint8Array(inputLength + codecLimits.txBytesMax - raw.length) },
        KEY,
      );
    }
    expect(raw.length).toBe(codecLimits.txBytesMax);
    expect(decodeTransaction(raw).raw.length).toBe(codecLimits.txBytesMax);
    const over = { ...fields, input: new Uint8Array(codecLimits.txBytesMax) };
    const err = refusal(() => encodeNativeTx(over, KEY));
    expect({ code: err.code, meta: err.meta }).toEqual({
      code: "CODEC_TOO_LARGE",
      meta: { type: N, field: "" },
    });
    expect(err.message).toMatch(/^NativeTx: 1311\d\d bytes exceeds 131072$/);
    expectRefusal(
      () => decodeNativeTx(concatBytes(raw, Uint8Array.of(0, 0))),
      "CODEC_TOO_LARGE",
      "",
      "NativeTx: 131073 bytes exceeds the bound of 131072",
    );
  });

  it("decode refuses each bad field, naming it", () => {
    const cases: [PbMessage, string, string, string][] = [
      [{ chainId: fill(33, 1) }, "CODEC_INVALID_FIELD", "chainId", "quantity of 33 bytes exceeds 32"],
      [{ groupId: "g".repeat(65) }, "CODEC_TOO_LARGE", "groupId", "65 chars exceeds 64"],
      [{ nonce: fill(65, 1) }, "CODEC_TOO_LARGE", "nonce", "65 bytes exceeds 64"],
      [{ nonce: new Uint8Array(0) }, "CODEC_MISSING_FIELD", "nonce", "empty nonce"],
      [
        { blockLimit: "9007199254740992" },
        "CODEC_INVALID_FIELD",
        "blockLimit",
        "exceeds Number.MAX_SAFE_INTEGER",
      ],
      [{ to: fill(21, 1) }, "CODEC_INVALID_FIELD", "to", "21 bytes, want 20 or 0"],
      [{ value: Uint8Array.of(0, 5) }, "CODEC_NON_CANONICAL", "value", "quantity has a leading zero byte"],
      [{ gasLimit: Uint8Array.of(0) }, "CODEC_NON_CANONICAL", "gasLimit", "quantity has a leading zero byte"],
      [{ gasPrice: fill(33, 1) }, "CODEC_INVALID_FIELD", "gasPrice", "quantity of 33 bytes exceeds 32"],
      [{ signature: new Uint8Array(0) }, "CODEC_MISSING_FIELD", "signature", "missing (want 64 bytes)"],
      [{ signature: fill(65, 1) }, "CODEC_INVALID_FIELD", "signature", "65 bytes, want 64"],
      [{ recovery: 2 }, "CODEC_INVALID_SIGNATURE", "recovery", "invalid recovery id 2"],
      [{ recovery: 27 }, "CODEC_INVALID_SIGNATURE", "recovery", "invalid recovery id 27"],
      [
        { signature: concatBytes(fill(32, 0), fill(32, 1)) },
        "CODEC_INVALID_SIGNATURE",
        "signature",
        "r or s is zero",
      ],
      [
        { signature: concatBytes(fill(32, 1), fill(32, 0)) },
        "CODEC_INVALID_SIGNATURE",
        "signature",
        "r or s is zero",
      ],
      [
        { signature: concatBytes(fill(32, 1), fill(32, 0xff)) },
        "CODEC_INVALID_SIGNATURE",
        "signature",
        "s > n/2",
      ],
    ];
    for (const [overrides, code, field, text] of cases) {
      expectRefusal(() => decodeTransaction(envelope(overrides)), code, field, `${N}.${field}: ${text}`);
    }
    expectRefusal(
      () => decodeNativeTx(Uint8Array.of(0x7b, 0x0a)),
      "CODEC_UNSUPPORTED_TYPE",
      "type",
      "NativeTx.type: not a native transaction",
    );
  });

  it("a high-s signature is refused even when it recovers (the same signer, malleated)", () => {
    const { signature, recovery } = secp256k1Sign(nativeTxSigningHash(fields), KEY);
    const s = BigInt(`0x${Buffer.from(signature.subarray(32)).toString("hex")}`);
    const highS = concatBytes(
      signature.subarray(0, 32),
      hexToBytes(`0x${(SECP256K1_N - s).toString(16).padStart(64, "0")}`),
    );
    expectRefusal(
      () => decodeTransaction(envelope({ signature: highS, recovery: recovery ^ 1 })),
      "CODEC_INVALID_SIGNATURE",
      "signature",
      "NativeTx.signature: s > n/2",
    );
  });

  it("a signature with no recoverable key, a wrong chain, a non-canonical envelope", () => {
    // r = 5: no curve point has x = 5.
    const noPoint = concatBytes(hexToBytes(`0x${"00".repeat(31)}05`), fill(32, 1));
    const err = refusal(() => decodeTransaction(envelope({ signature: noPoint, recovery: 0 })));
    expect({ code: err.code, field: err.meta.field, message: err.message }).toEqual({
      code: "CODEC_INVALID_SIGNATURE",
      field: "signature",
      message: "NativeTx.signature: sender could not be recovered",
    });
    expect(err.cause).toBeInstanceOf(Error);
    expectRefusal(
      () => decodeTransaction(envelope(), { chainId: 5n }),
      "CODEC_WRONG_CHAIN_ID",
      "chainId",
      "NativeTx.chainId: chain id 20200, want 5",
    );
    expect(decodeTransaction(envelope(), { chainId: 20_200n }).chainId).toBe(20_200n);
    // recovery = 0 written out explicitly (proto3 leaves a default out): the same values, other bytes.
    const { recovery } = secp256k1Sign(nativeTxSigningHash(fields), KEY);
    const explicitDefault = recovery === 0 ? Uint8Array.of(0x58, 0) : Uint8Array.of();
    const raw = encodeNativeTx(fields, KEY);
    const nonCanonical = [
      concatBytes(raw, explicitDefault, Uint8Array.of(0x58, recovery)),
      concatBytes(raw, Uint8Array.of(0x60, 1)),
    ];
    for (const bytes of nonCanonical) {
      expectRefusal(
        () => decodeTransaction(bytes),
        "CODEC_NON_CANONICAL",
        "",
        "NativeTx: not the canonical encoding of its fields",
      );
    }
  });

  it("a trusted sender must be 20 bytes, and is used without recovery", () => {
    const raw = encodeNativeTx(fields, KEY);
    for (const sender of [fill(19, 1), fill(21, 1), "0xabc"]) {
      expectRefusal(
        () => decodeTransaction(raw, { sender: sender as Uint8Array }),
        "CODEC_INVALID_FIELD",
        "sender",
        "NativeTx.sender: trusted sender must be 20 bytes",
      );
    }
    expect(decodeTransaction(raw, { sender: fill(20, 7) }).sender).toEqual(fill(20, 7));
  });
});
