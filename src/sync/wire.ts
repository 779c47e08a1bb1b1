import protobuf from "protobufjs";
import { ConsortError } from "../util/errors.js";

export type SyncErrorCode = "SYNC_MALFORMED" | "SYNC_BAD_BLOCK" | "SYNC_BAD_CERTIFICATE";

export class SyncError extends ConsortError<SyncErrorCode> {}

/** Wire messages of block sync ("blocks" protocol) and transaction gossip ("txs" topic). */
const PROTO = `
syntax = "proto3";
message SyncRequest {
  uint32 kind = 1;        // 0 = head, 1 = blocks
  uint64 fromHeight = 2;
  uint32 countMax = 3;
}
message SyncResponse {
  uint64 headHeight = 1;
  bytes headHash = 2;
  repeated bytes blocks = 3;  // encodeBlock bytes, with certificates, consecutive from fromHeight
}
message TxBatch {
  repeated bytes txs = 1;
}
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const SyncRequestPb = root.lookupType("SyncRequest");
const SyncResponsePb = root.lookupType("SyncResponse");
const TxBatchPb = root.lookupType("TxBatch");

export const SYNC_BLOCKS_PER_RESPONSE_MAX = 64;
export const TX_BATCH_TXS_MAX = 2048;

export interface SyncRequest {
  kind: "head" | "blocks";
  fromHeight: number;
  countMax: number;
}

export interface SyncResponse {
  headHeight: number;
  headHash: Uint8Array;
  blocks: Uint8Array[];
}

function decodeWith<T>(type: protobuf.Type, bytes: Uint8Array, what: string): T {
  try {
    const msg = type.decode(bytes);
    return type.toObject(msg, { longs: Number, bytes: Uint8Array, defaults: true, arrays: true }) as T;
  } catch (err) {
    throw new SyncError("SYNC_MALFORMED", `malformed ${what}: ${(err as Error).message}`);
  }
}

export function encodeSyncRequest(r: SyncRequest): Uint8Array {
  return SyncRequestPb.encode({
    kind: r.kind === "head" ? 0 : 1,
    fromHeight: r.fromHeight,
    countMax: r.countMax,
  }).finish();
}

export function decodeSyncRequest(bytes: Uint8Array): SyncRequest {
  const m = decodeWith<{ kind: number; fromHeight: number; countMax: number }>(
    SyncRequestPb,
    bytes,
    "sync request",
  );
  if (m.kind !== 0 && m.kind !== 1)
    throw new SyncError("SYNC_MALFORMED", `unknown sync request kind ${m.kind}`);
  if (!Number.isSafeInteger(m.fromHeight)) throw new SyncError("SYNC_MALFORMED", "fromHeight out of range");
  return {
    kind: m.kind === 0 ? "head" : "blocks",
    fromHeight: m.fromHeight,
    countMax: Math.min(m.countMax, SYNC_BLOCKS_PER_RESPONSE_MAX),
  };
}

export function encodeSyncResponse(r: SyncResponse): Uint8Array {
  return SyncResponsePb.encode(r).finish();
}

export function decodeSyncResponse(bytes: Uint8Array): SyncResponse {
  const m = decodeWith<SyncResponse>(SyncResponsePb, bytes, "sync response");
  if (!Number.isSafeInteger(m.headHeight) || m.blocks.length > SYNC_BLOCKS_PER_RESPONSE_MAX) {
    throw new SyncError("SYNC_MALFORMED", "sync response out of bounds");
  }
  return m;
}

export function encodeTxBatch(txs: Uint8Array[]): Uint8Array {
  return TxBatchPb.encode({ txs }).finish();
}

export function decodeTxBatch(bytes: Uint8Array): Uint8Array[] {
  const m = decodeWith<{ txs: Uint8Array[] }>(TxBatchPb, bytes, "tx batch");
  if (m.txs.length > TX_BATCH_TXS_MAX)
    throw new SyncError("SYNC_MALFORMED", `tx batch of ${m.txs.length} txs exceeds ${TX_BATCH_TXS_MAX}`);
  return m.txs;
}
