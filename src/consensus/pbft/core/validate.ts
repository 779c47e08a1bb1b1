/**
 * Structural checks of peer messages before any other work: never throw, never index undefined.
 * The wire codec produces well-typed objects, but the core does not trust its caller with peer data.
 */
import type { PbftMessage, PreparedCertificate, ViewChange } from "./types.js";

export const HASH_BYTES_MAX = 64;
export const SIGNATURE_BYTES_MAX = 128;
export const NODE_ID_BYTES_MAX = 64;
export const VIEW_CHANGES_MAX = 1024;

function isCount(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

function isBytes(b: unknown, max: number): b is Uint8Array {
  return b instanceof Uint8Array && b.length > 0 && b.length <= max;
}

function checkSigned(m: { sender?: unknown; signature?: unknown; height?: unknown }): string | null {
  if (!isCount(m.height)) return "height";
  if (!isBytes(m.sender, NODE_ID_BYTES_MAX)) return "sender";
  if (!isBytes(m.signature, SIGNATURE_BYTES_MAX)) return "signature";
  return null;
}

function checkPrepared(p: PreparedCertificate | null): string | null {
  if (p === null) return null;
  if (typeof p !== "object" || !isCount(p.height) || !isCount(p.view)) return "prepared";
  if (!isBytes(p.blockHash, HASH_BYTES_MAX) || !(p.payload instanceof Uint8Array)) return "prepared";
  if (!Array.isArray(p.prepares) || p.prepares.length > VIEW_CHANGES_MAX) return "prepared.prepares";
  for (const s of p.prepares) {
    if (!s || !isBytes(s.nodeId, NODE_ID_BYTES_MAX) || !isBytes(s.signature, SIGNATURE_BYTES_MAX)) {
      return "prepared.prepares";
    }
  }
  return null;
}

function checkViewChange(m: ViewChange): string | null {
  if (!isCount(m.toView)) return "toView";
  return checkPrepared(m.prepared ?? null);
}

/** null when the message is well-formed, else the name of the first bad field. */
export function checkMessageShape(msg: PbftMessage): string | null {
  if (!msg || typeof msg !== "object") return "message";
  const bad = checkSigned(msg);
  if (bad !== null) return bad;
  switch (msg.type) {
    case "prePrepare":
      if (!(msg.payload instanceof Uint8Array)) return "payload";
      return isCount(msg.view) && isBytes(msg.blockHash, HASH_BYTES_MAX) ? null : "view/blockHash";
    case "prepare":
    case "commit":
      return isCount(msg.view) && isBytes(msg.blockHash, HASH_BYTES_MAX) ? null : "view/blockHash";
    case "viewChange":
      if (msg.prepared === undefined) return "prepared";
      return checkViewChange(msg);
    case "newView": {
      if (!isCount(msg.view) || !Array.isArray(msg.viewChanges)) return "view/viewChanges";
      if (msg.viewChanges.length > VIEW_CHANGES_MAX) return "viewChanges";
      for (const vc of msg.viewChanges) {
        if (vc?.type !== "viewChange") return "viewChanges";
        const inner = checkSigned(vc) ?? checkViewChange(vc);
        if (inner !== null) return `viewChanges.${inner}`;
      }
      return null;
    }
    default: {
      const unknown: never = msg;
      return unknown === undefined ? "type" : "type";
    }
  }
}
