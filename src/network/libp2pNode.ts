import { noise } from "@chainsafe/libp2p-noise";
import { gossipsub, StrictNoSign } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import type { ConnectionGater, PrivateKey } from "@libp2p/interface";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { type Multiaddr, multiaddr } from "@multiformats/multiaddr";
import { createLibp2p } from "libp2p";
import { TOPIC_NAMES } from "./interface.js";
import { coalescingYamux, type WindowUpdateCounters } from "./muxer.js";
import { topicId } from "./names.js";
import type { Libp2pTransportOptions } from "./options.js";
import type { Services, TransportNode } from "./transportContext.js";

/** gossipsub RPC overhead allowed above the payload bound (frame header, topic, control). */
const GOSSIP_RPC_OVERHEAD_BYTES = 64 * 1024;

/**
 * Builds (does not start) the libp2p node: TCP + noise + yamux (window updates coalesced: muxer.ts), identify, ping, and gossipsub tuned for a small
 * permissioned consortium (StrictNoSign, flood publish, full mesh, forwarding decided by GossipRelay).
 */
export async function createTransportNode(
  opts: Libp2pTransportOptions,
  init: {
    privateKey: PrivateKey;
    listen: string[];
    connectionGater: ConnectionGater;
    windowUpdateCounters: WindowUpdateCounters;
  },
): Promise<TransportNode> {
  const topics = TOPIC_NAMES.map((name) => topicId(opts.chainId, name));
  return createLibp2p<Services>({
    privateKey: init.privateKey,
    addresses: { listen: init.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [coalescingYamux(init.windowUpdateCounters)],
    peerDiscovery: [],
    connectionGater: init.connectionGater,
    connectionManager: {
      maxConnections: opts.maxConnections,
      maxIncomingPendingConnections: opts.maxIncomingPendingConnections,
      inboundConnectionThreshold: opts.inboundConnectionThreshold,
      maxParallelDials: opts.maxParallelDials,
      dialTimeout: opts.dialTimeoutMs,
      // Our own dialer redials static peers; libp2p's KEEP_ALIVE reconnect queue is not used.
      reconnectRetries: 0,
    },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        // No per-message Ed25519 sign/verify: payloads are signed by their authors (PBFT votes, txs) and the
        // connection gate admits members only, so the propagation source is an authenticated member.
        globalSignaturePolicy: StrictNoSign,
        allowPublishToZeroTopicPeers: true,
        floodPublish: true,
        emitSelf: false,
        // Nothing is forwarded until GossipRelay reports the message valid, naming the peers that have it already
        // (the publisher's direct recipients): a full mesh forwards nothing (4 validators received each message ~3
        // times before: issue 14).
        asyncValidation: true,
        // No IDONTWANT (gossipsub 1.2): in a full mesh a node sent one to every other member for every message,
        // all to peers that would not be forwarded it anyway; and under CPU load it rarely beat the forward it was
        // meant to stop (measured: ~540 IDONTWANTs received per node and still ~2 duplicates per message).
        idontwantMinDataSize: Number.MAX_SAFE_INTEGER,
        fallbackToFloodsub: false,
        doPX: false,
        // Small consortium: graft every peer up to D (Dlo = D), prune only far above it.
        D: opts.gossipD,
        Dlo: opts.gossipD,
        Dhi: opts.gossipD * 2,
        Dscore: Math.min(4, opts.gossipD),
        Dout: Math.min(2, Math.floor(opts.gossipD / 2)),
        Dlazy: Math.min(6, opts.gossipD),
        heartbeatInterval: opts.gossipHeartbeatMs,
        allowedTopics: topics,
        maxInboundDataLength: opts.gossipMessageBytesMax + GOSSIP_RPC_OVERHEAD_BYTES,
        maxOutboundBufferSize: 4 * (opts.gossipMessageBytesMax + GOSSIP_RPC_OVERHEAD_BYTES),
        // Members may share an IP (NAT, one host in tests): no colocation penalty in a permissioned network.
        scoreParams: { IPColocationFactorWeight: 0 },
      }),
    },
    start: false,
  });
}

/** Replaces /tcp/0 in the configured listen addresses by the port libp2p actually bound. */
export function resolvePortZero(configured: string[], bound: Multiaddr[]): string[] {
  return configured.map((text) => {
    const comps = multiaddr(text).getComponents();
    const tcpComp = comps.find((c) => c.name === "tcp");
    if (tcpComp?.value !== "0") return text;
    const host = comps.find((c) => c.name === "ip4" || c.name === "ip6");
    const wildcard = host === undefined || host.value === "0.0.0.0" || host.value === "::";
    for (const ma of bound) {
      const b = ma.getComponents();
      const bHost = b.find((c) => c.name === "ip4" || c.name === "ip6");
      const bTcp = b.find((c) => c.name === "tcp");
      if (bTcp?.value === undefined) continue;
      if (!wildcard && bHost?.value !== host?.value) continue;
      return text.replace(/\/tcp\/0(?=\/|$)/, `/tcp/${bTcp.value}`);
    }
    return text;
  });
}
