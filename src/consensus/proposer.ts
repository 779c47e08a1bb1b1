import type { Hash, NodeId } from "../types/index.js";
import { errorMessage } from "../util/errors.js";
import type { Logger } from "../util/logger.js";
import type { ConsensusChain, ConsensusClock, ConsensusPool } from "./interface.js";
import type { PbftEvent, RequestProposalAction } from "./pbft/core/index.js";

type ProposalEvent = Extract<PbftEvent, { type: "proposal" }>;

export interface ProposerDeps {
  chain: Pick<ConsensusChain, "systemConfig" | "buildBlock" | "encodeProposal" | "nextValidators">;
  txpool: Pick<ConsensusPool, "size" | "seal" | "releaseSealed" | "park" | "drop">;
  nodeId: NodeId;
  logger: Logger;
  clock: ConsensusClock;
  /** A leader with fewer txs than a full block waits this long after the first one arrived (batching). */
  minSealTimeMs: number;
  /**
   * A build starts at least this long after the last proposal this node made or took for execution, unless a full
   * block waits (ConsensusDriverOptions.minBlockIntervalMs).
   */
  minBlockIntervalMs: number;
  /** A proposal is built: the driver steps it into the core. */
  onProposal(event: ProposalEvent): void;
  /** Building started (the view clock excuses this node's own work on the height it times). */
  onWorkStarted(atMs: number): void;
  stopped(): boolean;
}

/**
 * How long ago `sinceMs` was. A wall clock stepped back (NTP) puts it in the future: that is no reason to wait, or a
 * leader would hold its block until the clock caught up and lose the round to a view change.
 */
function waitedMs(nowMs: number, sinceMs: number): number {
  return nowMs >= sinceMs ? nowMs - sinceMs : Number.POSITIVE_INFINITY;
}

/** Executor refusals that only say the block had no room left (src/execution/errors.ts). */
const BLOCK_FULL_CODES: ReadonlySet<string> = new Set([
  "BLOCK_GAS_LIMIT_REACHED",
  "BLOCK_TX_COUNT_LIMIT_REACHED",
]);

/**
 * The leader's side of the driver: once the core asks for a proposal (`request`), seal pending txs into a block as
 * soon as there are some (no empty blocks while idle), build it on the parent the core names, and hand the result
 * back as a "proposal" event. One build at a time; a request the core drops or replaces is not proposed.
 */
export class Proposer {
  private requested: RequestProposalAction | null = null;
  private scheduled = false;
  private buildingFlag = false;
  /** The height of the block being built (pipelining: may be the next one). */
  private buildingAt: number | null = null;
  private firstPendingAtMs: number | null = null;
  /**
   * When the last proposal began (ms), for minBlockIntervalMs: this node's last build, or the last proposal of
   * another leader it took for execution (`proposalSeen`). -Infinity before the first. Leaders take turns, so a
   * leader's own previous build is usually several heights back: only the chain's last proposal spaces blocks.
   */
  private lastProposalAtMs = Number.NEGATIVE_INFINITY;
  /** The height of the last block the driver is committing right now; null when no commit is in flight. */
  private committingUpTo: number | null = null;
  /** Cancels the one retry armed for when the current wait ends (null: none armed). */
  private cancelRetry: (() => void) | null = null;

  constructor(private readonly deps: ProposerDeps) {}

  /** The core asked for a proposal at `request.height` (replacing any earlier request). */
  request(request: RequestProposalAction): void {
    this.requested = request;
  }

  get buildingHeight(): number | null {
    return this.buildingAt;
  }

  /** Block `height` committed: a request for that height or below is void. */
  committed(height: number): void {
    if (this.requested && this.requested.height <= height) this.requested = null;
  }

  /** The driver is writing blocks up to `height` (null: done): a build on them may be refused meanwhile. */
  committing(height: number | null): void {
    this.committingUpTo = height;
  }

  /**
   * A proposal of another leader was taken for execution at `atMs` (the core checked its sender and signature, so
   * only a validator's proposal at its own turn counts: one per height and view).
   */
  proposalSeen(atMs: number): void {
    this.lastProposalAtMs = atMs;
  }

  /** The driver stops: no retry fires after it. */
  stop(): void {
    this.cancelRetry?.();
    this.cancelRetry = null;
  }

  /** Try soon (txs arrived): coalesces bursts of arrivals into one attempt. */
  schedule(): void {
    if (!this.requested || this.buildingFlag || this.scheduled || this.deps.stopped()) return;
    this.scheduled = true;
    this.deps.clock.soon(() => {
      this.scheduled = false;
      if (!this.deps.stopped()) void this.tryPropose();
    });
  }

  /** Leader: seal pending transactions into a block once there are some (no empty blocks while idle). */
  async tryPropose(): Promise<void> {
    const request = this.requested;
    if (!request || this.buildingFlag) return;
    const { txCountLimit: limit } = this.deps.chain.systemConfig();
    const pending = this.deps.txpool.size();
    if (pending === 0) return;
    const now = this.deps.clock.nowMs();
    if (pending < limit) {
      this.firstPendingAtMs ??= now;
      const waitMs = Math.max(
        this.deps.minSealTimeMs - waitedMs(now, this.firstPendingAtMs),
        this.deps.minBlockIntervalMs - waitedMs(now, this.lastProposalAtMs),
      );
      if (waitMs > 0) return this.retryIn(waitMs);
    }
    // Up to tx_count_limit candidates, whatever their gas limits: which ones fit block_gas_limit depends on the gas
    // they use (Ethereum's rule), so the build decides, and gives back the ones left over (dropRejected).
    const candidates = this.deps.txpool.seal(limit);
    if (candidates.length === 0) return;
    this.buildingFlag = true;
    this.buildingAt = request.height;
    this.lastProposalAtMs = now;
    this.deps.onWorkStarted(now);
    let proposed = false;
    try {
      proposed = await this.build(request, candidates, now);
    } catch (err) {
      // On a parent still being committed the chain may refuse (a block that changes the validator set or the
      // system config is no parent before it commits): the driver tries again once the commit is durable.
      const onCommitting = this.committingUpTo !== null && request.height === this.committingUpTo + 1;
      this.deps.logger[onCommitting ? "debug" : "error"](
        { height: request.height, err: errorMessage(err) },
        onCommitting
          ? "building on the block being committed failed: retried after its commit"
          : "building a proposal failed",
      );
    } finally {
      this.buildingFlag = false;
      this.buildingAt = null;
      // Sealed txs stay "in flight" in the pool until they commit; give back the ones that did not make a proposal.
      if (!proposed) this.deps.txpool.releaseSealed(candidates.map((t) => t.hash));
    }
  }

  /**
   * Tries again when the wait ends, not on the next tick: the last txs of a burst would otherwise wait up to a tick
   * (100 ms) past the interval. One retry at a time: a wait only ever ends later than it did (a newer proposal, a
   * newer first pending tx), never sooner, so an armed retry is never late; if it fires early it arms the next.
   */
  private retryIn(waitMs: number): void {
    if (this.cancelRetry) return;
    this.cancelRetry = this.deps.clock.after(waitMs, () => {
      this.cancelRetry = null;
      void this.tryPropose();
    });
  }

  /** Builds `candidates` for `request`; false when nothing is proposed (the request went away, or all were refused). */
  private async build(
    request: RequestProposalAction,
    candidates: Parameters<ConsensusChain["buildBlock"]>[0],
    nowMs: number,
  ): Promise<boolean> {
    const { block, hash, executed } = await this.deps.chain.buildBlock(candidates, {
      proposer: this.deps.nodeId,
      view: request.view,
      nowMs,
      parentHash: request.parentHash,
    });
    this.dropRejected(executed.rejected);
    if (this.requested !== request || block.transactions.length === 0) return false;
    this.requested = null;
    this.firstPendingAtMs = null;
    const nextValidators = await this.deps.chain.nextValidators(hash);
    this.deps.logger.debug(
      { height: request.height, view: request.view, txs: block.transactions.length },
      "proposing",
    );
    this.deps.onProposal({
      type: "proposal",
      height: request.height,
      parentHash: request.parentHash,
      blockHash: hash,
      payload: this.deps.chain.encodeProposal(block),
      nextValidators,
    });
    return true;
  }

  /**
   * Txs the executor refused for good (bad nonce, replayed native nonce…) leave the pool; retryable ones (balance,
   * nonce gap) stay but are parked until the next commit: not left "in flight" (they are in no proposal) and not
   * rebuilt every tick. Txs left over because the block was full are sealable again at once: the next block takes
   * them.
   */
  private dropRejected(
    rejected: { tx: { hash: Hash }; retryable: boolean; reason: string; code: string }[],
  ): void {
    const full = rejected.filter((r) => BLOCK_FULL_CODES.has(r.code));
    if (full.length > 0) this.deps.txpool.releaseSealed(full.map((r) => r.tx.hash));
    const retry = rejected.filter((r) => r.retryable && !BLOCK_FULL_CODES.has(r.code));
    if (retry.length > 0) this.deps.txpool.park(retry.map((r) => r.tx.hash));
    const dead = rejected.filter((r) => !r.retryable);
    if (dead.length === 0) return;
    this.deps.txpool.drop(dead.map((r) => r.tx.hash));
    this.deps.logger.info(
      { count: dead.length, reason: dead[0]!.reason },
      "dropped transactions the executor refused",
    );
  }
}
