import protobuf from "protobufjs";
import { ConsortError } from "../util/errors.js";

export type SyncErrorCode =
  | "SYNC_MALFORMED"
  | "SYNC_OVERSIZE"
  | "SYNC_BAD_BLOCK"
  | "SYNC_BAD_CERTIFICATE"
  | "SYNC_INVALID_OPTIONS";

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
  bytes genesisHash = 4;      // the server's block 0: a peer on another chain is told apart from a bad one
}
message TxBatch {
  repeated bytes txs = 1;
}
message TxFetchRequest {
  repeated bytes hashes = 1;  // 32 bytes each; the response is a TxBatch of the raw txs found, in request order
}
`;

const root = protobuf.parse(PROTO, { keepCase: true }).root;
const SyncRequestPb = root.lookupType("SyncRequest");
const SyncResponsePb = root.lookupType("SyncResponse");
const TxBatchPb = root.lookupType("TxBatch");
const TxFetchRequestPb = root.lookupType("TxFetchRequest");

export const SYNC_BLOCKS_PER_RESPONSE_MAX = 64;
/**
 * Points for a peer whose answer on a sync protocol is invalid (a bad block, a malformed response, txs not asked
 * for, a head it does not serve): two in a row ban it (see network penalties).
 */
export const BAD_RESPONSE_PENALTY = 50;
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
  /** The server's genesis block hash (empty from a node that does not send it). */
  genesisHash: Uint8Array;
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

/** Hashes per "txs" request: 32 B each, well under the transport's 1 MiB request bound. */
export const TX_FETCH_HASHES_MAX = 16_384;

export function encodeTxFetchRequest(hashes: Uint8Array[]): Uint8Array {
  return TxFetchRequestPb.encode({ hashes }).finish();
}

export function decodeTxFetchRequest(bytes: Uint8Array): Uint8Array[] {
  const m = decodeWith<{ hashes: Uint8Array[] }>(TxFetchRequestPb, bytes, "tx fetch request");
  if (m.hashes.length > TX_FETCH_HASHES_MAX)
    throw new SyncError(
      "SYNC_MALFORMED",
      `tx fetch request of ${m.hashes.length} hashes exceeds ${TX_FETCH_HASHES_MAX}`,
    );
  if (m.hashes.some((h) => h.length !== 32)) throw new SyncError("SYNC_MALFORMED", "tx hash is not 32 bytes");
  return m.hashes;
}

/** The response to a "txs" request: a TxBatch of at most as many txs as were asked for. */
export function decodeTxFetchResponse(bytes: Uint8Array, askedCount: number): Uint8Array[] {
  const m = decodeWith<{ txs: Uint8Array[] }>(TxBatchPb, bytes, "tx fetch response");
  if (m.txs.length > askedCount)
    throw new SyncError("SYNC_MALFORMED", `tx fetch response of ${m.txs.length} txs for ${askedCount} asked`);
  return m.txs;
}
