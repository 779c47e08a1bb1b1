import { describe, expect, it } from "vitest";
import { isLowS, SECP256K1_N, SECP256K1_N_HALF, secp256k1Recover } from "../../src/crypto/index.js";
import { bigintToBytes, bytesToBigint } from "../../src/util/hex.js";

const HASH = new Uint8Array(32).fill(7);

function sig(r: bigint, s: bigint): Uint8Array {
  const out = new Uint8Array(64);
  const rb = bigintToBytes(r);
  const sb = bigintToBytes(s);
  out.set(rb, 32 - rb.length);
  out.set(sb, 64 - sb.length);
  return out;
}

describe("signature range checks (byte comparisons)", () => {
  it("isLowS: s <= n/2 only", () => {
    expect(isLowS(sig(1n, SECP256K1_N_HALF))).toBe(true);
    expect(isLowS(sig(1n, SECP256K1_N_HALF - 1n))).toBe(true);
    expect(isLowS(sig(1n, SECP256K1_N_HALF + 1n))).toBe(false);
    expect(isLowS(sig(1n, 1n))).toBe(true);
    expect(isLowS(new Uint8Array(63))).toBe(false);
  });

  it("recovery refuses r or s of 0 or >= n before the binding sees them", () => {
    for (const [r, s] of [
      [0n, 1n],
      [1n, 0n],
      [SECP256K1_N, 1n],
      [1n, SECP256K1_N],
      [SECP256K1_N + 1n, 1n],
    ] as const) {
      expect(() => secp256k1Recover(HASH, sig(r, s), 0)).toThrow("signature r or s out of range 1..n-1");
    }
    // n - 1 is in range: whatever the binding says, it is not the range error.
    let message = "";
    try {
      secp256k1Recover(HASH, sig(SECP256K1_N - 1n, SECP256K1_N - 1n), 0);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toContain("out of range");
  });
});

describe("bytesToBigint", () => {
  it("matches the hex conversion for every length 0..33", () => {
    for (let length = 0; length <= 33; length++) {
      const bytes = Uint8Array.from({ length }, (_, i) => (i * 97 + length * 31 + 255) & 0xff);
      const expected = length === 0 ? 0n : BigInt(`0x${Buffer.from(bytes).toString("hex")}`);
      expect(bytesToBigint(bytes)).toBe(expected);
      expect(bytesToBigint(new Uint8Array(length).fill(0xff))).toBe((1n << BigInt(8 * length)) - 1n);
    }
  });
});
