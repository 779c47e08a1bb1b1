import type { Connection, PeerId } from "@libp2p/interface";

/**
 * Workaround for a race in @libp2p/gossipsub 17.1 (see libp2p/js-libp2p#3531 and ChainSafe/js-libp2p-gossipsub#534):
 * when a peer disconnects while gossipsub is still opening its outbound stream, the closed stream stays in
 * `streamsOutbound`, and on reconnection `createOutboundStream` short-circuits on it: we never send that peer our
 * subscriptions or messages again. Seen in tests with a node restarting right after reconnecting.
 *
 * This touches gossipsub internals; every access is guarded so that a gossipsub without them turns this into a
 * no-op. Called from the transport's periodic tick.
 *
 * Pinned: package.json names @libp2p/gossipsub 17.1.1 exactly (no ^) while this file exists, so that an upgrade
 * is a deliberate step (re-read the internals above against the new release, or drop this file if it fixes the
 * race). 17.1.1 already drops an outbound stream from `streamsOutbound` on its 'close' event (js-libp2p#3531), but
 * a stream closed before that listener is attached, and a peer left with no outbound stream, remain.
 */
interface GossipsubInternals {
  streamsOutbound: Map<string, { rawStream?: { status?: string } }>;
  peers: Map<string, unknown>;
  createOutboundStream(peerId: PeerId, connection: Connection): Promise<void>;
}

function internals(pubsub: unknown): GossipsubInternals | null {
  const ps = pubsub as Partial<GossipsubInternals> | null;
  if (ps === null || typeof ps !== "object") return null;
  if (!(ps.streamsOutbound instanceof Map) || !(ps.peers instanceof Map)) return null;
  if (typeof ps.createOutboundStream !== "function") return null;
  return ps as GossipsubInternals;
}

export class GossipStreamRepair {
  /** Peers seen without an outbound stream at the previous tick (repaired if still so: not a transient). */
  private missingLastTick = new Set<string>();
  repaired = 0;

  /**
   * `admitted` maps peer ID strings to an open connection of peers we consider connected.
   * Returns how many streams it re-opened this time.
   */
  tick(pubsub: unknown, admitted: Map<string, { peerId: PeerId; connection: Connection }>): number {
    const ps = internals(pubsub);
    if (ps === null) return 0;
    let count = 0;
    for (const [id, stream] of [...ps.streamsOutbound]) {
      const status = stream.rawStream?.status;
      if (status === undefined || status === "open") continue;
      ps.streamsOutbound.delete(id);
      const peer = admitted.get(id);
      if (peer !== undefined && ps.peers.has(id)) {
        void ps.createOutboundStream(peer.peerId, peer.connection).catch(() => undefined);
        count++;
      }
    }
    const missing = new Set<string>();
    for (const [id, peer] of admitted) {
      if (!ps.peers.has(id) || ps.streamsOutbound.has(id)) continue;
      if (this.missingLastTick.has(id)) {
        void ps.createOutboundStream(peer.peerId, peer.connection).catch(() => undefined);
        count++;
      } else {
        missing.add(id);
      }
    }
    this.missingLastTick = missing;
    this.repaired += count;
    return count;
  }
}
