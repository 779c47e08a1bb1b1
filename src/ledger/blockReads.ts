import {
  decodeBlock,
  decodeCertificate,
  decodeHeader,
  decodeReceipt,
  decodeTransaction,
} from "../codec/index.js";
import { keccak256, merkleProof } from "../crypto/index.js";
import type { BlockHeader, Hash, Receipt, Transaction } from "../types/index.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import { Bucket, bytesKey, numberKey, receiptKey } from "./buckets.js";
import type {
  BlockRef,
  BlockSummary,
  LedgerBlock,
  LedgerProof,
  ReceiptLookup,
  TxLookup,
} from "./interface.js";
import { LruCache } from "./lru.js";
import { BODY_CACHE_BYTES, type LedgerOptions } from "./options.js";
import {
  decodeHash,
  decodeHashList,
  decodeNumber,
  decodeTxIndexRecord,
  type HeadRecord,
  type TxIndexRecord,
} from "./records.js";
import type { LedgerStore } from "./store.js";

interface CachedHeader {
  header: BlockHeader;
  hash: Hash;
}

function isHash(value: unknown): value is Hash {
  return value instanceof Uint8Array && value.length === 32;
}

/**
 * The ledger's reads of committed blocks: headers, bodies, transactions, receipts and their Merkle proofs, with the
 * bounded caches of decoded headers, hash → number and recent blocks (the commit fills them). Never reports anything
 * above the in-memory head (an index entry of a batch that landed a moment ago is not visible yet).
 */
export class BlockReads {
  private readonly headers: LruCache<number, CachedHeader>;
  private readonly hashToNumber: LruCache<string, number>;
  private readonly blocks: LruCache<number, LedgerBlock>;
  /** Receipts of recently committed blocks, as committed (RPC's block and receipt reads follow a new block). */
  private readonly receipts: LruCache<number, readonly Receipt[]>;
  /** Stored bytes of recently committed blocks (the commit encoded them already). */
  private readonly bodies = new LruCache<number, Uint8Array>(BODY_CACHE_BYTES, (b) => b.length);

  constructor(
    private readonly store: LedgerStore,
    opts: Pick<LedgerOptions, "headerCacheSize" | "blockCacheTxsMax">,
    private readonly head: () => HeadRecord | null,
  ) {
    this.headers = new LruCache(Math.max(1, opts.headerCacheSize));
    this.hashToNumber = new LruCache(Math.max(1, opts.headerCacheSize));
    this.blocks = new LruCache(Math.max(1, opts.blockCacheTxsMax), (b) => b.transactions.length + 1);
    this.receipts = new LruCache(Math.max(1, opts.blockCacheTxsMax), (r) => r.length + 1);
  }

  /** A block just committed (after its batch landed), its receipts and stored bytes: readers find them in memory. */
  remember(block: LedgerBlock, receipts: readonly Receipt[], bodyBytes: Uint8Array): void {
    const number = block.header.number;
    this.bodies.set(number, bodyBytes);
    this.receipts.set(number, receipts);
    this.headers.set(number, { header: block.header, hash: block.hash });
    this.hashToNumber.set(bytesToHex(block.hash), number);
    this.blocks.set(number, block);
  }

  clear(): void {
    this.headers.clear();
    this.hashToNumber.clear();
    this.blocks.clear();
    this.bodies.clear();
    this.receipts.clear();
  }

  // ---------------------------------------------------------------- blocks

  async getBlockNumber(hash: Hash): Promise<number | null> {
    this.store.ensureOpen();
    return this.numberOfHash(hash);
  }

  async getBlockHash(number: number): Promise<Hash | null> {
    const n = await this.resolve(number);
    if (n === null) return null;
    return (await this.loadHeader(n)).hash;
  }

  async getHeader(ref: BlockRef): Promise<BlockHeader | null> {
    const n = await this.resolve(ref);
    if (n === null) return null;
    return (await this.loadHeader(n)).header;
  }

  getBlock(ref: BlockRef): Promise<LedgerBlock | null>;
  getBlock(ref: BlockRef, opts: { withTransactions: true }): Promise<LedgerBlock | null>;
  getBlock(ref: BlockRef, opts: { withTransactions: false }): Promise<BlockSummary | null>;
  getBlock(ref: BlockRef, opts?: { withTransactions?: boolean }): Promise<LedgerBlock | BlockSummary | null>;
  async getBlock(
    ref: BlockRef,
    opts?: { withTransactions?: boolean },
  ): Promise<LedgerBlock | BlockSummary | null> {
    const n = await this.resolve(ref);
    if (n === null) return null;
    const cached = this.blocks.get(n);
    if (opts?.withTransactions === false) {
      if (cached !== undefined) {
        return {
          hash: cached.hash,
          header: cached.header,
          certificate: cached.certificate,
          txHashes: cached.txHashes,
        };
      }
      const { header, hash } = await this.loadHeader(n);
      const certKey = numberKey(Bucket.certificate, n);
      const hashesKey = numberKey(Bucket.txHashes, n);
      const [certBytes, hashesBytes] = await this.store.getMany([certKey, hashesKey]);
      const certificate = this.store.decodeRecord(
        certKey,
        this.store.required(certKey, certBytes),
        decodeCertificate,
      );
      const txHashes = this.store.decodeRecord(
        hashesKey,
        this.store.required(hashesKey, hashesBytes),
        decodeHashList,
      );
      return { hash, header, certificate, txHashes };
    }
    if (cached !== undefined) return cached;
    const bodyKey = numberKey(Bucket.body, n);
    const body = this.store.required(bodyKey, await this.store.get(bodyKey));
    const decoded = this.store.decodeRecord(bodyKey, body, (b) => decodeBlock(b, { trustSenders: true }));
    if (decoded.certificate === null) throw this.store.corrupt(bodyKey, "stored block has no certificate");
    if (decoded.header.number !== n) {
      throw this.store.corrupt(bodyKey, `stored block has number ${decoded.header.number}`);
    }
    const { hash } = await this.loadHeader(n);
    const block: LedgerBlock = {
      hash,
      header: decoded.header,
      certificate: decoded.certificate,
      txHashes: decoded.transactions.map((tx) => tx.hash),
      transactions: decoded.transactions,
    };
    this.blocks.set(n, block);
    return block;
  }

  async getBlockBytes(ref: BlockRef): Promise<Uint8Array | null> {
    const n = await this.resolve(ref);
    if (n === null) return null;
    const cached = this.bodies.get(n);
    if (cached !== undefined) return cached;
    const key = numberKey(Bucket.body, n);
    return this.store.required(key, await this.store.get(key));
  }

  // ---------------------------------------------------------------- transactions and receipts

  async getTransaction(hash: Hash): Promise<TxLookup | null> {
    const rec = await this.loadTxIndex(hash);
    if (rec === null) return null;
    return this.lookupOf(hash, rec);
  }

  async getReceipt(hash: Hash): Promise<ReceiptLookup | null> {
    const rec = await this.loadTxIndex(hash);
    if (rec === null) return null;
    const receipt = this.receipts.get(rec.number)?.[rec.index] ?? (await this.loadReceipt(rec));
    return { receipt, ...(await this.lookupOf(hash, rec)) };
  }

  /** A committed tx and where it stands (its block's hash and timestamp), from its index record. */
  private async lookupOf(hash: Hash, rec: TxIndexRecord): Promise<TxLookup> {
    const tx = this.txOf(hash, rec); // first: a corrupt tx record is named as such, whatever its header holds
    const { header, hash: blockHash } = await this.loadHeader(rec.number);
    return { tx, blockNumber: rec.number, blockHash, timestampMs: header.timestampMs, index: rec.index };
  }

  async getBlockReceipts(ref: BlockRef): Promise<Receipt[]> {
    const n = await this.resolve(ref);
    if (n === null) return [];
    const cached = this.receipts.get(n);
    if (cached !== undefined) return [...cached];
    const keys = await this.receiptKeysOf(n);
    const values = await this.store.getMany(keys);
    return keys.map((key, i) =>
      this.store.decodeRecord(key, this.store.required(key, values[i]), decodeReceipt),
    );
  }

  private async loadReceipt(rec: TxIndexRecord): Promise<Receipt> {
    const key = receiptKey(rec.number, rec.index);
    return this.store.decodeRecord(key, this.store.required(key, await this.store.get(key)), decodeReceipt);
  }

  async getTxProof(hash: Hash): Promise<LedgerProof | null> {
    const rec = await this.loadTxIndex(hash);
    if (rec === null) return null;
    const txHashes = await this.txHashesOf(rec.number);
    const leaf = txHashes[rec.index];
    if (leaf === undefined || !bytesEqual(leaf, hash)) {
      throw this.store.corrupt(
        bytesKey(Bucket.txIndex, hash),
        `block ${rec.number} has no such tx at ${rec.index}`,
      );
    }
    const { header, hash: blockHash } = await this.loadHeader(rec.number);
    return {
      blockNumber: rec.number,
      blockHash,
      index: rec.index,
      leaf,
      root: header.txRoot,
      proof: merkleProof(txHashes, rec.index),
    };
  }

  async getReceiptProof(hash: Hash): Promise<LedgerProof | null> {
    const rec = await this.loadTxIndex(hash);
    if (rec === null) return null;
    const keys = await this.receiptKeysOf(rec.number);
    if (rec.index >= keys.length) {
      throw this.store.corrupt(
        bytesKey(Bucket.txIndex, hash),
        `block ${rec.number} has no tx at ${rec.index}`,
      );
    }
    const values = await this.store.getMany(keys);
    const leaves = keys.map((key, i) => keccak256(this.store.required(key, values[i])));
    const { header, hash: blockHash } = await this.loadHeader(rec.number);
    return {
      blockNumber: rec.number,
      blockHash,
      index: rec.index,
      leaf: leaves[rec.index]!,
      root: header.receiptRoot,
      proof: merkleProof(leaves, rec.index),
    };
  }

  /** A height within [0, head], or null. */
  private async resolve(ref: BlockRef): Promise<number | null> {
    this.store.ensureOpen();
    if (typeof ref === "number") {
      const head = this.head();
      return head !== null && Number.isSafeInteger(ref) && ref >= 0 && ref <= head.number ? ref : null;
    }
    return this.numberOfHash(ref);
  }

  private async numberOfHash(hash: Hash): Promise<number | null> {
    if (!isHash(hash)) return null;
    const hex = bytesToHex(hash);
    let n = this.hashToNumber.get(hex);
    if (n === undefined) {
      const key = bytesKey(Bucket.hashToNumber, hash);
      const v = await this.store.get(key);
      if (v === undefined) return null;
      n = this.store.decodeRecord(key, v, decodeNumber);
      this.hashToNumber.set(hex, n);
    }
    const head = this.head();
    return head !== null && n <= head.number ? n : null;
  }

  /** Header and hash of a height known to be <= head (missing records are corruption). */
  private async loadHeader(n: number): Promise<CachedHeader> {
    const cached = this.headers.get(n);
    if (cached !== undefined) return cached;
    const headerKey = numberKey(Bucket.header, n);
    const hashKey = numberKey(Bucket.numberToHash, n);
    const [headerBytes, hashBytes] = await this.store.getMany([headerKey, hashKey]);
    const header = this.store.decodeRecord(
      headerKey,
      this.store.required(headerKey, headerBytes),
      decodeHeader,
    );
    const hash = this.store.decodeRecord(hashKey, this.store.required(hashKey, hashBytes), decodeHash);
    if (header.number !== n) throw this.store.corrupt(headerKey, `stored header has number ${header.number}`);
    const entry = { header, hash };
    this.headers.set(n, entry);
    return entry;
  }

  private async loadTxIndex(hash: Hash): Promise<TxIndexRecord | null> {
    this.store.ensureOpen();
    if (!isHash(hash)) return null;
    const key = bytesKey(Bucket.txIndex, hash);
    const v = await this.store.get(key);
    if (v === undefined) return null;
    const rec = this.store.decodeRecord(key, v, decodeTxIndexRecord);
    const head = this.head();
    // An index entry above the in-memory head belongs to a commit whose batch landed a moment ago.
    return head !== null && rec.number <= head.number ? rec : null;
  }

  private txOf(hash: Hash, rec: TxIndexRecord): Transaction {
    const tx = this.blocks.get(rec.number)?.transactions[rec.index];
    if (tx !== undefined) return tx;
    const key = bytesKey(Bucket.txIndex, hash);
    const decoded = this.store.decodeRecord(key, rec.raw, (raw) =>
      decodeTransaction(raw, { sender: rec.sender }),
    );
    if (!bytesEqual(decoded.hash, hash)) throw this.store.corrupt(key, "stored transaction has another hash");
    return decoded;
  }

  private async txHashesOf(n: number): Promise<Hash[]> {
    const cached = this.blocks.get(n);
    if (cached !== undefined) return cached.txHashes;
    const key = numberKey(Bucket.txHashes, n);
    return this.store.decodeRecord(key, this.store.required(key, await this.store.get(key)), decodeHashList);
  }

  private async receiptKeysOf(n: number): Promise<Uint8Array[]> {
    const count = (await this.txHashesOf(n)).length;
    const keys: Uint8Array[] = [];
    for (let i = 0; i < count; i++) keys.push(receiptKey(n, i));
    return keys;
  }
}
