import { stat } from "node:fs/promises";
import path from "node:path";
import { Chain } from "../chain/index.js";
import { SenderCache } from "../codec/index.js";
import {
  assertRpcSafeForGenesis,
  type GenesisConfig,
  loadGenesis,
  type NodeConfig,
} from "../config/index.js";
import { ConsensusDriver } from "../consensus/driver.js";
import { consensusGossipCheck, defaultPbftConfig, resolveConsensusTiming } from "../consensus/index.js";
import { SignerWatch } from "../consensus/signerWatch.js";
import { keccak256, loadNodeKey, type NodeKey, verifyNodeSignature } from "../crypto/index.js";
import { type AccountState, Executor, readAccount } from "../execution/index.js";
import { LevelLedger } from "../ledger/index.js";
import {
  type ConsortMetrics,
  instrumentExecutor,
  instrumentTransport,
  type MetricsServer,
} from "../metrics/index.js";
import { Libp2pTransport } from "../network/index.js";
import { RpcServer, rateLimitOf } from "../rpc/index.js";
import {
  BlockSync,
  defaultBlockSyncOptions,
  defaultTxFetchOptions,
  defaultTxGossipOptions,
  TxFetch,
  TxGossip,
} from "../sync/index.js";
import { TxPool } from "../txpool/index.js";
import { ConsortError, errorMessage, isDiskFull } from "../util/errors.js";
import { bytesToHex } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import { definedOnly } from "../util/objects.js";
import { permissionCheck } from "./permissionCheck.js";
import { NodeRpcBackend } from "./rpcBackend.js";
import { bindNodeMetrics, createNodeMetrics } from "./telemetry.js";

/** Exit code of a node stopped by a fatal error (EX_SOFTWARE): a supervisor should restart it from disk. */
export const FATAL_EXIT_CODE = 70;
/** Exit code of a node stopped because its data directory is full (EX_IOERR): free space, then restart it. */
export const DISK_FULL_EXIT_CODE = 74;

export interface ConsortNodeDeps {
  logger: Logger;
  /** Called once a fatal error has stopped the node, with the code the process should exit with (the CLI exits). */
  onFatalStop?: (exitCode: number) => void;
}

/**
 * The composition root of one Consort node: builds ledger → executor → chain → txpool → network → consensus → sync
 * → rpc in that order, each with a child logger, and closes them in reverse order.
 */
export class ConsortNode {
  /** /metrics, /health and /ready on their own port; null when the config has no `metrics` section. */
  readonly metricsServer: MetricsServer | null;
  private closed = false;
  private readonly pruneTimer: NodeJS.Timeout;
  private fatalStop: Promise<void> | null = null;
  private onFatalStop: ((exitCode: number) => void) | undefined;

  private constructor(
    readonly config: NodeConfig,
    readonly genesis: GenesisConfig,
    readonly nodeKey: NodeKey,
    readonly ledger: LevelLedger,
    readonly chain: Chain,
    readonly txpool: TxPool,
    readonly transport: Libp2pTransport,
    readonly consensus: ConsensusDriver,
    readonly sync: BlockSync,
    readonly gossip: TxGossip,
    readonly txFetch: TxFetch,
    readonly rpc: RpcServer | null,
    readonly signerWatch: SignerWatch,
    private readonly logger: Logger,
    readonly metrics: ConsortMetrics,
  ) {
    this.pruneTimer = setInterval(() => this.txpool.pruneExpired(), 10_000);
    this.metricsServer = bindNodeMetrics(metrics, this, logger.child({ module: "metrics" }));
  }

  static async create(config: NodeConfig, deps: ConsortNodeDeps): Promise<ConsortNode> {
    const log = deps.logger;
    // Modules report errors they cannot continue after here; bound to the node once it exists.
    let self: ConsortNode | null = null;
    const fatal = (source: string) => (err: unknown) => void self?.fatal(source, err);
    const genesis = await loadGenesis(config.genesisFile);
    if (config.rpc.enabled) assertRpcSafeForGenesis(genesis, config.rpc.host, config.genesisFile);
    const nodeKey = await loadNodeKey(config.nodeKeyFile);
    await warnIfKeyReadableByOthers(config.nodeKeyFile, log);
    log.info(
      { nodeId: bytesToHex(nodeKey.nodeId), chainId: genesis.chainId.toString(), dataDir: config.dataDir },
      "starting",
    );
    const ledger = await LevelLedger.open(
      {
        dataDir: path.join(config.dataDir, "ledger"),
        chainId: genesis.chainId,
        groupId: genesis.groupId,
        // Every block reaching the ledger was executed here (built, or verified by re-execution with its roots
        // compared), so recomputing its Merkle roots on commit is pure overhead.
        verifyRootsOnCommit: false,
        stateHistoryBlocks: config.ledger.stateHistoryBlocks,
      },
      { logger: log.child({ module: "ledger" }) },
    );
    try {
      const metrics = createNodeMetrics();
      const executor = new Executor(definedOnly({ callTimeBudgetMs: config.rpc.callTimeBudgetMs }), {
        logger: log.child({ module: "execution" }),
      });
      instrumentExecutor(executor, metrics);
      let pool: TxPool | null = null;
      // One cache of recovered senders for every path a tx arrives by: each signature is recovered once per node.
      const senders = new SenderCache();
      let txFetch: TxFetch | null = null;
      const chain = new Chain(genesis, {
        ledger,
        executor,
        logger: log.child({ module: "chain" }),
        poolTx: (hash) => pool?.get(hash),
        fetchTxs: (hashes, proposer) => txFetch?.fetch(hashes, proposer) ?? Promise.resolve([]),
        senders,
        recoverer: () => pool?.senderRecoverer ?? null,
      });
      await chain.init();
      const accounts = new CommittedAccounts(chain);
      const txpool = new TxPool(
        {
          chainId: genesis.chainId,
          groupId: genesis.groupId,
          ...config.txpool,
          minGasPrice: () => chain.systemConfig().minGasPrice,
        },
        {
          state: {
            getAccountNonce: async (a) => (await accounts.get(a)).nonce,
            getBalance: async (a) => (await accounts.get(a)).balance,
          },
          chain: { height: () => chain.height(), hasNativeNonce: (n) => ledger.hasNativeNonce(n) },
          txGasLimit: () => chain.systemConfig().txGasLimit,
          permissionCheck: permissionCheck(chain),
          logger: log.child({ module: "txpool" }),
          senders,
        },
      );
      pool = txpool;
      chain.onCommit((c) => txpool.onBlockCommitted(c.block.transactions, c.block.header.number));
      const transport = new Libp2pTransport(
        {
          chainId: genesis.chainId,
          key: nodeKey,
          listenAddresses: config.p2p.listen,
          staticPeers: config.p2p.peers,
          allowedNodes: [...chain.validators().map((v) => v.nodeId), ...chain.observers()],
        },
        {
          logger: log.child({ module: "network" }),
          // Consensus messages are checked (validator at that height, signature, height window) before they reach
          // consensus or are relayed; the check sees the chain only through this narrow view.
          gossipValidators: {
            consensus: consensusGossipCheck(
              { futureHeightWindow: defaultPbftConfig.futureHeightWindow, pastHeightWindow: 1 },
              {
                view: { committedHeight: () => chain.height(), isValidator: (id) => chain.isSealer(id) },
                hash: keccak256,
                verify: verifyNodeSignature,
              },
            ),
          },
        },
      );
      instrumentTransport(transport, metrics);
      chain.onCommit((c) => {
        if (c.validatorsChanged)
          transport.setAllowedNodes([...chain.validators().map((v) => v.nodeId), ...chain.observers()]);
      });
      // Serves the raw txs of compact proposals to replicas that lack them ("txs" protocol).
      txFetch = new TxFetch(defaultTxFetchOptions, {
        transport,
        lookup: (hash) => chain.findTransaction(hash),
        logger: log.child({ module: "txfetch" }),
      });
      txFetch.start();
      let blockSync: BlockSync | null = null;
      const consensus = new ConsensusDriver(
        {
          ...resolveConsensusTiming(config.consensus),
          pipeline: config.consensus.pipeline,
          stateFile: path.join(config.dataDir, "consensus-state.wal"),
        },
        {
          chain,
          txpool,
          transport,
          nodeKey,
          logger: log.child({ module: "consensus" }),
          metrics,
          fetchBlocks: (from, peers) => void blockSync?.fetch(from, peers),
          onFatal: fatal("consensus"),
        },
      );
      // A copy of this node's key signing elsewhere (a copied folder started beside this one) shows in certificates.
      const signerWatch = new SignerWatch({
        self: nodeKey.nodeId,
        startedAtMs: Date.now(),
        signedCommit: (height, view, blockHash) => consensus.signedCommit(height, view, blockHash),
        logger: log.child({ module: "consensus" }),
      });
      chain.onCommit((c) => signerWatch.check(c.block));
      blockSync = new BlockSync(defaultBlockSyncOptions, {
        chain,
        transport,
        logger: log.child({ module: "sync" }),
        onSynced: (h, hash, cert, next) => consensus.synced(h, hash, cert, next),
        onStorageFailure: (err) => consensus.halt(err),
      });
      const gossip = new TxGossip(defaultTxGossipOptions, {
        transport,
        txpool,
        logger: log.child({ module: "txgossip" }),
      });
      const rpc = config.rpc.enabled
        ? new RpcServer(
            {
              host: config.rpc.host,
              port: config.rpc.port,
              corsOrigins: config.rpc.corsOrigins,
              ...definedOnly({ maxConcurrentCalls: config.rpc.maxConcurrentCalls }),
              ...config.rpc.security,
              syncSend: config.rpc.syncSend,
              allowUnprotectedTxs: config.rpc.allowUnprotectedTxs,
              ...(config.rpc.requestsPerSecond !== undefined && {
                rateLimit: rateLimitOf(config.rpc.requestsPerSecond),
              }),
            },
            {
              backend: new NodeRpcBackend({
                chain,
                executor,
                txpool,
                transport,
                consensus,
                sync: blockSync,
                nodeId: nodeKey.nodeId,
              }),
              logger: log.child({ module: "rpc" }),
              metrics,
            },
          )
        : null;
      self = new ConsortNode(
        config,
        genesis,
        nodeKey,
        ledger,
        chain,
        txpool,
        transport,
        consensus,
        blockSync,
        gossip,
        txFetch,
        rpc,
        signerWatch,
        log,
        metrics,
      );
      self.onFatalStop = deps.onFatalStop;
      return self;
    } catch (err) {
      await ledger.close();
      throw err;
    }
  }

  /** Starts every module; when one cannot start (a port in use…), stops those already started and rethrows. */
  async start(): Promise<void> {
    try {
      await this.startModules();
    } catch (err) {
      this.logger.error({ err: errorMessage(err) }, "the node could not start: stopping what had started");
      await this.close().catch((closeErr: unknown) =>
        this.logger.error({ err: errorMessage(closeErr) }, "stopping after a failed start failed"),
      );
      throw err;
    }
  }

  private async startModules(): Promise<void> {
    // The pool's recovery threads load beside the rest of the start-up (seconds): ready for the first transaction.
    this.txpool.start();
    // First: /health answers (and /ready says why not) while the node connects and catches up.
    if (this.metricsServer) await this.metricsServer.start();
    await this.transport.start();
    this.gossip.start();
    this.sync.start();
    await this.consensus.start();
    if (this.rpc) await this.rpc.start();
    const head = this.chain.head();
    const self = this.nodeKey.nodeId;
    const role = this.chain.roleOf(self);
    this.logger.info(
      {
        height: head.number,
        role: role === "none" ? "not on the node list" : role,
        p2p: this.transport.listenAddresses(),
        rpc: this.rpc?.url ?? null,
        // Which Node.js runs it: npm scripts use the pinned one (node_modules/.bin/node), a service may not.
        runtime: `node ${process.version}`,
        // A new node's usual first start: say what it waits for (the list is read at this node's head).
        ...(role === "none" && {
          hint: `members refuse this node until the committee adds it: consort gov propose add-observer ${bytesToHex(self)}; added after block ${head.number}, it syncs once they accept it`,
        }),
      },
      "node started",
    );
  }

  /**
   * The one way a node dies of an error: a module (through the callback the composition root gave it) or the
   * process-wide handler (src/cli/main.ts) reports an error the node cannot safely continue after. Logged once as
   * one fatal line naming its source; the node closes cleanly (RPC, sync, consensus, network, ledger: the same
   * order as a normal stop); then `onFatalStop(exitCode)` (DISK_FULL_EXIT_CODE when the disk is full, else FATAL_EXIT_CODE). Later reports are ignored. Resolves when stopped.
   */
  fatal(source: string, err: unknown): Promise<void> {
    if (this.fatalStop !== null) return this.fatalStop;
    const exitCode = isDiskFull(err) ? DISK_FULL_EXIT_CODE : FATAL_EXIT_CODE;
    this.logger.fatal(
      {
        source,
        err: errorMessage(err),
        ...(err instanceof ConsortError ? { code: err.code } : {}),
        stack: err instanceof Error ? err.stack : undefined,
        exitCode,
      },
      `fatal error in ${source}: stopping the node`,
    );
    this.fatalStop = this.close()
      .catch((closeErr: unknown) =>
        this.logger.error({ err: errorMessage(closeErr) }, "closing the node after a fatal error failed"),
      )
      .then(() => this.onFatalStop?.(exitCode));
    return this.fatalStop;
  }

  /** True once the node was stopped (normally or by a fatal error). */
  get isClosed(): boolean {
    return this.closed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pruneTimer);
    if (this.rpc) await this.rpc.stop();
    this.sync.stop();
    await this.consensus.stop();
    this.gossip.stop();
    await this.transport.stop();
    await this.sync.idle(); // a block that sync is committing must not meet a closed ledger
    await this.txpool.close();
    await this.ledger.close();
    if (this.metricsServer) await this.metricsServer.stop();
    this.logger.info({}, "node stopped");
  }
}

/**
 * The node key is the member's identity (its votes, its place in the node list): a copy is a second validator (see
 * SignerWatch). Written 0600 by keygen and testnet; a key that group or others can read (copied with another
 * umask, edited by hand) is worth a warning at every start, as ssh refuses such keys.
 */
async function warnIfKeyReadableByOthers(file: string, log: Logger): Promise<void> {
  const mode = (await stat(file)).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  log.warn(
    { file, mode: `0${mode.toString(8)}` },
    "the node key file is readable by other users: chmod 600 it (whoever copies it can sign as this node)",
  );
}

/**
 * The pool reads an Ethereum sender's committed nonce and balance on every admission (two reads per tx, many txs
 * per sender): cache the decoded account until the next commit changes state. Bounded; cleared on every commit.
 */
class CommittedAccounts {
  private readonly cache = new Map<string, Promise<AccountState>>();

  constructor(
    private readonly chain: Chain,
    private readonly entriesMax = 50_000,
  ) {
    chain.onCommit(() => this.cache.clear());
  }

  get(address: Uint8Array): Promise<AccountState> {
    const key = Buffer.from(address).toString("hex");
    let account = this.cache.get(key);
    if (!account) {
      if (this.cache.size >= this.entriesMax) this.cache.clear();
      account = readAccount(this.chain.ledger, address);
      account.catch(() => this.cache.delete(key));
      this.cache.set(key, account);
    }
    return account;
  }
}
