import { describe, expect, it } from "vitest";
import {
  keccak256,
  merkleLeafHash,
  merkleProof,
  merkleRoot,
  verifyMerkleProof,
} from "../../src/crypto/index.js";
import { concatBytes } from "../../src/util/hex.js";

const leavesOf = (n: number) => Array.from({ length: n }, (_, i) => Uint8Array.of(i, i * 7, 0xaa));

describe("merkle", () => {
  it("empty root is keccak256 of empty bytes; one leaf is its leaf hash", () => {
    expect(merkleRoot([])).toEqual(keccak256(new Uint8Array(0)));
    const [leaf] = leavesOf(1);
    expect(merkleRoot([leaf!])).toEqual(keccak256(concatBytes(Uint8Array.of(0), leaf!)));
  });

  it("uses domain separation and promotes the odd node", () => {
    const [a, b, c] = leavesOf(3).map(merkleLeafHash) as [Uint8Array, Uint8Array, Uint8Array];
    const ab = keccak256(concatBytes(Uint8Array.of(1), a, b));
    expect(merkleRoot(leavesOf(2))).toEqual(ab);
    expect(merkleRoot(leavesOf(3))).toEqual(keccak256(concatBytes(Uint8Array.of(1), ab, c)));
  });

  it("proofs for every index of sizes 1..17 verify; tampering fails", () => {
    for (let n = 1; n <= 17; n++) {
      const leaves = leavesOf(n);
      const root = merkleRoot(leaves);
      for (let i = 0; i < n; i++) {
        const proof = JSON.parse(JSON.stringify(merkleProof(leaves, i)));
        expect(verifyMerkleProof(root, leaves[i]!, proof)).toBe(true);
        // Another leaf, another index, a changed sibling, a dropped or extra sibling, a wrong count.
        expect(verifyMerkleProof(root, Uint8Array.of(0xff), proof)).toBe(false);
        if (n > 1) {
          expect(verifyMerkleProof(root, leaves[i]!, { ...proof, index: (i + 1) % n })).toBe(false);
          const sib = proof.siblings[0] as string;
          const flipped = `${sib.slice(0, -1)}${sib.endsWith("0") ? "1" : "0"}`;
          expect(
            verifyMerkleProof(root, leaves[i]!, {
              ...proof,
              siblings: [flipped, ...proof.siblings.slice(1)],
            }),
          ).toBe(false);
          expect(verifyMerkleProof(root, leaves[i]!, { ...proof, siblings: proof.siblings.slice(1) })).toBe(
            false,
          );
        }
        expect(
          verifyMerkleProof(root, leaves[i]!, {
            ...proof,
            siblings: [...proof.siblings, `0x${"00".repeat(32)}`],
          }),
        ).toBe(false);
        expect(verifyMerkleProof(root, leaves[i]!, { ...proof, leafCount: i })).toBe(false);
      }
    }
  });

  it("malformed proofs return false", () => {
    const leaves = leavesOf(4);
    const root = merkleRoot(leaves);
    const proof = merkleProof(leaves, 1);
    expect(verifyMerkleProof(root, leaves[1]!, { ...proof, siblings: ["0x12", "0xzz"] })).toBe(false);
    expect(verifyMerkleProof(root, leaves[1]!, { ...proof, index: -1 })).toBe(false);
    expect(verifyMerkleProof(root, leaves[1]!, { ...proof, index: 1.5 })).toBe(false);
    expect(verifyMerkleProof(root, leaves[1]!, null as never)).toBe(false);
    expect(() => merkleProof(leaves, 4)).toThrow(RangeError);
  });
});
