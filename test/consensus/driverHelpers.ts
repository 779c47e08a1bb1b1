import { existsSync } from "node:fs";
import path from "node:path";
import { decodeTransaction, encodeNativeTx } from "../../src/codec/index.js";
import type { GenesisConfig } from "../../src/config/index.js";
import { ConsensusDriver, type ConsensusDriverDeps } from "../../src/consensus/driver.js";
import {
  type ConsensusChain,
  type ConsensusLimits,
  type ConsensusPool,
  type HardState,
  messageDigest,
  type PbftMessage,
  readHardStateLog,
} from "../../src/consensus/index.js";
import type { ConsensusDriverOptions } from "../../src/consensus/options.js";
import { decodePbftMessage, encodePbftMessage } from "../../src/consensus/pbft/wire.js";
import { keccak256, NodeKey } from "../../src/crypto/index.js";
import type { ConsortMetrics } from "../../src/metrics/index.js";
import type { Transport } from "../../src/network/index.js";
import type { TxPoolInterface } from "../../src/txpool/index.js";
import type {
  Block,
  CommitCertificate,
  Hash,
  NodeId,
  Transaction,
  ValidatorInfo,
} from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { testAdminKey, testGenesis } from "../fixtures/genesis.js";
import { captureLogger } from "../fixtures/logger.js";
import { consensusBlock } from "../sim/block.js";

/** Shared by the consensus driver's tests: validator keys, a genesis, native transfers and a small pool. */

export const ADMIN_KEY = testAdminKey("driver persist test admin");

export const keys = [1, 2, 3, 4].map((i) => NodeKey.fromSeed(new Uint8Array(32).fill(i)));

export function genesisOf(sealers: NodeKey[]): GenesisConfig {
  return testGenesis(sealers, ADMIN_KEY, { systemConfig: {} });
}

export function transfer(i: number): Transaction {
  return decodeTransaction(
    encodeNativeTx(
      {
        chainId: 20200n,
        groupId: "group0",
        nonce: new Uint8Array([i]),
        blockLimit: 100,
        to: new Uint8Array(20).fill(7),
        value: 1n,
        input: new Uint8Array(),
        gasLimit: 21_000n,
        gasPrice: 0n,
      },
      ADMIN_KEY,
    ),
  );
}

/** The pool as the driver uses it, holding `txs` until they are sealed once; `add` is a client's submission. */
export function fakePool(txs: Transaction[]): TxPoolInterface & { add(tx: Transaction): void } {
  let pending = [...txs];
  const listeners: ((txs: Transaction[], origin: "local" | "peer") => void)[] = [];
  return {
    hasWork: () => pending.length > 0,
    size: () => pending.length,
    seal: () => {
      const out = pending;
      pending = [];
      return out;
    },
    releaseSealed: () => {},
    park: () => {},
    hold: () => {},
    drop: () => 0,
    onAdded: (listener: (txs: Transaction[], origin: "local" | "peer") => void) => {
      listeners.push(listener);
      return () => listeners.splice(listeners.indexOf(listener), 1);
    },
    add: (tx: Transaction) => {
      pending.push(tx);
      for (const l of listeners) l([tx], "local");
    },
  } as unknown as TxPoolInterface & { add(tx: Transaction): void };
}

// ---------------------------------------------------------------------------------------------------------------
// Fast driver tests: the driver's narrow interfaces (ConsensusChain, ConsensusPool, Transport, Logger) as small,
// honest in-memory fakes that record what the driver asked of them. A real PbftCore runs inside the driver.

/** A promise with its resolve/reject at hand: holds a fake's answer until the test lets it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(v: T): void; reject(e: unknown): void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Polls (real timers, so it works next to faked setInterval and Date) until `cond` holds; fails after `timeoutMs`. */
export async function until(cond: () => boolean, what = "condition", timeoutMs = 5000): Promise<void> {
  const deadline = realNowMs() + timeoutMs;
  while (!cond()) {
    if (realNowMs() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => realSetTimeout(r, 2));
  }
}

const realSetTimeout = globalThis.setTimeout;
/** The real clock, also while a test fakes `performance`. */
export const realNowMs = performance.now.bind(performance);

/**
 * Waits until the driver's serialized loop is idle (no drain running, nothing queued) for a few turns of the
 * event loop, so a test can assert that something did NOT happen. Reads the driver's private loop state.
 */
export async function settled(driver: ConsensusDriver): Promise<void> {
  const loop = driver as unknown as { draining: boolean; queue: unknown[] };
  let quiet = 0;
  const deadline = realNowMs() + 3000;
  while (quiet < 5) {
    if (realNowMs() > deadline) throw new Error("driver did not settle");
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => realSetTimeout(r, 1));
    quiet = !loop.draining && loop.queue.length === 0 ? quiet + 1 : 0;
  }
}

export interface SentMessage {
  /** null: published to all; otherwise the hex node id it was sent to. */
  to: string | null;
  topic: string;
  msg: PbftMessage;
  /** The hard state file's contents at the moment of sending (null: no file), when the transport watches one. */
  persisted: HardState | null;
}

/**
 * A transport that records what the driver sends (with the hard state file as it was at that moment, the
 * write-ahead check) and lets the test deliver peer messages.
 */
export function fakeTransport(stateFile: string | null = null) {
  const sent: SentMessage[] = [];
  const subscribed: string[] = [];
  let handler: ((from: NodeId, data: Uint8Array) => unknown) | null = null;
  const state = { unsubscribed: 0, failSends: false };
  const record = (to: NodeId | null, topic: string, data: Uint8Array): Promise<void> => {
    let persisted: HardState | null = null;
    if (stateFile !== null && existsSync(stateFile)) persisted = readHardStateLog(stateFile);
    sent.push({ to: to === null ? null : bytesToHex(to), topic, msg: decodePbftMessage(data), persisted });
    return state.failSends ? Promise.reject(new Error("no route to peer")) : Promise.resolve();
  };
  const transport = {
    subscribe(topic: string, h: (from: NodeId, data: Uint8Array) => unknown) {
      subscribed.push(topic);
      handler = h;
      return () => {
        state.unsubscribed++;
        handler = null;
      };
    },
    publish: (topic: string, data: Uint8Array) => record(null, topic, data),
    // A direct send needs a peer: a null one would be the driver's bug (a broadcast sent the wrong way).
    sendDirect: (to: NodeId, topic: string, data: Uint8Array) => {
      if (!(to instanceof Uint8Array)) throw new TypeError("sendDirect without a peer");
      return record(to, topic, data);
    },
  } as unknown as Transport;
  return {
    transport,
    sent,
    subscribed,
    state,
    /** A peer's bytes arrive; returns the handler's verdict (accept / reject / ignore). */
    deliverBytes(from: NodeId, data: Uint8Array): unknown {
      if (!handler) throw new Error("no consensus handler subscribed");
      return handler(from, data);
    },
    deliver(from: NodeKey, msg: PbftMessage): unknown {
      return this.deliverBytes(from.nodeId, encodePbftMessage(msg));
    },
    ofType(type: PbftMessage["type"]): SentMessage[] {
      return sent.filter((s) => s.msg.type === type);
    },
  };
}

/** A message signed by `key` (real Ed25519 over the core's digest). */
export function signedBy<M extends PbftMessage>(key: NodeKey, msg: Omit<M, "signature" | "sender">): M {
  const full = { ...msg, sender: key.nodeId, signature: new Uint8Array(64) } as unknown as M;
  return { ...full, signature: key.sign(messageDigest(keccak256, full)) };
}

/** The proposal payload of the fake chain: its height, its tx hashes and a salt (so two blocks can differ). */
export function fakePayload(
  height: number,
  txs: Transaction[],
  salt = 0,
): { payload: Uint8Array; hash: Hash } {
  const payload = new TextEncoder().encode(
    JSON.stringify({ height, txs: txs.map((t) => bytesToHex(t.hash)), salt }),
  );
  return { payload, hash: keccak256(payload) };
}

/** The txs of a fakePayload, as far as consensus sees them: their hashes. */
function txsOf(payload: Uint8Array): { hash: Hash }[] {
  const { txs } = JSON.parse(new TextDecoder().decode(payload)) as { txs: string[] };
  return txs.map((h) => ({ hash: hexToBytes(h) }));
}

type Gate = "build" | "verify" | "commit";

/**
 * The chain as consensus sees it, in memory: a head, a validator set, limits; builds, verifies and commits fake
 * blocks (payload = fakePayload) and records every call with its options. A gate holds a call until released.
 */
export class FakeChain implements ConsensusChain {
  heightNow = 0;
  headHash: Hash = new Uint8Array(32);
  config: ConsensusLimits = { txCountLimit: 100, blockGasLimit: 30_000_000n, consensusLeaderPeriod: 1 };
  readonly builds: {
    txs: Transaction[];
    opts: { proposer: NodeId; view: number; nowMs: number; parentHash?: Hash };
  }[] = [];
  readonly verifies: { expectedHash: Hash; opts: { nowMs: number; parentHash?: Hash } }[] = [];
  readonly commits: { blockHash: Hash; certificate: CommitCertificate; opts: { compact: boolean } }[] = [];
  /** What the next buildBlock's executor refuses (by tx), and whether it may be retried. */
  rejectOnBuild: { tx: Transaction; retryable: boolean; reason: string; code: string }[] = [];
  buildError: Error | null = null;
  verifyError: Error | null = null;
  commitError: Error | null = null;
  /** The parent a verified block names (null: the head, as a block proposed on the head does). */
  verifiedParent: Hash | null = null;
  /** commit answers null: sync committed that height first. */
  commitReturnsNull = false;
  /** The validator set after the next built or verified block (undefined: unchanged). */
  nextSet: ValidatorInfo[] | undefined = undefined;
  readonly gates: Partial<Record<Gate, Promise<void>>> = {};

  constructor(public validatorSet: ValidatorInfo[]) {}

  /** Holds every later call of `gate` until the returned function is called. */
  hold(gate: Gate): () => void {
    const d = deferred();
    this.gates[gate] = d.promise;
    return () => {
      delete this.gates[gate];
      d.resolve();
    };
  }

  head() {
    return { number: this.heightNow, hash: this.headHash };
  }
  height() {
    return this.heightNow;
  }
  validators() {
    return this.validatorSet;
  }
  isSealer(nodeId: NodeId) {
    return this.validatorSet.some((v) => bytesToHex(v.nodeId) === bytesToHex(nodeId));
  }
  systemConfig() {
    return this.config;
  }
  async buildBlock(
    txs: Transaction[],
    opts: { proposer: NodeId; view: number; nowMs: number; parentHash?: Hash },
  ) {
    this.builds.push({ txs, opts });
    await this.gates.build;
    if (this.buildError) throw this.buildError;
    const rejected = this.rejectOnBuild.filter((r) => txs.includes(r.tx));
    const kept = txs.filter((t) => !rejected.some((r) => r.tx === t));
    const { hash } = fakePayload(this.heightNow + 1, kept);
    const block = consensusBlock(kept, { number: this.heightNow + 1 });
    return { block, hash, executed: { rejected } };
  }
  encodeProposal(block: Block): Uint8Array {
    return fakePayload(block.header.number, block.transactions).payload;
  }
  async verifyBlock(
    payload: Uint8Array,
    expectedHash: Hash,
    opts: { nowMs: number; parentHash?: Hash },
  ): Promise<Block> {
    this.verifies.push({ expectedHash, opts });
    await this.gates.verify;
    if (this.verifyError) throw this.verifyError;
    if (bytesToHex(keccak256(payload)) !== bytesToHex(expectedHash)) throw new Error("block hash mismatch");
    const parentHash = this.verifiedParent ?? this.headHash;
    if (opts.parentHash && bytesToHex(opts.parentHash) !== bytesToHex(parentHash))
      throw new Error("the block extends another parent");
    return consensusBlock(txsOf(payload), { parentHash });
  }
  async commit(
    blockHash: Hash,
    certificate: CommitCertificate,
    payload: Uint8Array | undefined,
    opts: { compact: boolean },
  ): Promise<{ block: Block } | null> {
    this.commits.push({ blockHash, certificate, opts });
    await this.gates.commit;
    if (this.commitError) throw this.commitError;
    this.heightNow = certificate.height;
    this.headHash = blockHash;
    if (this.nextSet) this.validatorSet = this.nextSet;
    if (this.commitReturnsNull) return null;
    return { block: consensusBlock(payload ? txsOf(payload) : []) };
  }
  async nextValidators(_blockHash: Hash): Promise<ValidatorInfo[] | undefined> {
    return this.nextSet;
  }
}

/** The pool as the driver uses it, recording what the driver gives back, parks and drops. */
export class FakePool implements ConsensusPool {
  readonly pending: Transaction[] = [];
  /** Overrides hasWork (null: work while txs are pending). */
  work: boolean | null = null;
  /** Txs counted by size() that seal() does not hand out (parked or in flight). */
  unsealable = 0;
  readonly released: (string[] | "all")[] = [];
  readonly parked: string[][] = [];
  readonly dropped: string[][] = [];
  readonly seals: number[] = [];
  private listeners: ((txs: Transaction[]) => void)[] = [];
  unsubscribed = 0;

  constructor(txs: Transaction[] = []) {
    this.pending.push(...txs);
  }
  size() {
    return this.pending.length + this.unsealable;
  }
  hasWork() {
    return this.work ?? this.size() > 0;
  }
  seal(countMax: number): Transaction[] {
    this.seals.push(countMax);
    return this.pending.splice(0, countMax);
  }
  releaseSealed(hashes?: Hash[]) {
    this.released.push(hashes ? hashes.map(bytesToHex) : "all");
  }
  park(hashes: Hash[]) {
    this.parked.push(hashes.map(bytesToHex));
  }
  readonly held: string[][] = [];
  hold(hashes: Hash[]) {
    this.held.push(hashes.map(bytesToHex));
  }
  drop(hashes: Hash[]) {
    this.dropped.push(hashes.map(bytesToHex));
    return hashes.length;
  }
  onAdded(listener: (txs: Transaction[]) => void) {
    this.listeners.push(listener);
    return () => {
      this.unsubscribed++;
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }
  add(tx: Transaction) {
    this.pending.push(tx);
    for (const l of this.listeners) l([tx]);
  }
}

export const validatorsOf = (ks: NodeKey[]): ValidatorInfo[] =>
  ks.map((k) => ({ nodeId: k.nodeId, weight: 1 }));

export interface Rig {
  driver: ConsensusDriver;
  chain: FakeChain;
  pool: FakePool;
  net: ReturnType<typeof fakeTransport>;
  logger: ReturnType<typeof captureLogger>;
  fatal: unknown[];
  fetches: { fromHeight: number; peers: string[] }[];
  stateFile: string;
}

/**
 * A driver for `me` among `validators` with fakes around it. Timing defaults: a 10 ms tick and a view timeout of
 * 5 ticks (tests that tick fake setInterval and Date with vi.useFakeTimers).
 */
export function rig(
  dir: string,
  me: NodeKey,
  validators: NodeKey[],
  opts: {
    txs?: Transaction[];
    options?: Partial<ConsensusDriverOptions>;
    chain?: FakeChain;
    metrics?: ConsortMetrics;
    /** The driver's seams (clock, hard state store, verifier); default: the node's own. */
    seams?: Pick<ConsensusDriverDeps, "clock" | "hardStateStore" | "verifier">;
  } = {},
): Rig {
  const chain = opts.chain ?? new FakeChain(validatorsOf(validators));
  const pool = new FakePool(opts.txs);
  const stateFile = opts.options?.stateFile ?? path.join(dir, "consensus-state.wal");
  const net = fakeTransport(stateFile);
  const logger = captureLogger();
  const fatal: unknown[] = [];
  const fetches: Rig["fetches"] = [];
  const driver = new ConsensusDriver(
    { tickMs: 10, viewTimeoutMs: 50, minSealTimeMs: 0, queueMax: 1000, ...opts.options, stateFile },
    {
      chain,
      txpool: pool,
      transport: net.transport,
      nodeKey: me,
      logger,
      metrics: opts.metrics ?? null,
      fetchBlocks: (fromHeight, peers) => fetches.push({ fromHeight, peers: peers.map(bytesToHex) }),
      onFatal: (err) => fatal.push(err),
      ...opts.seams,
    },
  );
  return { driver, chain, pool, net, logger, fatal, fetches, stateFile };
}
