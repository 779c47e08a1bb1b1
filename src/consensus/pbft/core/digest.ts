/**
 * Canonical, domain-separated digests of every PBFT message, computed from its fields without the signature.
 * Signatures are over these 32-byte digests. The wire codec (../wire.ts) is transport only: any encoding that
 * yields the same fields yields the same digest.
 */
import type { Hash } from "../../../types/index.js";
import { ByteWriter, unreachable } from "./bytes.js";
import type { NewView, PbftMessage, PrePrepare, PreparedCertificate, ViewChange } from "./types.js";

export type HashFn = (bytes: Uint8Array) => Uint8Array;

export const DOMAIN = {
  prePrepare: "consort/pbft/preprepare/v1",
  prepare: "consort/pbft/prepare/v1",
  commit: "consort/pbft/commit/v1",
  viewChange: "consort/pbft/viewchange/v1",
  newView: "consort/pbft/newview/v1",
} as const;

function voteDigest(hash: HashFn, domain: string, height: number, view: number, blockHash: Hash): Uint8Array {
  return hash(new ByteWriter().ascii(domain).u64(height).u64(view).bytes(blockHash).finish());
}

/** What a Commit signs and what a CommitCertificate's signatures are over. */
export function commitDigest(hash: HashFn, height: number, view: number, blockHash: Hash): Uint8Array {
  return voteDigest(hash, DOMAIN.commit, height, view, blockHash);
}

export function prepareDigest(hash: HashFn, height: number, view: number, blockHash: Hash): Uint8Array {
  return voteDigest(hash, DOMAIN.prepare, height, view, blockHash);
}

export function prePrepareDigest(hash: HashFn, m: Omit<PrePrepare, "type" | "signature">): Uint8Array {
  const w = new ByteWriter().ascii(DOMAIN.prePrepare).u64(m.height).u64(m.view).bytes(m.blockHash);
  return hash(w.bytes(hash(m.payload)).bytes(m.sender).finish());
}

function writePrepared(hash: HashFn, w: ByteWriter, p: PreparedCertificate | null): void {
  if (p === null) {
    w.u8(0);
    return;
  }
  w.u8(1).u64(p.height).u64(p.view).bytes(p.blockHash).bytes(hash(p.payload));
}

export function viewChangeDigest(hash: HashFn, m: Omit<ViewChange, "type" | "signature">): Uint8Array {
  const w = new ByteWriter().ascii(DOMAIN.viewChange).u64(m.height).u64(m.toView);
  writePrepared(hash, w, m.prepared);
  return hash(w.bytes(m.sender).finish());
}

export function newViewDigest(hash: HashFn, m: Omit<NewView, "type" | "signature">): Uint8Array {
  const w = new ByteWriter().ascii(DOMAIN.newView).u64(m.height).u64(m.view).u64(m.viewChanges.length);
  for (const vc of m.viewChanges) w.bytes(vc.sender).bytes(vc.signature);
  return hash(w.bytes(m.sender).finish());
}

/** The digest a message's signature must be over. */
export function messageDigest(hash: HashFn, msg: PbftMessage): Uint8Array {
  switch (msg.type) {
    case "prePrepare":
      return prePrepareDigest(hash, msg);
    case "prepare":
      return prepareDigest(hash, msg.height, msg.view, msg.blockHash);
    case "commit":
      return commitDigest(hash, msg.height, msg.view, msg.blockHash);
    case "viewChange":
      return viewChangeDigest(hash, msg);
    case "newView":
      return newViewDigest(hash, msg);
    default:
      return unreachable(msg);
  }
}
