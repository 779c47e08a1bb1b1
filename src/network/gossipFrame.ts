import type { NodeId } from "../types/index.js";

/**
 * The bytes gossipsub carries for one published payload:
 *
 *     seq (8 B, big-endian) | k (1 B) | k recipient tags (8 B each) | payload
 *
 * - `seq`: a per-publish sequence number. gossipsub runs without per-message signatures (StrictNoSign: PBFT
 *   messages and txs carry their own, noise authenticates the peer), so its message ID is a hash of the data; the
 *   sequence keeps a deliberate re-publish of identical bytes (PBFT's resend of its own votes) a new message
 *   instead of a duplicate that gossipsub would refuse to publish and peers would drop.
 * - recipient tags: the publisher and the members it sent the message to directly (flood publish), each as the
 *   first 8 bytes of its node ID. A relay does not forward the message to them: in a full mesh every member has it
 *   from the publisher already, so relaying would only make each member receive (decrypt, decode, hash) every
 *   message once per other member (GossipRelay). A tag left out only costs a duplicate, never a lost message.
 */
export const GOSSIP_SEQ_BYTES = 8;
export const RECIPIENT_TAG_BYTES = 8;
/** Tags per frame (publisher included); a publisher with more direct recipients names the first ones only. */
export const RECIPIENTS_MAX = 64;
/** The largest header: what a frame adds to its payload at most. */
export const GOSSIP_HEADER_BYTES_MAX = GOSSIP_SEQ_BYTES + 1 + RECIPIENTS_MAX * RECIPIENT_TAG_BYTES;

/** A member's recipient tag: the first 8 bytes of its node ID (an Ed25519 public key), as a number. */
export function recipientTag(nodeId: NodeId): bigint {
  return new DataView(nodeId.buffer, nodeId.byteOffset, RECIPIENT_TAG_BYTES).getBigUint64(0);
}

/** Frames a payload; recipients beyond RECIPIENTS_MAX are left out (relays then forward to them too). */
export function encodeGossipFrame(
  seq: bigint,
  recipients: readonly NodeId[],
  payload: Uint8Array,
): Uint8Array {
  const count = Math.min(recipients.length, RECIPIENTS_MAX);
  const headerBytes = GOSSIP_SEQ_BYTES + 1 + count * RECIPIENT_TAG_BYTES;
  const frame = new Uint8Array(headerBytes + payload.length);
  const view = new DataView(frame.buffer);
  view.setBigUint64(0, BigInt.asUintN(64, seq));
  frame[GOSSIP_SEQ_BYTES] = count;
  for (let i = 0; i < count; i++) {
    frame.set(
      (recipients[i] as NodeId).subarray(0, RECIPIENT_TAG_BYTES),
      GOSSIP_SEQ_BYTES + 1 + i * RECIPIENT_TAG_BYTES,
    );
  }
  frame.set(payload, headerBytes);
  return frame;
}

export interface GossipFrame {
  payload: Uint8Array;
  /** Tags of the members the publisher sent the message to itself (see recipientTag). */
  recipients: bigint[];
}

/** Splits a frame; a string says why it is malformed (the peer that sent it is blamed). */
export function parseGossipFrame(frame: Uint8Array): GossipFrame | string {
  if (frame.length < GOSSIP_SEQ_BYTES + 1) return "truncated";
  const count = frame[GOSSIP_SEQ_BYTES] as number;
  if (count > RECIPIENTS_MAX) return "too many recipients";
  const headerBytes = GOSSIP_SEQ_BYTES + 1 + count * RECIPIENT_TAG_BYTES;
  if (frame.length < headerBytes) return "truncated";
  const view = new DataView(frame.buffer, frame.byteOffset, headerBytes);
  const recipients: bigint[] = [];
  for (let i = 0; i < count; i++) {
    recipients.push(view.getBigUint64(GOSSIP_SEQ_BYTES + 1 + i * RECIPIENT_TAG_BYTES));
  }
  return { payload: frame.subarray(headerBytes), recipients };
}
