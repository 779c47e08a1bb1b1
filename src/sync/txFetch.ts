import { keccak256 } from "../crypto/index.js";
import type { Transport } from "../network/index.js";
import type { Hash, NodeId, Transaction } from "../types/index.js";
import { errorMessage } from "../util/errors.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import {
  BAD_RESPONSE_PENALTY,
  decodeTxFetchRequest,
  decodeTxFetchResponse,
  encodeTxBatch,
  encodeTxFetchRequest,
  SyncError,
  TX_FETCH_HASHES_MAX,
} from "./wire.js";

export interface TxFetchOptions {
  /** One request's timeout. */
  requestTimeoutMs: number;
  /** Peers asked after the proposer when txs are still missing. */
  extraPeersMax: number;
  /** Bound of one response (raw tx bytes); stays under the transport's response bound. */
  responseBytesMax: number;
}

export const defaultTxFetchOptions: TxFetchOptions = {
  // Loopback/LAN: a 1,000-tx answer takes milliseconds; keep the worst case (proposer + 2 peers) near a view timeout.
  requestTimeoutMs: 1500,
  extraPeersMax: 2,
  responseBytesMax: 8 * 1024 * 1024,
};

/**
 * The "txs" request/response protocol: a replica given a compact proposal asks for the raw txs it lacks, by hash —
 * the proposer first, then a few other connected peers. Serving answers from `lookup` (pool, executed blocks,
 * ledger), bounded in count and bytes. The fetched bytes are untrusted: the chain decodes them with sender recovery
 * and checks them against the proposal.
 */
export class TxFetch {
  readonly counters = { requestsServed: 0, txsServed: 0, requestsSent: 0, txsFetched: 0 };

  constructor(
    private readonly opts: TxFetchOptions,
    private readonly deps: {
      transport: Transport;
      lookup: (hash: Hash) => Promise<Transaction | undefined>;
      logger: Logger;
    },
  ) {}

  /** Registers the "txs" handler (may be called before the transport starts). */
  start(): void {
    this.deps.transport.handle("txs", (_from, request) => this.serve(request));
  }

  async serve(request: Uint8Array): Promise<Uint8Array> {
    const hashes = decodeTxFetchRequest(request);
    const raws: Uint8Array[] = [];
    let bytes = 0;
    for (const hash of hashes) {
      const tx = await this.deps.lookup(hash);
      if (!tx) continue;
      if (bytes + tx.raw.length + 8 > this.opts.responseBytesMax) break;
      raws.push(tx.raw);
      bytes += tx.raw.length + 8;
    }
    this.counters.requestsServed++;
    this.counters.txsServed += raws.length;
    return encodeTxBatch(raws);
  }

  /**
   * Raw txs for `hashes`: asks `proposer`, then up to extraPeersMax other connected peers for what is still missing.
   * Returns the raws received whose keccak matches a wanted hash (never throws; missing ones are simply absent).
   */
  async fetch(hashes: Hash[], proposer: NodeId): Promise<Uint8Array[]> {
    const remaining = new Map(hashes.map((h) => [bytesToHex(h), h]));
    const got: Uint8Array[] = [];
    const self = this.deps.transport.localNodeId;
    const peers = [
      proposer,
      ...this.deps.transport
        .connectedPeers()
        .filter((p) => !bytesEqual(p, proposer))
        .slice(0, this.opts.extraPeersMax),
    ].filter((p) => !bytesEqual(p, self));
    for (const peer of peers) {
      if (remaining.size === 0) break;
      const wanted = [...remaining.values()];
      for (let i = 0; i < wanted.length; i += TX_FETCH_HASHES_MAX) {
        const chunk = wanted.slice(i, i + TX_FETCH_HASHES_MAX);
        try {
          this.counters.requestsSent++;
          const response = await this.deps.transport.request(peer, "txs", encodeTxFetchRequest(chunk), {
            timeoutMs: this.opts.requestTimeoutMs,
          });
          let unasked = 0;
          for (const raw of decodeTxFetchResponse(response, chunk.length)) {
            const key = bytesToHex(keccak256(raw));
            if (!remaining.delete(key)) {
              unasked++; // a server answers each asked hash it has once: this is not one of them
              continue;
            }
            got.push(raw);
            this.counters.txsFetched++;
          }
          if (unasked > 0) this.blame(peer, `sent ${unasked} txs it was not asked for`);
        } catch (err) {
          // A malformed answer is the peer's fault; a timeout or a dropped stream may not be.
          if (err instanceof SyncError) this.blame(peer, `bad txs response: ${errorMessage(err)}`);
          this.deps.logger.debug(
            { peer: bytesToHex(peer).slice(0, 18), err: errorMessage(err) },
            "tx fetch failed",
          );
          break; // next peer
        }
      }
    }
    if (remaining.size > 0) {
      this.deps.logger.warn(
        { missing: remaining.size, asked: hashes.length },
        "proposal txs not found at peers",
      );
    }
    return got;
  }

  private blame(peer: NodeId, reason: string): void {
    this.deps.transport.penalize(peer, reason, BAD_RESPONSE_PENALTY);
    this.deps.logger.warn({ peer: bytesToHex(peer), reason }, "bad tx fetch answer");
  }
}
