/**
 * The deterministic simulator (TigerBeetle VOPR style): n nodes, each running the real ConsensusDriver (with the
 * real PbftCore inside) on a simulated network, virtual clock, toy chain, endless pool and crash-surviving hard
 * state; Byzantine nodes; checkers for safety, double votes and liveness. Everything comes from one seed.
 *
 * Determinism: the drivers are async (they await their chain, pool and store). The simulator resolves every such
 * await either at once or through its own tick-indexed event queue, and after each tick lets the drivers run
 * until no microtask is left (one turn of the event loop: nothing in a driver's path schedules a macrotask any
 * more, its clock being this one). The same seed replays the same run.
 */
import type { PbftCrypto, PbftMessage } from "../../src/consensus/index.js";
import { toHex, verifyCertificate } from "../../src/consensus/index.js";
import type { NodeId, ValidatorInfo } from "../../src/types/index.js";
import { errorMessage } from "../../src/util/errors.js";
import type { Logger } from "../../src/util/logger.js";
import { byzantineTick } from "./byzantine.js";
import { type ChainEntry, SafetyChecker } from "./checker.js";
import { type HostWorld, SimHost, SimNode } from "./host.js";
import { type NetWorld, SimNetwork } from "./network.js";
import type { SimOptions, SimProfile } from "./options.js";
import { Prng } from "./prng.js";
import type { ChainWorld } from "./simChain.js";
import { KeyRegistry, sha256 } from "./simCrypto.js";
import { simLogger } from "./simLogger.js";

const SYNC_BATCH = 16;
/** Rounds of "run soon" tasks per tick (each may schedule more). */
const SOON_ROUNDS_MAX = 8;

export { SimNode } from "./host.js";

export interface SimResult {
  seed: number;
  profile: SimProfile;
  n: number;
  ok: boolean;
  safetyViolations: string[];
  doubleVotes: string[];
  /** A driver halted ("CONSENSUS FAILURE"): always a finding. */
  halts: string[];
  livenessFailure: string | null;
  ticks: number;
  heights: number[];
  messagesSent: number;
  viewChanges: number;
  /** Early proposals adopted with their execution (pipelining at work), summed over the nodes' drivers. */
  pipelined: number;
  byzantine: string[];
}

type Task = () => void;

/** Lets every driver run until it waits on the simulator again (see the file comment). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class Cluster implements HostWorld, NetWorld {
  readonly rng: Prng;
  readonly keys: KeyRegistry;
  readonly nodes: SimNode[] = [];
  readonly checker: SafetyChecker;
  readonly network: SimNetwork;
  readonly verifier: PbftCrypto;
  now = 0;
  faultsOn = true;
  evidenceSeen = 0;
  readonly halts: string[] = [];
  /** Nodes whose driver halted: they stay down (an operator would have to look). */
  private readonly halted = new Set<SimNode>();
  /** Test hook: every message a node sends, decoded. */
  onSend: ((nd: SimNode, msg: PbftMessage) => void) | null = null;
  private readonly queue = new Map<number, Task[]>();
  private soonTasks: Task[] = [];
  private readonly initialValidators: ValidatorInfo[];
  private readonly changes = new Map<number, ValidatorInfo[]>();

  constructor(readonly opts: SimOptions) {
    this.rng = new Prng(opts.seed);
    this.keys = new KeyRegistry(opts.crypto);
    const keys = this.keys;
    this.verifier = {
      sign: () => {
        throw new Error("the checker signs nothing");
      },
      verify: (id, digest, sig) => keys.verify(id, digest, sig),
      hash: sha256,
    };
    this.checker = new SafetyChecker(
      this,
      (h) => this.validatorsAt(h),
      (line) => this.log(line),
    );
    this.network = new SimNetwork(this);
    const total = opts.n + opts.extraNodes;
    const byzIdx =
      opts.byzantineIndexes ?? this.rng.shuffle([...Array(opts.n).keys()]).slice(0, opts.byzantine.length);
    for (let i = 0; i < total; i++) {
      const k = byzIdx.indexOf(i);
      this.nodes.push(new SimNode(i, this.keys.create(opts.seed, i), k >= 0 ? opts.byzantine[k]! : null));
    }
    this.initialValidators = this.nodes.slice(0, opts.n).map((nd) => ({ nodeId: nd.nodeId, weight: 1 }));
    for (const c of opts.validatorChanges) {
      this.changes.set(
        c.height,
        c.validators.map((i) => ({ nodeId: this.nodes[i]!.nodeId, weight: 1 })),
      );
    }
    for (const nd of this.nodes) this.start(nd);
  }

  // ------------------------------------------------------------------ what the parts read

  get faults() {
    return this.opts.faults;
  }
  get crashAfterCommitRate(): number {
    return this.opts.crashAfterCommitRate;
  }
  get restartTicksMax(): number {
    return this.opts.restartTicksMax;
  }
  get verbose(): boolean {
    return this.opts.verbose;
  }
  get viewTimeoutTicks(): number {
    return this.opts.viewTimeoutTicks;
  }
  get dropPersistence(): boolean {
    return this.opts.dropPersistence;
  }
  get pipeline(): boolean {
    return this.opts.pipeline;
  }
  get safetyViolations(): string[] {
    return this.checker.safetyViolations;
  }
  get doubleVotes(): string[] {
    return this.checker.doubleVotes;
  }

  /** The validator set in force at `height`: the last change made by a block below it. */
  validatorsAt(height: number): ValidatorInfo[] {
    let set = this.initialValidators;
    let best = -1;
    for (const [h, s] of this.changes) if (h < height && h > best) [best, set] = [h, s];
    return set;
  }

  // ------------------------------------------------------------------ lifecycle of a node

  private start(nd: SimNode): void {
    nd.restartAt = null;
    const host = new SimHost(nd, this);
    nd.host = host;
    host.driver.start().catch((err: unknown) => this.fatal(nd, err));
  }

  /** Crash a node; it restarts (from its persisted state) after downTicks (Infinity: until heal()). */
  crash(nd: SimNode, downTicks: number): void {
    const host = nd.host;
    if (!host) return;
    this.log(`t=${this.now} crash node${nd.index} (h=${nd.height}) for ${downTicks} ticks`);
    host.kill();
    nd.pastViewChanges += host.driver.counters.viewChanges;
    nd.pastPipelined += host.driver.coreCounters()?.pipelined ?? 0;
    nd.host = null;
    nd.epoch++;
    nd.restartAt = this.now + downTicks;
  }

  private restart(nd: SimNode): void {
    this.log(`t=${this.now} restart node${nd.index} (h=${nd.height})`);
    this.start(nd);
  }

  // ------------------------------------------------------------------ HostWorld: what a node's driver reaches

  chainWorld(nd: SimNode, host: SimHost): ChainWorld {
    return {
      index: nd.index,
      chain: nd.chain,
      byz: nd.byz,
      leaderPeriod: this.opts.leaderPeriod,
      later: (delayTicks, produce) => this.later(host, delayTicks, produce),
      int: (min, max) => this.rng.int(min, max),
      validatorsAt: (h) => this.validatorsAt(h),
      validatorChangeAt: (h) => this.changes.get(h),
      commit: (entry, height) => {
        if (!host.alive) return "down";
        if (height <= nd.height) {
          if (toHex(nd.chain[height]!.hash) !== toHex(entry.hash))
            this.checker.violation(nd, `node${nd.index} commit h=${height} differs from the block it synced`);
          return "known";
        }
        this.checker.applyBlock(nd, entry, height, this.verifier, "commit");
        return "applied";
      },
    };
  }

  soon(nd: SimNode, task: () => void): void {
    const epoch = nd.epoch;
    this.soonTasks.push(() => {
      if (nd.epoch === epoch) task();
    });
  }

  after(nd: SimNode, delayTicks: number, task: () => void): () => void {
    const epoch = nd.epoch;
    let cancelled = false;
    this.at(this.now + delayTicks, () => {
      if (!cancelled && nd.epoch === epoch) task();
    });
    return () => {
      cancelled = true;
    };
  }

  send(nd: SimNode, to: NodeId | null, data: Uint8Array): void {
    this.network.send(nd, to, data);
  }

  fatal(nd: SimNode, err: unknown): void {
    if (this.halts.length < 20) this.halts.push(`t=${this.now} node${nd.index} halted: ${errorMessage(err)}`);
    this.log(`HALT node${nd.index}: ${errorMessage(err)}`);
    this.crash(nd, Number.POSITIVE_INFINITY);
    this.halted.add(nd);
  }

  logger(nd: SimNode): Logger {
    return simLogger({
      onEvidence: () => this.evidenceSeen++,
      line: this.opts.verbose ? (text) => this.log(`t=${this.now} node${nd.index} ${text}`) : null,
    });
  }

  /** Sync: the first reachable node that has the blocks serves a batch, applied 1-3 ticks later. */
  fetchBlocks(nd: SimNode, fromHeight: number, hints: NodeId[]): void {
    const hintSet = new Set(hints.map(toHex));
    const servers = [...this.nodes].sort(
      (a, b) => Number(hintSet.has(toHex(b.nodeId))) - Number(hintSet.has(toHex(a.nodeId))),
    );
    const server = servers.find(
      (s) => s !== nd && s.host && s.height >= fromHeight && !this.network.blocked(s.index, nd.index),
    );
    if (!server || !nd.host) return;
    const blocks = server.chain.slice(fromHeight, fromHeight + SYNC_BATCH);
    const host = nd.host;
    void this.later(host, this.rng.int(1, 3), () => {
      for (const [i, b] of blocks.entries()) this.applySynced(nd, host, fromHeight + i, b);
    });
  }

  /** What the node's sync does: verify the certificate with that height's set, store, tell the driver. */
  private applySynced(nd: SimNode, host: SimHost, height: number, b: ChainEntry): void {
    if (height !== nd.height + 1 || !b.certificate) return;
    if (!verifyCertificate(b.certificate, this.validatorsAt(height), this.verifier).ok) return;
    this.checker.applyBlock(nd, b, height, this.verifier, "synced");
    host.chain.forgetUpTo(height);
    host.driver.synced(height, b.hash, b.certificate, this.changes.get(height));
  }

  // ------------------------------------------------------------------ scheduling

  at(tick: number, task: Task): void {
    const list = this.queue.get(tick);
    if (list) list.push(task);
    else this.queue.set(tick, [task]);
  }

  /** Settles with `produce()` `delayTicks` from now, or never if that incarnation died meanwhile. */
  private later<T>(host: SimHost, delayTicks: number, produce: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.at(this.now + delayTicks, () => {
        if (!host.alive) return;
        try {
          resolve(produce());
        } catch (err) {
          reject(err);
        }
      });
    });
  }

  log(line: string): void {
    if (this.opts.verbose) this.opts.log(line);
  }

  // ------------------------------------------------------------------ the run

  /** Scenario control: split nodes into groups (group id per node index), or null to heal. */
  setPartition(groups: number[] | null, untilTick = Number.MAX_SAFE_INTEGER): void {
    this.network.setPartition(groups, untilTick);
  }

  /** Scenario control: run `ticks` ticks (faults as configured, no random partitions/crashes). */
  async runTicks(ticks: number): Promise<void> {
    for (let i = 0; i < ticks; i++) await this.tickOnce();
  }

  /** Scenario control: run until `pred` holds or `maxTicks` pass; returns whether it held. */
  async runUntil(pred: () => boolean, maxTicks: number): Promise<boolean> {
    for (let i = 0; i < maxTicks && !pred(); i++) await this.tickOnce();
    return pred();
  }

  /** One tick: due events (deliveries, answers), then each node's driver tick; then the drivers run. */
  async tickOnce(): Promise<void> {
    const tasks = this.queue.get(this.now);
    if (tasks) {
      this.queue.delete(this.now);
      for (let i = 0; i < tasks.length; i++) tasks[i]!();
    }
    for (const nd of this.nodes) {
      if (!nd.host && nd.restartAt !== null && nd.restartAt <= this.now) this.restart(nd);
      if (nd.byz) byzantineTick(this, this.network, nd);
      nd.host?.tick();
    }
    await settle();
    for (let round = 0; round < SOON_ROUNDS_MAX && this.soonTasks.length > 0; round++) {
      const due = this.soonTasks;
      this.soonTasks = [];
      for (const task of due) task();
      await settle();
    }
    this.now++;
  }

  private faultTick(): void {
    const o = this.opts;
    this.network.maybePartition(o.partitionRate);
    for (const nd of this.nodes) {
      if (!nd.byz && nd.host && this.rng.chance(o.crashRate))
        this.crash(nd, this.rng.int(1, o.restartTicksMax));
    }
  }

  heal(): void {
    this.faultsOn = false;
    this.network.setPartition(null);
    for (const nd of this.nodes) if (!nd.host && !this.halted.has(nd)) this.restart(nd);
    this.log(`t=${this.now} HEAL: no more loss, partitions or crashes`);
  }

  honestNodes(): SimNode[] {
    const finalSet = new Set(this.validatorsAt(Number.MAX_SAFE_INTEGER).map((v) => toHex(v.nodeId)));
    return this.nodes.filter((nd) => !nd.byz && (finalSet.has(toHex(nd.nodeId)) || nd.index < this.opts.n));
  }

  async run(): Promise<SimResult> {
    while (this.now < this.opts.faultTicks) {
      this.faultTick();
      await this.tickOnce();
    }
    this.heal();
    const honest = this.honestNodes();
    const target = Math.max(...honest.map((nd) => nd.height)) + this.opts.livenessBlocks;
    const deadline = this.now + this.opts.livenessTicksMax;
    while (this.now < deadline && honest.some((nd) => nd.height < target)) await this.tickOnce();
    const lagging = honest.filter((nd) => nd.height < target);
    const livenessFailure = lagging.length
      ? `after heal, node(s) ${lagging.map((nd) => `node${nd.index}@${nd.height}`).join(",")} below ${target} by t=${this.now}`
      : null;
    return this.result(livenessFailure);
  }

  result(livenessFailure: string | null = null): SimResult {
    let viewChanges = 0;
    let pipelined = 0;
    for (const nd of this.nodes) viewChanges += nd.viewChanges();
    for (const nd of this.nodes) pipelined += nd.pipelined();
    const { safetyViolations, doubleVotes } = this.checker;
    return {
      seed: this.opts.seed,
      profile: this.opts.profile,
      n: this.opts.n,
      ok:
        safetyViolations.length === 0 &&
        doubleVotes.length === 0 &&
        this.halts.length === 0 &&
        livenessFailure === null,
      safetyViolations,
      doubleVotes,
      halts: this.halts,
      livenessFailure,
      ticks: this.now,
      heights: this.nodes.map((nd) => nd.height),
      messagesSent: this.network.messagesSent,
      viewChanges,
      pipelined,
      byzantine: this.nodes.filter((nd) => nd.byz).map((nd) => `node${nd.index}:${nd.byz}`),
    };
  }
}
