/**
 * The future-message buffer: messages for a later height or view wait here (bounded, oldest dropped first)
 * until the core moves there and steps them again.
 */
import type { NodeId } from "../../../types/index.js";
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
  if (s.future.length >= s.cfg.futureBufferMax) {
    s.future.shift();
    s.counters.futureDropped++;
  }
  s.future.push({ from, msg });
}

/** Removes and returns the buffered messages that may now apply; drops those below our height; keeps the rest. */
export function takeReplayable(s: CoreState): Buffered[] {
  const now: Buffered[] = [];
  const later: Buffered[] = [];
  for (const b of s.future) {
    if (b.msg.height < s.height) continue;
    if (
      b.msg.height === s.height &&
      (b.msg.type === "viewChange" || b.msg.type === "newView" || messageView(b.msg) <= s.view)
    )
      now.push(b);
    else later.push(b);
  }
  s.future = later;
  return now;
}
