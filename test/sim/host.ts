/**
 * A simulated node: what survives a crash (the committed chain, the persisted hard state) and the running
 * incarnation (SimHost): the real ConsensusDriver wired to the simulator's clock, network, chain, pool and store.
 * A crash kills the incarnation: its clock stops, its network handle goes deaf and mute, and every answer it was
 * waiting for never comes; a restart builds a new driver from the durable state.
 */

import { ConsensusDriver, type ConsensusTransport } from "../../src/consensus/driver.js";
import {
  type ConsensusClock,
  defaultConsensusDriverOptions,
  type HardStateStore,
  type PbftCrypto,
  toHex,
} from "../../src/consensus/index.js";
import type { HardState } from "../../src/consensus/pbft/core/index.js";
import type { NodeId } from "../../src/types/index.js";
import type { Logger } from "../../src/util/logger.js";
import type { ChainEntry } from "./checker.js";
import type { ByzKind } from "./options.js";
import { type ChainWorld, SimChain, SimPool } from "./simChain.js";
import type { SimKey } from "./simCrypto.js";

const GENESIS_HASH = new Uint8Array(32);
/** Virtual milliseconds per simulator tick (= the driver's tickMs: one driver tick per simulator tick). */
export const SIM_TICK_MS = 100;

type Handler = (from: NodeId, data: Uint8Array) => unknown;

export class SimNode {
  /** Incarnation number: work scheduled by an earlier incarnation is dropped. */
  epoch = 0;
  persisted: HardState | null = null;
  readonly chain: ChainEntry[] = [{ hash: GENESIS_HASH, payload: new Uint8Array(0), certificate: null }];
  restartAt: number | null = null;
  /** The running incarnation; null while crashed. */
  host: SimHost | null = null;
  /** View changes and adopted early proposals counted by earlier incarnations' cores. */
  pastViewChanges = 0;
  pastPipelined = 0;
  /** Byzantine replay: recent messages this node received (wire bytes); equivocate: its own two proposals. */
  readonly seen: Uint8Array[] = [];
  readonly ownProposals: Uint8Array[] = [];
  /** Equivocate: the other block hash it signed at "height/view". */
  readonly equivocations = new Map<string, Uint8Array>();

  constructor(
    readonly index: number,
    readonly key: SimKey,
    readonly byz: ByzKind | null,
  ) {}

  get nodeId(): Uint8Array {
    return this.key.nodeId;
  }

  /** The node id in hex, computed once (the network looks targets up by it). */
  get hexId(): string {
    this.hexIdCache ??= toHex(this.key.nodeId);
    return this.hexIdCache;
  }
  private hexIdCache: string | null = null;

  get height(): number {
    return this.chain.length - 1;
  }

  viewChanges(): number {
    return this.pastViewChanges + (this.host?.driver.counters.viewChanges ?? 0);
  }

  pipelined(): number {
    return this.pastPipelined + (this.host?.driver.coreCounters()?.pipelined ?? 0);
  }
}

/** What an incarnation needs of the simulated world (the Cluster). */
export interface HostWorld {
  readonly now: number;
  readonly verifier: PbftCrypto;
  readonly viewTimeoutTicks: number;
  readonly dropPersistence: boolean;
  readonly pipeline: boolean;
  /** The chain's view of the world for this node, bound to this incarnation. */
  chainWorld(nd: SimNode, host: SimHost): ChainWorld;
  /** Runs `task` after the current turn (the simulator's "setImmediate"). */
  soon(nd: SimNode, task: () => void): void;
  /** Runs `task` at the start of tick `now + delayTicks` unless cancelled or this incarnation died (setTimeout). */
  after(nd: SimNode, delayTicks: number, task: () => void): () => void;
  send(nd: SimNode, to: NodeId | null, data: Uint8Array): void;
  fetchBlocks(nd: SimNode, fromHeight: number, peers: NodeId[]): void;
  fatal(nd: SimNode, err: unknown): void;
  logger(nd: SimNode): Logger;
}

export class SimHost {
  alive = true;
  readonly driver: ConsensusDriver;
  readonly chain: SimChain;
  private handler: Handler | null = null;
  private onTick: (() => void) | null = null;

  constructor(
    readonly node: SimNode,
    private readonly world: HostWorld,
  ) {
    this.chain = new SimChain(world.chainWorld(node, this));
    this.driver = new ConsensusDriver(
      {
        tickMs: SIM_TICK_MS,
        viewTimeoutMs: world.viewTimeoutTicks * SIM_TICK_MS,
        minSealTimeMs: 0,
        // The node's default (100 ms: one tick here): a leader waits a tick after the last proposal it saw.
        minBlockIntervalMs: defaultConsensusDriverOptions.minBlockIntervalMs,
        queueMax: 10_000,
        pipeline: world.pipeline,
        stateFile: `sim/node${node.index}/consensus-state.json`,
      },
      {
        chain: this.chain,
        txpool: new SimPool(node.index),
        transport: this.transport(),
        nodeKey: node.key,
        logger: world.logger(node),
        metrics: null,
        fetchBlocks: (from, peers) => {
          if (this.alive) world.fetchBlocks(node, from, peers);
        },
        onFatal: (err) => {
          if (this.alive) world.fatal(node, err);
        },
        clock: this.clock(),
        hardStateStore: this.store(),
        verifier: world.verifier,
      },
    );
  }

  /** One simulator tick: the driver's repeating tick, if it is running. */
  tick(): void {
    if (this.alive) this.onTick?.();
  }

  /** A peer's message arrives (dropped while the driver has not subscribed yet, as on a real network). */
  deliver(from: NodeId, data: Uint8Array): void {
    if (this.alive) this.handler?.(from, data);
  }

  kill(): void {
    this.alive = false;
    this.handler = null;
    this.onTick = null;
  }

  private clock(): ConsensusClock {
    const world = this.world;
    return {
      nowMs: () => world.now * SIM_TICK_MS,
      monotonicMs: () => world.now * SIM_TICK_MS,
      every: (_intervalMs, onTick) => {
        this.onTick = onTick;
        return () => {
          if (this.onTick === onTick) this.onTick = null;
        };
      },
      soon: (task) => world.soon(this.node, task),
      // The simulator's time moves in ticks: a timer fires at the first tick at or after its delay.
      after: (delayMs, task) => world.after(this.node, Math.max(1, Math.ceil(delayMs / SIM_TICK_MS)), task),
    };
  }

  private store(): HardStateStore {
    const nd = this.node;
    return {
      load: () => Promise.resolve(this.world.dropPersistence ? null : nd.persisted),
      save: (state) => {
        if (!this.alive) return new Promise(() => {});
        nd.persisted = state;
        return Promise.resolve();
      },
    };
  }

  private transport(): ConsensusTransport {
    const send = (to: NodeId | null, data: Uint8Array): Promise<void> => {
      if (this.alive) this.world.send(this.node, to, data);
      return Promise.resolve();
    };
    return {
      subscribe: (_topic, handler) => {
        this.handler = handler as Handler;
        return () => {
          this.handler = null;
        };
      },
      publish: (_topic, data) => send(null, data),
      sendDirect: (to, _topic, data) => send(to, data),
    };
  }
}
