/**
 * The future-message buffer: messages for a later height or view wait here until the core moves there and steps
 * them again. Bounded twice, so that one member cannot evict the others' messages:
 * - per sender (the peer that delivered it, authenticated by the transport; a message's own `sender` field is not
 *   verified yet at this point): at most futurePerSenderMax messages and futurePerSenderBytesMax bytes, beyond
 *   which that sender's oldest messages go;
 * - in all (futureBufferMax, futureBufferBytesMax): when full, the sender holding the most messages (bytes) loses
 *   its oldest ones.
 * An exact duplicate of a buffered message (a peer's periodic resend) is not buffered twice.
 */
import type { NodeId } from "../../../types/index.js";
import { assert } from "../../../util/errors.js";
import { equalBytes, toHex } from "./bytes.js";
import { requestFetch } from "./catchUp.js";
import { type Buffered, type CoreState, messageView, reject } from "./state.js";
import type { PbftMessage } from "./types.js";

export function bufferFutureHeight(s: CoreState, from: NodeId, msg: PbftMessage): void {
  if (s.validators.weightOf(msg.sender) > 0 || s.validators.weightOf(from) > 0) requestFetch(s, from);
  if (msg.height > s.height + s.cfg.futureHeightWindow) {
    reject(s, "FUTURE_HEIGHT_TOO_FAR", msg);
    return;
  }
  pushFuture(s, from, msg);
  reject(s, "FUTURE_HEIGHT_BUFFERED", msg);
}

export function bufferFutureView(s: CoreState, from: NodeId, msg: PbftMessage): void {
  pushFuture(s, from, msg);
  reject(s, "FUTURE_VIEW_BUFFERED", msg);
}

function pushFuture(s: CoreState, from: NodeId, msg: PbftMessage): void {
  const fromKey = toHex(from);
  if (isBuffered(s, fromKey, msg)) return;
  const bytes = messageBytes(msg);
  if (bytes > s.cfg.futurePerSenderBytesMax || bytes > s.cfg.futureBufferBytesMax) {
    s.counters.futureDropped++;
    return;
  }
  if ((s.futureBySender.get(fromKey) ?? 0) >= s.cfg.futurePerSenderMax) dropOldestOf(s, fromKey);
  else if (s.future.length >= s.cfg.futureBufferMax) dropOldestOf(s, largestSender(s.futureBySender));
  // Each pass drops one message (a sender with bytes holds messages, and `bytes` alone fits both bounds): they end.
  while ((s.futureBytesBySender.get(fromKey) ?? 0) + bytes > s.cfg.futurePerSenderBytesMax) {
    dropOldestOf(s, fromKey);
  }
  while (s.futureBytes + bytes > s.cfg.futureBufferBytesMax)
    dropOldestOf(s, largestSender(s.futureBytesBySender));
  s.future.push({ from, fromKey, msg, bytes });
  s.futureBySender.set(fromKey, (s.futureBySender.get(fromKey) ?? 0) + 1);
  s.futureBytesBySender.set(fromKey, (s.futureBytesBySender.get(fromKey) ?? 0) + bytes);
  s.futureBytes += bytes;
}

/**
 * What a buffered message holds, roughly: its block payloads (a PrePrepare's, a ViewChange's prepared
 * certificate's, each of a NewView's ViewChanges') and a fixed amount for the rest.
 */
export function messageBytes(msg: PbftMessage): number {
  const BASE = 256;
  switch (msg.type) {
    case "prePrepare":
      return BASE + msg.payload.length;
    case "viewChange":
      return (
        BASE + (msg.prepared === null ? 0 : msg.prepared.payload.length + msg.prepared.prepares.length * 128)
      );
    case "newView":
      return msg.viewChanges.reduce((n, vc) => n + messageBytes(vc), BASE);
    default:
      return BASE;
  }
}

function isBuffered(s: CoreState, fromKey: string, msg: PbftMessage): boolean {
  return s.future.some(
    (b) =>
      b.fromKey === fromKey &&
      b.msg.type === msg.type &&
      b.msg.height === msg.height &&
      messageView(b.msg) === messageView(msg) &&
      equalBytes(b.msg.signature, msg.signature),
  );
}

/** The sender with the most buffered messages or bytes (the first one buffered, among equals: deterministic). */
function largestSender(amounts: Map<string, number>): string {
  let best = "";
  let bestCount = -1;
  for (const [key, count] of amounts) {
    if (count > bestCount) {
      best = key;
      bestCount = count;
    }
  }
  return best;
}

function dropOldestOf(s: CoreState, fromKey: string): void {
  const i = s.future.findIndex((b) => b.fromKey === fromKey);
  assert(i >= 0, "future buffer: a sender counted as holding messages holds none");
  const [b] = s.future.splice(i, 1);
  forget(s, b!);
  s.counters.futureDropped++;
}

function forget(s: CoreState, b: Buffered): void {
  const n = (s.futureBySender.get(b.fromKey) ?? 1) - 1;
  if (n > 0) s.futureBySender.set(b.fromKey, n);
  else s.futureBySender.delete(b.fromKey);
  const bytes = (s.futureBytesBySender.get(b.fromKey) ?? 0) - b.bytes;
  if (n > 0) s.futureBytesBySender.set(b.fromKey, bytes);
  else s.futureBytesBySender.delete(b.fromKey);
  s.futureBytes -= b.bytes;
}

/** Removes and returns the buffered messages that may now apply; drops those below our height; keeps the rest. */
export function takeReplayable(s: CoreState): Buffered[] {
  const now: Buffered[] = [];
  const later: Buffered[] = [];
  for (const b of s.future) {
    if (b.msg.height < s.height) {
      forget(s, b);
      continue;
    }
    if (
      b.msg.height === s.height &&
      (b.msg.type === "viewChange" || b.msg.type === "newView" || messageView(b.msg) <= s.view)
    ) {
      now.push(b);
      forget(s, b);
    } else later.push(b);
  }
  s.future = later;
  return now;
}
