/**
 * The future-message buffer: messages for a later height or view wait here until the core moves there and steps
 * them again. Bounded twice, so that one member cannot evict the others' messages:
 * - per sender (the peer that delivered it, authenticated by the transport; a message's own `sender` field is not
 *   verified yet at this point): at most futurePerSenderMax, beyond which that sender's oldest message goes;
 * - in all (futureBufferMax): when full, the sender holding the most messages loses its oldest one.
 * An exact duplicate of a buffered message (a peer's periodic resend) is not buffered twice.
 */
import type { NodeId } from "../../../types/index.js";
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
  if ((s.futureBySender.get(fromKey) ?? 0) >= s.cfg.futurePerSenderMax) dropOldestOf(s, fromKey);
  else if (s.future.length >= s.cfg.futureBufferMax) dropOldestOf(s, largestSender(s));
  s.future.push({ from, fromKey, msg });
  s.futureBySender.set(fromKey, (s.futureBySender.get(fromKey) ?? 0) + 1);
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

/** The sender with the most buffered messages (the first one buffered, among equals: deterministic). */
function largestSender(s: CoreState): string {
  let best = "";
  let bestCount = -1;
  for (const [key, count] of s.futureBySender) {
    if (count > bestCount) {
      best = key;
      bestCount = count;
    }
  }
  return best;
}

function dropOldestOf(s: CoreState, fromKey: string): void {
  const i = s.future.findIndex((b) => b.fromKey === fromKey);
  if (i < 0) return;
  s.future.splice(i, 1);
  forget(s, fromKey);
  s.counters.futureDropped++;
}

function forget(s: CoreState, fromKey: string): void {
  const n = (s.futureBySender.get(fromKey) ?? 1) - 1;
  if (n > 0) s.futureBySender.set(fromKey, n);
  else s.futureBySender.delete(fromKey);
}

/** Removes and returns the buffered messages that may now apply; drops those below our height; keeps the rest. */
export function takeReplayable(s: CoreState): Buffered[] {
  const now: Buffered[] = [];
  const later: Buffered[] = [];
  for (const b of s.future) {
    if (b.msg.height < s.height) {
      forget(s, b.fromKey);
      continue;
    }
    if (
      b.msg.height === s.height &&
      (b.msg.type === "viewChange" || b.msg.type === "newView" || messageView(b.msg) <= s.view)
    ) {
      now.push(b);
      forget(s, b.fromKey);
    } else later.push(b);
  }
  s.future = later;
  return now;
}
