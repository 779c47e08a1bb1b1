/** Signing our own messages (the digest of each type, from the state's height and view) and checking others'. */
import type { Hash } from "../../../types/index.js";
import { assert } from "../../../util/errors.js";
import { equalBytes } from "./bytes.js";
import { commitDigest, messageDigest, prePrepareDigest, prepareDigest, viewChangeDigest } from "./digest.js";
import type { CoreState } from "./state.js";
import type { Commit, PbftMessage, PrePrepare, Prepare, ViewChange } from "./types.js";

export function verifySignature(s: CoreState, msg: PbftMessage): boolean {
  return s.deps.crypto.verify(msg.sender, messageDigest(s.hash, msg), msg.signature);
}

export function sign(s: CoreState, digest: Uint8Array): Uint8Array {
  return s.deps.crypto.sign(digest);
}

export function signPrePrepare(s: CoreState, blockHash: Hash, payload: Uint8Array): PrePrepare {
  assert(s.votes.prePrepare === null || equalBytes(s.votes.prePrepare, blockHash), "one proposal per view");
  s.votes.prePrepare = blockHash;
  s.dirty = true;
  const fields = { height: s.height, view: s.view, blockHash, payload, sender: s.cfg.nodeId };
  return { type: "prePrepare", ...fields, signature: sign(s, prePrepareDigest(s.hash, fields)) };
}

/** Pipelining: the leader's PrePrepare for (height + 1, view 0); the caller records it in `nextVote` first. */
export function signNextPrePrepare(s: CoreState, blockHash: Hash, payload: Uint8Array): PrePrepare {
  assert(s.nextVote === null || equalBytes(s.nextVote, blockHash), "one proposal per view");
  const fields = { height: s.height + 1, view: 0, blockHash, payload, sender: s.cfg.nodeId };
  return { type: "prePrepare", ...fields, signature: sign(s, prePrepareDigest(s.hash, fields)) };
}

export function signVote(s: CoreState, type: "prepare" | "commit", blockHash: Hash): Prepare | Commit {
  const digest =
    type === "prepare"
      ? prepareDigest(s.hash, s.height, s.view, blockHash)
      : commitDigest(s.hash, s.height, s.view, blockHash);
  const fields = { height: s.height, view: s.view, blockHash, sender: s.cfg.nodeId };
  return { type, ...fields, signature: sign(s, digest) };
}

export function signViewChange(s: CoreState, toView: number): ViewChange {
  const fields = { height: s.height, toView, prepared: s.prepared, sender: s.cfg.nodeId };
  return { type: "viewChange", ...fields, signature: sign(s, viewChangeDigest(s.hash, fields)) };
}
