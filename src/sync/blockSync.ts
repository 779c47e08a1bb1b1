import type { Chain } from "../chain/index.js";
import { decodeBlock, hashHeader } from "../codec/index.js";
import type { Transport } from "../network/index.js";
import type { CommitCertificate, Hash, NodeId, ValidatorInfo } from "../types/index.js";
import { errorMessage, isDiskFull } from "../util/errors.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import {
  decodeSyncRequest,
  decodeSyncResponse,
  encodeSyncRequest,
  encodeSyncResponse,
  SYNC_BLOCKS_PER_RESPONSE_MAX,
  SyncError,
} from "./wire.js";

export interface BlockSyncOptions {
  /** How often to ask a peer for its head (catches up after a restart even when no consensus traffic flows). */
  pollIntervalMs: number;
  requestTimeoutMs: number;
  /** Response size bound for the blocks we serve. */
  responseBytesMax: number;
}

export const defaultBlockSyncOptions: BlockSyncOptions = {
  pollIntervalMs: 1000,
  requestTimeoutMs: 10_000,
  responseBytesMax: 8 * 1024 * 1024,
};

export interface BlockSyncDeps {
  chain: Chain;
  transport: Transport;
  logger: Logger;
  /** Tells consensus a block arrived through sync (it moves to the next height). */
  onSynced(
    height: number,
    blockHash: Hash,
    certificate: CommitCertificate,
    nextValidators?: ValidatorInfo[],
  ): void;
  /** A synced block could not be stored (disk full): the node must stop. */
  onStorageFailure(err: unknown): void;
}

/**
 * Catching up: serves committed blocks to peers, and fetches blocks from peers that are ahead, checking each
 * commit certificate against the validator set in force at its height before executing and committing it.
 */
export class BlockSync {
  private timer: NodeJS.Timeout | null = null;
  private fetching = false;
  private highestSeen = 0;
  /** A peer ahead by exactly one block on the previous poll at the same local height: consensus may be finishing it. */
  private aheadByOneAt = -1;
  readonly counters = { blocksFetched: 0, badPeers: 0 };

  constructor(
    private readonly opts: BlockSyncOptions,
    private readonly deps: BlockSyncDeps,
  ) {}

  start(): void {
    this.deps.transport.handle("blocks", (_from, req) => this.serve(req));
    this.timer = setInterval(() => void this.poll(), this.opts.pollIntervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  status(): { syncing: boolean; currentBlock: number; highestBlock: number } {
    const current = this.deps.chain.height();
    return {
      syncing: this.fetching,
      currentBlock: current,
      highestBlock: Math.max(current, this.highestSeen),
    };
  }

  private async serve(reqBytes: Uint8Array): Promise<Uint8Array> {
    const req = decodeSyncRequest(reqBytes);
    const head = this.deps.chain.head();
    const blocks: Uint8Array[] = [];
    if (req.kind === "blocks") {
      let bytes = 0;
      const last = Math.min(
        head.number,
        req.fromHeight + Math.min(req.countMax, SYNC_BLOCKS_PER_RESPONSE_MAX) - 1,
      );
      for (let h = req.fromHeight; h <= last; h++) {
        const block = await this.deps.chain.blockBytes(h);
        if (!block) break;
        bytes += block.length;
        if (blocks.length > 0 && bytes > this.opts.responseBytesMax) break;
        blocks.push(block);
      }
    }
    return encodeSyncResponse({ headHeight: head.number, headHash: head.hash, blocks });
  }

  /** Periodic: ask one connected peer for its head; fetch if it is ahead. */
  private async poll(): Promise<void> {
    if (this.fetching) return;
    const peers = this.deps.transport.connectedPeers();
    if (peers.length === 0) return;
    const peer = peers[Math.floor(Math.random() * peers.length)]!;
    try {
      const res = decodeSyncResponse(
        await this.deps.transport.request(
          peer,
          "blocks",
          encodeSyncRequest({ kind: "head", fromHeight: 0, countMax: 0 }),
          {
            timeoutMs: this.opts.requestTimeoutMs,
          },
        ),
      );
      this.highestSeen = Math.max(this.highestSeen, res.headHeight);
      const local = this.deps.chain.height();
      if (res.headHeight >= local + 2 || (res.headHeight === local + 1 && this.aheadByOneAt === local)) {
        await this.fetch(local + 1, [peer]);
      }
      this.aheadByOneAt = res.headHeight === local + 1 ? local : -1;
    } catch (err) {
      this.deps.logger.debug({ peer: bytesToHex(peer), err: errorMessage(err) }, "head poll failed");
    }
  }

  /** Fetch and apply blocks from `fromHeight` on, from the given peers (or any connected one). */
  async fetch(fromHeight: number, hint: NodeId[]): Promise<void> {
    if (this.fetching) return;
    this.fetching = true;
    try {
      const peers = hint.length > 0 ? hint : this.deps.transport.connectedPeers();
      for (const peer of peers) {
        if (await this.fetchFrom(peer, fromHeight)) return;
      }
    } finally {
      this.fetching = false;
    }
  }

  /** Returns true when the peer served blocks we could apply up to its head. */
  private async fetchFrom(peer: NodeId, fromHeight: number): Promise<boolean> {
    let next = Math.max(fromHeight, this.deps.chain.height() + 1);
    for (let round = 0; round < 10_000; round++) {
      let res: ReturnType<typeof decodeSyncResponse>;
      try {
        res = decodeSyncResponse(
          await this.deps.transport.request(
            peer,
            "blocks",
            encodeSyncRequest({ kind: "blocks", fromHeight: next, countMax: SYNC_BLOCKS_PER_RESPONSE_MAX }),
            { timeoutMs: this.opts.requestTimeoutMs },
          ),
        );
      } catch (err) {
        this.deps.logger.debug({ peer: bytesToHex(peer), err: errorMessage(err) }, "block fetch failed");
        return false;
      }
      this.highestSeen = Math.max(this.highestSeen, res.headHeight);
      if (res.blocks.length === 0) return true;
      for (const bytes of res.blocks) {
        try {
          await this.apply(bytes, next);
        } catch (err) {
          // Our disk, not the peer's block: no penalty, and the node cannot go on.
          if (isDiskFull(err)) {
            this.deps.onStorageFailure(err);
            return false;
          }
          this.counters.badPeers++;
          this.deps.transport.penalize(peer, `bad block in sync: ${errorMessage(err)}`, 50);
          this.deps.logger.warn(
            { peer: bytesToHex(peer), height: next, err: errorMessage(err) },
            "peer served an invalid block",
          );
          return false;
        }
        next = this.deps.chain.height() + 1;
      }
      if (next > res.headHeight) return true;
    }
    return true;
  }

  private async apply(bytes: Uint8Array, expectedHeight: number): Promise<void> {
    const block = decodeBlock(bytes);
    const { header, certificate } = block;
    if (header.number < expectedHeight && header.number <= this.deps.chain.height()) return; // consensus got it first
    if (header.number !== this.deps.chain.height() + 1) {
      throw new SyncError(
        "SYNC_BAD_BLOCK",
        `expected block ${this.deps.chain.height() + 1}, got ${header.number}`,
      );
    }
    const hash = hashHeader(header);
    if (!certificate || certificate.height !== header.number || !bytesEqual(certificate.blockHash, hash)) {
      throw new SyncError("SYNC_BAD_CERTIFICATE", `block ${header.number} has no certificate for its hash`);
    }
    const check = this.deps.chain.checkCertificate(certificate, hash);
    if (!check.ok)
      throw new SyncError("SYNC_BAD_CERTIFICATE", `block ${header.number}: certificate ${check.reason}`);
    const committed = await this.deps.chain.commit(hash, certificate, bytes);
    if (!committed) return;
    this.counters.blocksFetched++;
    this.deps.logger.info({ height: header.number, txs: block.transactions.length }, "block synced");
    this.deps.onSynced(
      header.number,
      hash,
      certificate,
      committed.validatorsChanged ? this.deps.chain.validators() : undefined,
    );
  }
}
