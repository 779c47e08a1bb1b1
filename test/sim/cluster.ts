/**
 * The deterministic simulator (TigerBeetle VOPR style): n replicas of the real PbftCore, a simulated network
 * and logical clock, drivers that play the node (build/execute toy blocks, persist hard state, serve sync),
 * Byzantine replicas, and checkers for safety, double votes and liveness. Everything comes from one seed.
 */
import {
  commitDigest,
  decodePbftMessage,
  defaultPbftConfig,
  encodePbftMessage,
  type HardState,
  messageDigest,
  PbftCore,
  type PbftMessage,
  type Ready,
  toHex,
  verifyCertificate,
} from "../../src/consensus/index.js";
import type { CommitCertificate, ValidatorInfo } from "../../src/types/index.js";
import { encodeToyBlock, executeToyBlock, toyBlockHash } from "./block.js";
import type { ByzKind, SimOptions, SimProfile } from "./options.js";
import { Prng } from "./prng.js";
import { KeyRegistry, type SimKey, sha256 } from "./simCrypto.js";

interface ChainEntry {
  hash: Uint8Array;
  payload: Uint8Array;
  certificate: CommitCertificate | null;
}

const GENESIS_HASH = new Uint8Array(32);
const REPLAY_RING = 64;
const SYNC_BATCH = 16;

export class SimNode {
  core: PbftCore | null = null;
  epoch = 0;
  persisted: HardState | null = null;
  readonly chain: ChainEntry[] = [{ hash: GENESIS_HASH, payload: new Uint8Array(0), certificate: null }];
  restartAt: number | null = null;
  readonly seen: PbftMessage[] = [];
  readonly ownProposals: PbftMessage[] = [];

  constructor(
    readonly index: number,
    readonly key: SimKey,
    readonly byz: ByzKind | null,
  ) {}

  get nodeId(): Uint8Array {
    return this.key.nodeId;
  }

  get height(): number {
    return this.chain.length - 1;
  }
}

export interface SimResult {
  seed: number;
  profile: SimProfile;
  n: number;
  ok: boolean;
  safetyViolations: string[];
  doubleVotes: string[];
  livenessFailure: string | null;
  ticks: number;
  heights: number[];
  messagesSent: number;
  viewChanges: number;
  /** Early proposals adopted with their execution (pipelining at work), summed over the nodes' last cores. */
  pipelined: number;
  byzantine: string[];
}

type Task = () => void;

export class Cluster {
  readonly rng: Prng;
  readonly keys: KeyRegistry;
  readonly nodes: SimNode[] = [];
  now = 0;
  private readonly queue = new Map<number, Task[]>();
  private readonly decided = new Map<number, string>();
  private readonly votesSigned = new Map<string, string>();
  readonly safetyViolations: string[] = [];
  readonly doubleVotes: string[] = [];
  private partition: number[] | null = null;
  private partitionEndsAt = 0;
  private faultsOn = true;
  messagesSent = 0;
  evidenceSeen = 0;
  /** Test hook: called after each Ready a node's driver handled. */
  onReady: ((nd: SimNode, r: Ready) => void) | null = null;
  private readonly initialValidators: ValidatorInfo[];
  private readonly changes = new Map<number, ValidatorInfo[]>();

  constructor(readonly opts: SimOptions) {
    this.rng = new Prng(opts.seed);
    this.keys = new KeyRegistry(opts.crypto);
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
    for (const nd of this.nodes) this.startCore(nd);
  }

  // ------------------------------------------------------------------ truth about validator sets

  /** The validator set in force at `height`: the last change made by a block below it. */
  validatorsAt(height: number): ValidatorInfo[] {
    let set = this.initialValidators;
    let best = -1;
    for (const [h, s] of this.changes) if (h < height && h > best) [best, set] = [h, s];
    return set;
  }

  private nextValidators(height: number): ValidatorInfo[] | undefined {
    return this.changes.get(height);
  }

  // ------------------------------------------------------------------ lifecycle of a node

  private startCore(nd: SimNode): void {
    const hardState = this.opts.dropPersistence ? null : nd.persisted;
    nd.core = new PbftCore(
      {
        ...defaultPbftConfig,
        nodeId: nd.nodeId,
        viewTimeoutTicks: this.opts.viewTimeoutTicks,
        leaderPeriod: this.opts.leaderPeriod,
      },
      { crypto: this.keys.cryptoFor(nd.key) },
      {
        committedHeight: nd.height,
        committedHash: nd.chain[nd.height]!.hash,
        validators: this.validatorsAt(nd.height + 1),
        hardState,
      },
    );
    nd.restartAt = null;
    this.drain(nd);
  }

  /** Crash a node; it restarts (from its persisted state) after downTicks (Infinity: until heal()). */
  crash(nd: SimNode, downTicks: number): void {
    if (!nd.core) return;
    this.log(`t=${this.now} crash node${nd.index} (h=${nd.height}) for ${downTicks} ticks`);
    nd.core = null;
    nd.epoch++;
    nd.restartAt = this.now + downTicks;
  }

  private restart(nd: SimNode): void {
    this.log(`t=${this.now} restart node${nd.index} (h=${nd.height})`);
    this.startCore(nd);
  }

  // ------------------------------------------------------------------ scheduling

  private at(tick: number, task: Task): void {
    const list = this.queue.get(tick);
    if (list) list.push(task);
    else this.queue.set(tick, [task]);
  }

  /** Runs a task later only if the node has not crashed meanwhile. */
  private later(nd: SimNode, delay: number, fn: (core: PbftCore) => void): void {
    const epoch = nd.epoch;
    this.at(this.now + delay, () => {
      if (nd.core && nd.epoch === epoch) {
        fn(nd.core);
        this.drain(nd);
      }
    });
  }

  private step(nd: SimNode, fn: (core: PbftCore) => void): void {
    if (!nd.core) return;
    fn(nd.core);
    this.drain(nd);
  }

  /** The node's driver: handles every Ready in the contract's order. */
  private drain(nd: SimNode): void {
    for (let guard = 0; guard < 1000 && nd.core?.hasReady(); guard++) {
      const core = nd.core;
      const r = core.ready();
      this.handleReady(nd, r);
      if (nd.core === core) core.advance(r);
    }
  }

  private handleReady(nd: SimNode, r: Ready): void {
    this.evidenceSeen += r.evidence.length;
    for (const c of r.commits) this.applyBlock(nd, c.height, c.blockHash, c.payload, c.certificate, "commit");
    if (r.persist) nd.persisted = r.persist;
    if (this.opts.verbose) this.logReady(nd, r);
    let sentCommit = false;
    for (const out of r.messages) {
      sentCommit ||= out.msg.type === "commit";
      this.send(nd, out.to, out.msg);
    }
    for (const e of r.execute) {
      this.later(nd, this.rng.int(1, 2), (core) => {
        // On the head, or (pipelining) on the block the core executed valid one height above it.
        const onHead = nd.height === e.height - 1 && equal(e.parentHash, nd.chain[nd.height]!.hash);
        const onExecuted = nd.height === e.height - 2;
        const valid =
          executeToyBlock(e.payload, e.blockHash, e.height, e.parentHash) && (onHead || onExecuted);
        const nextValidators = this.nextValidators(e.height);
        core.step({
          type: "blockExecuted",
          height: e.height,
          parentHash: e.parentHash,
          blockHash: e.blockHash,
          valid,
          nextValidators,
        });
      });
    }
    if (r.requestProposal) this.scheduleProposal(nd, r.requestProposal.height, r.requestProposal.parentHash);
    if (r.fetchBlocks) this.serveFetch(nd, r.fetchBlocks.fromHeight, r.fetchBlocks.peers);
    if (sentCommit && this.faultsOn && !nd.byz && this.rng.chance(this.opts.crashAfterCommitRate)) {
      this.crash(nd, this.rng.int(1, this.opts.restartTicksMax));
    }
    this.onReady?.(nd, r);
  }

  private logReady(nd: SimNode, r: Ready): void {
    const parts: string[] = [];
    for (const c of r.commits)
      parts.push(`COMMIT h=${c.height} v=${c.certificate.view} ${toHex(c.blockHash).slice(0, 8)}`);
    if (r.viewChangeStarted) parts.push(`VC->${r.viewChangeStarted.toView} (${r.viewChangeStarted.cause})`);
    for (const m of r.messages) parts.push(`${m.to ? "send" : "bcast"} ${describe(m.msg)}`);
    for (const x of r.rejections) parts.push(`reject ${x.type} h=${x.height} v=${x.view}: ${x.reason}`);
    if (r.fetchBlocks) parts.push(`fetch from ${r.fetchBlocks.fromHeight}`);
    if (parts.length)
      this.log(`t=${this.now} node${nd.index}${nd.byz ? `[${nd.byz}]` : ""}: ${parts.join("; ")}`);
  }

  private log(line: string): void {
    if (this.opts.verbose) this.opts.log(line);
  }

  // ------------------------------------------------------------------ blocks: propose, apply, sync

  private scheduleProposal(nd: SimNode, height: number, parentHash: Uint8Array): void {
    this.later(nd, 1, (core) => {
      if (nd.height !== height - 1 && nd.height !== height - 2) return;
      const valid = nd.byz !== "invalidBlock";
      const payload = encodeToyBlock({
        height,
        parentHash,
        proposer: nd.index,
        nonce: this.rng.u32(),
        valid,
      });
      const nextValidators = this.nextValidators(height);
      core.step({
        type: "proposal",
        height,
        parentHash,
        blockHash: toyBlockHash(payload),
        payload,
        nextValidators,
      });
    });
  }

  /** Appends a decided block to the node's chain and checks it against every other honest node's. */
  private applyBlock(
    nd: SimNode,
    height: number,
    hash: Uint8Array,
    payload: Uint8Array,
    certificate: CommitCertificate,
    how: string,
  ): void {
    if (how === "commit" && height <= nd.height && equal(nd.chain[height]!.hash, hash)) {
      return; // sync applied it first (as Chain.commit, which returns null then)
    }
    if (height !== nd.height + 1) {
      this.violation(`node${nd.index} ${how} h=${height} but its chain is at ${nd.height}`, nd);
      return;
    }
    const check = verifyCertificate(certificate, this.validatorsAt(height), this.keys.cryptoFor(nd.key));
    if (!check.ok)
      this.violation(`node${nd.index} ${how} h=${height} with a bad certificate: ${check.reason}`, nd);
    nd.chain.push({ hash, payload, certificate });
    const hex = toHex(hash);
    const known = this.decided.get(height);
    if (known === undefined) this.decided.set(height, hex);
    else if (known !== hex)
      this.violation(`h=${height}: node${nd.index} ${how} ${hex.slice(0, 12)} != ${known.slice(0, 12)}`, nd);
  }

  private violation(text: string, nd: SimNode): void {
    if (nd.byz) return;
    if (this.safetyViolations.length < 20) this.safetyViolations.push(`t=${this.now} ${text}`);
    this.log(`SAFETY VIOLATION ${text}`);
  }

  private serveFetch(nd: SimNode, fromHeight: number, hints: Uint8Array[]): void {
    const hintSet = new Set(hints.map(toHex));
    const servers = [...this.nodes].sort(
      (a, b) => Number(hintSet.has(toHex(b.nodeId))) - Number(hintSet.has(toHex(a.nodeId))),
    );
    const server = servers.find(
      (s) => s !== nd && s.core && s.height >= fromHeight && !this.blocked(s.index, nd.index),
    );
    if (!server) return;
    const blocks = server.chain.slice(fromHeight, fromHeight + SYNC_BATCH);
    this.later(nd, this.rng.int(1, 3), (core) => {
      for (const [i, b] of blocks.entries()) this.applySynced(nd, core, fromHeight + i, b);
    });
  }

  /** The syncing driver: verify the certificate with the set in force at that height, apply, tell the core. */
  private applySynced(nd: SimNode, core: PbftCore, height: number, b: ChainEntry): void {
    if (height !== nd.height + 1 || !b.certificate) return;
    if (!verifyCertificate(b.certificate, this.validatorsAt(height), this.keys.cryptoFor(nd.key)).ok) return;
    this.applyBlock(nd, height, b.hash, b.payload, b.certificate, "synced");
    core.step({
      type: "synced",
      height,
      blockHash: b.hash,
      certificate: b.certificate,
      nextValidators: this.nextValidators(height),
    });
  }

  // ------------------------------------------------------------------ network

  /** Scenario control: split nodes into groups (group id per node index), or null to heal. */
  setPartition(groups: number[] | null, untilTick = Number.MAX_SAFE_INTEGER): void {
    this.partition = groups;
    this.partitionEndsAt = untilTick;
    this.log(`t=${this.now} partition ${groups ? groups.join("") : "healed"}`);
  }

  private blocked(from: number, to: number): boolean {
    return this.partition !== null && this.partition[from] !== this.partition[to];
  }

  private send(nd: SimNode, to: Uint8Array | null, msg: PbftMessage): void {
    this.recordVote(nd, msg);
    const targets =
      to === null ? this.nodes.filter((x) => x !== nd) : this.nodes.filter((x) => equal(x.nodeId, to));
    for (const [target, m] of this.byzantineOutput(nd, targets, msg)) this.transmit(nd, target, m);
  }

  private transmit(from: SimNode, to: SimNode, msg: PbftMessage): void {
    this.messagesSent++;
    const f = this.opts.faults;
    if (this.blocked(from.index, to.index)) return;
    if (this.faultsOn && this.rng.chance(f.loss)) return;
    const copies = this.faultsOn && this.rng.chance(f.duplicate) ? 2 : 1;
    const bytes = this.opts.wire ? encodePbftMessage(msg) : null;
    for (let c = 0; c < copies; c++) {
      const delay = this.rng.int(f.delayMin, f.delayMax);
      this.at(this.now + delay, () => this.deliver(from, to, bytes ? decodePbftMessage(bytes) : msg));
    }
  }

  private deliver(from: SimNode, to: SimNode, msg: PbftMessage): void {
    if (!to.core || this.blocked(from.index, to.index)) return;
    if (to.byz === "replay") {
      if (to.seen.length >= REPLAY_RING) to.seen.shift();
      to.seen.push(msg);
    }
    this.step(to, (core) => core.step({ type: "message", from: from.nodeId, msg }));
  }

  /** Honest nodes never sign two different hashes for one (type, height, view): the double-vote checker. */
  private recordVote(nd: SimNode, msg: PbftMessage): void {
    if (nd.byz || !equal(msg.sender, nd.nodeId)) return;
    if (msg.type !== "prePrepare" && msg.type !== "prepare" && msg.type !== "commit") return;
    const key = `${nd.index}/${msg.type}/${msg.height}/${msg.view}`;
    const hex = toHex(msg.blockHash);
    const known = this.votesSigned.get(key);
    if (known === undefined) this.votesSigned.set(key, hex);
    else if (known !== hex && this.doubleVotes.length < 20) {
      this.doubleVotes.push(
        `t=${this.now} node${nd.index} signed two ${msg.type} at h=${msg.height} v=${msg.view}`,
      );
      this.log(`DOUBLE VOTE node${nd.index} ${msg.type} h=${msg.height} v=${msg.view}`);
    }
  }

  // ------------------------------------------------------------------ Byzantine behaviours

  private byzantineOutput(nd: SimNode, targets: SimNode[], msg: PbftMessage): [SimNode, PbftMessage][] {
    const honest = targets.map((t): [SimNode, PbftMessage] => [t, msg]);
    if (!nd.byz || !equal(msg.sender, nd.nodeId)) return nd.byz === "silent" ? [] : honest;
    switch (nd.byz) {
      case "silent":
        return [];
      case "badSignatures":
        return targets.map((t) => [t, { ...msg, signature: flipped(msg.signature) }]);
      case "conflictingVotes":
        return this.splitVotes(nd, targets, msg, () => sha256(Uint8Array.of(this.rng.int(0, 255), 7)));
      case "equivocate":
        return this.equivocate(nd, targets, msg);
      case "replay":
      case "invalidBlock":
      case "garbage":
        return honest;
      default: {
        const never: never = nd.byz;
        return never;
      }
    }
  }

  /** Half the targets get the real message, the other half a validly signed one for another block. */
  private splitVotes(
    nd: SimNode,
    targets: SimNode[],
    msg: PbftMessage,
    other: () => Uint8Array,
  ): [SimNode, PbftMessage][] {
    if (msg.type !== "prepare" && msg.type !== "commit") return targets.map((t) => [t, msg]);
    const alt = this.signAs(nd, { ...msg, blockHash: other() });
    return targets.map((t) => [t, this.rng.chance(0.5) ? msg : alt]);
  }

  /** The leader signs two blocks for one (height, view) and votes for both; it re-sends them later too. */
  private equivocate(nd: SimNode, targets: SimNode[], msg: PbftMessage): [SimNode, PbftMessage][] {
    if (msg.type !== "prePrepare") {
      const alt = this.equivocations.get(`${msg.height}/${messageViewOf(msg)}`);
      return alt ? this.splitVotes(nd, targets, msg, () => alt) : targets.map((t) => [t, msg]);
    }
    const payload = encodeToyBlock({
      height: msg.height,
      parentHash: msg.payload.slice(8, 40),
      proposer: nd.index,
      nonce: this.rng.u32(),
      valid: true,
    });
    const altHash = toyBlockHash(payload);
    this.equivocations.set(`${msg.height}/${msg.view}`, altHash);
    const alt = this.signAs(nd, { ...msg, payload, blockHash: altHash });
    nd.ownProposals.push(msg, alt);
    if (nd.ownProposals.length > 8) nd.ownProposals.splice(0, 2);
    return targets.map((t) => [t, this.rng.chance(0.5) ? msg : alt]);
  }

  private readonly equivocations = new Map<string, Uint8Array>();

  private signAs(nd: SimNode, msg: PbftMessage): PbftMessage {
    const digest =
      msg.type === "commit"
        ? commitDigest(sha256, msg.height, msg.view, msg.blockHash)
        : messageDigest(sha256, msg);
    return { ...msg, signature: nd.key.sign(digest) };
  }

  /** Validly signed messages with absurd or malformed fields, and forged ViewChange/NewView proofs. */
  private garbage(nd: SimNode): PbftMessage {
    const r = this.rng;
    const height = r.pick([0, nd.height, nd.height + 1, nd.height + 2, 2 ** 40, -1, 1.5]);
    const view = r.pick([0, 1, 2, 100, 2 ** 31, -3]);
    const hash = sha256(Uint8Array.of(r.int(0, 255)));
    const forgedVc = {
      type: "viewChange" as const,
      height,
      toView: view,
      prepared: null,
      sender: this.rng.pick(this.nodes).nodeId,
      signature: hash,
    };
    const base = { height, view, blockHash: hash, sender: nd.nodeId, signature: new Uint8Array(32) };
    const candidates: PbftMessage[] = [
      { type: "prePrepare", ...base, payload: hash },
      { type: "prepare", ...base },
      { type: "commit", ...base },
      {
        type: "viewChange",
        height,
        toView: view,
        prepared: {
          height,
          view: 0,
          blockHash: hash,
          payload: hash,
          prepares: [{ nodeId: nd.nodeId, signature: hash }],
        },
        sender: nd.nodeId,
        signature: hash,
      },
      {
        type: "newView",
        height,
        view,
        viewChanges: [forgedVc, forgedVc, forgedVc],
        sender: nd.nodeId,
        signature: hash,
      },
      { type: "bogus", height } as unknown as PbftMessage,
    ];
    const msg = r.pick(candidates);
    if (msg.type !== "prePrepare" && msg.type !== "prepare" && msg.type !== "commit") return msg;
    if (!Number.isSafeInteger(height) || height < 0) return msg;
    if (!Number.isSafeInteger(view) || view < 0) return msg;
    return this.signAs(nd, msg);
  }

  /** Replayers re-send old messages of anyone; equivocators re-send both of their proposals. */
  private byzantineTick(nd: SimNode): void {
    if (nd.byz === "garbage" && nd.core && this.rng.chance(0.3)) {
      const target = this.rng.pick(this.nodes);
      if (target !== nd) this.at(this.now + 1, () => this.deliver(nd, target, this.garbage(nd)));
      return;
    }
    const pool = nd.byz === "replay" ? nd.seen : nd.byz === "equivocate" ? nd.ownProposals : null;
    if (!pool || pool.length === 0 || !this.rng.chance(0.2)) return;
    const target = this.rng.pick(this.nodes);
    if (target !== nd) this.transmit(nd, target, this.rng.pick(pool));
  }

  // ------------------------------------------------------------------ the run

  /** Scenario control: run `ticks` ticks (faults as configured, no random partitions/crashes). */
  runTicks(ticks: number): void {
    for (let i = 0; i < ticks; i++) this.tickOnce();
  }

  /** Scenario control: run until `pred` holds or `maxTicks` pass; returns whether it held. */
  runUntil(pred: () => boolean, maxTicks: number): boolean {
    for (let i = 0; i < maxTicks && !pred(); i++) this.tickOnce();
    return pred();
  }

  tickOnce(): void {
    const tasks = this.queue.get(this.now);
    if (tasks) {
      this.queue.delete(this.now);
      for (let i = 0; i < tasks.length; i++) tasks[i]!();
    }
    for (const nd of this.nodes) {
      if (!nd.core && nd.restartAt !== null && nd.restartAt <= this.now) this.restart(nd);
      if (nd.byz) this.byzantineTick(nd);
      this.step(nd, (core) => core.tick());
    }
    this.now++;
  }

  private faultTick(): void {
    const o = this.opts;
    if (this.partition && this.now >= this.partitionEndsAt) this.partition = null;
    if (!this.partition && this.rng.chance(o.partitionRate)) {
      this.partition = this.nodes.map(() => this.rng.int(0, 1));
      this.partitionEndsAt = this.now + this.rng.int(10, 80);
      this.log(`t=${this.now} partition ${this.partition.join("")} until ${this.partitionEndsAt}`);
    }
    for (const nd of this.nodes) {
      if (!nd.byz && nd.core && this.rng.chance(o.crashRate))
        this.crash(nd, this.rng.int(1, o.restartTicksMax));
    }
  }

  heal(): void {
    this.faultsOn = false;
    this.partition = null;
    for (const nd of this.nodes) if (!nd.core) this.restart(nd);
    this.log(`t=${this.now} HEAL: no more loss, partitions or crashes`);
  }

  honestNodes(): SimNode[] {
    const finalSet = new Set(this.validatorsAt(Number.MAX_SAFE_INTEGER).map((v) => toHex(v.nodeId)));
    return this.nodes.filter((nd) => !nd.byz && (finalSet.has(toHex(nd.nodeId)) || nd.index < this.opts.n));
  }

  run(): SimResult {
    for (; this.now < this.opts.faultTicks; ) {
      this.faultTick();
      this.tickOnce();
    }
    this.heal();
    const honest = this.honestNodes();
    const target = Math.max(...honest.map((nd) => nd.height)) + this.opts.livenessBlocks;
    const deadline = this.now + this.opts.livenessTicksMax;
    while (this.now < deadline && honest.some((nd) => nd.height < target)) this.tickOnce();
    const lagging = honest.filter((nd) => nd.height < target);
    const livenessFailure = lagging.length
      ? `after heal, node(s) ${lagging.map((nd) => `node${nd.index}@${nd.height}`).join(",")} below ${target} by t=${this.now}`
      : null;
    return this.result(livenessFailure);
  }

  result(livenessFailure: string | null = null): SimResult {
    let viewChanges = 0;
    let pipelined = 0;
    for (const nd of this.nodes) viewChanges += nd.core?.counters.viewChanges ?? 0;
    for (const nd of this.nodes) pipelined += nd.core?.counters.pipelined ?? 0;
    return {
      seed: this.opts.seed,
      profile: this.opts.profile,
      n: this.opts.n,
      ok: this.safetyViolations.length === 0 && this.doubleVotes.length === 0 && livenessFailure === null,
      safetyViolations: this.safetyViolations,
      doubleVotes: this.doubleVotes,
      livenessFailure,
      ticks: this.now,
      heights: this.nodes.map((nd) => nd.height),
      messagesSent: this.messagesSent,
      viewChanges,
      pipelined,
      byzantine: this.nodes.filter((nd) => nd.byz).map((nd) => `node${nd.index}:${nd.byz}`),
    };
  }
}

function messageViewOf(msg: PbftMessage): number {
  return msg.type === "viewChange" ? msg.toView : msg.view;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function flipped(sig: Uint8Array): Uint8Array {
  const out = new Uint8Array(sig);
  out[0] = (out[0]! ^ 0xff) & 0xff;
  return out;
}

export function describe(m: PbftMessage): string {
  const short = (b: Uint8Array): string => toHex(b).slice(0, 8);
  switch (m.type) {
    case "prePrepare":
    case "prepare":
    case "commit":
      return `${m.type}(h=${m.height} v=${m.view} ${short(m.blockHash)}) by ${short(m.sender)}`;
    case "viewChange":
      return `viewChange(h=${m.height} ->${m.toView}${m.prepared ? ` prepared v${m.prepared.view}` : ""}) by ${short(m.sender)}`;
    case "newView":
      return `newView(h=${m.height} v=${m.view} vcs=${m.viewChanges.length}) by ${short(m.sender)}`;
    default: {
      const never: never = m;
      return String(never);
    }
  }
}
