// The recovery a worker of src/crypto/recoveryThreads.ts runs (src/crypto/recoveryWorker.mjs, and the tests' stand-in
// workers): secp256k1 public keys with the same native libsecp256k1 binding the main thread uses, then the addresses
// (the last 20 bytes of the key's keccak-256). Plain JavaScript: it loads in any runtime (tsx, vitest, node) without a
// TypeScript loader.
//
// items:   n × 97 bytes (32-byte message hash, 64-byte r||s, 1-byte recovery id)
// answers: n × 21 bytes (1 = recovered, then the 20-byte address; 0 = not recoverable)
import { createRequire } from "node:module";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { createKeccak } from "hash-wasm";

const native = createRequire(import.meta.url)("secp256k1/bindings");
// The same layout as ITEM_BYTES / ANSWER_BYTES in recoveryThreads.ts (the other side of the message).
const ITEM_BYTES = 97;
const ANSWER_BYTES = 21;

// keccak in WebAssembly where it loads (as src/crypto/keccak.ts), else @noble/hashes.
let keccak = (data) => keccak_256(data);
try {
  const hasher = await createKeccak(256);
  keccak = (data) => {
    hasher.init();
    hasher.update(data);
    return hasher.digest("binary");
  };
} catch {
  // keep @noble/hashes
}

/** The answers to a batch of requests (see above). */
export function recoverBatch(items) {
  const count = items.length / ITEM_BYTES;
  const answers = new Uint8Array(count * ANSWER_BYTES);
  for (let i = 0; i < count; i++) {
    const at = i * ITEM_BYTES;
    try {
      const publicKey = native.ecdsaRecover(
        items.subarray(at + 32, at + 96),
        items[at + 96],
        items.subarray(at, at + 32),
        false,
      );
      answers.set(keccak(publicKey.subarray(1)).subarray(12), i * ANSWER_BYTES + 1);
      answers[i * ANSWER_BYTES] = 1;
    } catch {
      // answers[i * ANSWER_BYTES] stays 0: the main thread rejects this item.
    }
  }
  return answers;
}
