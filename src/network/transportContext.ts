import type { GossipSub } from "@libp2p/gossipsub";
import type { Identify } from "@libp2p/identify";
import type { Ping } from "@libp2p/ping";
import type { Libp2p } from "libp2p";
import type { Logger } from "../util/logger.js";
import { NetworkError } from "./errors.js";
import type { Libp2pTransportOptions } from "./options.js";

/** The libp2p services a Consort node runs. */
export type Services = { identify: Identify; ping: Ping; pubsub: GossipSub };

export type TransportNode = Libp2p<Services>;

/** Counters for metrics and tests (monotonic since construction, except the `*InFlight` gauges). */
export interface TransportStats {
  refusedInbound: number;
  refusedOutbound: number;
  refusedDials: number;
  gossipRejected: number;
  /** Dropped by a topic check without blame (stale, out of the height window). */
  gossipIgnored: number;
  gossipDropped: number;
  requestsDropped: number;
  bans: number;
  /** Connections of a member that announced other listen addresses than its open one (its key in two processes). */
  peerKeyConflicts: number;
  /** Stale gossipsub outbound streams re-opened (see gossipRepair.ts). */
  gossipStreamsRepaired: number;
  /** Copies of accepted gossip forwarded on to mesh peers (GossipRelay). */
  gossipForwards: number;
  /** Copies not forwarded: the publisher had sent the message to that peer itself (a full mesh forwards none). */
  gossipForwardsSkipped: number;
  /** Own messages published a second time without naming recipients: a named recipient was not reached. */
  gossipRepublished: number;
  /** yamux WINDOW_UPDATE frames sent, and those held back to be sent later in one (muxer.ts). */
  windowUpdatesSent: number;
  windowUpdatesWithheld: number;
  messagesInFlight: number;
  requestsInFlight: number;
}

/** What the transport shares with the helpers it owns: options, logger, counters and the running node. */
export interface TransportContext {
  readonly opts: Libp2pTransportOptions;
  readonly log: Logger;
  /** Mutated in place by the helpers; `Libp2pTransport.stats()` copies it. */
  readonly counters: TransportStats;
  /** The started libp2p node, or null while stopped (or still starting). */
  node(): TransportNode | null;
}

export function requireStarted(ctx: TransportContext): TransportNode {
  const node = ctx.node();
  if (node === null) throw new NetworkError("NETWORK_NOT_STARTED", "the network transport is not started");
  return node;
}
