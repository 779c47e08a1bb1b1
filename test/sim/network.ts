/**
 * The simulated network between the drivers: wire bytes in, wire bytes out, with seeded loss, duplication,
 * reordering (random delays), partitions, and what Byzantine senders do to their own messages (byzantine.ts).
 * Every honest vote that leaves a node is shown to the double-vote checker first.
 */
import { decodePbftMessage, type PbftMessage, toHex } from "../../src/consensus/index.js";
import { byzantineOutput } from "./byzantine.js";
import type { SafetyChecker } from "./checker.js";
import type { SimNode } from "./host.js";
import type { NetworkFaults } from "./options.js";
import type { Prng } from "./prng.js";

/** Messages a replaying Byzantine node remembers. */
const REPLAY_RING = 64;

export interface NetWorld {
  readonly rng: Prng;
  readonly now: number;
  readonly nodes: SimNode[];
  readonly checker: SafetyChecker;
  readonly faults: NetworkFaults;
  /** False once healed: no more loss, duplication, partitions or crashes. */
  readonly faultsOn: boolean;
  readonly crashAfterCommitRate: number;
  readonly restartTicksMax: number;
  at(tick: number, task: () => void): void;
  crash(nd: SimNode, downTicks: number): void;
  log(line: string): void;
  /** Test hook: every message a node sends, decoded, before the network takes it. */
  onSend: ((nd: SimNode, msg: PbftMessage) => void) | null;
  readonly verbose: boolean;
}

export class SimNetwork {
  messagesSent = 0;
  private partition: number[] | null = null;
  private partitionEndsAt = 0;

  constructor(private readonly w: NetWorld) {}

  /** Split nodes into groups (group id per node index), or null to heal; ends by itself at `untilTick`. */
  setPartition(groups: number[] | null, untilTick = Number.MAX_SAFE_INTEGER): void {
    this.partition = groups;
    this.partitionEndsAt = untilTick;
    this.w.log(`t=${this.w.now} partition ${groups ? groups.join("") : "healed"}`);
  }

  /** The fault phase: partitions start at `rate` per tick and last 10-80 ticks. */
  maybePartition(rate: number): void {
    const { rng, now } = this.w;
    if (this.partition && now >= this.partitionEndsAt) this.partition = null;
    if (this.partition || !rng.chance(rate)) return;
    this.setPartition(
      this.w.nodes.map(() => rng.int(0, 1)),
      now + rng.int(10, 80),
    );
  }

  blocked(from: number, to: number): boolean {
    return this.partition !== null && this.partition[from] !== this.partition[to];
  }

  /** A driver sends (to null: every other node). */
  send(nd: SimNode, to: Uint8Array | null, data: Uint8Array): void {
    const msg = decodePbftMessage(data);
    this.w.checker.recordVote(nd, msg);
    if (this.w.verbose)
      this.w.log(`t=${this.w.now} node${nd.index} ${to ? "send" : "bcast"} ${describe(msg)}`);
    this.w.onSend?.(nd, msg);
    const toHexId = to === null ? null : toHex(to);
    const targets = this.w.nodes.filter((x) => (toHexId === null ? x !== nd : x.hexId === toHexId));
    for (const [target, bytes] of byzantineOutput(this.w, nd, targets, msg, data))
      this.transmit(nd, target, bytes);
    // "Crash right after sending a Commit": the rest of that Ready (and all later work) is lost.
    const w = this.w;
    if (msg.type === "commit" && w.faultsOn && !nd.byz && nd.host && w.rng.chance(w.crashAfterCommitRate))
      w.crash(nd, w.rng.int(1, w.restartTicksMax));
  }

  transmit(from: SimNode, to: SimNode, data: Uint8Array): void {
    this.messagesSent++;
    const { rng, faults: f, faultsOn } = this.w;
    if (this.blocked(from.index, to.index)) return;
    if (faultsOn && rng.chance(f.loss)) return;
    const copies = faultsOn && rng.chance(f.duplicate) ? 2 : 1;
    for (let c = 0; c < copies; c++) {
      const delay = rng.int(f.delayMin, f.delayMax);
      this.w.at(this.w.now + delay, () => this.deliver(from, to, data));
    }
  }

  deliver(from: SimNode, to: SimNode, data: Uint8Array): void {
    if (!to.host || this.blocked(from.index, to.index)) return;
    if (to.byz === "replay") {
      if (to.seen.length >= REPLAY_RING) to.seen.shift();
      to.seen.push(data);
    }
    to.host.deliver(from.nodeId, data);
  }
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
