import type { Chain } from "../chain/index.js";
import { decodeBlock, hashHeader } from "../codec/index.js";
import type { Transport } from "../network/index.js";
import type { Block, CommitCertificate, Hash, NodeId, ValidatorInfo } from "../types/index.js";
import { ConsortError, errorMessage, isDiskFull } from "../util/errors.js";
import { bytesEqual, bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import { BehindReport } from "./behindReport.js";
import { serveBlocks } from "./blockServe.js";
import { OtherGenesisPeers } from "./otherGenesis.js";
import {
  BAD_RESPONSE_PENALTY,
  decodeSyncResponse,
  encodeSyncRequest,
  SYNC_BLOCKS_PER_RESPONSE_MAX,
  SyncError,
  type SyncResponse,
} from "./wire.js";

export interface BlockSyncOptions {
  /**
   * Pause between two head polls (catches up when no consensus traffic flows, e.g. after a partition heals). A poll
   * is skipped when blocks were committed since the previous one.
   */
  pollIntervalMs: number;
  /** Timeout of one "blocks" request (up to SYNC_BLOCKS_PER_RESPONSE_MAX blocks). */
  requestTimeoutMs: number;
  /**
   * Timeout of a head request. Short: a connection left stale by a partition must not hold up the poll; the heads
   * of all polled peers are asked at once, so one poll lasts at most this long.
   */
  headTimeoutMs: number;
  /** Response size bound for the blocks we serve (and expect: a multi-block response above it is refused). */
  responseBytesMax: number;
  /** Behind our peers for longer than this: warn (again every as long) until caught up. */
  behindWarnMs: number;
}

export const defaultBlockSyncOptions: BlockSyncOptions = {
  pollIntervalMs: 1000,
  requestTimeoutMs: 10_000,
  headTimeoutMs: 2000,
  responseBytesMax: 8 * 1024 * 1024,
  behindWarnMs: 5000,
};

/** Head polls ask at most this many peers at once (consortia are small; this bounds the fan-out). */
const HEAD_POLL_PEERS_MAX = 32;
/** Rounds of one fetch from one peer (each up to SYNC_BLOCKS_PER_RESPONSE_MAX blocks). */
const FETCH_ROUNDS_MAX = 10_000;

export function validateBlockSyncOptions(o: BlockSyncOptions): BlockSyncOptions {
  for (const field of Object.keys(defaultBlockSyncOptions) as (keyof BlockSyncOptions)[]) {
    const v = o[field];
    if (!Number.isSafeInteger(v) || v <= 0)
      throw new SyncError(
        "SYNC_INVALID_OPTIONS",
        `sync option ${field} must be a positive integer, got ${v}`,
        {
          field,
        },
      );
  }
  return o;
}

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

interface PeerHead {
  peer: NodeId;
  headHeight: number;
}

type ApplyOutcome = "applied" | "skipped";
type FetchTrigger = "consensus" | "poll";

/**
 * Catching up: serves committed blocks to peers, and fetches blocks from peers that are ahead, checking each
 * commit certificate against the validator set in force at its height before executing and committing it.
 *
 * Two triggers: consensus asks (it saw messages of a later height), and a serialized head poll that asks every
 * connected peer for its head, so an idle node (no consensus traffic) still catches up. Consensus commits at the
 * same time: a fetched block at or below our height is ours already (skipped, never blamed on the peer).
 */
export class BlockSync {
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  /**
   * One fetch per trigger at a time. Two triggers, two slots: a consensus-asked fetch stuck on a peer whose
   * connection died (until its request times out) must not keep the poll from fetching from a peer that just
   * answered. Both may commit the same height; the chain serializes commits and the loser skips it.
   */
  private readonly fetching: Record<FetchTrigger, Promise<void> | null> = { consensus: null, poll: null };
  private polling: Promise<void> | null = null;
  /**
   * Each peer's last claimed head (hex node id → height): the best known height (status, /ready, eth_syncing) is the
   * highest claim of a connected peer that has not been caught lying, not a running maximum that one member's false
   * claim would pin forever. Peers no longer connected leave it at each poll.
   */
  private readonly peerHeads = new Map<string, number>();
  /** The local height at which the last polls saw a peer ahead, and how many polls in a row saw it. */
  private behindAt = { height: -1, polls: 0 };
  /** headsHeard: peer heads learned since start (/ready waits for one before it can call this node in sync). */
  readonly counters = {
    blocksFetched: 0,
    badPeers: 0,
    headsHeard: 0,
    staleSkipped: 0,
    conflicts: 0,
    /** Head polls skipped because blocks were committed since the previous one. */
    pollsSkipped: 0,
    /** Answers from peers whose genesis is not ours (ignored). */
    otherGenesis: 0,
  };
  /** The local height at the last poll (null before the first). */
  private heightAtLastPoll: number | null = null;
  private readonly opts: BlockSyncOptions;
  private readonly otherGenesis: OtherGenesisPeers;
  private readonly behindReport: BehindReport;

  constructor(
    opts: BlockSyncOptions,
    private readonly deps: BlockSyncDeps,
  ) {
    this.opts = validateBlockSyncOptions({ ...opts });
    this.otherGenesis = new OtherGenesisPeers(() => deps.chain.genesisHash(), deps.logger);
    this.behindReport = new BehindReport(this.opts.behindWarnMs, deps.logger);
  }

  start(): void {
    this.stopped = false;
    this.deps.transport.handle("blocks", (_from, req) =>
      serveBlocks(this.deps.chain, req, this.opts.responseBytesMax),
    );
    this.schedulePoll();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Resolves once no poll and no fetch is in flight (for a clean shutdown and for tests). */
  async idle(): Promise<void> {
    while (this.polling || this.fetching.consensus || this.fetching.poll)
      await Promise.all([this.polling, this.fetching.consensus, this.fetching.poll]);
  }

  status(): { syncing: boolean; currentBlock: number; highestBlock: number } {
    const current = this.deps.chain.height();
    return {
      syncing: this.fetching.consensus !== null || this.fetching.poll !== null,
      currentBlock: current,
      highestBlock: Math.max(current, ...this.peerHeads.values()),
    };
  }

  /** Polls are serialized: the next one is scheduled only when this one has finished (bounded by headTimeoutMs). */
  private schedulePoll(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.poll()
        .catch((err: unknown) => this.deps.logger.warn({ err: errorMessage(err) }, "head poll failed"))
        .finally(() => {
          this.polling = null;
          this.schedulePoll();
        });
    }, this.opts.pollIntervalMs);
  }

  /**
   * Ask every connected peer for its head at once. Fetch (in the background: a slow fetch never holds up the next
   * poll) from the peers that are ahead, highest first, when one is ahead by two or more, or by one on two polls in a
   * row at the same local height (by one, consensus may just be finishing that block itself).
   */
  private async poll(): Promise<void> {
    // Blocks committed since the last poll: consensus (or a fetch) is carrying this node forward, and a node at a
    // validator's pace has nothing to learn from its peers' heads. Under load this saved a request to every peer
    // every second (a new stream each, both ends); idle, most of a node's background CPU.
    const height = this.deps.chain.height();
    const progressed = this.heightAtLastPoll !== null && height > this.heightAtLastPoll;
    this.heightAtLastPoll = height;
    if (progressed && this.counters.headsHeard > 0) {
      this.counters.pollsSkipped++;
      return;
    }
    const peers = this.deps.transport.connectedPeers().slice(0, HEAD_POLL_PEERS_MAX);
    const connected = new Set(peers.map(bytesToHex));
    for (const key of this.peerHeads.keys()) if (!connected.has(key)) this.peerHeads.delete(key);
    const heads = (await Promise.all(peers.map((p) => this.askHead(p)))).filter(
      (h): h is PeerHead => h !== null,
    );
    if (this.stopped) return;
    // Read after the answers: consensus may have committed while they were on their way.
    const local = this.deps.chain.height();
    const ahead = heads.filter((h) => h.headHeight > local).sort((a, b) => b.headHeight - a.headHeight);
    const best = ahead[0];
    if (!best) {
      this.behindAt = { height: -1, polls: 0 };
      this.behindReport.caughtUp(local);
      return;
    }
    this.behindAt =
      this.behindAt.height === local
        ? { height: local, polls: this.behindAt.polls + 1 }
        : { height: local, polls: 1 };
    const fetchNow = best.headHeight >= local + 2 || this.behindAt.polls >= 2;
    this.behindReport.behind({
      height: local,
      peerHead: best.headHeight,
      peersAsked: peers.length,
      peersAnswered: heads.length,
      action: this.fetching.poll
        ? "a fetch is in flight"
        : fetchNow
          ? "fetching"
          : "waiting one poll for consensus",
    });
    if (fetchNow)
      void this.startFetch(
        "poll",
        ahead.map((h) => h.peer),
      );
  }

  private async askHead(peer: NodeId): Promise<PeerHead | null> {
    try {
      const res = decodeSyncResponse(
        await this.deps.transport.request(
          peer,
          "blocks",
          encodeSyncRequest({ kind: "head", fromHeight: 0, countMax: 0 }),
          { timeoutMs: this.opts.headTimeoutMs },
        ),
      );
      if (!this.onOurChain(peer, res)) return null;
      this.noteHead(peer, res.headHeight);
      return { peer, headHeight: res.headHeight };
    } catch (err) {
      this.blameIfPeerFault(peer, err, "bad head response");
      this.deps.logger.debug({ peer: bytesToHex(peer), err: errorMessage(err) }, "head request failed");
      return null;
    }
  }

  /** Whether the answer comes from a peer on our chain; one on another genesis is ignored, unblamed (OtherGenesisPeers). */
  private onOurChain(peer: NodeId, res: SyncResponse): boolean {
    const key = bytesToHex(peer);
    if (this.otherGenesis.onOurChain(key, res.genesisHash)) return true;
    this.peerHeads.delete(key);
    this.counters.otherGenesis++;
    return false;
  }

  private noteHead(peer: NodeId, headHeight: number): void {
    this.peerHeads.set(bytesToHex(peer), headHeight);
    this.counters.headsHeard++;
  }

  /**
   * Consensus saw a later height: fetch and apply blocks from our height + 1 on, from the given peers first, then
   * any other connected one; the next peer when one fails or times out. A call while a consensus fetch runs is
   * dropped (the running one goes on to the peers' heads; the poll covers the rest).
   */
  fetch(_fromHeight: number, hint: NodeId[]): Promise<void> {
    return this.startFetch("consensus", hint);
  }

  private startFetch(trigger: FetchTrigger, hint: NodeId[]): Promise<void> {
    const running = this.fetching[trigger];
    if (running || this.stopped) return running ?? Promise.resolve();
    const run = this.fetchFromAny(hint)
      .catch((err: unknown) => this.deps.logger.warn({ err: errorMessage(err) }, "block fetch failed"))
      .finally(() => {
        this.fetching[trigger] = null;
      });
    this.fetching[trigger] = run;
    return run;
  }

  private async fetchFromAny(hint: NodeId[]): Promise<void> {
    const seen = new Set<string>();
    const peers = [...hint, ...this.deps.transport.connectedPeers()].filter((p) => {
      const key = bytesToHex(p);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    for (const peer of peers) {
      if (this.stopped) return;
      if (await this.fetchFrom(peer)) return;
    }
  }

  /** True when this peer brought us up to its head (or had nothing newer); false to try the next peer. */
  private async fetchFrom(peer: NodeId): Promise<boolean> {
    for (let round = 0; round < FETCH_ROUNDS_MAX && !this.stopped; round++) {
      const from = this.deps.chain.height() + 1;
      let res: SyncResponse;
      try {
        res = await this.requestBlocks(peer, from);
      } catch (err) {
        if (!this.blameIfPeerFault(peer, err, "bad sync response"))
          this.deps.logger.debug(
            { peer: bytesToHex(peer), from, err: errorMessage(err) },
            "block fetch failed",
          );
        return false;
      }
      if (!this.onOurChain(peer, res)) return false;
      this.noteHead(peer, res.headHeight);
      if (res.blocks.length === 0) {
        if (res.headHeight < from) return true; // nothing newer there
        // It claims blocks we lack and serves none (a peer's blocks up to its head are in its store, and the first
        // block always goes whatever its size): a false head, which would keep every node that believed it "behind"
        // (/ready 503, eth_syncing) for as long as it repeats it. Blamed, its claim dropped; another peer serves.
        const key = bytesToHex(peer);
        this.peerHeads.delete(key);
        this.blame(peer, `claims head ${res.headHeight} but served no block from ${from}`);
        this.deps.logger.warn(
          { peer: key, claimedHead: res.headHeight, from },
          "peer claims a head it does not serve",
        );
        return false;
      }
      for (let i = 0; i < res.blocks.length; i++) {
        if (!(await this.applyFrom(peer, res.blocks[i]!, from + i))) return false;
      }
      if (this.deps.chain.height() >= res.headHeight) return true;
    }
    return true;
  }

  private async requestBlocks(peer: NodeId, from: number): Promise<SyncResponse> {
    const res = decodeSyncResponse(
      await this.deps.transport.request(
        peer,
        "blocks",
        encodeSyncRequest({ kind: "blocks", fromHeight: from, countMax: SYNC_BLOCKS_PER_RESPONSE_MAX }),
        { timeoutMs: this.opts.requestTimeoutMs },
      ),
    );
    const bytes = res.blocks.reduce((n, b) => n + b.length, 0);
    // The server stops adding blocks past the bound (the first block always goes, whatever its size).
    if (res.blocks.length > 1 && bytes > this.opts.responseBytesMax)
      throw new SyncError(
        "SYNC_OVERSIZE",
        `sync response of ${bytes} bytes exceeds ${this.opts.responseBytesMax}`,
      );
    return res;
  }

  /** Applies one served block; false (after blaming the peer, or stopping the node on a full disk) to stop. */
  private async applyFrom(peer: NodeId, bytes: Uint8Array, expectedHeight: number): Promise<boolean> {
    try {
      if ((await this.apply(peer, bytes, expectedHeight)) === "skipped") this.counters.staleSkipped++;
      return true;
    } catch (err) {
      // Our disk, not the peer's block: no penalty, and the node cannot go on.
      if (isDiskFull(err)) {
        this.deps.onStorageFailure(err);
        return false;
      }
      if (this.stopped) return false; // the ledger may be closing under us: nobody's fault
      this.blame(peer, `bad block in sync: ${errorMessage(err)}`);
      this.deps.logger.warn(
        { peer: bytesToHex(peer), height: expectedHeight, err: errorMessage(err) },
        "peer served an invalid block",
      );
      return false;
    }
  }

  private async apply(peer: NodeId, bytes: Uint8Array, expectedHeight: number): Promise<ApplyOutcome> {
    // Only the header and certificate are judged here: the chain's commit decodes the block again and recovers
    // (or finds in the node's sender cache) every tx's sender, so recovering them here too would double the work.
    const block = decodeBlock(bytes, { trustSenders: true });
    const { header, certificate } = block;
    if (header.number !== expectedHeight)
      throw new SyncError("SYNC_BAD_BLOCK", `asked for block ${expectedHeight}, got ${header.number}`);
    const hash = hashHeader(header);
    // Consensus committed this height while the request was in flight: our own progress, not the peer's fault.
    if (header.number <= this.deps.chain.height()) return this.skipCommitted(peer, block, hash);
    this.checkCertificate(header.number, hash, certificate);
    let committed: Awaited<ReturnType<Chain["commit"]>>;
    try {
      committed = await this.deps.chain.commit(hash, certificate!, bytes);
    } catch (err) {
      // Consensus committed it while we verified it (the chain serializes commits): judge it as a committed height.
      if (!isDiskFull(err) && header.number <= this.deps.chain.height())
        return this.skipCommitted(peer, block, hash);
      throw err;
    }
    if (!committed) return "skipped";
    this.counters.blocksFetched++;
    this.deps.logger.info({ height: header.number, txs: block.transactions.length }, "block synced");
    this.deps.onSynced(
      header.number,
      hash,
      certificate!,
      committed.validatorsChanged ? this.deps.chain.validators() : undefined,
    );
    return "applied";
  }

  /** The block's certificate must be for its height and hash, signed by a quorum of the validators in force. */
  private checkCertificate(height: number, hash: Hash, certificate: CommitCertificate | null): void {
    if (!certificate || certificate.height !== height || !bytesEqual(certificate.blockHash, hash))
      throw new SyncError("SYNC_BAD_CERTIFICATE", `block ${height} has no certificate for its hash`);
    const check = this.deps.chain.checkCertificate(certificate, hash);
    if (!check.ok)
      throw new SyncError("SYNC_BAD_CERTIFICATE", `block ${height}: certificate ${check.reason}`);
  }

  /**
   * A served block at a height we have committed. The same hash: skipped. Another hash with a certificate that
   * checks: two certified blocks at one height, a safety violation among the validators (the peer only relays it):
   * logged as evidence, the node goes on. Another hash without a valid certificate: the peer's forgery (throws).
   */
  private async skipCommitted(peer: NodeId, block: Block, hash: Hash): Promise<ApplyOutcome> {
    const height = block.header.number;
    const ours = await this.deps.chain.ledger.getBlockHash(height);
    if (ours && bytesEqual(ours, hash)) {
      this.deps.logger.debug({ peer: bytesToHex(peer), height }, "fetched block already committed");
      return "skipped";
    }
    // Checked against the validators in force now: right for the latest height, the usual case of this race.
    this.checkCertificate(height, hash, block.certificate);
    this.counters.conflicts++;
    this.deps.logger.error(
      {
        peer: bytesToHex(peer),
        height,
        ourHash: ours ? bytesToHex(ours) : null,
        theirHash: bytesToHex(hash),
        view: block.certificate!.view,
        signers: block.certificate!.signatures.map((s) => bytesToHex(s.nodeId)),
      },
      "SAFETY VIOLATION evidence: a second certified block at a committed height (kept ours)",
    );
    return "skipped";
  }

  /** Malformed or oversized answers are the peer's doing; timeouts and lost connections are not. */
  private blameIfPeerFault(peer: NodeId, err: unknown, what: string): boolean {
    const code = err instanceof ConsortError ? (err.code as string) : "";
    if (!(err instanceof SyncError) && code !== "NETWORK_OVERSIZE") return false;
    this.blame(peer, `${what}: ${errorMessage(err)}`);
    this.deps.logger.warn({ peer: bytesToHex(peer), code, err: errorMessage(err) }, what);
    return true;
  }

  private blame(peer: NodeId, reason: string): void {
    this.counters.badPeers++;
    this.deps.transport.penalize(peer, reason, BAD_RESPONSE_PENALTY);
  }
}
