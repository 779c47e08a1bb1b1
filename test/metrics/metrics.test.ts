import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";
import type { Ready } from "../../src/consensus/index.js";
import {
  ConsensusPhaseTracker,
  computeReadiness,
  createConsortMetrics,
  MetricsServer,
  type MetricsSources,
  type ReadinessInput,
  recordRpcCall,
} from "../../src/metrics/index.js";
import { silentLogger } from "../../src/util/logger.js";
import { hasMetric, metricNamesInPromQL, parsePromText } from "./promText.js";

type Rejected = { local: Record<string, number>; peer: Record<string, number> };

function fakeSources(over: { rejected?: Rejected; bans?: number; ready?: boolean } = {}) {
  const state = {
    height: 7,
    rejected: over.rejected ?? { local: {}, peer: {} },
    bans: over.bans ?? 0,
    keyConflicts: 0,
    peerKeyConflicts: 0,
    banned: 0,
    ready: over.ready ?? true,
    gossip: { batchesIn: 0, batchesQueued: 0, batchesDropped: 0, batchesRejected: 0 },
    recoveries: { inThreads: 40, inline: 2 } as { inThreads: number; inline: number } | null,
    fetch: { requestsSent: 0, txsFetched: 0, requestsServed: 0, txsServed: 0 },
  };
  const sources: MetricsSources = {
    chain: {
      height: () => state.height,
      headTimestampMs: () => 1_700_000_000_000,
      stateHistoryBlocks: () => 8,
    },
    consensus: {
      status: () => ({ height: state.height + 1, view: 3 }),
      validators: () => ({ total: 4, reachable: 3 }),
      keyConflicts: () => state.keyConflicts,
    },
    txpool: {
      stats: () => ({
        count: 5,
        bytes: 550,
        senders: 2,
        rejected: state.rejected,
        expired: 1,
        stale: 0,
        admissionsDeferred: 12,
        admissionsQueued: 3,
        recoveries: state.recoveries,
      }),
    },
    network: {
      peerCount: () => 2,
      peerLimit: () => 3,
      bannedPeerCount: () => state.banned,
      stats: () => ({
        bans: state.bans,
        peerKeyConflicts: state.peerKeyConflicts,
        refusedInbound: 0,
        refusedOutbound: 0,
        refusedDials: 4,
        gossipRejected: 0,
        gossipForwards: 3,
        gossipForwardsSkipped: 7,
        gossipRepublished: 1,
        windowUpdatesSent: 2,
        windowUpdatesWithheld: 40,
      }),
    },
    sync: { status: () => ({ syncing: false, currentBlock: state.height, highestBlock: 9 }) },
    txGossip: {
      get counters() {
        return state.gossip;
      },
    },
    txFetch: {
      get counters() {
        return state.fetch;
      },
    },
    rpc: { stats: () => ({ wsConnections: 1 }) },
    readiness: () => ({
      ready: state.ready,
      reasons: state.ready ? [] : ["behind"],
      height: state.height,
      bestKnownHeight: 9,
      reachableValidatorWeight: 3,
      quorumWeight: 3,
    }),
  };
  return { sources, state };
}

describe("createConsortMetrics", () => {
  it("exposes valid Prometheus text with the EIP-2159 gauges read from the sources at scrape time", async () => {
    const metrics = createConsortMetrics(new Registry());
    const { sources, state } = fakeSources();
    metrics.setSources(sources);
    let text = parsePromText(await metrics.register.metrics());
    expect(text.value("ethereum_blockchain_height")).toBe(7);
    expect(text.value("ethereum_best_known_block_number")).toBe(9);
    expect(text.value("ethereum_peer_count")).toBe(2);
    expect(text.value("ethereum_peer_limit")).toBe(3);
    expect(text.value("consort_consensus_view")).toBe(3);
    expect(text.value("consort_sync_lag_blocks")).toBe(2);
    expect(text.value("consort_txpool_bytes")).toBe(550);
    expect(text.value("consort_txpool_admissions_deferred_total")).toBe(12);
    expect(text.value("consort_txpool_admissions_queued")).toBe(3);
    expect(text.value("consort_txpool_recoveries_total", { where: "thread" })).toBe(40);
    expect(text.value("consort_txpool_recoveries_total", { where: "inline" })).toBe(2);
    expect(text.value("consort_node_ready")).toBe(1);
    expect(text.value("consort_chain_head_timestamp_seconds")).toBe(1_700_000_000);
    expect(hasMetric(text, "process_cpu_seconds_total")).toBe(true);
    state.height = 12;
    state.ready = false;
    text = parsePromText(await metrics.register.metrics());
    expect(text.value("ethereum_blockchain_height")).toBe(12);
    expect(text.value("consort_node_ready")).toBe(0);
  });

  it("mirrors a module's monotonic counts into counters by their increase since the last scrape", async () => {
    const metrics = createConsortMetrics(new Registry(), { processMetrics: false });
    const { sources, state } = fakeSources({
      rejected: { local: { TXPOOL_NONCE_TOO_LOW: 2 }, peer: { TXPOOL_NONCE_TOO_LOW: 6 } },
      bans: 1,
    });
    metrics.setSources(sources);
    let text = parsePromText(await metrics.register.metrics());
    const refusals = (reason: string, origin: string) =>
      text.value("consort_txpool_refusals_total", { reason, origin });
    expect(refusals("TXPOOL_NONCE_TOO_LOW", "local")).toBe(2);
    expect(refusals("TXPOOL_NONCE_TOO_LOW", "peer")).toBe(6);
    expect(text.value("consort_p2p_bans_total")).toBe(1);
    expect(text.value("consort_consensus_key_conflicts_total")).toBe(0);
    expect(text.value("consort_p2p_peer_key_conflicts_total")).toBe(0);
    expect(text.value("consort_p2p_banned_peers")).toBe(0);
    expect(text.value("consort_p2p_gossip_relay_total", { result: "forwarded" })).toBe(3);
    expect(text.value("consort_p2p_gossip_relay_total", { result: "skipped" })).toBe(7);
    expect(text.value("consort_p2p_gossip_relay_total", { result: "republished" })).toBe(1);
    expect(text.value("consort_p2p_yamux_window_updates_total", { result: "sent" })).toBe(2);
    expect(text.value("consort_p2p_yamux_window_updates_total", { result: "withheld" })).toBe(40);
    state.rejected = {
      local: { TXPOOL_NONCE_TOO_LOW: 5, TXPOOL_FULL: 1 },
      peer: { TXPOOL_NONCE_TOO_LOW: 6 },
    };
    state.bans = 1;
    state.keyConflicts = 2;
    state.peerKeyConflicts = 3;
    state.banned = 1;
    state.gossip = { batchesIn: 9, batchesQueued: 4, batchesDropped: 2, batchesRejected: 1 };
    text = parsePromText(await metrics.register.metrics());
    expect(text.value("consort_txgossip_batches_total", { result: "admitted" })).toBe(9);
    expect(text.value("consort_txgossip_batches_total", { result: "queued" })).toBe(4);
    expect(text.value("consort_txgossip_batches_total", { result: "dropped" })).toBe(2);
    expect(text.value("consort_txgossip_batches_total", { result: "rejected" })).toBe(1);
    state.fetch = { requestsSent: 3, txsFetched: 41, requestsServed: 2, txsServed: 17 };
    text = parsePromText(await metrics.register.metrics());
    expect(text.value("consort_txfetch_txs_total", { result: "fetched" })).toBe(41);
    expect(text.value("consort_txfetch_txs_total", { result: "served" })).toBe(17);
    expect(text.value("consort_txfetch_requests_total", { result: "sent" })).toBe(3);
    expect(text.value("consort_txfetch_requests_total", { result: "served" })).toBe(2);
    state.recoveries = { inThreads: 95, inline: 3 };
    text = parsePromText(await metrics.register.metrics());
    expect(text.value("consort_txpool_recoveries_total", { where: "thread" })).toBe(95);
    expect(text.value("consort_txpool_recoveries_total", { where: "inline" })).toBe(3);
    expect(refusals("TXPOOL_NONCE_TOO_LOW", "local")).toBe(5);
    expect(refusals("TXPOOL_FULL", "local")).toBe(1);
    expect(refusals("TXPOOL_NONCE_TOO_LOW", "peer")).toBe(6);
    expect(refusals("TXPOOL_FULL", "peer")).toBeUndefined();
    expect(text.value("consort_p2p_bans_total")).toBe(1);
    expect(text.value("consort_consensus_key_conflicts_total")).toBe(2);
    expect(text.value("consort_p2p_peer_key_conflicts_total")).toBe(3);
    expect(text.value("consort_p2p_banned_peers")).toBe(1);
  });

  it("records RPC calls by method and status", async () => {
    const metrics = createConsortMetrics(new Registry(), { processMetrics: false });
    recordRpcCall(metrics, "eth_blockNumber", null, 0.002);
    recordRpcCall(metrics, "eth_blockNumber", null, 0.003);
    recordRpcCall(metrics, "unknown", -32601, 0.0001);
    const text = parsePromText(await metrics.register.metrics());
    expect(text.value("consort_rpc_requests_total", { method: "eth_blockNumber", status: "ok" })).toBe(2);
    expect(text.value("consort_rpc_requests_total", { method: "unknown", status: "-32601" })).toBe(1);
    expect(text.value("consort_rpc_request_duration_seconds_count", { method: "eth_blockNumber" })).toBe(2);
  });
});

describe("parsePromText", () => {
  it.each([
    ["no trailing newline", "# TYPE a gauge\na 1"],
    ["undeclared family", "b 1\n"],
    ["bad value", "# TYPE a gauge\na one\n"],
    ["bad label", '# TYPE a gauge\na{1x="y"} 1\n'],
    ["unterminated label", '# TYPE a gauge\na{x="y} 1\n'],
    ["duplicate series", '# TYPE a gauge\na{x="y"} 1\na{x="y"} 2\n'],
    ["bucket without le", "# TYPE h histogram\nh_bucket 1\n"],
    ["bad type", "# TYPE a meter\n"],
  ])("refuses %s", (_what, text) => {
    expect(() => parsePromText(text)).toThrow();
  });

  it("reads labels with escapes, histograms and special values", () => {
    const t = parsePromText(
      '# HELP h a histogram\n# TYPE h histogram\nh_bucket{le="+Inf",m="a\\"b"} 3\nh_sum 1.5e0\nh_count 3\n# TYPE g gauge\ng NaN\n',
    );
    expect(t.value("h_bucket", { le: "+Inf", m: 'a"b' })).toBe(3);
    expect(hasMetric(t, "h_count")).toBe(true);
    expect(Number.isNaN(t.value("g"))).toBe(true);
  });

  it("finds the metric names of a PromQL expression", () => {
    expect(
      metricNamesInPromQL(
        'histogram_quantile(0.9, sum by (le) (rate(consort_rpc_request_duration_seconds_bucket{method="x_y"}[5m]))) / ethereum_peer_limit',
      ).sort(),
    ).toEqual(["consort_rpc_request_duration_seconds_bucket", "ethereum_peer_limit"]);
  });
});

describe("computeReadiness", () => {
  const base: ReadinessInput = {
    height: 10,
    bestKnownHeight: 10,
    peerHeadKnown: true,
    hasOtherMembers: true,
    validatorWeightTotal: 4,
    reachableValidatorWeight: 4,
    quorumWeight: 3,
    lagBlocksMax: 2,
  };
  it.each<[string, Partial<ReadinessInput>, boolean, string?]>([
    ["in sync with every validator", {}, true],
    ["within the lag tolerance", { bestKnownHeight: 12 }, true],
    ["behind", { bestKnownHeight: 13 }, false, "behind"],
    ["no peer head yet", { peerHeadKnown: false }, false, "no peer has reported"],
    [
      "no peer head yet, peers on another genesis",
      { peerHeadKnown: false, otherGenesisAnswers: 3 },
      false,
      "no peer on this chain has reported its head yet: peers answered with another genesis",
    ],
    ["a peer on another genesis beside one on ours", { otherGenesisAnswers: 3 }, true],
    [
      "not on the node list",
      { onNodeList: false, peerHeadKnown: false, height: 0, bestKnownHeight: 0 },
      false,
      "not on the node list at block 0: members refuse this node until the committee adds it",
    ],
    ["on the node list", { onNodeList: true }, true],
    ["a lone validator needs no peer head", { peerHeadKnown: false, hasOtherMembers: false }, true],
    ["exactly a quorum reachable", { reachableValidatorWeight: 3 }, true],
    ["below a quorum", { reachableValidatorWeight: 2 }, false, "validators reachable"],
  ])("%s", (_what, over, ready, reason) => {
    const r = computeReadiness({ ...base, ...over });
    expect(r.ready).toBe(ready);
    if (reason) expect(r.reasons.join("; ")).toContain(reason);
    else expect(r.reasons).toEqual([]);
  });
});

describe("ConsensusPhaseTracker", () => {
  const emptyReady = (): Ready => ({
    commits: [],
    persist: null,
    messages: [],
    execute: [],
    requestProposal: null,
    fetchBlocks: null,
    viewChangeStarted: null,
    rejections: [],
    evidence: [],
  });
  it("times execute, prepare and commit of a replica's round and counts view changes by cause", async () => {
    const metrics = createConsortMetrics(new Registry(), { processMetrics: false });
    let now = 1000;
    const tracker = new ConsensusPhaseTracker(metrics.consensus, () => now);
    const b = new Uint8Array(32);
    const vote = (type: "prepare" | "commit") =>
      ({
        to: null,
        msg: { type, height: 5, view: 0, blockHash: b, sender: b, signature: b },
      }) as Ready["messages"][0];
    tracker.onReady({
      ...emptyReady(),
      execute: [{ height: 5, view: 0, parentHash: b, blockHash: b, payload: b }],
    });
    now += 40;
    tracker.onReady({ ...emptyReady(), messages: [vote("prepare")] });
    now += 10;
    tracker.onReady({ ...emptyReady(), messages: [vote("commit")] });
    now += 5;
    tracker.onReady({
      ...emptyReady(),
      commits: [{ height: 5, blockHash: b, payload: b, certificate: {} as never, nextValidators: null }],
      viewChangeStarted: { height: 6, toView: 1, cause: "timeout" },
    });
    const t = parsePromText(await metrics.register.metrics());
    expect(t.value("consort_consensus_phase_duration_seconds_sum", { phase: "execute" })).toBeCloseTo(0.04);
    expect(t.value("consort_consensus_phase_duration_seconds_sum", { phase: "prepare" })).toBeCloseTo(0.01);
    expect(t.value("consort_consensus_phase_duration_seconds_sum", { phase: "commit" })).toBeCloseTo(0.005);
    expect(t.value("consort_consensus_commit_latency_seconds_sum")).toBeCloseTo(0.055);
    expect(t.value("consort_consensus_view_changes_total", { reason: "timeout" })).toBe(1);
  });

  it("keeps timing height h while the early proposal of h + 1 is executed beside it (pipelining)", async () => {
    const metrics = createConsortMetrics(new Registry(), { processMetrics: false });
    let now = 1000;
    const tracker = new ConsensusPhaseTracker(metrics.consensus, () => now);
    const b = new Uint8Array(32);
    const msg = (type: "prepare" | "commit", height: number) =>
      ({
        to: null,
        msg: { type, height, view: 0, blockHash: b, sender: b, signature: b },
      }) as Ready["messages"][0];
    const execute = (height: number) => ({ height, view: 0, parentHash: b, blockHash: b, payload: b });
    tracker.onReady({ ...emptyReady(), execute: [execute(5)] });
    now += 40;
    tracker.onReady({ ...emptyReady(), messages: [msg("prepare", 5)], execute: [execute(6)] });
    now += 10;
    tracker.onReady({ ...emptyReady(), messages: [msg("commit", 5)] });
    now += 5;
    const commit5 = { height: 5, blockHash: b, payload: b, certificate: {} as never, nextValidators: null };
    tracker.onReady({ ...emptyReady(), commits: [commit5], messages: [msg("prepare", 6)] });
    const t = parsePromText(await metrics.register.metrics());
    expect(t.value("consort_consensus_phase_duration_seconds_sum", { phase: "prepare" })).toBeCloseTo(0.01);
    expect(t.value("consort_consensus_commit_latency_seconds_sum")).toBeCloseTo(0.055);
    // Height 6 opened 40 ms in and sent its Prepare 15 ms later: its own "execute" sample.
    expect(t.value("consort_consensus_phase_duration_seconds_count", { phase: "execute" })).toBe(2);
    expect(t.value("consort_consensus_phase_duration_seconds_sum", { phase: "execute" })).toBeCloseTo(0.055);
  });
});

describe("MetricsServer", () => {
  let server: MetricsServer | null = null;
  afterEach(async () => {
    await server?.stop();
    server = null;
  });

  it("serves /metrics, /health and /ready (503 with the reasons when not ready) on its own port", async () => {
    const metrics = createConsortMetrics(new Registry(), { processMetrics: false });
    const { sources, state } = fakeSources();
    metrics.setSources(sources);
    server = new MetricsServer(
      { host: "127.0.0.1", port: 0 },
      { register: metrics.register, readiness: sources.readiness, logger: silentLogger() },
    );
    await server.start();
    const get = (path: string, init?: RequestInit) => fetch(`${server!.url}${path}`, init);
    const m = await get("/metrics");
    expect(m.status).toBe(200);
    expect(m.headers.get("content-type")).toContain("text/plain");
    expect(parsePromText(await m.text()).value("ethereum_blockchain_height")).toBe(7);
    expect((await get("/health")).status).toBe(200);
    expect((await get("/ready")).status).toBe(200);
    state.ready = false;
    const notReady = await get("/ready");
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toMatchObject({ ready: false, reasons: ["behind"] });
    expect((await get("/nope")).status).toBe(404);
    expect((await get("/metrics", { method: "POST" })).status).toBe(405);
  });
});
