import { RLP } from "@ethereumjs/rlp";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { keccak256, secp256k1Sign } from "../../src/crypto/index.js";
import { isUnprotectedLegacy } from "../../src/rpc/submit.js";
import { bigintToBytes } from "../../src/util/hex.js";

/** The check before its fast path: decode the whole list, look at v. The fast path must answer the same. */
function reference(raw: Uint8Array): boolean {
  if (raw.length === 0 || (raw[0] as number) < 0xc0) return false;
  try {
    const fields = RLP.decode(raw);
    if (!Array.isArray(fields) || fields.length !== 9) return false;
    const v = fields[6];
    return v instanceof Uint8Array && v.length === 1 && (v[0] === 27 || v[0] === 28);
  } catch {
    return false;
  }
}

const KEY = keccak256(new TextEncoder().encode("unprotected legacy test"));

function legacy(v: bigint, data: Uint8Array): Uint8Array {
  const fields = [1n, 0n, 21_000n].map(bigintToBytes);
  const body = [...fields, new Uint8Array(20).fill(0xaa), bigintToBytes(5n), data];
  const { signature } = secp256k1Sign(keccak256(RLP.encode(body)), KEY);
  return RLP.encode([...body, bigintToBytes(v), signature.subarray(0, 32), signature.subarray(32)]);
}

describe("isUnprotectedLegacy", () => {
  it("refuses v = 27/28 and passes EIP-155 v, short and long data", () => {
    for (const data of [new Uint8Array(0), new Uint8Array(60).fill(1), new Uint8Array(300).fill(2)]) {
      expect(isUnprotectedLegacy(legacy(27n, data))).toBe(true);
      expect(isUnprotectedLegacy(legacy(28n, data))).toBe(true);
      expect(isUnprotectedLegacy(legacy(20200n * 2n + 35n, data))).toBe(false);
      expect(isUnprotectedLegacy(legacy(37n, data))).toBe(false);
    }
  });

  it("answers as a full decode does for mutated and truncated txs", () => {
    const base = [legacy(27n, new Uint8Array(0)), legacy(40435n, new Uint8Array(70).fill(3))];
    fc.assert(
      fc.property(fc.constantFrom(...base), fc.nat(400), fc.nat(255), fc.nat(400), (raw, at, byte, cut) => {
        const mutated = new Uint8Array(raw);
        mutated[at % mutated.length] = byte;
        const truncated = mutated.subarray(0, Math.max(1, mutated.length - (cut % 8)));
        expect(isUnprotectedLegacy(mutated)).toBe(reference(mutated));
        expect(isUnprotectedLegacy(truncated)).toBe(reference(truncated));
      }),
      { numRuns: 2000 },
    );
  });
});
