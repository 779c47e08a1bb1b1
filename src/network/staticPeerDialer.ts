import type { PeerId } from "@libp2p/interface";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import type { NodeId } from "../types/index.js";
import { errorMessage } from "../util/errors.js";
import type { PeerAdmission } from "./admission.js";
import { NetworkError } from "./errors.js";
import { nodeIdToPeerId, peerIdStringToNodeId } from "./peerId.js";
import type { TransportContext } from "./transportContext.js";

/** Failed dials in a row to one static peer before an operator is warned, and how often after. */
const DIAL_FAILURES_WARN_FIRST = 5;
const DIAL_FAILURES_WARN_EVERY = 10;
/** A connection still open after this long was admitted by the remote even if identify did not report. */
const ADMISSION_SETTLE_MS = 2_000;

interface StaticPeer {
  key: string;
  peerId: PeerId;
  addr: Multiaddr;
  attempts: number;
  nextDialAtMs: number;
  dialing: boolean;
}

/** Keeps the mesh connected: dials the configured static peers with exponential backoff until admitted. */
export class StaticPeerDialer {
  private staticPeers: StaticPeer[] = [];

  constructor(
    private readonly ctx: TransportContext,
    private readonly admission: PeerAdmission,
    private readonly localNodeId: NodeId,
  ) {}

  /** Replaces the static peers (multiaddrs ending in /p2p/<Ed25519 peer ID>); our own address is skipped. */
  setStaticPeers(addrs: string[]): void {
    const old = new Map(this.staticPeers.map((sp) => [sp.addr.toString(), sp]));
    const next: StaticPeer[] = [];
    addrs.forEach((text, i) => {
      const addr = parseStaticPeer(text, i);
      const existing = old.get(addr.ma.toString());
      if (addr.peerId.equals(nodeIdToPeerId(this.localNodeId))) return;
      next.push(
        existing ?? {
          key: addr.peerId.toString(),
          peerId: addr.peerId,
          addr: addr.ma,
          attempts: 0,
          nextDialAtMs: 0,
          dialing: false,
        },
      );
    });
    this.staticPeers = next;
    if (this.ctx.node() !== null) this.dialStaticPeers();
  }

  /** Newly allowed peers are dialed at once (backoff reset). */
  resetBackoff(keys: string[]): void {
    for (const sp of this.staticPeers) {
      if (keys.includes(sp.key)) {
        sp.attempts = 0;
        sp.nextDialAtMs = 0;
      }
    }
  }

  /** A peer got admitted: its next loss of connection starts the backoff over. */
  onAdmitted(key: string): void {
    const sp = this.staticPeers.find((p) => p.key === key);
    if (sp !== undefined) sp.attempts = 0;
  }

  /** On stop: forget backoff and in-flight dials. */
  reset(): void {
    for (const sp of this.staticPeers) {
      sp.attempts = 0;
      sp.nextDialAtMs = 0;
      sp.dialing = false;
    }
  }

  /** Dials every static peer that is allowed, not banned, not connected and due (exponential backoff). */
  dialStaticPeers(): void {
    const node = this.ctx.node();
    if (node === null) return;
    const admission = this.admission;
    const now = Date.now();
    for (const conn of node.getConnections()) {
      if (conn.status === "open" && now - conn.timeline.open >= ADMISSION_SETTLE_MS)
        admission.admit(conn, "settled");
    }
    for (const sp of this.staticPeers) {
      if (sp.dialing) continue;
      // A resolved dial is not an admission: only an admitted connection stops the redials (and resets backoff).
      if (admission.isAdmitted(sp.key)) continue;
      // A connection is being set up (or is being refused by the remote's gate): let it settle first.
      if (node.getConnections(sp.peerId).length > 0) continue;
      if (!admission.isAllowed(sp.key) || admission.isBanned(sp.key) || now < sp.nextDialAtMs) continue;
      sp.dialing = true;
      sp.attempts++;
      sp.nextDialAtMs = now + this.backoffMs(sp.attempts);
      node
        .dial(sp.addr, { signal: AbortSignal.timeout(this.ctx.opts.dialTimeoutMs) })
        .then(() => this.ctx.log.debug({ peer: sp.key, attempt: sp.attempts }, "dialed static peer"))
        .catch((err: unknown) => this.onDialFailed(sp, err))
        .finally(() => {
          sp.dialing = false;
        });
    }
  }

  /**
   * A dial that keeps failing is the operator's to see (a wrong address or peer ID in p2p.peers, a member's node
   * down, a firewall): warned at the fifth failed attempt in a row (~8 s with the default backoff: a restart stays
   * quiet) and every tenth after, with the last error; the others at debug. A peer we refuse (not a member, banned)
   * is not dialed at all.
   */
  private onDialFailed(sp: StaticPeer, err: unknown): void {
    const fields = {
      peer: sp.key,
      address: sp.addr.toString(),
      attempt: sp.attempts,
      err: errorMessage(err),
    };
    if (sp.attempts === DIAL_FAILURES_WARN_FIRST || sp.attempts % DIAL_FAILURES_WARN_EVERY === 0) {
      this.ctx.log.warn(
        fields,
        "static peer unreachable: check its address and peer ID in p2p.peers, and that its node runs",
      );
      return;
    }
    this.ctx.log.debug(fields, "dial failed");
  }

  private backoffMs(attempts: number): number {
    const opts = this.ctx.opts;
    const base = Math.min(
      opts.reconnectBackoffMaxMs,
      opts.reconnectBackoffMinMs * 2 ** Math.min(30, attempts - 1),
    );
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }
}

function parseStaticPeer(text: string, index: number): { ma: Multiaddr; peerId: PeerId } {
  const field = `network.staticPeers[${index}]`;
  let ma: Multiaddr;
  try {
    ma = multiaddr(text);
  } catch (err) {
    throw new NetworkError("NETWORK_INVALID_OPTIONS", `${field}: not a multiaddr: ${errorMessage(err)}`, {
      field,
    });
  }
  const p2p = ma.getComponents().findLast((c) => c.name === "p2p")?.value;
  if (p2p === undefined) {
    throw new NetworkError("NETWORK_INVALID_OPTIONS", `${field}: must end in /p2p/<peerId>`, { field });
  }
  let peerId: PeerId;
  try {
    peerId = nodeIdToPeerId(peerIdStringToNodeId(p2p));
  } catch (err) {
    throw new NetworkError(
      "NETWORK_INVALID_OPTIONS",
      `${field}: not an Ed25519 peer ID`,
      { field },
      { cause: err },
    );
  }
  return { ma, peerId };
}
