import { dirname } from "node:path";
import { keccak256, type NodeKey, verifyNodeSignature } from "../crypto/index.js";
import type { ConsortMetrics } from "../metrics/index.js";
import { ConsensusPhaseTracker } from "../metrics/index.js";
import type { Transport } from "../network/index.js";
import type { Hash, NodeId, ValidatorInfo } from "../types/index.js";
import { assert, errorMessage, isDiskFull } from "../util/errors.js";
import { bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import { systemClock } from "./clock.js";
import { HardStateLog, HardStateLogError } from "./hardStateLog.js";
import { HeldTxs } from "./heldTxs.js";
import type { ConsensusChain, ConsensusClock, ConsensusPool, HardStateStore } from "./interface.js";
import { type ConsensusDriverOptions, PIPELINE_DEFAULT, QUEUE_BYTES_MAX_DEFAULT } from "./options.js";
import {
  type CommitBlockAction,
  defaultPbftConfig,
  type ExecuteBlockAction,
  type HardState,
  isBlankHardState,
  PbftCore,
  type PbftCounters,
  type PbftCrypto,
  type PbftEvent,
  type Ready,
} from "./pbft/core/index.js";
import { decodePbftMessage, encodePbftMessage } from "./pbft/wire.js";
import { Proposer } from "./proposer.js";
import { SignedCommits } from "./signerWatch.js";

/** The part of the transport consensus uses: the "consensus" topic, broadcast and direct. */
export type ConsensusTransport = Pick<Transport, "subscribe" | "publish" | "sendDirect">;

export interface ConsensusDriverDeps {
  chain: ConsensusChain;
  txpool: ConsensusPool;
  transport: ConsensusTransport;
  nodeKey: Pick<NodeKey, "nodeId" | "sign">;
  logger: Logger;
  metrics?: ConsortMetrics | null;
  /** Asked when the core learns it is behind (sync fetches, verifies and commits, then reports back). */
  fetchBlocks(fromHeight: number, peers: NodeId[]): void;
  /** The driver halted on an error it cannot continue after: the composition root stops the node. */
  onFatal(err: unknown): void;
  /** Default: the wall clock and Node's timers. The simulator passes its virtual clock. */
  clock?: ConsensusClock;
  /** Default: the log file `stateFile` (HardStateLog: appended, fdatasynced). The simulator passes a store that survives its crashes. */
  hardStateStore?: HardStateStore;
  /** How peers' votes are checked and digests made. Default: Ed25519 node ids over keccak256 digests. */
  verifier?: Pick<PbftCrypto, "verify" | "hash">;
}

/** The view clock pauses while this node executes a proposal, for at most this many view timeouts. */
const EXECUTION_PAUSE_TIMEOUTS_MAX = 10;

/** `bytes`: of the peer message an event came as (0 for the node's own events). */
type QueueItem = { kind: "event"; event: PbftEvent; bytes?: number } | { kind: "tick" };

/**
 * Runs the pure PBFT core against the real world: one serialized loop feeds it events (peer messages, timer ticks,
 * execution and proposal results) and carries out its Ready in the documented order — commits, then the
 * fsynced hard state, then messages — so a vote is on disk before any peer can see it.
 */
export class ConsensusDriver {
  private core: PbftCore | null = null;
  private readonly queue: QueueItem[] = [];
  /** Bytes of the peer messages in `queue`. */
  private queuedBytes = 0;
  private draining = false;
  private readonly proposer: Proposer;
  private stopped = false;
  private unsubscribe: (() => void)[] = [];
  /** A proposal attempt is scheduled for the next turn of the event loop (coalesces bursts of added txs). */
  readonly counters = { queueDropped: 0, messagesIn: 0, messagesOut: 0, viewChanges: 0, commits: 0 };
  private readonly phases: ConsensusPhaseTracker | null;
  /** Txs of proposals this node executed, held in flight in its pool (heldTxs.ts). */
  private readonly held: HeldTxs;
  private readonly clock: ConsensusClock;
  private readonly hardStateStore: HardStateStore;
  private readonly signedCommits = new SignedCommits();
  /** Cancels the repeating tick (null: not started, or stopped). */
  private cancelTick: (() => void) | null = null;
  /** The drain in progress (stop() waits for it). */
  private drained: Promise<void> = Promise.resolve();

  constructor(
    private readonly opts: ConsensusDriverOptions,
    private readonly deps: ConsensusDriverDeps,
  ) {
    this.phases = deps.metrics ? new ConsensusPhaseTracker(deps.metrics.consensus) : null;
    this.held = new HeldTxs(deps.txpool);
    this.clock = deps.clock ?? systemClock;
    this.hardStateStore = deps.hardStateStore ?? new HardStateLog(opts.stateFile);
    this.proposer = new Proposer({
      chain: deps.chain,
      txpool: deps.txpool,
      nodeId: deps.nodeKey.nodeId,
      logger: deps.logger,
      clock: this.clock,
      minSealTimeMs: opts.minSealTimeMs,
      minBlockIntervalMs: opts.minBlockIntervalMs ?? 0,
      onProposal: (event) => this.enqueue({ kind: "event", event }),
      onWorkStarted: (atMs) => {
        this.workStartedAtMs = atMs;
      },
      stopped: () => this.stopped,
    });
  }

  /**
   * Whether this process signed a commit vote for (height, view, blockHash): a certificate that carries this node's
   * signature for a vote it did not make was signed by another process holding its key (SignerWatch).
   */
  signedCommit(height: number, view: number, blockHash: Hash): boolean {
    return this.signedCommits.has(height, view, blockHash);
  }

  async start(): Promise<void> {
    const hardState = await this.hardStateStore.load();
    this.refuseVotesAheadOfLedger(hardState);
    this.core = this.createCore(hardState);
    this.unsubscribe.push(
      this.deps.transport.subscribe("consensus", (from, data) => this.onMessage(from, data)),
      // A leader waiting for txs seals as soon as they arrive, not on its next tick (latency of a lone tx).
      this.deps.txpool.onAdded(() => this.proposer.schedule()),
    );
    this.cancelTick = this.clock.every(this.opts.tickMs, () => this.onTick());
    const status = this.core.status();
    this.deps.logger.info(
      { height: status.height, view: status.view, sealer: this.isSealer() },
      "consensus started",
    );
    this.kick();
  }

  /**
   * Votes saved for a height above the one after the head mean the ledger lost blocks this node had committed (a
   * data directory restored from an older copy, or its ledger deleted alone): the block of each height is durable
   * before the votes of the next are saved. Starting would let this validator sign again where it signed before.
   */
  private refuseVotesAheadOfLedger(hardState: HardState | null): void {
    const head = this.deps.chain.head().number;
    if (hardState === null || hardState.height <= head + 1) return;
    throw new HardStateLogError(
      "HARD_STATE_AHEAD",
      `${this.opts.stateFile}: this node's votes reach height ${hardState.height}, but its ledger ends at block ${head}: ` +
        "the ledger lost blocks the node had committed (restored from an older copy, or deleted without the votes). " +
        "Starting could make it sign again where it has signed. Rebuild it from its peers: stop it, delete the whole " +
        `data directory (${dirname(this.opts.stateFile)}), start it (docs/operations.md).`,
      { stateFile: this.opts.stateFile, votesHeight: hardState.height, ledgerHead: head },
    );
  }

  /** A core at the head: the committed block, its validator set and leader period, and the persisted votes. */
  private createCore(hardState: HardState | null): PbftCore {
    const head = this.deps.chain.head();
    const verifier = this.deps.verifier;
    const crypto: PbftCrypto = {
      sign: (digest) => this.deps.nodeKey.sign(digest),
      verify: verifier
        ? verifier.verify
        : (nodeId, digest, signature) => verifyNodeSignature(nodeId, digest, signature),
      hash: verifier ? verifier.hash : keccak256,
    };
    this.leaderPeriod = this.deps.chain.systemConfig().consensusLeaderPeriod;
    return new PbftCore(
      {
        ...defaultPbftConfig,
        // Pipelining: on unless the node config turns it off (PIPELINE_DEFAULT).
        pipeline: this.opts.pipeline ?? PIPELINE_DEFAULT,
        nodeId: this.deps.nodeKey.nodeId,
        leaderPeriod: this.leaderPeriod,
        viewTimeoutTicks: Math.max(1, Math.round(this.opts.viewTimeoutMs / this.opts.tickMs)),
      },
      { crypto, logger: this.deps.logger },
      {
        committedHeight: head.number,
        committedHash: head.hash,
        validators: this.deps.chain.validators(),
        hardState,
      },
    );
  }

  private leaderPeriod = 1;

  /**
   * consensus_leader_period changed in a committed block: it is in force from the next height on every node. The
   * core takes it at construction, so rebuild the core at the new height (it holds no votes there yet).
   */
  private maybeApplyLeaderPeriod(core: PbftCore): PbftCore {
    const period = this.deps.chain.systemConfig().consensusLeaderPeriod;
    const status = core.status();
    if (period === this.leaderPeriod || status.height !== this.deps.chain.height() + 1 || status.view !== 0)
      return core;
    if (core.hasReady()) return core;
    this.deps.logger.info({ height: status.height, leaderPeriod: period }, "leader period changed");
    this.core = this.createCore(core.hardState());
    return this.core;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopTicking();
    for (const u of this.unsubscribe) u();
    this.unsubscribe = [];
    // A drain stops at its next step once `stopped` is set; a block it is committing lands first.
    while (this.draining) await this.drained;
  }

  private stopTicking(): void {
    this.cancelTick?.();
    this.cancelTick = null;
    this.proposer.stop();
  }

  status(): ReturnType<PbftCore["status"]> | null {
    return this.core?.status() ?? null;
  }

  /** The core's counters (view changes, pipelined proposals adopted…) since this driver started; null before. */
  coreCounters(): PbftCounters | null {
    return this.core?.counters ?? null;
  }

  /**
   * Sync applied block `height` (certificate verified): the core moves on, and the txs this node held for other
   * proposals of that height go back to the pool now, not at the next commit by consensus.
   */
  synced(
    height: number,
    blockHash: Hash,
    certificate: import("../types/index.js").CommitCertificate,
    nextValidators?: ValidatorInfo[],
  ): void {
    this.held.releaseUpTo(height, blockHash);
    this.enqueue({
      kind: "event",
      event: { type: "synced", height, blockHash, certificate, nextValidators },
    });
  }

  private isSealer(): boolean {
    return this.deps.chain.isSealer(this.deps.nodeKey.nodeId);
  }

  private onMessage(from: NodeId, data: Uint8Array): "accept" | "reject" | "ignore" {
    let msg: ReturnType<typeof decodePbftMessage>;
    try {
      msg = decodePbftMessage(data);
    } catch (err) {
      this.deps.logger.debug(
        { from: bytesToHex(from), err: errorMessage(err) },
        "malformed consensus message",
      );
      return "reject";
    }
    this.counters.messagesIn++;
    const bytesMax = this.opts.queueBytesMax ?? QUEUE_BYTES_MAX_DEFAULT;
    if (this.queue.length >= this.opts.queueMax || this.queuedBytes + data.length > bytesMax) {
      this.counters.queueDropped++;
      return "ignore";
    }
    this.queuedBytes += data.length;
    this.enqueue({ kind: "event", event: { type: "message", from, msg }, bytes: data.length });
    return "accept";
  }

  /**
   * The view timer only runs while there is work: sealable transactions or a round in flight. An idle chain
   * makes no empty blocks and no view changes; nor does a pool holding only txs behind a nonce gap (they cannot
   * be sealed, so a timer running for them would only cause view changes, round after round, until they expire).
   */
  private onTick(): void {
    const status = this.core?.status();
    if (!status) return;
    const busy = status.viewChanging || this.deps.txpool.hasWork();
    // While this node is still executing the leader's proposal (or building its own), a slow round is our own
    // CPU's doing, not the leader's fault: the view clock stops, or a large block on a loaded machine would
    // trigger view changes that throw the work away and start over.
    // Bounded: a leader whose block runs longer than 10 view timeouts is treated as faulty after all.
    const workingMs = this.clock.nowMs() - this.workStartedAtMs;
    // Only work for the height the clock is timing counts: an early execution or build of the next height
    // (pipelining) does not excuse the current one.
    const executingOwnWork =
      (this.executingAt.has(status.height) || this.proposer.buildingHeight === status.height) &&
      workingMs < this.opts.viewTimeoutMs * EXECUTION_PAUSE_TIMEOUTS_MAX;
    if (busy && !executingOwnWork && this.queue.length < this.opts.queueMax) this.enqueue({ kind: "tick" });
    void this.proposer.tryPropose(); // returns at once without a request, or while a build runs
  }

  private enqueue(item: QueueItem): void {
    this.queue.push(item);
    this.kick();
  }

  private kick(): void {
    // Before start() there is no core: what arrives waits in the queue, and start() drains it. (Kicking then looped
    // on microtasks forever, since the drain returned at once with the item still queued.)
    if (this.draining || this.stopped || this.core === null) return;
    this.draining = true;
    this.drained = this.drain().finally(() => {
      this.draining = false;
      if (this.queue.length > 0 && !this.stopped) this.kick();
    });
  }

  private async drain(): Promise<void> {
    let core = this.core;
    assert(core !== null, "drain runs only after start() created the core");
    try {
      await this.handleReady(core);
      for (let item = this.queue.shift(); item && !this.stopped; item = this.queue.shift()) {
        if (item.kind === "event") this.queuedBytes -= item.bytes ?? 0;
        if (item.kind === "tick") core.tick();
        else core.step(item.event);
        if (core.hasReady()) await this.handleReady(core);
        core = this.maybeApplyLeaderPeriod(core);
      }
    } catch (err) {
      this.halt(err);
    }
  }

  /**
   * A broken invariant or a failed disk write: carrying on could sign conflicting votes. Halt at once (no further
   * step, tick or message) and let the composition root stop the node. Also for a block sync could not store: the
   * node cannot follow the chain without its disk.
   */
  halt(err: unknown): void {
    if (this.stopped) return;
    const diskFull = isDiskFull(err);
    this.deps.logger.fatal(
      diskFull
        ? { err: errorMessage(err), dataDir: dirname(this.opts.stateFile) }
        : { err: errorMessage(err), stack: (err as Error).stack },
      diskFull
        ? "no space left on the data directory: stopping (blocks and votes already on disk are intact); free space and restart the node"
        : "CONSENSUS FAILURE: halting",
    );
    this.stopped = true;
    this.stopTicking();
    this.deps.onFatal(err);
  }

  /**
   * The ordering contract of Ready: commits → persist (fsync) → messages → async work. One overlap: the leader of
   * h + 1 starts building its block on h's executed state while h's block is being written (the chain builds on an
   * executed, uncommitted parent: pipelining). Only the build overlaps; its PrePrepare is a step of a later Ready,
   * which the drain reaches after this one's commits are durable.
   */
  private async handleReady(core: PbftCore): Promise<void> {
    if (!core.hasReady()) return;
    const ready = core.ready();
    this.phases?.onReady(ready);
    // Before the commits below: a certificate completed by our own vote holds a signature sent in this Ready.
    for (const m of ready.messages) if (m.msg.type === "commit") this.signedCommits.remember(m.msg);
    try {
      if (ready.requestProposal) this.proposer.request(ready.requestProposal);
      if (ready.commits.length > 0) {
        this.proposer.committing(ready.commits[ready.commits.length - 1]!.height);
        void this.proposer.tryPropose(); // on h's executed state, beside its write
        for (const c of ready.commits) await this.commit(c);
        this.proposer.committing(null);
      }
      if (ready.persist && !isBlankHardState(ready.persist)) await this.hardStateStore.save(ready.persist);
      for (const m of ready.messages) this.send(m.to, encodePbftMessage(m.msg));
      for (const e of ready.execute) {
        this.proposer.proposalSeen(this.clock.nowMs());
        void this.execute(e);
      }
      void this.proposer.tryPropose(); // also the retry of a build refused while h was being written
      if (ready.fetchBlocks) this.deps.fetchBlocks(ready.fetchBlocks.fromHeight, ready.fetchBlocks.peers);
      this.logReady(ready);
    } finally {
      core.advance(ready);
    }
  }

  private logReady(ready: Ready): void {
    const log = this.deps.logger;
    if (ready.viewChangeStarted) {
      this.counters.viewChanges++;
      // A new leader will propose: our sealed-but-uncommitted txs are free to be sealed again.
      this.deps.txpool.releaseSealed();
      this.held.clear();
      log.warn(ready.viewChangeStarted, "view change started");
    }
    for (const [a, b] of ready.evidence) {
      log.warn(
        {
          height: a.height,
          view: a.view,
          leader: bytesToHex(a.sender),
          hashes: [bytesToHex(a.blockHash), bytesToHex(b.blockHash)],
        },
        "leader equivocation evidence",
      );
    }
    for (const r of ready.rejections) log.debug(r, "consensus input ignored");
  }

  private send(to: NodeId | null, data: Uint8Array): void {
    this.counters.messagesOut++;
    const sent =
      to === null
        ? this.deps.transport.publish("consensus", data)
        : this.deps.transport.sendDirect(to, "consensus", data);
    sent.catch((err: unknown) => this.deps.logger.debug({ err: errorMessage(err) }, "consensus send failed"));
  }

  private async commit(c: CommitBlockAction): Promise<void> {
    const started = this.clock.monotonicMs();
    const committed = await this.deps.chain.commit(c.blockHash, c.certificate, c.payload, {
      compact: true,
    });
    this.proposer.committed(c.height);
    this.held.releaseUpTo(c.height, c.blockHash);
    if (committed === null) return; // sync got there first
    this.counters.commits++;
    this.deps.logger.info(
      {
        height: c.height,
        view: c.certificate.view,
        hash: bytesToHex(c.blockHash),
        txs: committed.block.transactions.length,
        signers: c.certificate.signatures.length,
        commitMs: Math.round(this.clock.monotonicMs() - started),
        // Early proposals adopted so far (pipelining at work), since this driver started.
        pipelined: this.core?.counters.pipelined ?? 0,
      },
      "block committed",
    );
  }

  private executing = 0;
  /** Executions in progress by height (pipelining: the next height may execute beside the current one). */
  private readonly executingAt = new Map<number, number>();
  private workStartedAtMs = 0;

  private async execute(e: ExecuteBlockAction): Promise<void> {
    let valid = true;
    let nextValidators: ValidatorInfo[] | undefined;
    if (this.executing++ === 0) this.workStartedAtMs = this.clock.nowMs();
    this.executingAt.set(e.height, (this.executingAt.get(e.height) ?? 0) + 1);
    try {
      // On the parent the core names (the head, or with pipelining an executed block): a block that extends
      // another one is invalid for this round, however valid it is where it belongs (the chain refuses it).
      const block = await this.deps.chain.verifyBlock(e.payload, e.blockHash, {
        nowMs: this.clock.nowMs(),
        parentHash: e.parentHash,
      });
      nextValidators = await this.deps.chain.nextValidators(e.blockHash);
      this.held.hold(e.height, e.blockHash, block.transactions);
    } catch (err) {
      valid = false;
      this.deps.logger.warn({ height: e.height, view: e.view, err: errorMessage(err) }, "proposal rejected");
    } finally {
      this.executing--;
      const left = (this.executingAt.get(e.height) ?? 1) - 1;
      if (left > 0) this.executingAt.set(e.height, left);
      else this.executingAt.delete(e.height);
    }
    this.enqueue({
      kind: "event",
      event: {
        type: "blockExecuted",
        height: e.height,
        parentHash: e.parentHash,
        blockHash: e.blockHash,
        valid,
        nextValidators,
      },
    });
  }
}
