import { type CustomCrypto, createCustomCommon, Mainnet } from "@ethereumjs/common";
import { createEVM, type EVM, type EVMOpts, type EVMResult, type Message } from "@ethereumjs/evm";
import { Account, Address as EthAddress } from "@ethereumjs/util";
import { keccak256, secp256k1Recover } from "../crypto/index.js";
import { receiptRootOf, txRootOf } from "../ledger/index.js";
import type { Address, Hash, Log, NodeId, Receipt, Transaction } from "../types/index.js";
import { TxType } from "../types/index.js";
import { bytesToHex, concatBytes } from "../util/hex.js";
import type { Logger } from "../util/logger.js";
import { logsBloom } from "./bloom.js";
import { ExecutionError, RETRYABLE_REJECT_CODES, type RejectCode } from "./errors.js";
import type {
  BlockContext,
  CallRequest,
  CallResult,
  ExecutedBlock,
  RejectedTx,
  StateReader,
  SystemConfig,
} from "./interface.js";
import { intrinsicGas, intrinsicGasOf, MAX_INIT_CODE_SIZE } from "./intrinsicGas.js";
import { defaultExecutorOptions, type ExecutorOptions } from "./options.js";
import { StateOverlay } from "./overlay.js";
import { accountKey, CONSENSUS_NODES_KEY, computeStateRoot, KEY_PREFIX } from "./stateLayout.js";
import { FlatStateManager } from "./stateManager.js";
import {
  CONSENSUS_NODES_ADDRESS,
  consensusNodesPrecompile,
  readSystemConfigFrom,
  SYSTEM_CONFIG_ADDRESS,
  systemConfigPrecompile,
} from "./systemContracts.js";

const ZERO_ADDRESS: Address = new Uint8Array(20);
const NONCE_MAX = 2n ** 64n - 1n;
/** EIP-1559 with base fee 0: a fee-market tx pays its priority fee (capped); Consort deducts no fee at all. */
const BASE_FEE = 0n;

/** COINBASE for a block proposed by `proposer`: the last 20 bytes of keccak256(nodeId). */
export function proposerCoinbase(proposer: NodeId): Address {
  return keccak256(proposer).subarray(12);
}

interface BlockEnv {
  overlay: StateOverlay;
  sm: FlatStateManager;
  evm: EVM;
  /** Messages the EVM is running (beforeMessage/afterMessage), for msg.sender in the system precompiles. */
  messages: Message[];
  evmBlock: EvmBlock;
  precompileAddresses: string[];
  coinbase: EthAddress;
}

type EvmBlock = NonNullable<Parameters<EVM["runCall"]>[0]["block"]>;

interface Rejection {
  code: RejectCode;
  reason: string;
}

interface TxOutcome {
  status: 0 | 1;
  gasUsed: bigint;
  logs: Log[];
  contractAddress: Address | null;
  /** Return data (success) or revert data (revert); empty on other failures. */
  output: Uint8Array;
  error: string | null;
  /** The opcode the top frame stopped at when it failed (for "invalid opcode: …"); null otherwise. */
  haltOpcode: number | null;
}

function gasPriceOf(tx: Transaction): bigint {
  if (tx.type === TxType.FeeMarket) {
    const tip = tx.maxPriorityFeePerGas;
    return tx.maxFeePerGas < BASE_FEE + tip ? tx.maxFeePerGas : BASE_FEE + tip;
  }
  return tx.gasPrice;
}

function isUnprotectedLegacy(tx: Transaction): boolean {
  return tx.type === TxType.Legacy && (tx.v === 27n || tx.v === 28n);
}

function toLogs(raw: EVMResult["execResult"]["logs"]): Log[] {
  if (raw === undefined) return [];
  return raw.map(([address, topics, data]) => ({ address, topics, data }));
}

function reject(code: RejectCode, reason: string): Rejection {
  return { code, reason };
}

type CustomOpcode = NonNullable<EVMOpts["customOpcodes"]>[number];

const JUMPDEST = 0x5b;
/** JUMPDEST's gas (1 in every fork since Frontier). */
const JUMPDEST_GAS = 1;
const INVALID_OPCODE = 0xfe;
/** The watchdog reads the clock every this many JUMPDESTs (a loop iteration runs at least one). */
const WATCHDOG_JUMPDEST_INTERVAL = 64;

/** geth's duration formatting for its "execution aborted (timeout = 5s)" message. */
function formatBudget(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${ms / 1000}s`;
}

/**
 * Wall-clock guard of one eth_call / estimateGas run (never installed for blocks: block execution must not depend
 * on time, and block EVMs run the stock interpreter). It ticks on JUMPDEST (every loop iteration executes one; the
 * clock is read every WATCHDOG_JUMPDEST_INTERVAL of them) and before every message (CALL/CREATE…, which covers
 * loop-free recursion). A tick throws EXEC_CALL_TIMEOUT past the deadline and, every `yieldIntervalMs`, returns a
 * promise resolved on setImmediate, so timers and I/O (consensus, other RPC calls) run while a long call executes.
 * Cost: the custom JUMPDEST is async (one more await per JUMPDEST): ~10-25% on a 6-opcode loop, calls only.
 */
class CallWatchdog {
  private jumpdests = 0;
  private lastYieldMs: number;
  private readonly deadlineMs: number;

  constructor(
    private readonly budgetMs: number,
    private readonly yieldIntervalMs: number,
  ) {
    this.lastYieldMs = performance.now();
    this.deadlineMs = this.lastYieldMs + budgetMs;
  }

  /** Throws EXEC_CALL_TIMEOUT once the deadline has passed. */
  check(now = performance.now()): void {
    if (now > this.deadlineMs) {
      throw new ExecutionError(
        "EXEC_CALL_TIMEOUT",
        `execution aborted (timeout = ${formatBudget(this.budgetMs)})`,
        { timeBudgetMs: this.budgetMs },
      );
    }
  }

  /** JUMPDEST handler: undefined on the fast path, a promise when yielding to the event loop. */
  onJumpdest(): Promise<void> | undefined {
    if (++this.jumpdests % WATCHDOG_JUMPDEST_INTERVAL !== 0) return undefined;
    return this.tick();
  }

  /**
   * Before each message (CALL, CREATE…: recursion without loops runs no JUMPDEST). Same as a JUMPDEST tick. The
   * promise never rejects: a deadline passed while yielding is caught by the next tick.
   */
  tick(): Promise<void> | undefined {
    const now = performance.now();
    this.check(now);
    if (now - this.lastYieldMs < this.yieldIntervalMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        this.lastYieldMs = performance.now();
        resolve();
      }),
    );
  }

  /** Custom JUMPDEST for the call's EVM: same gas and no effect, plus the clock check. */
  opcodes(): CustomOpcode[] {
    return [
      {
        opcode: JUMPDEST,
        opcodeName: "JUMPDEST",
        baseFee: JUMPDEST_GAS,
        logicFunction: () => this.onJumpdest(),
      },
    ];
  }
}

/** geth's name of an opcode in "invalid opcode: …" (0xfe is INVALID; others are "opcode 0x.. not defined"). */
function invalidOpcodeName(op: number | null): string {
  if (op === null || op === INVALID_OPCODE) return "INVALID";
  return `opcode 0x${op.toString(16)} not defined`;
}

/**
 * Executes blocks of transactions on the flat state (see stateLayout.ts) with @ethereumjs/evm's runCall:
 * one overlay per block, one state root per block, no fees. Instances hold no per-block state: blocks, calls
 * and estimates may run concurrently, each on its own overlay and EVM.
 *
 * Per transaction: checks (chain, nonce or native replay fields, gas limits, balance ≥ value), the sender's
 * nonce increment (Ethereum txs only: native txs use no account nonce), then either the plain-transfer fast
 * path (recipient without code and not a precompile: no EVM) or evm.runCall. Contract addresses:
 * Ethereum txs keccak256(rlp([sender, nonce]))[12:]; native txs CREATE2-style
 * keccak256(0xff ‖ sender ‖ txHash ‖ keccak256(initCode))[12:] (the tx hash is the salt).
 */
export class Executor {
  private readonly opts: ExecutorOptions;
  private readonly log: Logger;
  private readonly customCrypto: CustomCrypto;

  constructor(opts: Partial<ExecutorOptions>, deps: { logger: Logger }) {
    this.opts = { ...defaultExecutorOptions, ...opts };
    this.log = deps.logger;
    this.customCrypto = this.opts.nativeEcrecover ? { ecrecover: nativeEcrecover } : {};
  }

  async executeBlock(
    state: StateReader,
    ctx: BlockContext,
    txs: Transaction[],
    mode: "build" | "verify",
  ): Promise<ExecutedBlock> {
    const startedMs = performance.now();
    const overlay = new StateOverlay(state);
    const cfg = await readSystemConfigFrom((k) => overlay.get(k), ctx.number);
    const env = await this.createEnv(overlay, ctx);
    await this.prefetch(overlay, txs);

    const kept: Transaction[] = [];
    const rejected: RejectedTx[] = [];
    const receipts: Receipt[] = [];
    const nativeNonces = new Set<string>();
    let cumulativeGas = 0n;

    for (let i = 0; i < txs.length; i++) {
      const tx = txs[i]!;
      let rejection =
        kept.length >= cfg.txCountLimit
          ? reject(
              "BLOCK_TX_COUNT_LIMIT_REACHED",
              `the block already holds tx_count_limit=${cfg.txCountLimit} txs`,
            )
          : await this.check(env, ctx, cfg, tx, cumulativeGas, nativeNonces);
      let outcome: TxOutcome | null = null;
      if (rejection === null) {
        try {
          outcome = await this.applyTx(env, tx);
        } catch (err) {
          if (err instanceof ExecutionError && err.code !== "EXEC_INTERNAL") throw err;
          this.log.warn({ txHash: bytesToHex(tx.hash), err: String(err) }, "transaction execution failed");
          rejection = reject(
            "EXECUTION_FAILED",
            `EVM error: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
      if (rejection !== null || outcome === null) {
        const r = rejection ?? reject("EXECUTION_FAILED", "no outcome");
        if (mode === "verify") {
          throw new ExecutionError(
            "EXEC_INVALID_BLOCK",
            `tx ${i} (${bytesToHex(tx.hash)}) is invalid: ${r.reason}`,
            {
              txIndex: i,
              txHash: bytesToHex(tx.hash),
              code: r.code,
              reason: r.reason,
            },
          );
        }
        rejected.push({ tx, code: r.code, reason: r.reason, retryable: RETRYABLE_REJECT_CODES.has(r.code) });
        continue;
      }
      if (tx.type === TxType.Native) nativeNonces.add(bytesToHex(tx.nonce));
      cumulativeGas += outcome.gasUsed;
      kept.push(tx);
      receipts.push({
        txHash: tx.hash,
        status: outcome.status,
        gasUsed: outcome.gasUsed,
        cumulativeGasUsed: cumulativeGas,
        logs: outcome.logs,
        contractAddress: outcome.contractAddress,
        output: outcome.status === 0 ? outcome.output : new Uint8Array(0),
        logsBloom: logsBloom(outcome.logs),
      });
    }

    const stateChanges = await overlay.changes();
    const stateRoot = computeStateRoot(ctx.parentStateRoot, stateChanges);
    let validatorsChanged = false;
    let configChanged = false;
    for (const [key] of stateChanges) {
      if (key[0] === KEY_PREFIX.systemConfig) configChanged = true;
      else if (key.length === 1 && key[0] === Number.parseInt(CONSENSUS_NODES_KEY, 16))
        validatorsChanged = true;
    }
    this.log.debug(
      {
        number: ctx.number,
        mode,
        txs: kept.length,
        rejected: rejected.length,
        gasUsed: cumulativeGas.toString(),
        changes: stateChanges.length,
        ms: Math.round(performance.now() - startedMs),
      },
      "block executed",
    );
    return {
      transactions: kept,
      rejected,
      receipts,
      stateRoot,
      gasUsed: cumulativeGas,
      stateChanges,
      txRoot: txRootOf(kept),
      receiptRoot: receiptRootOf(receipts),
      validatorsChanged,
      configChanged,
    };
  }

  /**
   * eth_call: runs `req` on `state` (the last committed block) in the context `ctx` (normally the next block's:
   * number = head + 1), writes nothing. The caller's balance is topped up to `value` when short (no fees exist).
   * The gas limit is capped at `callGasLimitMax`. The run is aborted with EXEC_CALL_TIMEOUT ("execution aborted
   * (timeout = 1s)") after `timeBudgetMs` (default `callTimeBudgetMs`) of wall-clock time, and yields to the event
   * loop every `callYieldIntervalMs`. A failed run has status 0 and `error` = the EVM's error ("revert",
   * "out of gas", "invalid opcode: INVALID", …).
   */
  async call(
    state: StateReader,
    req: CallRequest,
    ctx: BlockContext,
    opts: { timeBudgetMs?: number } = {},
  ): Promise<CallResult> {
    const budgetMs = opts.timeBudgetMs ?? this.opts.callTimeBudgetMs;
    const watchdog = new CallWatchdog(budgetMs, this.opts.callYieldIntervalMs);
    const data = req.data ?? new Uint8Array(0);
    const value = req.value ?? 0n;
    if (value < 0n) throw new ExecutionError("EXEC_INVALID_CALL", "value must be >= 0");
    const gasLimit =
      req.gasLimit === undefined || req.gasLimit > this.opts.callGasLimitMax
        ? this.opts.callGasLimitMax
        : req.gasLimit;
    const intrinsic = intrinsicGasOf(data, req.to === null);
    if (gasLimit < intrinsic) {
      throw new ExecutionError(
        "EXEC_INVALID_CALL",
        `intrinsic gas too low: need ${intrinsic}, have ${gasLimit}`,
        {
          intrinsic: intrinsic.toString(),
        },
      );
    }
    const overlay = new StateOverlay(state);
    const env = await this.createEnv(overlay, ctx, watchdog);
    overlay.checkpoint();
    const from = req.from ?? ZERO_ADDRESS;
    const sender = new EthAddress(from);
    const account = (await env.sm.getAccount(sender)) ?? new Account();
    account.nonce += 1n;
    await env.sm.putAccount(sender, account);
    let outcome: TxOutcome;
    try {
      outcome = await this.runEvm(env, {
        from,
        to: req.to,
        value,
        input: data,
        gasLimit,
        intrinsic,
        gasPrice: 0n,
        salt: undefined,
        accessList: [],
        skipBalance: true,
      });
    } catch (err) {
      if (err instanceof ExecutionError) throw err;
      throw new ExecutionError(
        "EXEC_INTERNAL",
        `EVM failure: ${err instanceof Error ? err.message : String(err)}`,
        {},
        { cause: err },
      );
    } finally {
      while (overlay.depth > 0) overlay.revert();
    }
    const { haltOpcode, ...result } = outcome;
    if (result.error === "invalid opcode") result.error = `invalid opcode: ${invalidOpcodeName(haltOpcode)}`;
    return result;
  }

  /** The most gas eth_call / estimateGas may use (`callGasLimitMax`): larger requested limits are lowered to it. */
  get callGasLimitMax(): bigint {
    return this.opts.callGasLimitMax;
  }

  /**
   * eth_estimateGas: the smallest gas limit (up to callGasLimitMax) with which the call succeeds; when it
   * fails even with the maximum, returns that failing result (status 0) so RPC can report the revert.
   * Each run has its own time budget (see `call`); EXEC_CALL_TIMEOUT of any run is thrown.
   */
  async estimateGas(
    state: StateReader,
    req: CallRequest,
    ctx: BlockContext,
  ): Promise<{ gas: bigint; result: CallResult }> {
    const cap =
      req.gasLimit === undefined || req.gasLimit > this.opts.callGasLimitMax
        ? this.opts.callGasLimitMax
        : req.gasLimit;
    const first = await this.call(state, { ...req, gasLimit: cap }, ctx);
    if (first.status === 0) return { gas: cap, result: first };
    let lo = first.gasUsed - 1n;
    let hi = cap;
    // Most calls succeed with gasUsed (+ the 1/64 EIP-150 reserve): try that before bisecting.
    const guess = first.gasUsed + first.gasUsed / 63n + 1n;
    if (guess < hi) {
      const r = await this.call(state, { ...req, gasLimit: guess }, ctx);
      if (r.status === 1) hi = guess;
      else lo = guess;
    }
    while (hi - lo > 1n) {
      const mid = (lo + hi) / 2n;
      const r = await this.call(state, { ...req, gasLimit: mid }, ctx).catch((err: unknown) => {
        if (err instanceof ExecutionError && err.code === "EXEC_CALL_TIMEOUT") throw err;
        return null;
      });
      if (r !== null && r.status === 1) hi = mid;
      else lo = mid;
    }
    return { gas: hi, result: first };
  }

  // ---- internals ----

  /** `watchdog`: calls only; blocks run the stock EVM (no clock, deterministic). */
  private async createEnv(
    overlay: StateOverlay,
    ctx: BlockContext,
    watchdog?: CallWatchdog,
  ): Promise<BlockEnv> {
    const sm = new FlatStateManager(overlay);
    const messages: Message[] = [];
    const chainId =
      ctx.chainId <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(ctx.chainId) : ctx.chainId.toString();
    const common = createCustomCommon({ chainId }, Mainnet, {
      hardfork: this.opts.hardfork,
      customCrypto: this.customCrypto,
    });
    const precompileCtx = {
      overlay,
      blockNumber: ctx.number,
      currentMessage: () => messages[messages.length - 1],
    };
    const getBlockHash = ctx.getBlockHash;
    const evm = await createEVM({
      common,
      stateManager: sm,
      blockchain: {
        getBlock: async (n: number) => {
          const hash = getBlockHash === undefined ? null : await getBlockHash(n);
          const h = hash ?? new Uint8Array(32);
          return { hash: () => h };
        },
        putBlock: async () => {},
        shallowCopy() {
          return this;
        },
      } as never,
      customPrecompiles: [
        { address: new EthAddress(SYSTEM_CONFIG_ADDRESS), function: systemConfigPrecompile(precompileCtx) },
        {
          address: new EthAddress(CONSENSUS_NODES_ADDRESS),
          function: consensusNodesPrecompile(precompileCtx),
        },
      ],
      ...(watchdog === undefined ? {} : { customOpcodes: watchdog.opcodes() }),
    });
    evm.events.on("beforeMessage", (m: Message) => {
      messages.push(m);
    });
    if (watchdog !== undefined) {
      // Two parameters: the EVM awaits `resolve` (and a synchronous throw rejects the message).
      evm.events.on("beforeMessage", (_m: Message, resolve?: (result?: unknown) => void) => {
        const wait = watchdog.tick();
        if (wait === undefined) resolve?.();
        else void wait.then(() => resolve?.());
      });
    }
    evm.events.on("afterMessage", () => {
      messages.pop();
    });
    const coinbase = new EthAddress(ctx.coinbase);
    const evmBlock: EvmBlock = {
      header: {
        number: BigInt(ctx.number),
        coinbase,
        timestamp: BigInt(Math.floor(ctx.timestampMs / 1000)),
        difficulty: 0n,
        prevRandao: ctx.parentStateRoot,
        gasLimit: ctx.gasLimit,
        baseFeePerGas: BASE_FEE,
        getBlobGasPrice: () => 0n,
      },
    };
    return {
      overlay,
      sm,
      evm,
      messages,
      evmBlock,
      precompileAddresses: [...evm.precompiles.keys()],
      coinbase,
    };
  }

  /** Loads the accounts the block will touch first with concurrent reads (results never depend on it). */
  private async prefetch(overlay: StateOverlay, txs: Transaction[]): Promise<void> {
    const keys: string[] = [];
    for (const tx of txs) {
      keys.push(accountKey(tx.sender));
      if (tx.to !== null) keys.push(accountKey(tx.to));
    }
    await overlay.prefetch(keys, this.opts.prefetchConcurrency);
  }

  /** null when `tx` can be executed now; the reason otherwise. Reads state, writes nothing. */
  private async check(
    env: BlockEnv,
    ctx: BlockContext,
    cfg: SystemConfig,
    tx: Transaction,
    cumulativeGas: bigint,
    nativeNonces: Set<string>,
  ): Promise<Rejection | null> {
    if (tx.chainId !== ctx.chainId && !isUnprotectedLegacy(tx)) {
      return reject("WRONG_CHAIN_ID", `chain id ${tx.chainId} is not ${ctx.chainId}`);
    }
    if (tx.gasLimit > cfg.txGasLimit) {
      return reject(
        "TX_GAS_LIMIT_EXCEEDED",
        `gas limit ${tx.gasLimit} exceeds tx_gas_limit ${cfg.txGasLimit}`,
      );
    }
    const intrinsic = intrinsicGas(tx);
    if (tx.gasLimit < intrinsic) {
      return reject(
        "INTRINSIC_GAS_TOO_LOW",
        `gas limit ${tx.gasLimit} is below the intrinsic gas ${intrinsic}`,
      );
    }
    if (tx.to === null && tx.input.length > MAX_INIT_CODE_SIZE) {
      return reject(
        "INIT_CODE_TOO_LARGE",
        `init code of ${tx.input.length} bytes exceeds ${MAX_INIT_CODE_SIZE}`,
      );
    }
    if (cumulativeGas + tx.gasLimit > ctx.gasLimit) {
      return reject(
        "BLOCK_GAS_LIMIT_REACHED",
        `gas limit ${tx.gasLimit} does not fit the block's remaining gas`,
      );
    }
    if (tx.type === TxType.FeeMarket && tx.maxPriorityFeePerGas > tx.maxFeePerGas) {
      return reject("FEE_CAP_BELOW_TIP", "maxPriorityFeePerGas exceeds maxFeePerGas");
    }
    if (tx.type === TxType.Native) {
      if (ctx.groupId !== undefined && tx.groupId !== ctx.groupId) {
        return reject("WRONG_GROUP_ID", `group id "${tx.groupId}" is not "${ctx.groupId}"`);
      }
      // FISCO's rule against the parent (committed head) number: head < blockLimit <= head + range.
      const head = ctx.number - 1;
      if (tx.blockLimit <= head) {
        return reject("BLOCK_LIMIT_EXPIRED", `blockLimit ${tx.blockLimit} <= parent block number ${head}`);
      }
      if (tx.blockLimit > head + this.opts.nativeBlockLimitRange) {
        return reject(
          "BLOCK_LIMIT_TOO_FAR",
          `blockLimit ${tx.blockLimit} > parent block number ${head} + ${this.opts.nativeBlockLimitRange}`,
        );
      }
      const nonceHex = bytesToHex(tx.nonce);
      if (
        nativeNonces.has(nonceHex) ||
        (ctx.nativeNonceSeen !== undefined && (await ctx.nativeNonceSeen(tx.nonce)))
      ) {
        return reject("NATIVE_NONCE_REUSED", `native nonce ${nonceHex} was already used`);
      }
    }
    const account = await env.sm.getAccount(new EthAddress(tx.sender));
    const nonce = account?.nonce ?? 0n;
    const balance = account?.balance ?? 0n;
    if (tx.type !== TxType.Native) {
      if (tx.nonce < nonce)
        return reject("NONCE_TOO_LOW", `nonce ${tx.nonce} is below the account nonce ${nonce}`);
      if (tx.nonce > nonce)
        return reject("NONCE_TOO_HIGH", `nonce ${tx.nonce} is above the account nonce ${nonce}`);
      if (nonce >= NONCE_MAX) return reject("NONCE_MAX", "the account nonce is at its maximum");
    }
    if (account?.isContract() === true) {
      return reject("SENDER_HAS_CODE", "the sender is a contract (EIP-3607)");
    }
    if (balance < tx.value) {
      return reject("INSUFFICIENT_BALANCE", `balance ${balance} is below the value ${tx.value}`);
    }
    return null;
  }

  /** Applies a checked transaction. The overlay is unchanged when this throws. */
  private async applyTx(env: BlockEnv, tx: Transaction): Promise<TxOutcome> {
    const { overlay, sm } = env;
    overlay.checkpoint();
    try {
      const sender = new EthAddress(tx.sender);
      const intrinsic = intrinsicGas(tx);
      if (tx.type !== TxType.Native) {
        const account = (await sm.getAccount(sender)) ?? new Account();
        account.nonce += 1n;
        await sm.putAccount(sender, account);
      }
      let outcome: TxOutcome;
      if (tx.to !== null && (await this.isPlainAccount(env, tx.to))) {
        outcome = await this.transfer(env, sender, new EthAddress(tx.to), tx.value, intrinsic);
      } else {
        outcome = await this.runEvm(env, {
          from: tx.sender,
          to: tx.to,
          value: tx.value,
          input: tx.input,
          gasLimit: tx.gasLimit,
          intrinsic,
          gasPrice: gasPriceOf(tx),
          salt: tx.type === TxType.Native && tx.to === null ? tx.hash : undefined,
          accessList: tx.type === TxType.AccessList || tx.type === TxType.FeeMarket ? tx.accessList : [],
          skipBalance: false,
        });
      }
      overlay.commit();
      return outcome;
    } catch (err) {
      while (overlay.depth > 0) overlay.revert();
      if (err instanceof ExecutionError) throw err;
      throw new ExecutionError(
        "EXEC_INTERNAL",
        `EVM failure: ${err instanceof Error ? err.message : String(err)}`,
        {
          txHash: bytesToHex(tx.hash),
        },
        { cause: err },
      );
    }
  }

  /** A recipient that is neither a precompile nor a contract: a value transfer needs no EVM. */
  private async isPlainAccount(env: BlockEnv, to: Address): Promise<boolean> {
    if (env.evm.getPrecompile(new EthAddress(to)) !== undefined) return false;
    const account = await env.sm.getAccount(new EthAddress(to));
    return account === undefined || !account.isContract();
  }

  private async transfer(
    env: BlockEnv,
    from: EthAddress,
    to: EthAddress,
    value: bigint,
    intrinsic: bigint,
  ): Promise<TxOutcome> {
    // Zero-value transfers change nothing (EIP-161: no empty account is created).
    if (value > 0n) {
      const sender = (await env.sm.getAccount(from)) ?? new Account();
      sender.balance -= value;
      await env.sm.putAccount(from, sender);
      const recipient = (await env.sm.getAccount(to)) ?? new Account();
      recipient.balance += value;
      await env.sm.putAccount(to, recipient);
    }
    return {
      status: 1,
      gasUsed: intrinsic,
      logs: [],
      contractAddress: null,
      output: new Uint8Array(0),
      error: null,
      haltOpcode: null,
    };
  }

  private async runEvm(
    env: BlockEnv,
    m: {
      from: Address;
      to: Address | null;
      value: bigint;
      input: Uint8Array;
      gasLimit: bigint;
      intrinsic: bigint;
      gasPrice: bigint;
      salt: Uint8Array | undefined;
      accessList: { address: Address; storageKeys: Hash[] }[];
      skipBalance: boolean;
    },
  ): Promise<TxOutcome> {
    const { evm, sm } = env;
    const journal = evm.journal;
    journal.cleanJournal();
    evm.transientStorage.clear(); // EIP-1153: normally cleared at the end of depth 0, also after a thrown tx
    sm.originalStorageCache.clear();
    env.messages.length = 0;
    // EIP-2929 / EIP-3651 warm set: sender, recipient, coinbase, precompiles, access list.
    journal.addAlwaysWarmAddress(bytesToHex(m.from));
    if (m.to !== null) journal.addAlwaysWarmAddress(bytesToHex(m.to));
    journal.addAlwaysWarmAddress(env.coinbase.toString());
    for (const p of env.precompileAddresses) journal.addAlwaysWarmAddress(p);
    for (const item of m.accessList) {
      journal.addAlwaysWarmAddress(bytesToHex(item.address));
      for (const key of item.storageKeys)
        journal.addAlwaysWarmSlot(bytesToHex(item.address), bytesToHex(key));
    }
    const result = await evm.runCall({
      block: env.evmBlock,
      gasPrice: m.gasPrice,
      caller: new EthAddress(m.from),
      origin: new EthAddress(m.from),
      to: m.to === null ? undefined : new EthAddress(m.to),
      value: m.value,
      data: m.input,
      gasLimit: m.gasLimit - m.intrinsic,
      skipNonceIncrement: true,
      skipBalance: m.skipBalance,
      ...(m.salt === undefined ? {} : { salt: m.salt }),
    });
    const exec = result.execResult;
    // EIP-6780: SELFDESTRUCT deletes only contracts created in the same transaction.
    if (exec.selfdestruct !== undefined) {
      for (const addressHex of exec.selfdestruct.keys()) {
        if (exec.createdAddresses?.has(addressHex) === true) {
          await journal.deleteAccount(ethAddressFromHex(addressHex));
        }
      }
    }
    await journal.cleanup(); // EIP-161: touched empty accounts are removed
    sm.originalStorageCache.clear();
    let gasUsed = m.intrinsic + exec.executionGasUsed;
    const refund = exec.gasRefund ?? 0n;
    const maxRefund = gasUsed / 5n; // EIP-3529
    gasUsed -= refund < maxRefund ? refund : maxRefund;
    const err = exec.exceptionError;
    const failed = err !== undefined;
    return {
      status: failed ? 0 : 1,
      gasUsed,
      logs: failed ? [] : toLogs(exec.logs),
      contractAddress:
        m.to === null && !failed && result.createdAddress !== undefined ? result.createdAddress.bytes : null,
      output: !failed || err.error === "revert" ? exec.returnValue : new Uint8Array(0),
      error: failed ? err.error : null,
      haltOpcode: failed ? (exec.runState?.opCode ?? null) : null,
    };
  }
}

function ethAddressFromHex(hex: string): EthAddress {
  return new EthAddress(new Uint8Array(Buffer.from(hex.startsWith("0x") ? hex.slice(2) : hex, "hex")));
}

/** ecrecover precompile backend: the native libsecp256k1 binding through src/crypto (64-byte public key). */
function nativeEcrecover(msgHash: Uint8Array, v: bigint, r: Uint8Array, s: Uint8Array): Uint8Array {
  const recovery = v === 27n || v === 28n ? Number(v - 27n) : Number(v);
  const pad = (b: Uint8Array) =>
    b.length >= 32 ? b.subarray(b.length - 32) : concatBytes(new Uint8Array(32 - b.length), b);
  return secp256k1Recover(msgHash, concatBytes(pad(r), pad(s)), recovery).subarray(1);
}
