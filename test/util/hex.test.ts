import { describe, expect, it } from "vitest";
import { bigintToBytes, bytesToBigint, bytesToHex, hexToBytes, toQuantity } from "../../src/util/hex.js";

describe("hex", () => {
  it("round-trips bytes", () => {
    expect(bytesToHex(hexToBytes("0xdeadBEEF"))).toBe("0xdeadbeef");
    expect(bytesToHex(new Uint8Array())).toBe("0x");
  });
  it("rejects odd length and non-hex with a typed error", () => {
    expect(() => hexToBytes("0xabc")).toThrowError(expect.objectContaining({ code: "HEX_INVALID" }));
    expect(() => hexToBytes("0xzz")).toThrowError(expect.objectContaining({ code: "HEX_INVALID" }));
  });
  it("formats quantities minimally", () => {
    expect(toQuantity(0n)).toBe("0x0");
    expect(toQuantity(26)).toBe("0x1a");
  });
  it("round-trips bigints", () => {
    for (const v of [0n, 1n, 255n, 256n, 2n ** 255n + 7n]) expect(bytesToBigint(bigintToBytes(v))).toBe(v);
  });
});
