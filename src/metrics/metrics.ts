import { Counter, collectDefaultMetrics, Gauge, Histogram, type Registry } from "prom-client";
import { CounterSync } from "./counterSync.js";
import type { MetricsSources } from "./interface.js";
import { p2pMetrics } from "./p2pMetrics.js";

/** Seconds buckets from 1 ms to 60 s: consensus phases, block execution, RPC calls. */
const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const TXS_PER_BLOCK_BUCKETS = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

/**
 * Every metric a Consort node exports, as one typed object (after Lodestar's createLodestarMetrics). Modules get it
 * as `metrics: ConsortMetrics | null` in their deps and only ever increment or observe; gauges that mirror a
 * module's existing state (heights, pool size, peers) are read at scrape time from `MetricsSources` instead, so the
 * modules need no metrics code for them.
 *
 * Names: the four EIP-2159 gauges (`ethereum_*`) and `consort_<subsystem>_<name>_<unit>`; counters end in
 * `_total`. Labels are closed sets (method names of the RPC table, error codes, topics), never free text.
 */
export function createConsortMetrics(register: Registry, opts: { processMetrics?: boolean } = {}) {
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register });
  const sources: { current: MetricsSources | null } = { current: null };
  const src = () => sources.current;
  const reg = { registers: [register] };
  const counterSync = new CounterSync();

  return {
    register,
    /** Binds the scrape-time readers (the composition root calls this once the modules exist). */
    setSources(s: MetricsSources): void {
      sources.current = s;
    },

    // ------------------------------------------------------------ EIP-2159
    eip2159: {
      blockchainHeight: new Gauge({
        ...reg,
        name: "ethereum_blockchain_height",
        help: "Number of the last committed block",
        collect() {
          const s = src();
          if (s) this.set(s.chain.height());
        },
      }),
      bestKnownBlockNumber: new Gauge({
        ...reg,
        name: "ethereum_best_known_block_number",
        help: "Highest block number this node knows of (its own head or a peer's)",
        collect() {
          const s = src();
          if (s) this.set(Math.max(s.chain.height(), s.sync.status().highestBlock));
        },
      }),
      peerCount: new Gauge({
        ...reg,
        name: "ethereum_peer_count",
        help: "Connected member nodes",
        collect() {
          const s = src();
          if (s) this.set(s.network.peerCount());
        },
      }),
      peerLimit: new Gauge({
        ...reg,
        name: "ethereum_peer_limit",
        help: "Most peers this node can have: the other members of the consortium node list",
        collect() {
          const s = src();
          if (s) this.set(s.network.peerLimit());
        },
      }),
    },

    // ------------------------------------------------------------ chain and execution
    chain: {
      headTimestamp: new Gauge({
        ...reg,
        name: "consort_chain_head_timestamp_seconds",
        help: "Timestamp of the last committed block (its header's, in seconds since the epoch)",
        collect() {
          const s = src();
          if (s) this.set(s.chain.headTimestampMs() / 1000);
        },
      }),
      transactionsPerBlock: new Histogram({
        ...reg,
        name: "consort_chain_block_transactions",
        help: "Transactions per committed block",
        buckets: TXS_PER_BLOCK_BUCKETS,
      }),
      transactions: new Counter({
        ...reg,
        name: "consort_chain_transactions_total",
        help: "Transactions committed since this process started",
      }),
      blockInterval: new Histogram({
        ...reg,
        name: "consort_chain_block_interval_seconds",
        help: "Time between the timestamps of consecutive committed blocks",
        buckets: SECONDS_BUCKETS,
      }),
      blockExecution: new Histogram({
        ...reg,
        name: "consort_execution_block_seconds",
        help: "Wall time to execute a block: mode=build (leader) or verify (replica re-execution)",
        labelNames: ["mode"] as const,
        buckets: SECONDS_BUCKETS,
      }),
      stateHistoryBlocks: new Gauge({
        ...reg,
        name: "consort_ledger_state_history_blocks",
        help: "Blocks whose state is still readable (head - oldest readable state block + 1)",
        collect() {
          const s = src();
          if (s) this.set(s.chain.stateHistoryBlocks());
        },
      }),
    },

    // ------------------------------------------------------------ consensus
    consensus: {
      height: new Gauge({
        ...reg,
        name: "consort_consensus_height",
        help: "Height the PBFT core is deciding (head + 1)",
        collect() {
          const st = src()?.consensus.status();
          if (st) this.set(st.height);
        },
      }),
      view: new Gauge({
        ...reg,
        name: "consort_consensus_view",
        help: "Current PBFT view at the consensus height",
        collect() {
          const st = src()?.consensus.status();
          if (st) this.set(st.view);
        },
      }),
      viewChanges: new Counter({
        ...reg,
        name: "consort_consensus_view_changes_total",
        help: "View changes this node started, by cause (timeout, invalidBlock, equivocation, joinHigherView, badProposal)",
        labelNames: ["reason"] as const,
      }),
      phaseDuration: new Histogram({
        ...reg,
        name: "consort_consensus_phase_duration_seconds",
        help: "Time spent in each phase of a height on this node: propose, execute, prepare, commit",
        labelNames: ["phase"] as const,
        buckets: SECONDS_BUCKETS,
      }),
      commitLatency: new Histogram({
        ...reg,
        name: "consort_consensus_commit_latency_seconds",
        help: "From the proposal (PrePrepare) of a block to its commit on this node",
        buckets: SECONDS_BUCKETS,
      }),
      validators: new Gauge({
        ...reg,
        name: "consort_consensus_validators",
        help: "Sealers in the validator set (count)",
        collect() {
          const s = src();
          if (s) this.set(s.consensus.validators().total);
        },
      }),
      validatorsReachable: new Gauge({
        ...reg,
        name: "consort_consensus_validators_reachable",
        help: "Sealers this node can reach: itself (if a sealer) plus connected sealers",
        collect() {
          const s = src();
          if (s) this.set(s.consensus.validators().reachable);
        },
      }),
      keyConflicts: new Counter({
        ...reg,
        name: "consort_consensus_key_conflicts_total",
        help: "Committed blocks whose certificate carries this node's signature on a vote this process did not make: another process holds its key",
        collect() {
          const s = src();
          if (s) counterSync.sync(this, "consensus_key_conflicts", {}, s.consensus.keyConflicts());
        },
      }),
    },

    // ------------------------------------------------------------ txpool
    txpool: {
      transactions: new Gauge({
        ...reg,
        name: "consort_txpool_transactions",
        help: "Transactions in the pool",
        collect() {
          const s = src();
          if (s) this.set(s.txpool.stats().count);
        },
      }),
      bytes: new Gauge({
        ...reg,
        name: "consort_txpool_bytes",
        help: "Encoded bytes of the transactions in the pool",
        collect() {
          const s = src();
          if (s) this.set(s.txpool.stats().bytes);
        },
      }),
      senders: new Gauge({
        ...reg,
        name: "consort_txpool_senders",
        help: "Distinct senders with transactions in the pool",
        collect() {
          const s = src();
          if (s) this.set(s.txpool.stats().senders);
        },
      }),
      refusals: new Counter({
        ...reg,
        name: "consort_txpool_refusals_total",
        help:
          "Transactions the pool refused, by error code (TXPOOL_NONCE_TOO_LOW, TXPOOL_FULL, …) and origin " +
          "(local: a client's, over RPC; peer: relayed by a peer)",
        labelNames: ["reason", "origin"] as const,
        collect() {
          const s = src();
          if (!s) return;
          for (const [origin, byCode] of Object.entries(s.txpool.stats().rejected)) {
            for (const [reason, total] of Object.entries(byCode)) {
              counterSync.sync(this, "txpool_refusals", { reason, origin }, total);
            }
          }
        },
      }),
      dropped: new Counter({
        ...reg,
        name: "consort_txpool_dropped_total",
        help: "Transactions dropped from the pool: reason=expired (TTL) or stale (nonce/blockLimit after a commit)",
        labelNames: ["reason"] as const,
        collect() {
          const s = src();
          if (!s) return;
          const st = s.txpool.stats();
          counterSync.sync(this, "txpool_dropped", { reason: "expired" }, st.expired);
          counterSync.sync(this, "txpool_dropped", { reason: "stale" }, st.stale);
        },
      }),
      admissionsDeferred: new Counter({
        ...reg,
        name: "consort_txpool_admissions_deferred_total",
        help: "Admissions that waited for a later event-loop turn (admissions start for at most txpool.admissionSliceMs per turn)",
        collect() {
          const s = src();
          if (s)
            counterSync.sync(this, "txpool_admissions_deferred", {}, s.txpool.stats().admissionsDeferred);
        },
      }),
      admissionsQueued: new Gauge({
        ...reg,
        name: "consort_txpool_admissions_queued",
        help: "Admissions waiting for an event-loop turn now",
        collect() {
          const s = src();
          if (s) this.set(s.txpool.stats().admissionsQueued);
        },
      }),
      recoveries: new Counter({
        ...reg,
        name: "consort_txpool_recoveries_total",
        help: "Sender recoveries on the pool's recovery threads (admitted txs; a proposal's fetched txs and synced blocks go there too): where=thread (txpool.recoveryThreads) or inline (on the event loop: no usable thread, or the recovery queue full)",
        labelNames: ["where"] as const,
        collect() {
          const r = src()?.txpool.stats().recoveries;
          if (!r) return;
          counterSync.sync(this, "txpool_recoveries", { where: "thread" }, r.inThreads);
          counterSync.sync(this, "txpool_recoveries", { where: "inline" }, r.inline);
        },
      }),
    },

    // ------------------------------------------------------------ rpc
    rpc: {
      requests: new Counter({
        ...reg,
        name: "consort_rpc_requests_total",
        help: 'JSON-RPC calls by method and status ("ok" or the JSON-RPC error code)',
        labelNames: ["method", "status"] as const,
      }),
      duration: new Histogram({
        ...reg,
        name: "consort_rpc_request_duration_seconds",
        help: "JSON-RPC call handling time by method",
        labelNames: ["method"] as const,
        buckets: SECONDS_BUCKETS,
      }),
      websocketConnections: new Gauge({
        ...reg,
        name: "consort_rpc_websocket_connections",
        help: "Open JSON-RPC WebSocket connections",
        collect() {
          const st = src()?.rpc?.stats();
          if (st) this.set(st.wsConnections);
        },
      }),
    },

    // ------------------------------------------------------------ p2p
    p2p: p2pMetrics(reg, src, counterSync),

    // ------------------------------------------------------------ sync and readiness
    txGossip: {
      batches: new Counter({
        ...reg,
        name: "consort_txgossip_batches_total",
        help:
          "Tx batches from peers: result=admitted, queued (waited for one of the peer's admission slots), dropped " +
          "(that peer's queue was full: those txs are lost for this node), rejected (malformed or carrying an invalid tx)",
        labelNames: ["result"] as const,
        collect() {
          const s = src();
          if (!s) return;
          const c = s.txGossip.counters;
          counterSync.sync(this, "txgossip_batches", { result: "admitted" }, c.batchesIn);
          counterSync.sync(this, "txgossip_batches", { result: "queued" }, c.batchesQueued);
          counterSync.sync(this, "txgossip_batches", { result: "dropped" }, c.batchesDropped);
          counterSync.sync(this, "txgossip_batches", { result: "rejected" }, c.batchesRejected);
        },
      }),
      fetchedTxs: new Counter({
        ...reg,
        name: "consort_txfetch_txs_total",
        help:
          "Txs of compact proposals: fetched (a proposal listed them before gossip brought them here: each costs a " +
          "round trip before the block can run) and served (sent to a peer that lacked them)",
        labelNames: ["result"] as const,
        collect() {
          const s = src();
          if (!s) return;
          const c = s.txFetch.counters;
          counterSync.sync(this, "txfetch_txs", { result: "fetched" }, c.txsFetched);
          counterSync.sync(this, "txfetch_txs", { result: "served" }, c.txsServed);
        },
      }),
      fetchRequests: new Counter({
        ...reg,
        name: "consort_txfetch_requests_total",
        help: "Requests for proposal txs: sent (to the proposer first, then other peers) and served",
        labelNames: ["result"] as const,
        collect() {
          const s = src();
          if (!s) return;
          const c = s.txFetch.counters;
          counterSync.sync(this, "txfetch_requests", { result: "sent" }, c.requestsSent);
          counterSync.sync(this, "txfetch_requests", { result: "served" }, c.requestsServed);
        },
      }),
    },
    sync: {
      lag: new Gauge({
        ...reg,
        name: "consort_sync_lag_blocks",
        help: "Best known block number minus this node's head (0 when in sync)",
        collect() {
          const s = src();
          if (!s) return;
          const h = s.chain.height();
          this.set(Math.max(0, s.sync.status().highestBlock - h));
        },
      }),
      syncing: new Gauge({
        ...reg,
        name: "consort_sync_syncing",
        help: "1 while block sync is fetching blocks from a peer",
        collect() {
          const s = src();
          if (s) this.set(s.sync.status().syncing ? 1 : 0);
        },
      }),
      ready: new Gauge({
        ...reg,
        name: "consort_node_ready",
        help: "1 when /ready answers 200: synced to the best known height and a quorum of validators reachable",
        collect() {
          const s = src();
          if (s) this.set(s.readiness().ready ? 1 : 0);
        },
      }),
    },
  };
}

export type ConsortMetrics = ReturnType<typeof createConsortMetrics>;
