/**
 * What the metrics module reads from a running node at scrape time: narrow views of the modules' existing status
 * and stats methods, so no module imports prom-client for its gauges. The composition root implements it.
 */
export interface MetricsSources {
  chain: {
    height(): number;
    headTimestampMs(): number;
    /** Blocks whose state is readable (head - oldest readable + 1). */
    stateHistoryBlocks(): number;
  };
  consensus: {
    status(): { height: number; view: number } | null;
    validators(): { total: number; reachable: number };
    /** Committed certificates carrying this node's signature on a vote this process did not make (SignerWatch). */
    keyConflicts(): number;
  };
  txpool: {
    stats(): {
      count: number;
      bytes: number;
      senders: number;
      /** By origin (local: RPC, peer: gossip), then by error code. */
      rejected: Record<"local" | "peer", Record<string, number>>;
      expired: number;
      stale: number;
      admissionsDeferred: number;
      admissionsQueued: number;
      /** Sender recoveries on the recovery threads and on the event loop; null without threads. */
      recoveries: { inThreads: number; inline: number } | null;
    };
  };
  network: {
    peerCount(): number;
    peerLimit(): number;
    /** Peers under a ban now. */
    bannedPeerCount(): number;
    stats(): {
      bans: number;
      peerKeyConflicts: number;
      refusedInbound: number;
      refusedOutbound: number;
      refusedDials: number;
      gossipRejected: number;
      gossipForwards: number;
      gossipForwardsSkipped: number;
      gossipRepublished: number;
      windowUpdatesSent: number;
      windowUpdatesWithheld: number;
    };
  };
  sync: {
    status(): { syncing: boolean; currentBlock: number; highestBlock: number };
  };
  txGossip: {
    counters: { batchesIn: number; batchesQueued: number; batchesDropped: number; batchesRejected: number };
  };
  /** The raw txs of compact proposals, asked of peers and served to them ("txs" protocol). */
  txFetch: {
    counters: { requestsSent: number; txsFetched: number; requestsServed: number; txsServed: number };
  };
  rpc: { stats(): { wsConnections: number } } | null;
  readiness(): Readiness;
}

/** The answer of /ready (and the consort_node_ready gauge). */
export interface Readiness {
  ready: boolean;
  /** Why not ready (empty when ready): one short sentence per failed condition. */
  reasons: string[];
  height: number;
  bestKnownHeight: number;
  /** Sealer weight this node reaches (its own if a sealer, plus connected sealers) and the quorum it needs. */
  reachableValidatorWeight: number;
  quorumWeight: number;
}
