import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  CryptoError,
  generatePrivateKey,
  isLowS,
  keccak256,
  nobleSecp256k1PublicKey,
  nobleSecp256k1Recover,
  nobleSecp256k1Sign,
  nobleSecp256k1Verify,
  privateKeyToAddress,
  publicKeyToAddress,
  recoverAddress,
  SECP256K1_N,
  secp256k1PublicKey,
  secp256k1Recover,
  secp256k1Sign,
  secp256k1Verify,
} from "../../src/crypto/index.js";
import { bigintToBytes, bytesToHex, hexToBytes } from "../../src/util/hex.js";

function expectCryptoError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CryptoError);
    expect((err as CryptoError).code).toBe(code);
    return;
  }
  throw new Error("expected a CryptoError");
}

describe("keccak256", () => {
  it("matches known vectors", () => {
    expect(bytesToHex(keccak256(new Uint8Array(0)))).toBe(
      "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    );
    expect(bytesToHex(keccak256(new TextEncoder().encode("abc")))).toBe(
      "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
    );
  });
});

describe("secp256k1 native vs noble", () => {
  it("agree on 200 random keys and messages (sign with one, recover/verify with the other)", () => {
    for (let i = 0; i < 200; i++) {
      const key = generatePrivateKey();
      const hash = keccak256(randomBytes(1 + (i % 64)));
      const address = privateKeyToAddress(key);
      const pubNative = secp256k1PublicKey(key);
      if (i % 8 === 0) expect(nobleSecp256k1PublicKey(key)).toEqual(pubNative);
      expect(publicKeyToAddress(secp256k1PublicKey(key, true))).toEqual(address);

      const native = secp256k1Sign(hash, key);
      const noble = nobleSecp256k1Sign(hash, key);
      // Both use RFC 6979 deterministic nonces and low-s: identical signatures.
      expect(native.signature).toEqual(noble.signature);
      expect(native.recovery).toBe(noble.recovery);
      expect(isLowS(native.signature)).toBe(true);

      expect(publicKeyToAddress(nobleSecp256k1Recover(hash, native.signature, native.recovery))).toEqual(
        address,
      );
      expect(recoverAddress(hash, noble.signature, noble.recovery)).toEqual(address);
      expect(secp256k1Recover(hash, noble.signature, noble.recovery)).toEqual(pubNative);
      if (i % 4 === 0) expect(nobleSecp256k1Verify(hash, native.signature, pubNative)).toBe(true);
      expect(secp256k1Verify(hash, noble.signature, pubNative)).toBe(true);
    }
  });

  it("matches a known Ethereum key/address pair", () => {
    // Hardhat/anvil account #0.
    const key = hexToBytes("0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80");
    expect(bytesToHex(privateKeyToAddress(key))).toBe("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266");
  });

  it("a wrong recovery id or a changed message gives another address, not the signer", () => {
    const key = generatePrivateKey();
    const hash = keccak256(Uint8Array.of(1));
    const { signature, recovery } = secp256k1Sign(hash, key);
    const address = privateKeyToAddress(key);
    expect(recoverAddress(hash, signature, recovery ^ 1)).not.toEqual(address);
    expect(recoverAddress(keccak256(Uint8Array.of(2)), signature, recovery)).not.toEqual(address);
    expect(secp256k1Verify(keccak256(Uint8Array.of(2)), signature, secp256k1PublicKey(key))).toBe(false);
  });

  it("throws typed errors on bad input, never the binding's Error", () => {
    const hash = keccak256(Uint8Array.of(1));
    const key = generatePrivateKey();
    const { signature } = secp256k1Sign(hash, key);
    expectCryptoError(() => secp256k1Sign(hash, new Uint8Array(32)), "CRYPTO_INVALID_KEY");
    expectCryptoError(() => secp256k1Sign(hash, bigintToBytes(SECP256K1_N)), "CRYPTO_INVALID_KEY");
    expectCryptoError(() => secp256k1Sign(hash, new Uint8Array(31).fill(1)), "CRYPTO_INVALID_KEY");
    expectCryptoError(() => secp256k1Sign(new Uint8Array(31), key), "CRYPTO_INVALID_INPUT");
    expectCryptoError(() => secp256k1Recover(hash, signature.subarray(1), 0), "CRYPTO_INVALID_SIGNATURE");
    expectCryptoError(() => secp256k1Recover(hash, signature, 2), "CRYPTO_INVALID_SIGNATURE");
    const zeroR = signature.slice();
    zeroR.fill(0, 0, 32);
    expectCryptoError(() => recoverAddress(hash, zeroR, 0), "CRYPTO_INVALID_SIGNATURE");
    expectCryptoError(() => nobleSecp256k1Recover(hash, zeroR, 0), "CRYPTO_INVALID_SIGNATURE");
    const bigS = signature.slice();
    bigS.set(bigintToBytes(SECP256K1_N), 32);
    expectCryptoError(() => recoverAddress(hash, bigS, 0), "CRYPTO_INVALID_SIGNATURE");
    // r = a valid scalar whose x-coordinate is not on the curve: recovery itself fails inside the binding.
    let failures = 0;
    for (let i = 0; i < 20; i++) {
      const sig = new Uint8Array(randomBytes(64));
      sig[32] = 0x01;
      try {
        recoverAddress(hash, sig, 0);
      } catch (err) {
        expect(err).toBeInstanceOf(CryptoError);
        failures++;
      }
    }
    expect(failures).toBeGreaterThan(0);
    expectCryptoError(() => publicKeyToAddress(new Uint8Array(10)), "CRYPTO_INVALID_KEY");
    expectCryptoError(() => publicKeyToAddress(new Uint8Array(33)), "CRYPTO_INVALID_KEY");
    expect(secp256k1Verify(hash, signature, new Uint8Array(65))).toBe(false);
  });

  it("recover accepts high-s like the ecrecover precompile; isLowS tells them apart", () => {
    const key = generatePrivateKey();
    const hash = keccak256(Uint8Array.of(7));
    const { signature, recovery } = secp256k1Sign(hash, key);
    const s = BigInt(bytesToHex(signature.subarray(32)));
    const high = signature.slice();
    high.set(hexToBytes((SECP256K1_N - s).toString(16).padStart(64, "0")), 32);
    expect(isLowS(high)).toBe(false);
    expect(recoverAddress(hash, high, recovery ^ 1)).toEqual(privateKeyToAddress(key));
  });
});
