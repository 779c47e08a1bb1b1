import type { Connection, ConnectionGater, PeerId } from "@libp2p/interface";
import type { NodeId } from "../types/index.js";
import { errorMessage } from "../util/errors.js";
import { bytesToHex } from "../util/hex.js";
import type { PeerChangeHandler } from "./interface.js";
import { nodeIdToPeerId, peerIdStringToNodeId } from "./peerId.js";
import { PeerPenalties } from "./penalties.js";
import type { TransportContext } from "./transportContext.js";

/** A refused peer is logged at info at most once per this period (debug otherwise). */
const REFUSAL_LOG_PERIOD_MS = 60_000;
const REFUSAL_LOG_ENTRIES_MAX = 1024;
const PENALTY_ENTRIES_MAX = 1024;
/** A member seen connecting from two processes is logged at most once per this period (per member). */
const TWIN_LOG_PERIOD_MS = 10 * 60_000;

/**
 * Who may talk to us: the consortium member list, penalties and bans, the connection gate that enforces them, and
 * the set of admitted peers (with the "peer connected" / "peer disconnected" events).
 */
export class PeerAdmission {
  /** peerId string → node ID of every node in the consortium list (never ourselves). */
  private allowed = new Map<string, NodeId>();
  /**
   * peerId string → IDs of its open connections that are known admitted on both sides. A dial can resolve
   * before the remote's gate closes it, so a connection counts only once identify ran over it (the remote
   * served a stream) or it stayed open for ADMISSION_SETTLE_MS.
   */
  private readonly admitted = new Map<string, Set<string>>();
  private readonly penalties: PeerPenalties;
  private readonly peerChangeHandlers = new Set<PeerChangeHandler>();
  private readonly refusalLoggedAt = new Map<string, number>();
  /**
   * connection ID → the listen addresses its remote announced in identify (sorted), for the open admitted
   * connections. One process announces the same set on each of its connections (two may exist: dials crossing);
   * two sets at once for one peer ID are two processes holding one member's key.
   */
  private readonly announced = new Map<string, string>();
  private readonly twinLoggedAt = new Map<string, number>();

  constructor(
    private readonly ctx: TransportContext,
    private readonly localNodeId: NodeId,
    /** Called when a peer gets its first admitted connection, before "peer connected" is emitted. */
    private readonly onFirstAdmitted: (key: string) => void,
  ) {
    this.penalties = new PeerPenalties({
      threshold: ctx.opts.penaltyThreshold,
      halfLifeMs: ctx.opts.penaltyHalfLifeMs,
      banDurationMs: ctx.opts.banDurationMs,
      entriesMax: PENALTY_ENTRIES_MAX,
    });
  }

  /** The member's node ID for a peerId string, or undefined if it is not in the consortium list. */
  member(key: string): NodeId | undefined {
    return this.allowed.get(key);
  }

  isAllowed(key: string): boolean {
    return this.allowed.has(key);
  }

  isAdmitted(key: string): boolean {
    return this.admitted.has(key);
  }

  isBanned(key: string): boolean {
    return this.penalties.isBanned(key);
  }

  /** Peers under a ban now (expired bans leave at this call). */
  bannedCount(): number {
    return this.penalties.bannedCount();
  }

  penaltyPoints(key: string): number {
    return this.penalties.points(key);
  }

  /** Replaces the member list (invalid IDs and ourselves skipped); returns the peerId strings added and removed. */
  setAllowed(nodeIds: NodeId[]): { added: string[]; removed: string[] } {
    const next = new Map<string, NodeId>();
    const self = nodeIdToPeerId(this.localNodeId).toString();
    for (const nodeId of nodeIds) {
      let key: string;
      try {
        key = nodeIdToPeerId(nodeId).toString();
      } catch {
        this.ctx.log.warn({ length: nodeId.length }, "allowed node list: skipped an invalid node ID");
        continue;
      }
      if (key !== self) next.set(key, new Uint8Array(nodeId));
    }
    const removed = [...this.allowed.keys()].filter((key) => !next.has(key));
    const added = [...next.keys()].filter((key) => !this.allowed.has(key));
    this.allowed = next;
    if (added.length > 0 || removed.length > 0) {
      this.ctx.log.info(
        { allowed: next.size, added: added.length, removed: removed.length },
        "allowed nodes updated",
      );
    }
    return { added, removed };
  }

  /** Hangs up on peers that were removed from the member list. */
  disconnectRemoved(removed: string[]): void {
    const node = this.ctx.node();
    if (node === null) return;
    for (const key of removed) {
      const conns = node.getConnections().filter((c) => c.remotePeer.toString() === key);
      if (conns.length === 0) continue;
      this.ctx.log.info({ peer: key }, "peer removed from the allowed list: disconnecting");
      void node.hangUp(conns[0]!.remotePeer).catch(() => undefined);
    }
  }

  penalize(nodeId: NodeId, reason: string, points: number): void {
    let peerId: PeerId;
    try {
      peerId = nodeIdToPeerId(nodeId);
    } catch {
      return;
    }
    const key = peerId.toString();
    if (!this.allowed.has(key)) return; // not a member: refused at the gate anyway
    const result = this.penalties.add(key, points);
    this.ctx.log.debug(
      { nodeId: bytesToHex(nodeId), reason, points, total: result.points },
      "peer penalized",
    );
    if (!result.banned) return;
    this.ctx.counters.bans++;
    this.ctx.log.warn(
      { nodeId: bytesToHex(nodeId), peer: key, reason, banMs: this.ctx.opts.banDurationMs },
      "peer banned: disconnecting",
    );
    const node = this.ctx.node();
    if (node !== null) void node.hangUp(peerId).catch(() => undefined);
  }

  gater(): ConnectionGater {
    return {
      denyDialPeer: (peerId) => this.refuse(peerId, "dial"),
      denyInboundEncryptedConnection: (peerId) => this.refuse(peerId, "inbound"),
      denyOutboundEncryptedConnection: (peerId) => this.refuse(peerId, "outbound"),
    };
  }

  /** The admission rule: members only, and not banned. */
  private refuse(peerId: PeerId, direction: "inbound" | "outbound" | "dial"): boolean {
    const key = peerId.toString();
    const reason = !this.allowed.has(key) ? "not-allowed" : this.penalties.isBanned(key) ? "banned" : null;
    if (reason === null) return false;
    const counters = this.ctx.counters;
    if (direction === "inbound") counters.refusedInbound++;
    else if (direction === "outbound") counters.refusedOutbound++;
    else counters.refusedDials++;
    const now = Date.now();
    const logKey = `${key}/${reason}`;
    const last = this.refusalLoggedAt.get(logKey);
    const fields = { peer: key, direction, reason };
    if (direction !== "dial" && (last === undefined || now - last >= REFUSAL_LOG_PERIOD_MS)) {
      this.refusalLoggedAt.delete(logKey);
      this.refusalLoggedAt.set(logKey, now);
      if (this.refusalLoggedAt.size > REFUSAL_LOG_ENTRIES_MAX) {
        const oldest = this.refusalLoggedAt.keys().next().value;
        if (oldest !== undefined) this.refusalLoggedAt.delete(oldest);
      }
      this.ctx.log.info(fields, "peer refused");
    } else {
      this.ctx.log.debug(fields, "peer refused");
    }
    return true;
  }

  connectedPeers(): NodeId[] {
    const out: NodeId[] = [];
    for (const key of this.admitted.keys()) {
      const nodeId = this.allowed.get(key);
      if (nodeId !== undefined) out.push(nodeId);
    }
    return out;
  }

  onPeerChange(handler: PeerChangeHandler): () => void {
    this.peerChangeHandlers.add(handler);
    return () => {
      this.peerChangeHandlers.delete(handler);
    };
  }

  /**
   * Counts a connection as admitted (identify ran over it, or it settled); first one → "peer connected".
   * `listenAddrs`: what the remote announced in identify over this connection.
   */
  admit(
    conn: Connection,
    via: "identify" | "settled",
    listenAddrs?: readonly { toString(): string }[],
  ): void {
    // Not `ctx.node()`: peers connect while node.start() is still running.
    if (conn.status !== "open") return;
    const key = conn.remotePeer.toString();
    const nodeId = this.allowed.get(key);
    if (nodeId === undefined || this.penalties.isBanned(key)) return;
    let ids = this.admitted.get(key);
    if (ids === undefined) {
      ids = new Set();
      this.admitted.set(key, ids);
    }
    if (listenAddrs !== undefined) this.checkOneProcess(key, nodeId, conn.id, ids, listenAddrs);
    if (ids.has(conn.id)) return;
    ids.add(conn.id);
    if (ids.size > 1) return;
    this.onFirstAdmitted(key);
    this.ctx.log.info(
      { nodeId: bytesToHex(nodeId), peer: key, direction: conn.direction, via },
      "peer connected",
    );
    this.emitPeerChange(nodeId, true);
  }

  /**
   * Records what a connection's remote announced and compares it with the peer's other open connections: a member
   * whose key runs in two processes (a copied node folder, a standby started beside the primary) connects twice
   * with different listen addresses. Each twin signs as the member; a validator's pair can sign two blocks at
   * one height. The node that notices cannot stop it: it tells the operator, whose consortium can.
   */
  private checkOneProcess(
    key: string,
    nodeId: NodeId,
    connId: string,
    connIds: ReadonlySet<string>,
    listenAddrs: readonly { toString(): string }[],
  ): void {
    const addresses = listenAddrs.map(String).sort().join(" ");
    this.announced.set(connId, addresses);
    for (const other of connIds) {
      const otherAddresses = this.announced.get(other);
      if (other === connId || otherAddresses === undefined || otherAddresses === addresses) continue;
      this.ctx.counters.peerKeyConflicts++;
      const now = Date.now();
      if (now - (this.twinLoggedAt.get(key) ?? Number.NEGATIVE_INFINITY) < TWIN_LOG_PERIOD_MS) return;
      if (this.twinLoggedAt.size >= REFUSAL_LOG_ENTRIES_MAX) this.twinLoggedAt.clear();
      this.twinLoggedAt.set(key, now);
      this.ctx.log.warn(
        { nodeId: bytesToHex(nodeId), peer: key, listening: [otherAddresses, addresses] },
        "one member's key connects from two processes at once (listening at both addresses): two nodes run with " +
          "that node's key; a validator's two can sign different blocks at one height. Its operator must stop one",
      );
      return;
    }
  }

  onConnectionClose(conn: Connection): void {
    this.announced.delete(conn.id);
    const key = conn.remotePeer.toString();
    const ids = this.admitted.get(key);
    if (ids === undefined || !ids.delete(conn.id) || ids.size > 0) return;
    this.dropAdmitted(key);
  }

  /** On stop: every admitted peer is "disconnected". */
  dropAll(): void {
    for (const key of [...this.admitted.keys()]) this.dropAdmitted(key);
  }

  /** The peer lost its last admitted connection (or we stopped): "peer disconnected". */
  private dropAdmitted(key: string): void {
    if (!this.admitted.delete(key)) return;
    let nodeId: NodeId;
    try {
      nodeId = this.allowed.get(key) ?? peerIdStringToNodeId(key);
    } catch {
      return;
    }
    this.ctx.log.info({ nodeId: bytesToHex(nodeId), peer: key }, "peer disconnected");
    this.emitPeerChange(nodeId, false);
  }

  private emitPeerChange(nodeId: NodeId, connected: boolean): void {
    for (const handler of this.peerChangeHandlers) {
      try {
        handler(nodeId, connected);
      } catch (err) {
        this.ctx.log.error({ err: errorMessage(err) }, "peer change handler failed");
      }
    }
  }
}
