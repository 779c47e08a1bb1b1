/**
 * Signature schemes for the simulator.
 * - "fast": sig = sha256(secret || digest), 32 B. The registry knows every secret to verify; a node (even a
 *   Byzantine one) only ever holds its own signer, so it cannot produce another node's signature.
 * - "ed25519": real Ed25519 from node:crypto, keys derived from a seed (the production path).
 */
import { createPrivateKey, createPublicKey, hash, type KeyObject, sign, verify } from "node:crypto";
import type { PbftCrypto } from "../../src/consensus/index.js";
import { toHex } from "../../src/consensus/index.js";

export type SchemeName = "fast" | "ed25519";

/** One-shot hashing: twice as fast as createHash for these small inputs (the simulator hashes a lot). */
export function sha256(bytes: Uint8Array): Uint8Array {
  return hash("sha256", bytes, "buffer");
}

export interface SimKey {
  nodeId: Uint8Array;
  sign(digest: Uint8Array): Uint8Array;
}

const PKCS8_ED25519 = Buffer.from("302e020100300506032b657004220420", "hex");
const SPKI_ED25519 = Buffer.from("302a300506032b6570032100", "hex");

export class KeyRegistry {
  private readonly secrets = new Map<string, Uint8Array>();
  private readonly publicKeys = new Map<string, KeyObject>();

  constructor(readonly scheme: SchemeName) {}

  /** A node key derived from (seed, index). */
  create(seed: number, index: number): SimKey {
    const material = sha256(new TextEncoder().encode(`consort-sim/${seed}/${index}`));
    if (this.scheme === "fast") {
      const nodeId = sha256(concat(new TextEncoder().encode("id"), material));
      this.secrets.set(toHex(nodeId), material);
      return { nodeId, sign: (digest) => sha256(concat(material, digest)).subarray(0, 32) };
    }
    const privateKey = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519, material]),
      format: "der",
      type: "pkcs8",
    });
    const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
    const nodeId = new Uint8Array(spki.subarray(spki.length - 32));
    this.publicKeys.set(toHex(nodeId), createPublicKey(privateKey));
    return { nodeId, sign: (digest) => new Uint8Array(sign(null, digest, privateKey)) };
  }

  verify(nodeId: Uint8Array, digest: Uint8Array, signature: Uint8Array): boolean {
    const key = toHex(nodeId);
    if (this.scheme === "fast") {
      const secret = this.secrets.get(key);
      if (!secret || signature.length !== 32) return false;
      const expected = sha256(concat(secret, digest));
      for (let i = 0; i < 32; i++) if (expected[i] !== signature[i]) return false;
      return true;
    }
    let pub = this.publicKeys.get(key);
    if (!pub) {
      if (nodeId.length !== 32) return false;
      pub = createPublicKey({ key: Buffer.concat([SPKI_ED25519, nodeId]), format: "der", type: "spki" });
    }
    try {
      return verify(null, digest, pub, signature);
    } catch {
      return false;
    }
  }

  /** The PbftCrypto a node's driver injects into its core. */
  cryptoFor(key: SimKey): PbftCrypto {
    return { sign: key.sign, verify: (id, d, s) => this.verify(id, d, s), hash: sha256 };
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
