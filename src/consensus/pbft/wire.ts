/**
 * Wire codec of PBFT messages (protobuf, schema below). Transport only: signatures are over the canonical
 * digests of core/digest.ts, computed from the decoded fields, so any re-encoding keeps signatures valid.
 * Encoding is deterministic (fields in schema order, proto3 defaults omitted). Decoding peer bytes never
 * throws anything but a PbftError with a PBFT_WIRE_* code.
 */
import protobuf from "protobufjs";
import type { CertificateSignature } from "../../types/index.js";
import type { NewView, PbftMessage, PreparedCertificate, ViewChange } from "./core/index.js";
import { checkMessageShape } from "./core/index.js";
import { PbftError } from "./errors.js";

export const PBFT_WIRE_VERSION = 1;
export const PBFT_WIRE_BYTES_MAX = 64 * 1024 * 1024;

export const PBFT_PROTO = `
syntax = "proto3";
package consort.pbft;
message Sig { bytes nodeId = 1; bytes signature = 2; }
message PrePrepare { uint64 height = 1; uint64 view = 2; bytes blockHash = 3; bytes payload = 4; bytes sender = 5; bytes signature = 6; }
message Vote { uint64 height = 1; uint64 view = 2; bytes blockHash = 3; bytes sender = 4; bytes signature = 5; }
message Prepared { uint64 height = 1; uint64 view = 2; bytes blockHash = 3; bytes payload = 4; repeated Sig prepares = 5; }
message ViewChange { uint64 height = 1; uint64 toView = 2; Prepared prepared = 3; bytes sender = 4; bytes signature = 5; }
message NewView { uint64 height = 1; uint64 view = 2; repeated ViewChange viewChanges = 3; bytes sender = 4; bytes signature = 5; }
message Envelope {
  uint32 version = 1;
  oneof body { PrePrepare prePrepare = 2; Vote prepare = 3; Vote commit = 4; ViewChange viewChange = 5; NewView newView = 6; }
}
`;

const root = protobuf.parse(PBFT_PROTO, { keepCase: true }).root;
const Envelope = root.lookupType("consort.pbft.Envelope");

type Wire = Record<string, unknown>;

function toWireViewChange(vc: ViewChange): Wire {
  const p = vc.prepared;
  return {
    height: vc.height,
    toView: vc.toView,
    prepared: p === null ? null : { ...p, prepares: p.prepares.map((s) => ({ ...s })) },
    sender: vc.sender,
    signature: vc.signature,
  };
}

function toWire(msg: PbftMessage): Wire {
  switch (msg.type) {
    case "prePrepare": {
      const { type: _t, ...rest } = msg;
      return { prePrepare: rest };
    }
    case "prepare":
    case "commit": {
      const { type, ...rest } = msg;
      return { [type]: rest };
    }
    case "viewChange":
      return { viewChange: toWireViewChange(msg) };
    case "newView":
      return {
        newView: { ...msg, type: undefined, viewChanges: msg.viewChanges.map(toWireViewChange) },
      };
    default: {
      const never: never = msg;
      throw new PbftError("PBFT_WIRE_UNKNOWN_TYPE", "unknown PBFT message type", { type: String(never) });
    }
  }
}

/** Encodes a PBFT message (deterministic bytes). */
export function encodePbftMessage(msg: PbftMessage): Uint8Array {
  const bad = checkMessageShape(msg);
  if (bad !== null)
    throw new PbftError("PBFT_WIRE_INVALID_FIELD", `cannot encode: bad field ${bad}`, { field: bad });
  return Envelope.encode(Envelope.fromObject({ version: PBFT_WIRE_VERSION, ...toWire(msg) })).finish();
}

// ------------------------------------------------------------------ decoding

/** uint64 fields decode to a number or a Long-like { low, high } (when the "long" package is present). */
function num(v: unknown, field: string): number {
  let n = Number.NaN;
  if (typeof v === "number") n = v;
  else if (typeof v === "object" && v !== null && "low" in v && "high" in v) {
    const high = (v.high as number) >>> 0;
    if (high < 0x20_0000) n = high * 0x1_0000_0000 + ((v.low as number) >>> 0);
  }
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new PbftError("PBFT_WIRE_INVALID_FIELD", `${field} is not a safe integer`, { field });
  }
  return n;
}

function bytes(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? new Uint8Array(v) : new Uint8Array(0);
}

function fromWireSig(s: Wire): CertificateSignature {
  return { nodeId: bytes(s.nodeId), signature: bytes(s.signature) };
}

function fromWirePrepared(p: Wire | null | undefined): PreparedCertificate | null {
  if (p === null || p === undefined) return null;
  return {
    height: num(p.height, "prepared.height"),
    view: num(p.view, "prepared.view"),
    blockHash: bytes(p.blockHash),
    payload: bytes(p.payload),
    prepares: ((p.prepares as Wire[] | undefined) ?? []).map(fromWireSig),
  };
}

function fromWireViewChange(w: Wire): ViewChange {
  return {
    type: "viewChange",
    height: num(w.height, "height"),
    toView: num(w.toView, "toView"),
    prepared: fromWirePrepared(w.prepared as Wire | null),
    sender: bytes(w.sender),
    signature: bytes(w.signature),
  };
}

function fromWireVote(type: "prepare" | "commit", w: Wire): PbftMessage {
  return {
    type,
    height: num(w.height, "height"),
    view: num(w.view, "view"),
    blockHash: bytes(w.blockHash),
    sender: bytes(w.sender),
    signature: bytes(w.signature),
  };
}

function fromWireNewView(w: Wire): NewView {
  return {
    type: "newView",
    height: num(w.height, "height"),
    view: num(w.view, "view"),
    viewChanges: ((w.viewChanges as Wire[] | undefined) ?? []).map(fromWireViewChange),
    sender: bytes(w.sender),
    signature: bytes(w.signature),
  };
}

function fromWire(env: Wire): PbftMessage {
  switch (env.body) {
    case "prePrepare": {
      const w = env.prePrepare as Wire;
      return {
        type: "prePrepare",
        height: num(w.height, "height"),
        view: num(w.view, "view"),
        blockHash: bytes(w.blockHash),
        payload: bytes(w.payload),
        sender: bytes(w.sender),
        signature: bytes(w.signature),
      };
    }
    case "prepare":
    case "commit":
      return fromWireVote(env.body, env[env.body] as Wire);
    case "viewChange":
      return fromWireViewChange(env.viewChange as Wire);
    case "newView":
      return fromWireNewView(env.newView as Wire);
    default:
      throw new PbftError("PBFT_WIRE_UNKNOWN_TYPE", "no or unknown PBFT message body", {
        body: String(env.body),
      });
  }
}

/** Decodes peer bytes into a well-formed PbftMessage (signatures NOT checked: the core does that). */
export function decodePbftMessage(data: Uint8Array, maxBytes = PBFT_WIRE_BYTES_MAX): PbftMessage {
  if (!(data instanceof Uint8Array)) throw new PbftError("PBFT_WIRE_DECODE", "not bytes");
  if (data.length > maxBytes) {
    throw new PbftError("PBFT_WIRE_TOO_LARGE", "PBFT message too large", {
      sizeBytes: data.length,
      maxBytes,
    });
  }
  let env: Wire;
  try {
    env = Envelope.decode(data) as unknown as Wire;
  } catch (err) {
    throw new PbftError("PBFT_WIRE_DECODE", "malformed PBFT message", {}, { cause: err });
  }
  if (env.version !== PBFT_WIRE_VERSION) {
    throw new PbftError("PBFT_WIRE_VERSION", "unsupported PBFT wire version", { version: env.version });
  }
  const msg = fromWire(env);
  const bad = checkMessageShape(msg);
  if (bad !== null) throw new PbftError("PBFT_WIRE_INVALID_FIELD", `bad field ${bad}`, { field: bad });
  return msg;
}
