/**
 * Catch-up help: resending our own messages of the current phase, answering peers that lag one height or one
 * view behind (bounded by the `helped` set), and asking the driver to fetch blocks we miss.
 */
import type { NodeId } from "../../../types/index.js";
import { equalBytes, toHex } from "./bytes.js";
import { broadcast, type CoreState, HELPED_MAX } from "./state.js";
import type { PbftMessage } from "./types.js";

/** Re-broadcasts what this node signed in the current phase (identical bytes: receivers see duplicates). */
export function resendOwnMessages(s: CoreState): void {
  const nextPp = s.next?.prePrepare;
  if (nextPp && equalBytes(nextPp.sender, s.cfg.nodeId)) broadcast(s, nextPp);
  if (s.viewChanging) {
    const vc = s.viewChanges.forView(s.view).find((m) => equalBytes(m.sender, s.cfg.nodeId));
    if (vc) broadcast(s, vc);
    return;
  }
  const pp = s.round.prePrepare;
  if (pp && equalBytes(pp.sender, s.cfg.nodeId)) broadcast(s, pp);
  const prepare = s.round.prepares.get(s.self);
  if (prepare) broadcast(s, prepare);
  const commit = s.commits.get(s.view, s.self);
  if (commit) broadcast(s, commit);
}

/**
 * A peer one height behind: give it our Commit of that height (it may lack only that). Not in answer to its own
 * Commit of that height: with 2f + 1 of n enough to commit, the last Commits of every height arrive after most nodes
 * committed, and each one cost a direct stream per peer on every node for a Commit that gossip brings it anyway. A
 * peer that really lacks ours re-sends its Commit to no avail, then asks for a view change: that message of the old
 * height gets the help (or block sync catches it up).
 */
export function helpLaggingPeer(s: CoreState, msg: PbftMessage): void {
  const commit = s.lastCommit;
  if (!commit || msg.height !== commit.height) return;
  if (msg.type === "commit") return;
  const key = `h:${toHex(msg.sender)}`;
  if (!markHelped(s, key)) return;
  s.out.messages.push({ to: msg.sender, msg: commit });
}

/** A peer in an older view at our height: give it the NewView that moved us, and our votes of this view. */
export function helpPeerInOldView(s: CoreState, senderKey: string, sender: NodeId): void {
  if (s.viewChanging || s.newViewMsg === null || senderKey === s.self) return;
  if (!markHelped(s, `v:${senderKey}:${s.view}`)) return;
  s.out.messages.push({ to: sender, msg: s.newViewMsg });
  const pp = s.round.prePrepare;
  if (pp) s.out.messages.push({ to: sender, msg: pp });
  const prepare = s.round.prepares.get(s.self);
  if (prepare) s.out.messages.push({ to: sender, msg: prepare });
  const commit = s.commits.get(s.view, s.self);
  if (commit) s.out.messages.push({ to: sender, msg: commit });
}

function markHelped(s: CoreState, key: string): boolean {
  if (s.helped.has(key)) return false;
  if (s.helped.size >= HELPED_MAX) return false;
  s.helped.add(key);
  return true;
}

export function requestFetch(s: CoreState, peer: NodeId): void {
  const pending = s.out.fetchBlocks;
  if (pending) {
    if (pending.peers.length < 8 && !pending.peers.some((p) => equalBytes(p, peer))) pending.peers.push(peer);
    return;
  }
  if (s.now - s.lastFetchTick < s.cfg.fetchCooldownTicks) return;
  s.lastFetchTick = s.now;
  s.out.fetchBlocks = { fromHeight: s.height, peers: [peer] };
}
