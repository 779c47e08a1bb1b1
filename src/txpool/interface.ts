import type { SenderCache } from "../codec/index.js";
import type { RecoveryThreadsStats } from "../crypto/index.js";
import type { Address, Hash, Transaction } from "../types/index.js";
import type { Logger } from "../util/logger.js";
import type { TxPoolError } from "./errors.js";

/** Committed account state, as the executor's readers see it after the last committed block. */
export interface TxPoolStateReader {
  getAccountNonce(address: Address): Promise<bigint>;
  getBalance(address: Address): Promise<bigint>;
}

/** The ledger, as far as the pool needs it. */
export interface TxPoolChainReader {
  /** Height of the last committed block (0 = genesis). */
  height(): number;
  /** True if a native nonce was used in the last `blockLimitWindow` committed blocks. */
  hasNativeNonce(nonce: Uint8Array): Promise<boolean>;
}

export interface TxPoolDeps {
  state: TxPoolStateReader;
  chain: TxPoolChainReader;
  /** System config tx_gas_limit (dynamic: read on every add). */
  txGasLimit(): bigint;
  /** On-chain permissions (frozen sender, deploy / method ACL): the refusal naming the rule, or null. */
  permissionCheck?: (tx: Transaction) => Promise<string | null>;
  logger: Logger;
  /**
   * This node's recovered senders by tx hash, shared with the chain's proposal/block decoding: a tx recovered on
   * another path (a fetched proposal tx, a gossip copy refused earlier) is admitted without recovering it again.
   */
  senders?: SenderCache;
  /** Milliseconds clock for TTL; Date.now by default. */
  now?: () => number;
}

/** Where a transaction came from: "local" = a client of this node (RPC), "peer" = gossip or a proposal fetch. */
export type TxOrigin = "local" | "peer";

/** `error` is a TxPoolError for every rule; another Error only if a state read failed (I/O). */
export type AddResult = { ok: true; tx: Transaction } | { ok: false; error: TxPoolError | Error };

export type TxAddedListener = (txs: Transaction[], origin: TxOrigin) => void;

export interface TxPoolStats {
  count: number;
  bytes: number;
  senders: number;
  nativeCount: number;
  inFlight: number;
  /**
   * Rejections since start, by where the tx came from and error code: a client's (RPC, `local`) or a peer's
   * (gossip, `peer`; e.g. NONCE_TOO_LOW for a copy arriving after its block committed here, which is normal).
   */
  rejected: Record<TxOrigin, Record<string, number>>;
  /** Dropped since start: expired (TTL), stale (nonce/blockLimit after a commit). */
  expired: number;
  stale: number;
  /** Evicted since start to make room in a full pool (the largest holder's newest tx; see makeRoom). */
  evicted: number;
  /** Admissions since start that waited for a later event-loop turn (admissionSliceMs: the loop was contended). */
  admissionsDeferred: number;
  /** Admissions waiting for a turn now. */
  admissionsQueued: number;
  /** Sender recoveries on the recovery threads and inline since start; null without threads (recoveryThreads 0). */
  recoveries: RecoveryThreadsStats | null;
}

/**
 * The pool as other modules use it (RPC submit/read, consensus sealing, network gossip). `TxPool` implements it;
 * tests of other modules may fake it.
 */
export interface TxPoolInterface {
  /** A client's tx (RPC): throws TxPoolError with geth's wording when refused. */
  add(raw: Uint8Array, opts?: { origin?: TxOrigin }): Promise<Transaction>;
  /** A peer's batch (gossip): one result per tx, never throws for a bad tx. */
  addBatch(raws: Uint8Array[], opts?: { origin?: TxOrigin }): Promise<AddResult[]>;
  /** Round-robin across senders, nonce order per sender; marks the txs in flight. */
  seal(countMax: number, gasMax?: bigint): Transaction[];
  releaseSealed(hashes?: Hash[]): void;
  /** Removes these txs for good (the executor refused them); returns how many were pooled. */
  drop(hashes: Hash[]): number;
  /** The executor refused these for now: not sealed again until the next block commits. */
  park(hashes: Hash[]): void;
  /** In a proposal this node executed: in flight (not sealed again) until they commit or are released. */
  hold(hashes: Hash[]): void;
  /** A tx is in flight or sealable now (not only nonce-gapped ones): consensus runs its view timer only then. */
  hasWork(): boolean;
  onBlockCommitted(txs: Transaction[], height: number): void;
  pruneExpired(): number;
  get(hash: Hash): Transaction | undefined;
  pendingNonce(address: Address): Promise<bigint>;
  pending(countMax?: number): Transaction[];
  size(): number;
  onAdded(listener: TxAddedListener): () => void;
}
