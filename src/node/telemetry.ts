import { Registry } from "prom-client";
import type { Chain } from "../chain/index.js";
import type { NodeConfig } from "../config/index.js";
import type { ConsensusDriver } from "../consensus/driver.js";
import { quorumWeight } from "../consensus/index.js";
import type { SignerWatch } from "../consensus/signerWatch.js";
import type { LevelLedger } from "../ledger/index.js";
import {
  type ConsortMetrics,
  computeReadiness,
  createConsortMetrics,
  MetricsServer,
  type Readiness,
} from "../metrics/index.js";
import type { Libp2pTransport } from "../network/index.js";
import type { RpcServer } from "../rpc/index.js";
import type { BlockSync, TxFetch, TxGossip } from "../sync/index.js";
import type { TxPool } from "../txpool/index.js";
import type { NodeId } from "../types/index.js";
import { errorMessage } from "../util/errors.js";
import { bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";

/** One registry per node (several nodes may share a process in tests). */
export function createNodeMetrics(): ConsortMetrics {
  return createConsortMetrics(new Registry());
}

/** The parts of a node the metrics read (ConsortNode passes itself). */
export interface MonitoredParts {
  config: NodeConfig;
  nodeKey: { nodeId: NodeId };
  chain: Chain;
  ledger: LevelLedger;
  txpool: TxPool;
  transport: Libp2pTransport;
  consensus: ConsensusDriver;
  sync: BlockSync;
  gossip: TxGossip;
  txFetch: TxFetch;
  rpc: RpcServer | null;
  signerWatch: SignerWatch;
}

/**
 * Wires the scrape-time gauges and /ready to the modules' existing status methods, records committed blocks, and
 * returns the metrics server (null when `metrics.enabled` is false; the metrics still feed the console's counters).
 */
export function bindNodeMetrics(
  metrics: ConsortMetrics,
  parts: MonitoredParts,
  logger: Logger,
): MetricsServer | null {
  const { chain, ledger, txpool, transport, consensus, sync, config } = parts;
  const self = bytesToHex(parts.nodeKey.nodeId);
  let headTimestampMs = 0;
  // The head's timestamp until the next commit brings one (a failed read only leaves the gauge at 0).
  ledger
    .getHeader(chain.height())
    .then((h) => {
      if (h && headTimestampMs === 0) headTimestampMs = h.timestampMs;
    })
    .catch((err: unknown) => logger.debug({ err: errorMessage(err) }, "head timestamp not read"));
  chain.onCommit((c) => {
    const ts = c.block.header.timestampMs;
    if (headTimestampMs > 0 && ts >= headTimestampMs)
      metrics.chain.blockInterval.observe((ts - headTimestampMs) / 1000);
    headTimestampMs = ts;
    metrics.chain.transactionsPerBlock.observe(c.block.transactions.length);
    metrics.chain.transactions.inc(c.block.transactions.length);
  });

  const members = () => {
    const ids = [
      ...chain.validators().map((v) => bytesToHex(v.nodeId)),
      ...chain.observers().map(bytesToHex),
    ];
    return new Set(ids.filter((id) => id !== self));
  };
  const validatorWeights = () => {
    const connected = new Set(transport.connectedPeers().map(bytesToHex));
    let total = 0;
    let reachable = 0;
    let count = 0;
    let reachableCount = 0;
    for (const v of chain.validators()) {
      const id = bytesToHex(v.nodeId);
      total += v.weight;
      count++;
      if (id === self || connected.has(id)) {
        reachable += v.weight;
        reachableCount++;
      }
    }
    return { total, reachable, count, reachableCount };
  };
  const readiness = (): Readiness => {
    const w = validatorWeights();
    const s = sync.status();
    return computeReadiness({
      height: chain.height(),
      bestKnownHeight: s.highestBlock,
      peerHeadKnown: sync.counters.headsHeard > 0,
      otherGenesisAnswers: sync.counters.otherGenesis,
      onNodeList: chain.roleOf(parts.nodeKey.nodeId) !== "none",
      hasOtherMembers: members().size > 0,
      validatorWeightTotal: w.total,
      reachableValidatorWeight: w.reachable,
      quorumWeight: quorumWeight(w.total),
      lagBlocksMax: config.metrics.readyLagBlocksMax,
    });
  };

  metrics.setSources({
    chain: {
      height: () => chain.height(),
      headTimestampMs: () => headTimestampMs,
      stateHistoryBlocks: () => {
        const oldest = ledger.oldestStateBlock();
        return oldest < 0 ? 0 : chain.height() - oldest + 1;
      },
    },
    consensus: {
      status: () => consensus.status(),
      keyConflicts: () => parts.signerWatch.conflictCount(),
      validators: () => {
        const w = validatorWeights();
        return { total: w.count, reachable: w.reachableCount };
      },
    },
    txpool: { stats: () => txpool.stats() },
    network: {
      peerCount: () => transport.peerCount(),
      peerLimit: () => members().size,
      bannedPeerCount: () => transport.bannedPeerCount(),
      stats: () => transport.stats(),
    },
    sync: { status: () => sync.status() },
    txGossip: parts.gossip,
    txFetch: parts.txFetch,
    rpc: parts.rpc,
    readiness,
  });

  if (!config.metrics.enabled) return null;
  return new MetricsServer(
    {
      host: config.metrics.host,
      port: config.metrics.port,
      readyLagBlocksMax: config.metrics.readyLagBlocksMax,
    },
    { register: metrics.register, readiness, logger },
  );
}
