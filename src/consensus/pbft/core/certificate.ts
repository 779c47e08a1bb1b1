/**
 * Verification of commit and prepared certificates: one code path for the core, the ledger, sync and observers.
 */
import type { CertificateSignature, CommitCertificate, Hash, ValidatorInfo } from "../../../types/index.js";
import { toHex } from "./bytes.js";
import { commitDigest, prepareDigest } from "./digest.js";
import { ValidatorSet } from "./quorum.js";
import type { PbftCrypto, PreparedCertificate } from "./types.js";

export type CertificateReason =
  | "GENESIS_NOT_EMPTY"
  | "MALFORMED"
  | "NOT_VALIDATOR"
  | "DUPLICATE_SIGNER"
  | "BAD_SIGNATURE"
  | "NO_QUORUM";

export type CertificateCheck = { ok: true } | { ok: false; reason: CertificateReason; signer?: string };

type VerifyFn = Pick<PbftCrypto, "verify">;

/** Checks distinct validator signers over `digest` whose weight reaches the quorum of `set`. */
export function verifyQuorumSignatures(
  signatures: readonly CertificateSignature[],
  digest: Uint8Array,
  set: ValidatorSet,
  crypto: VerifyFn,
): CertificateCheck {
  if (!Array.isArray(signatures) || signatures.length > set.list.length)
    return { ok: false, reason: "MALFORMED" };
  const seen = new Set<string>();
  let weight = 0;
  for (const s of signatures) {
    if (!(s?.nodeId instanceof Uint8Array) || !(s.signature instanceof Uint8Array)) {
      return { ok: false, reason: "MALFORMED" };
    }
    const key = toHex(s.nodeId);
    const w = set.weightOfKey(key);
    if (w === 0) return { ok: false, reason: "NOT_VALIDATOR", signer: key };
    if (seen.has(key)) return { ok: false, reason: "DUPLICATE_SIGNER", signer: key };
    seen.add(key);
    if (!crypto.verify(s.nodeId, digest, s.signature))
      return { ok: false, reason: "BAD_SIGNATURE", signer: key };
    weight += w;
  }
  return weight >= set.quorum ? { ok: true } : { ok: false, reason: "NO_QUORUM" };
}

function isHeightView(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

/**
 * Verifies a commit certificate against the validator set in force at cert.height.
 * Genesis (height 0) must carry no signatures. `hash` is the digest hash the network uses (deps.crypto.hash).
 */
export function verifyCertificate(
  cert: CommitCertificate,
  validators: readonly ValidatorInfo[] | ValidatorSet,
  crypto: Pick<PbftCrypto, "verify" | "hash">,
): CertificateCheck {
  if (
    !cert ||
    !isHeightView(cert.height) ||
    !isHeightView(cert.view) ||
    !(cert.blockHash instanceof Uint8Array)
  ) {
    return { ok: false, reason: "MALFORMED" };
  }
  if (cert.height === 0) {
    return cert.signatures.length === 0 ? { ok: true } : { ok: false, reason: "GENESIS_NOT_EMPTY" };
  }
  const set = validators instanceof ValidatorSet ? validators : new ValidatorSet(validators);
  const digest = commitDigest((b) => crypto.hash(b), cert.height, cert.view, cert.blockHash);
  return verifyQuorumSignatures(cert.signatures, digest, set, crypto);
}

/** A prepared certificate: a quorum of Prepare signatures over (height, view, blockHash). */
export function verifyPreparedCertificate(
  cert: PreparedCertificate,
  height: number,
  set: ValidatorSet,
  crypto: Pick<PbftCrypto, "verify" | "hash">,
): CertificateCheck {
  if (
    !cert ||
    cert.height !== height ||
    !isHeightView(cert.view) ||
    !(cert.blockHash instanceof Uint8Array)
  ) {
    return { ok: false, reason: "MALFORMED" };
  }
  if (!(cert.payload instanceof Uint8Array)) return { ok: false, reason: "MALFORMED" };
  const digest = prepareDigest((b) => crypto.hash(b), cert.height, cert.view, cert.blockHash);
  return verifyQuorumSignatures(cert.prepares, digest, set, crypto);
}

export function sameHash(a: Hash | null | undefined, b: Hash | null | undefined): boolean {
  if (!a || !b) return false;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
