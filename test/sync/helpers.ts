/**
 * Helpers for the BlockSync tests: real chains on LevelDB in a temp dir, blocks certified with real validator keys,
 * and an in-memory "blocks" protocol standing in for the network. The peers behind it are the honest server
 * (src/sync/blockServe.ts on a real chain) or a hostile stub; the node under test is the real BlockSync.
 */
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Chain } from "../../src/chain/index.js";
import { decodeBlock, decodeTransaction, encodeNativeTx, hashHeader } from "../../src/codec/index.js";
import type { GenesisConfig } from "../../src/config/index.js";
import { commitDigest } from "../../src/consensus/index.js";
import { keccak256, type NodeKey } from "../../src/crypto/index.js";
import { Executor } from "../../src/execution/index.js";
import { LevelLedger } from "../../src/ledger/index.js";
import { NetworkError, type RequestHandler, type Transport } from "../../src/network/index.js";
import type { Block, CommitCertificate, Hash, NodeId, Transaction } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import { testAdminKey, testGenesis } from "../fixtures/genesis.js";

const ADMIN_KEY = testAdminKey("block sync test admin");

export function makeGenesis(sealers: NodeKey[]): GenesisConfig {
  return testGenesis(sealers, ADMIN_KEY);
}

export function transfer(nonce: number, to = 7): Transaction {
  return decodeTransaction(
    encodeNativeTx(
      {
        chainId: 20200n,
        groupId: "group0",
        nonce: new Uint8Array([nonce >> 8, nonce & 0xff, 0x5c]),
        blockLimit: 500,
        to: new Uint8Array(20).fill(to),
        value: 1n,
        input: new Uint8Array(),
        gasLimit: 21000n,
        gasPrice: 0n,
      },
      ADMIN_KEY,
    ),
  );
}

export function certify(keys: NodeKey[], height: number, view: number, blockHash: Hash): CommitCertificate {
  const digest = commitDigest(keccak256, height, view, blockHash);
  return {
    height,
    view,
    blockHash,
    signatures: keys.map((k) => ({ nodeId: k.nodeId, signature: k.sign(digest) })),
  };
}

/** Temp dir with chains on real LevelDB; close() closes them and removes the dir. */
export class ChainFactory {
  private readonly ledgers: LevelLedger[] = [];
  private constructor(
    readonly dir: string,
    readonly genesis: GenesisConfig,
  ) {}

  static async create(genesis: GenesisConfig): Promise<ChainFactory> {
    return new ChainFactory(await mkdtemp(path.join(os.tmpdir(), "consort-sync-")), genesis);
  }

  async open(name: string): Promise<Chain> {
    const ledger = await LevelLedger.open(
      { dataDir: path.join(this.dir, name), chainId: 20200n, groupId: "group0" },
      { logger: silentLogger() },
    );
    this.ledgers.push(ledger);
    const chain = new Chain(this.genesis, {
      ledger,
      executor: new Executor({}, { logger: silentLogger() }),
      logger: silentLogger(),
    });
    await chain.init();
    return chain;
  }

  async close(): Promise<void> {
    for (const l of this.ledgers.splice(0)) await l.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Builds `count` blocks of two transfers each on `chain`, each committed with a certificate of `signers`. */
export async function growChain(
  chain: Chain,
  signers: NodeKey[],
  count: number,
  nonceBase = 0,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const n = nonceBase + 2 * (chain.height() + i);
    const built = await chain.buildBlock([transfer(n), transfer(n + 1)], {
      proposer: signers[0]!.nodeId,
      view: 0,
      nowMs: Date.now(),
    });
    await chain.commit(built.hash, certify(signers, built.block.header.number, 0, built.hash));
  }
}

export interface Penalty {
  peer: string;
  reason: string;
  points: number;
}

/**
 * The network as the node under test sees it: peers by node ID, each answering "blocks" requests with a handler.
 * `request` honours timeoutMs like the real transport (NETWORK_TIMEOUT); `hang` makes a peer never answer, as over a
 * connection a partition left stale. Penalties are recorded.
 */
export class FakeNetwork {
  readonly penalties: Penalty[] = [];
  private readonly peers = new Map<string, { id: NodeId; handler: RequestHandler | "hang" }>();
  private readonly pending = new Set<(err: Error) => void>();
  readonly requests: { peer: string; bytes: Uint8Array }[] = [];
  private served: RequestHandler | null = null;

  constructor(readonly localNodeId: NodeId) {}

  connect(id: NodeId, handler: RequestHandler | "hang"): void {
    this.peers.set(bytesToHex(id), { id, handler });
  }

  disconnect(id: NodeId): void {
    this.peers.delete(bytesToHex(id));
  }

  /** What the node under test serves (its "blocks" handler). */
  serve(req: Uint8Array): Promise<Uint8Array> {
    if (!this.served) throw new Error("the node under test serves no blocks protocol");
    return this.served(this.localNodeId, req);
  }

  penaltiesOf(id: NodeId): Penalty[] {
    return this.penalties.filter((p) => p.peer === bytesToHex(id));
  }

  /** Fails every request still hanging (the test's clean-up: the node under test can then go idle). */
  closeAll(): void {
    this.peers.clear();
    for (const fail of this.pending) fail(new NetworkError("NETWORK_NOT_CONNECTED", "closed"));
    this.pending.clear();
  }

  transport(): Transport {
    const t: Partial<Transport> = {
      localNodeId: this.localNodeId,
      handle: (_protocol, handler) => {
        this.served = handler;
      },
      connectedPeers: () => [...this.peers.values()].map((p) => p.id),
      peerCount: () => this.peers.size,
      penalize: (id, reason, points) => {
        this.penalties.push({ peer: bytesToHex(id), reason, points });
      },
      request: (id, _protocol, bytes, opts) => this.request(id, bytes, opts.timeoutMs),
    };
    return t as Transport;
  }

  private request(id: NodeId, bytes: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const peer = this.peers.get(bytesToHex(id));
    this.requests.push({ peer: bytesToHex(id), bytes });
    if (!peer) return Promise.reject(new NetworkError("NETWORK_NOT_CONNECTED", "not connected"));
    return new Promise<Uint8Array>((resolve, reject) => {
      const fail = (err: Error) => {
        clearTimeout(timer);
        this.pending.delete(fail);
        reject(err);
      };
      const timer = setTimeout(() => fail(new NetworkError("NETWORK_TIMEOUT", "timed out")), timeoutMs);
      this.pending.add(fail);
      if (peer.handler === "hang") return;
      peer.handler(this.localNodeId, bytes).then(
        (res) => {
          clearTimeout(timer);
          this.pending.delete(fail);
          resolve(res);
        },
        // A NetworkError stands for what the transport itself would throw (e.g. an oversized frame).
        (err: unknown) =>
          fail(err instanceof NetworkError ? err : new NetworkError("NETWORK_REMOTE_ERROR", String(err))),
      );
    });
  }
}

/** Polls `cond` every 20 ms until true; throws after `timeoutMs` with `what`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Commits blocks `from.height()+1 ..` up to `upTo` of `source` into `target` (as consensus or sync would). */
export async function copyBlocks(source: Chain, target: Chain, upTo: number): Promise<void> {
  for (let h = target.height() + 1; h <= upTo; h++) {
    const { hash, certificate, bytes } = await storedBlock(source, h);
    await target.commit(hash, certificate, bytes);
  }
}

/** A committed block as sync serves it: its bytes, header hash and certificate. */
export async function storedBlock(
  chain: Chain,
  height: number,
): Promise<{ bytes: Uint8Array; hash: Hash; certificate: CommitCertificate; block: Block }> {
  const bytes = await chain.blockBytes(height);
  if (!bytes) throw new Error(`no block ${height}`);
  const block = decodeBlock(bytes);
  if (!block.certificate) throw new Error(`block ${height} has no certificate`);
  return { bytes, hash: hashHeader(block.header), certificate: block.certificate, block };
}
