import {
  type CompactBlock,
  decodeBlock,
  decodeTransaction,
  decodeTransactionAsync,
  type SenderCache,
  type SenderRecoverer,
} from "../codec/index.js";
import type { Ledger } from "../ledger/index.js";
import type { Address, Block, Hash, NodeId, Transaction } from "../types/index.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import { ChainError } from "./errors.js";

export interface TxResolverDeps {
  chainId: bigint;
  ledger: Ledger;
  logger: Logger;
  /** The pool's decoded tx for a hash, if any (sender already recovered on admission). */
  poolTx?: (txHash: Hash) => Transaction | undefined;
  /** A tx of an executed-but-uncommitted block, by hash hex. */
  executedTx: (hashHex: string) => Transaction | undefined;
  /**
   * Fetches the raw bytes of txs a compact proposal lists but this node lacks: asks the proposer first, then
   * other peers. Returns whatever it got (untrusted: each is decoded with sender recovery and checked here).
   */
  fetchTxs?: (txHashes: Hash[], proposer: NodeId) => Promise<Uint8Array[]>;
  /**
   * Senders this node recovered already, by tx hash (shared with the pool): a fetched tx or a block tx that was
   * recovered on another path (gossip that the pool refused, an earlier proposal) is not recovered again.
   */
  senders?: SenderCache;
  /**
   * Where senders are recovered (the pool's recovery threads), or null: on the event loop. Asked at each use (the
   * pool is made after the chain). A catching-up node decodes whole blocks of txs it never saw: ~65 µs each.
   */
  recoverer?: () => SenderRecoverer | null;
}

type Listed = CompactBlock["transactions"][number];

/**
 * Turns proposals into transactions: the txs a compact proposal lists (local first, the rest fetched), and the txs
 * of a full block (recovering only the senders this node has not recovered already).
 */
export class TxResolver {
  constructor(private readonly deps: TxResolverDeps) {}

  /** A tx by hash from the pool, the executed-but-uncommitted blocks or the ledger (what "txs" requests serve). */
  async find(hash: Hash): Promise<Transaction | undefined> {
    return (
      this.deps.poolTx?.(hash) ??
      this.deps.executedTx(bytesToHex(hash)) ??
      (await this.deps.ledger.getTransaction(hash))?.tx
    );
  }

  /**
   * The txs a compact proposal lists, in order: found locally (each checked against the listed sender), the rest
   * fetched (decoded with sender recovery, checked against hash and sender). CHAIN_MISSING_TXS if any stays missing.
   */
  async resolve(compact: CompactBlock): Promise<Transaction[]> {
    const listed = compact.transactions;
    const found: (Transaction | undefined)[] = new Array(listed.length);
    const missing = new Map<string, number[]>();
    for (let i = 0; i < listed.length; i++) {
      const entry = listed[i] as Listed;
      const tx = await this.find(entry.hash);
      if (tx) {
        checkListedSender(tx, entry.sender);
        found[i] = tx;
      } else {
        const key = bytesToHex(entry.hash);
        missing.set(key, [...(missing.get(key) ?? []), i]);
      }
    }
    if (missing.size > 0) await this.fetchMissing(compact, missing, found);
    if (missing.size > 0) {
      throw new ChainError(
        "CHAIN_MISSING_TXS",
        `block ${compact.header.number}: ${missing.size} of ${listed.length} txs not found here nor at peers`,
        { missing: missing.size },
      );
    }
    return found as Transaction[];
  }

  private async fetchMissing(
    compact: CompactBlock,
    missing: Map<string, number[]>,
    found: (Transaction | undefined)[],
  ): Promise<void> {
    const listed = compact.transactions;
    const wanted = [...missing.values()].map((indexes) => (listed[indexes[0] as number] as Listed).hash);
    let raws: Uint8Array[] = [];
    try {
      raws = this.deps.fetchTxs ? await this.deps.fetchTxs(wanted, compact.header.proposer) : [];
    } catch (err) {
      this.deps.logger.debug({ err: String(err) }, "fetching proposal txs failed");
    }
    // Decoded together, so their recoveries go to the recovery thread as one batch.
    const decoded = await Promise.all(
      raws.map((raw) => this.decodeUntrusted(raw).catch(() => null)), // garbage from a peer: the tx stays missing
    );
    for (const tx of decoded) {
      if (tx === null) continue;
      const key = bytesToHex(tx.hash);
      const indexes = missing.get(key);
      if (!indexes) continue;
      for (const i of indexes) {
        checkListedSender(tx, (listed[i] as Listed).sender);
        found[i] = tx;
      }
      missing.delete(key);
    }
  }

  /**
   * Decodes a full block (sync), recovering only the senders this node has not recovered already: a tx in our
   * pool had its signature checked on admission (recovery costs ~65 µs per tx).
   */
  async decodeFull(payload: Uint8Array): Promise<Block> {
    const block = decodeBlock(payload, { chainId: this.deps.chainId, trustSenders: true });
    block.transactions = await Promise.all(block.transactions.map((tx) => this.checkedFull(tx)));
    return block;
  }

  /** A full block's tx with its stated sender checked against the signature (unless the pool holds the same). */
  private async checkedFull(tx: Transaction): Promise<Transaction> {
    const pooled = this.deps.poolTx?.(tx.hash);
    if (pooled && bytesEqual(pooled.sender, tx.sender)) return tx;
    const checked = await this.decodeUntrusted(tx.raw, tx.hash);
    if (!bytesEqual(checked.sender, tx.sender)) {
      throw new ChainError(
        "CHAIN_ROOT_MISMATCH",
        `tx ${bytesToHex(tx.hash)}: stored sender differs from the signature`,
      );
    }
    return checked;
  }

  /** Untrusted bytes, decoded with sender recovery on the recovery threads when there are some. */
  private decodeUntrusted(raw: Uint8Array, hash?: Hash): Promise<Transaction> {
    const opts = { ...this.decodeOptions(), ...(hash ? { hash } : {}) };
    const recoverer = this.deps.recoverer?.() ?? null;
    if (recoverer === null) {
      try {
        return Promise.resolve(decodeTransaction(raw, opts));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    return decodeTransactionAsync(raw, opts, recoverer);
  }

  /** Untrusted bytes: decoded with sender recovery, unless this node recovered the same tx (hash) before. */
  private decodeOptions(): { chainId: bigint; senders: SenderCache | undefined } {
    return { chainId: this.deps.chainId, senders: this.deps.senders };
  }
}

function checkListedSender(tx: Transaction, listedSender: Address): void {
  if (!bytesEqual(tx.sender, listedSender)) {
    throw new ChainError(
      "CHAIN_ROOT_MISMATCH",
      `tx ${bytesToHex(tx.hash)}: the proposal lists sender ${bytesToHex(listedSender)}, the signature gives ${bytesToHex(tx.sender)}`,
    );
  }
}
