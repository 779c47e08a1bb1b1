import { describe, expect, it } from "vitest";
import {
  checkArray,
  checkBytes,
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
  quantityFromBytes,
  quantityToBytes,
  repeated,
  safeNumber,
  stringField,
  varBytes,
} from "../../src/codec/fields.js";
import { CodecError } from "../../src/codec/index.js";
import { pb } from "../../src/codec/schema.js";
import { refusal } from "./refusal.js";

// The shared field rules of every codec type, both ways: each refusal with its code, the type and field it names,
// and its text, and each bound at the last accepted value and the first refused one.

const fill = (n: number, b: number) => new Uint8Array(n).fill(b);
const T = "Thing";
const long = (high: number, low: number) => ({ high, low, unsigned: true });

describe("fail", () => {
  it("names type and field in the message and meta, and keeps the cause", () => {
    const cause = new Error("inner");
    const err = refusal(() => fail("CODEC_MALFORMED", T, "f", "broken", cause));
    expect(err).toBeInstanceOf(CodecError);
    expect(err.message).toBe("Thing.f: broken");
    expect(err.meta).toEqual({ type: T, field: "f" });
    expect(err.cause).toBe(cause);
    const whole = refusal(() => fail("CODEC_TRUNCATED", T, "", "empty"));
    expect(whole.message).toBe("Thing: empty");
    expect(whole.cause).toBeUndefined();
    expect("cause" in whole).toBe(false);
  });
});

describe("decodePb", () => {
  const header = pb.BlockHeader;

  it("refuses a non-byte input, and an input over the bound, at bound + 1 only", () => {
    expect(refusal(() => decodePb(header, "ab" as never, T, 10))).toMatchObject({
      code: "CODEC_MALFORMED",
      message: "Thing: input is not bytes",
    });
    expect(refusal(() => decodePb(header, new Uint8Array(11), T, 10))).toMatchObject({
      code: "CODEC_TOO_LARGE",
      message: "Thing: 11 bytes exceeds the bound of 10",
    });
    // 10 bytes at a bound of 10: not too large (field 3 = 0 five times: a valid encoding).
    const tenBytes = Uint8Array.of(0x18, 0, 0x18, 0, 0x18, 0, 0x18, 0, 0x18, 0);
    expect(decodePb(header, tenBytes, T, 10)).toBeDefined();
  });

  it("maps a protobuf length past the end to CODEC_TRUNCATED and other errors to CODEC_MALFORMED", () => {
    // Field 4 (bytes) announcing 32 bytes, 2 present.
    const truncated = refusal(() => decodePb(header, Uint8Array.of(0x22, 0x20, 1, 2), T, 100));
    expect(truncated.code).toBe("CODEC_TRUNCATED");
    expect(truncated.message).toMatch(/^Thing: invalid protobuf \(index out of range: /);
    expect(truncated.cause).toBeInstanceOf(Error);
    // Wire type 7 does not exist.
    const malformed = refusal(() => decodePb(header, Uint8Array.of(0x0f), T, 100));
    expect(malformed.code).toBe("CODEC_MALFORMED");
    expect(malformed.message).toBe("Thing: invalid protobuf (invalid wire type 7 at offset 1)");
    expect(malformed.cause).toBeInstanceOf(Error);
  });

  it("encodePb returns a plain Uint8Array of its own, not a Buffer view", () => {
    const out = encodePb(header, { number: 5 });
    expect(out.constructor).toBe(Uint8Array);
    expect(out.byteOffset).toBe(0);
    expect(out.buffer.byteLength).toBe(out.length);
    expect([...out]).toEqual([0x18, 5]);
  });
});

describe("decode-side fields", () => {
  it("fixedBytes: exact length, absent = missing, a copy", () => {
    const value = fill(4, 7);
    const got = fixedBytes({ f: value }, "f", T, 4);
    expect(got).toEqual(value);
    value[0] = 0;
    expect(got[0]).toBe(7);
    expect(refusal(() => fixedBytes({}, "f", T, 4))).toMatchObject({
      code: "CODEC_MISSING_FIELD",
      message: "Thing.f: missing (want 4 bytes)",
      meta: { type: T, field: "f" },
    });
    expect(refusal(() => fixedBytes({ f: null }, "f", T, 4)).code).toBe("CODEC_MISSING_FIELD");
    expect(refusal(() => fixedBytes({ f: [] }, "f", T, 4)).code).toBe("CODEC_MISSING_FIELD");
    expect(refusal(() => fixedBytes({ f: fill(3, 1) }, "f", T, 4))).toMatchObject({
      code: "CODEC_INVALID_FIELD",
      message: "Thing.f: 3 bytes, want 4",
    });
    expect(refusal(() => fixedBytes({ f: fill(5, 1) }, "f", T, 4)).message).toBe("Thing.f: 5 bytes, want 4");
    expect(refusal(() => fixedBytes({ f: "abcd" }, "f", T, 4))).toMatchObject({
      code: "CODEC_MALFORMED",
      message: "Thing.f: not bytes",
    });
    expect(refusal(() => fixedBytes({ f: [1, 2, 3, 4] }, "f", T, 4)).code).toBe("CODEC_MALFORMED");
  });

  it("varBytes: 0..max bytes, a copy", () => {
    expect(varBytes({}, "f", T, 3)).toEqual(new Uint8Array(0));
    expect(varBytes({ f: [] }, "f", T, 3)).toEqual(new Uint8Array(0));
    const value = fill(3, 9);
    const got = varBytes({ f: value }, "f", T, 3);
    expect(got).toEqual(value);
    expect(got.buffer).not.toBe(value.buffer);
    expect(refusal(() => varBytes({ f: fill(4, 9) }, "f", T, 3))).toMatchObject({
      code: "CODEC_TOO_LARGE",
      message: "Thing.f: 4 bytes exceeds 3",
      meta: { type: T, field: "f" },
    });
  });

  it("optionalAddress: empty is null, else exactly 20 bytes", () => {
    expect(optionalAddress({}, "to", T)).toBeNull();
    expect(optionalAddress({ to: new Uint8Array(0) }, "to", T)).toBeNull();
    const address = fill(20, 3);
    const got = optionalAddress({ to: address }, "to", T);
    expect(got).toEqual(address);
    expect(got?.buffer).not.toBe(address.buffer);
    for (const length of [1, 19, 21]) {
      expect(refusal(() => optionalAddress({ to: fill(length, 3) }, "to", T))).toMatchObject({
        code: "CODEC_INVALID_FIELD",
        message: `Thing.to: ${length} bytes, want 20 or 0`,
      });
    }
  });

  it("quantity: minimal big-endian, at most 32 bytes", () => {
    expect(quantity({}, "q", T)).toBe(0n);
    expect(quantity({ q: Uint8Array.of(1, 0) }, "q", T)).toBe(256n);
    expect(quantityFromBytes(fill(32, 0xff), "q", T)).toBe((1n << 256n) - 1n);
    expect(refusal(() => quantityFromBytes(Uint8Array.of(1, ...fill(32, 0)), "q", T))).toMatchObject({
      code: "CODEC_INVALID_FIELD",
      message: "Thing.q: quantity of 33 bytes exceeds 32",
      meta: { type: T, field: "q" },
    });
    expect(refusal(() => quantityFromBytes(Uint8Array.of(0), "q", T))).toMatchObject({
      code: "CODEC_NON_CANONICAL",
      message: "Thing.q: quantity has a leading zero byte",
    });
    expect(refusal(() => quantity({ q: Uint8Array.of(0, 1) }, "q", T)).code).toBe("CODEC_NON_CANONICAL");
  });

  it("safeNumber: numbers and 64-bit longs up to 2^53 - 1", () => {
    expect(safeNumber({}, "n", T)).toBe(0);
    expect(safeNumber({ n: null }, "n", T)).toBe(0);
    expect(safeNumber({ n: 0 }, "n", T)).toBe(0);
    expect(safeNumber({ n: 4_000_000_000 }, "n", T)).toBe(4_000_000_000);
    expect(safeNumber({ n: Number.MAX_SAFE_INTEGER }, "n", T)).toBe(Number.MAX_SAFE_INTEGER);
    for (const bad of [-1, 1.5, 2 ** 53]) {
      expect(refusal(() => safeNumber({ n: bad }, "n", T))).toMatchObject({
        code: "CODEC_INVALID_FIELD",
        message: "Thing.n: not a safe integer",
        meta: { type: T, field: "n" },
      });
    }
    // Longs as protobufjs gives them: low and high 32-bit halves, low possibly negative (signed int32).
    expect(safeNumber({ n: long(0, 5) }, "n", T)).toBe(5);
    expect(safeNumber({ n: long(1, 2) }, "n", T)).toBe(2 ** 32 + 2);
    expect(safeNumber({ n: long(0, -1) }, "n", T)).toBe(2 ** 32 - 1);
    expect(safeNumber({ n: long(0x1fffff, -1) }, "n", T)).toBe(Number.MAX_SAFE_INTEGER);
    expect(refusal(() => safeNumber({ n: long(0x200000, 0) }, "n", T))).toMatchObject({
      code: "CODEC_INVALID_FIELD",
      message: "Thing.n: exceeds Number.MAX_SAFE_INTEGER",
    });
    // high as a negative int32 (bit 31 set): a uint64 over 2^63, refused rather than read as negative.
    expect(refusal(() => safeNumber({ n: long(-1, 0) }, "n", T)).code).toBe("CODEC_INVALID_FIELD");
    for (const bad of ["5", { low: 1 }, { high: 0 }, { low: "1", high: 0 }, { low: 1, high: "0" }]) {
      expect(refusal(() => safeNumber({ n: bad }, "n", T))).toMatchObject({
        code: "CODEC_MALFORMED",
        message: "Thing.n: not an integer",
      });
    }
  });

  it("stringField: up to maxLength UTF-16 code units", () => {
    expect(stringField({}, "s", T, 3)).toBe("");
    expect(stringField({ s: null }, "s", T, 3)).toBe("");
    expect(stringField({ s: "abc" }, "s", T, 3)).toBe("abc");
    expect(refusal(() => stringField({ s: "abcd" }, "s", T, 3))).toMatchObject({
      code: "CODEC_TOO_LARGE",
      message: "Thing.s: 4 chars exceeds 3",
      meta: { type: T, field: "s" },
    });
    expect(refusal(() => stringField({ s: 5 }, "s", T, 3))).toMatchObject({
      code: "CODEC_MALFORMED",
      message: "Thing.s: not a string",
    });
  });

  it("repeated: a list of at most max entries", () => {
    expect(repeated({}, "r", T, 2)).toEqual([]);
    expect(repeated({ r: null }, "r", T, 2)).toEqual([]);
    expect(repeated({ r: [1, 2] }, "r", T, 2)).toEqual([1, 2]);
    expect(refusal(() => repeated({ r: [1, 2, 3] }, "r", T, 2))).toMatchObject({
      code: "CODEC_TOO_LARGE",
      message: "Thing.r: 3 entries exceed 2",
      meta: { type: T, field: "r" },
    });
    expect(refusal(() => repeated({ r: "12" }, "r", T, 2))).toMatchObject({
      code: "CODEC_MALFORMED",
      message: "Thing.r: not a list",
    });
  });
});

describe("encode-side fields (the same rules: never write what we could not read back)", () => {
  it("checkBytes and checkOptionalAddress", () => {
    const value = fill(4, 1);
    expect(checkBytes(value, "b", T, 4)).toBe(value);
    expect(refusal(() => checkBytes([1, 2, 3, 4], "b", T, 4))).toMatchObject({
      code: "CODEC_INVALID_FIELD",
      message: "Thing.b: not a Uint8Array",
      meta: { type: T, field: "b" },
    });
    expect(refusal(() => checkBytes(fill(5, 1), "b", T, 4)).message).toBe("Thing.b: 5 bytes, want 4");
    expect(refusal(() => checkBytes(fill(3, 1), "b", T, 4)).message).toBe("Thing.b: 3 bytes, want 4");
    expect(checkOptionalAddress(null, "to", T)).toEqual(new Uint8Array(0));
    expect(checkOptionalAddress(fill(20, 2), "to", T)).toEqual(fill(20, 2));
    expect(refusal(() => checkOptionalAddress(new Uint8Array(0), "to", T)).message).toBe(
      "Thing.to: 0 bytes, want 20",
    );
    expect(refusal(() => checkOptionalAddress(undefined, "to", T)).code).toBe("CODEC_INVALID_FIELD");
  });

  it("checkVarBytes", () => {
    const value = fill(3, 1);
    expect(checkVarBytes(value, "v", T, 3)).toBe(value);
    expect(refusal(() => checkVarBytes(fill(4, 1), "v", T, 3))).toMatchObject({
      code: "CODEC_TOO_LARGE",
      message: "Thing.v: 4 bytes exceeds 3",
    });
    expect(refusal(() => checkVarBytes("abc", "v", T, 3))).toMatchObject({
      code: "CODEC_INVALID_FIELD",
      message: "Thing.v: not a Uint8Array",
    });
  });

  it("quantityToBytes: a bigint in 0..2^256-1, minimal bytes", () => {
    expect(quantityToBytes(0n, "q", T)).toEqual(new Uint8Array(0));
    expect(quantityToBytes(256n, "q", T)).toEqual(Uint8Array.of(1, 0));
    expect(quantityToBytes((1n << 256n) - 1n, "q", T)).toEqual(fill(32, 0xff));
    for (const bad of [-1n, 1n << 256n, 5, "5", null]) {
      expect(refusal(() => quantityToBytes(bad, "q", T))).toMatchObject({
        code: "CODEC_INVALID_FIELD",
        message: "Thing.q: not a bigint in 0..2^256-1",
        meta: { type: T, field: "q" },
      });
    }
  });

  it("checkNumber: a non-negative safe integer", () => {
    expect(checkNumber(0, "n", T)).toBe(0);
    expect(checkNumber(Number.MAX_SAFE_INTEGER, "n", T)).toBe(Number.MAX_SAFE_INTEGER);
    for (const bad of [-1, 1.5, 2 ** 53, 5n, "5", Number.NaN]) {
      expect(refusal(() => checkNumber(bad, "n", T))).toMatchObject({
        code: "CODEC_INVALID_FIELD",
        message: "Thing.n: not a non-negative safe integer",
      });
    }
  });

  it("checkString and checkArray", () => {
    expect(checkString("abc", "s", T, 3)).toBe("abc");
    expect(refusal(() => checkString("abcd", "s", T, 3))).toMatchObject({
      code: "CODEC_TOO_LARGE",
      message: "Thing.s: 4 chars exceeds 3",
    });
    expect(refusal(() => checkString(5, "s", T, 3))).toMatchObject({
      code: "CODEC_INVALID_FIELD",
      message: "Thing.s: not a string",
    });
    const list = [1, 2];
    expect(checkArray(list, "a", T, 2)).toBe(list);
    expect(refusal(() => checkArray([1, 2, 3], "a", T, 2))).toMatchObject({
      code: "CODEC_TOO_LARGE",
      message: "Thing.a: 3 entries exceed 2",
    });
    expect(refusal(() => checkArray("12", "a", T, 2))).toMatchObject({
      code: "CODEC_INVALID_FIELD",
      message: "Thing.a: not an array",
    });
  });
});
