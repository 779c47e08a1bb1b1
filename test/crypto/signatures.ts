import { keccak256, recoverAddress } from "../../src/crypto/index.js";

/**
 * An r||s in range (r, s in 1..n-1, low s) from which no public key can be recovered: r is no curve point's
 * x-coordinate. Found by trying small r with recoverAddress.
 */
export function unrecoverableSignature(): { msgHash: Uint8Array; signature: Uint8Array; r: number } {
  const msgHash = keccak256(new TextEncoder().encode("no key"));
  for (let r = 1; r < 256; r++) {
    const signature = new Uint8Array(64);
    signature[31] = r;
    signature[63] = 1;
    try {
      recoverAddress(msgHash, signature, 0);
    } catch {
      return { msgHash, signature, r };
    }
  }
  throw new Error("no unrecoverable r below 256");
}
