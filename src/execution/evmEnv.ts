import { type CustomCrypto, createCustomCommon, Mainnet } from "@ethereumjs/common";
import { createEVM, type EVM, type Message } from "@ethereumjs/evm";
import { Address as EthAddress } from "@ethereumjs/util";
import { keccak256, secp256k1Recover } from "../crypto/index.js";
import type { Address, NodeId } from "../types/index.js";
import { assert } from "../util/errors.js";
import { concatBytes } from "../util/hex.js";
import { fastEipLookup } from "./evmHotPaths.js"; // also patches runInterpreter and MSTORE (see there)
import { consortEvmParams, SCHEDULE_EIPS } from "./gasSchedule.js";
import { governancePrecompiles, permissionHook, revertCode } from "./governance/index.js";
import type { BlockContext } from "./interface.js";
// Patches the interpreter's per-call code analysis into a per-(EVM, code) one.
import { forgetJumpAnalyses } from "./jumpAnalysisCache.js";
import type { ExecutorOptions } from "./options.js";
import type { StateOverlay } from "./overlay.js";
import { offloadedPrecompiles } from "./precompileOffload.js";
import { FlatStateManager } from "./stateManager.js";
import {
  CONSENSUS_NODES_ADDRESS,
  consensusNodesPrecompile,
  SYSTEM_CONFIG_ADDRESS,
  type SystemPrecompileContext,
  systemConfigPrecompile,
} from "./systemContracts.js";
import type { EvmTicker } from "./yielder.js";

/** EIP-1559 with base fee 0: a fee-market tx pays its priority fee (capped); Consort deducts no fee at all. */
export const BASE_FEE = 0n;

/** COINBASE for a block proposed by `proposer`: the last 20 bytes of keccak256(nodeId). */
export function proposerCoinbase(proposer: NodeId): Address {
  return keccak256(proposer).subarray(12);
}

/** One block's (or one call's) EVM over its overlay. */
export interface BlockEnv {
  overlay: StateOverlay;
  sm: FlatStateManager;
  evm: EVM;
  /** Messages the EVM is running (beforeMessage/afterMessage), for msg.sender in the system precompiles. */
  messages: Message[];
  evmBlock: EvmBlock;
  precompileAddresses: string[];
  coinbase: EthAddress;
  /** Gives the EVM back to its pool; nothing may use this env afterwards. Idempotent. */
  release(): void;
}

type EvmBlock = NonNullable<Parameters<EVM["runCall"]>[0]["block"]>;
type CustomOpcode = ReturnType<EvmTicker["opcodes"]>[number];
type AddedOpcode = Extract<CustomOpcode, { logicFunction: unknown }>;

/** Consort's gas schedule (gasSchedule.ts), built once: part of consensus, the same for every EVM. */
const SCHEDULE_PARAMS = consortEvmParams();

/** What every EVM of an Executor shares. */
export interface EvmConfig {
  hardfork: ExecutorOptions["hardfork"];
  customCrypto: CustomCrypto;
}

/**
 * The EVM config for `opts`: the node's keccak (WebAssembly, ~7× the EVM's pure-JS one for KECCAK256 and CREATE2),
 * and the native ecrecover backend when `opts.nativeEcrecover`.
 */
export function evmConfigOf(opts: ExecutorOptions): EvmConfig {
  return {
    hardfork: opts.hardfork,
    customCrypto: opts.nativeEcrecover ? { keccak256, ecrecover: nativeEcrecover } : { keccak256 },
  };
}

/**
 * What a pooled EVM's hooks (system precompiles, BLOCKHASH, permission checks, the ticker's opcodes) read: set for
 * each use, cleared when the EVM goes back to the pool.
 */
interface Binding {
  overlay: StateOverlay | null;
  blockNumber: number;
  recentProposers: BlockContext["recentProposers"];
  getBlockHash: BlockContext["getBlockHash"];
  ticker: EvmTicker | undefined;
  /** The ticker's own custom opcodes, which the EVM's (built once) call. */
  tickerOpcodes: CustomOpcode[];
  messages: Message[];
}

interface PooledEvm {
  evm: EVM;
  sm: FlatStateManager;
  binding: Binding;
  precompileAddresses: string[];
  /** Its chain id and custom opcodes (opcodeShape): only a use with the same ones may take it. */
  key: string;
}

/**
 * Building an EVM (its Common, opcode table, precompiles) took ~0.4 ms of CPU warm and ~1.2 ms in a node, where it
 * ran once per block and per eth_call and never got hot: most of what an eth_call to a small contract cost. An EVM
 * keeps nothing of one use that the next could see (runEvm resets the journal and transient storage before every
 * tx, as within a block), so EVMs are kept for reuse: per EvmConfig, chain id and custom-opcode shape, at most this
 * many idle (~80 KiB of heap each). A use takes one out, so concurrent calls and a block never share one. Eight
 * covers what runs at once by default: rpc.maxConcurrentCalls (4) calls and estimates, and the blocks in flight.
 */
export const IDLE_EVMS_MAX = 8;
const idleEvms = new WeakMap<EvmConfig, Map<string, PooledEvm[]>>();
const evmCounts = { built: 0, reused: 0 };

/** Since the process started: EVMs built, and uses that took an idle one instead. */
export function evmPoolStats(): { built: number; reused: number } {
  return { ...evmCounts };
}

function opcodeShape(opcodes: CustomOpcode[]): string {
  return opcodes
    .map((op) =>
      "logicFunction" in op ? `${op.opcode}:${op.baseFee}:${op.gasFunction ? "g" : ""}` : `-${op.opcode}`,
    )
    .join(",");
}

/**
 * The EVM for one block or call over `overlay`: a pooled one (`release` gives it back), or with `use: "fresh"`
 * one of its own (tracers attach listeners to it; `release` only detaches it).
 * `watchdog`: ticked on every JUMPDEST and before every message: a CallWatchdog for calls (deadline + yields), an
 * EvmYielder for blocks (yields only: no deadline, results never depend on time).
 */
export async function createEnv(
  config: EvmConfig,
  overlay: StateOverlay,
  ctx: BlockContext,
  watchdog?: EvmTicker,
  use: "pooled" | "fresh" = "pooled",
): Promise<BlockEnv> {
  const chainId =
    ctx.chainId <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(ctx.chainId) : ctx.chainId.toString();
  // The ticker's own opcodes, made once per use: they key the pool and the bound EVM's opcodes call them.
  const opcodes = watchdog?.opcodes() ?? [];
  const key = `${chainId}|${watchdog === undefined ? "" : opcodeShape(opcodes)}`;
  const idle = use === "pooled" ? idleEvms.get(config)?.get(key)?.pop() : undefined;
  if (idle !== undefined) evmCounts.reused++;
  const pooled = idle ?? (await buildEvm(config, chainId, watchdog === undefined ? null : opcodes, key));
  const coinbase = new EthAddress(ctx.coinbase);
  bind(pooled, overlay, ctx, watchdog, opcodes);
  let released = false;
  return {
    overlay,
    sm: pooled.sm,
    evm: pooled.evm,
    messages: pooled.binding.messages,
    evmBlock: evmBlockOf(ctx, coinbase),
    precompileAddresses: pooled.precompileAddresses,
    coinbase,
    release: () => {
      if (released) return;
      released = true;
      unbind(pooled);
      if (use === "pooled") giveBack(config, pooled);
    },
  };
}

function bind(
  pooled: PooledEvm,
  overlay: StateOverlay,
  ctx: BlockContext,
  watchdog: EvmTicker | undefined,
  opcodes: CustomOpcode[],
): void {
  const b = pooled.binding;
  b.overlay = overlay;
  b.blockNumber = ctx.number;
  b.recentProposers = ctx.recentProposers;
  b.getBlockHash = ctx.getBlockHash;
  b.ticker = watchdog;
  b.tickerOpcodes = opcodes;
  b.messages.length = 0;
  pooled.sm.rebind(overlay);
}

/** Drops every reference to the last use's state, so an idle EVM holds no block's overlay. */
function unbind(pooled: PooledEvm): void {
  const b = pooled.binding;
  b.overlay = null;
  b.recentProposers = undefined;
  b.getBlockHash = undefined;
  b.ticker = undefined;
  b.tickerOpcodes = [];
  b.messages.length = 0;
  pooled.sm.rebind(null);
  forgetJumpAnalyses(pooled.evm); // up to ~40× a block's code bytes: not kept while idle
}

function giveBack(config: EvmConfig, pooled: PooledEvm): void {
  let byKey = idleEvms.get(config);
  if (byKey === undefined) {
    byKey = new Map();
    idleEvms.set(config, byKey);
  }
  let idle = byKey.get(pooled.key);
  if (idle === undefined) {
    idle = [];
    byKey.set(pooled.key, idle);
  }
  if (idle.length < IDLE_EVMS_MAX) idle.push(pooled);
}

function liveOverlay(b: Binding): StateOverlay {
  assert(b.overlay !== null, "a pooled EVM's hook ran while the EVM was back in the pool");
  return b.overlay;
}

async function buildEvm(
  config: EvmConfig,
  chainId: number | string,
  /** The first ticker's opcodes (the shape every later one has), or null: an EVM without a ticker. */
  tickerOpcodes: CustomOpcode[] | null,
  key: string,
): Promise<PooledEvm> {
  const binding: Binding = {
    overlay: null,
    blockNumber: 0,
    recentProposers: undefined,
    getBlockHash: undefined,
    ticker: undefined,
    tickerOpcodes: [],
    messages: [],
  };
  const sm = new FlatStateManager(null);
  const common = createCustomCommon({ chainId }, Mainnet, {
    hardfork: config.hardfork,
    customCrypto: config.customCrypto,
    eips: [...SCHEDULE_EIPS],
  });
  fastEipLookup(common);
  const precompileCtx: SystemPrecompileContext = {
    get overlay() {
      return liveOverlay(binding);
    },
    get blockNumber() {
      return binding.blockNumber;
    },
    get recentProposers() {
      return binding.recentProposers;
    },
    currentMessage: () => binding.messages[binding.messages.length - 1],
  };
  const evm = await createEVM({
    common,
    params: SCHEDULE_PARAMS,
    stateManager: sm,
    blockchain: {
      getBlock: async (n: number) => {
        const getBlockHash = binding.getBlockHash;
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
      ...offloadedPrecompiles(config.hardfork, common),
      { address: new EthAddress(SYSTEM_CONFIG_ADDRESS), function: systemConfigPrecompile(precompileCtx) },
      {
        address: new EthAddress(CONSENSUS_NODES_ADDRESS),
        function: consensusNodesPrecompile(precompileCtx),
      },
      ...governancePrecompiles(precompileCtx),
    ],
    ...(tickerOpcodes === null ? {} : { customOpcodes: delegatingOpcodes(tickerOpcodes, binding) }),
  });
  addMessageHooks(evm, binding, tickerOpcodes !== null);
  evmCounts.built++;
  return { evm, sm, binding, precompileAddresses: [...evm.precompiles.keys()], key };
}

/** The ticker's opcodes, each calling the same opcode of whichever ticker the EVM is bound to at the time. */
function delegatingOpcodes(template: CustomOpcode[], binding: Binding): CustomOpcode[] {
  const current = (i: number) => binding.tickerOpcodes[i] as AddedOpcode;
  return template.map((op, i): CustomOpcode => {
    if (!("logicFunction" in op)) return op;
    const delegating: AddedOpcode = {
      ...op,
      logicFunction: (runState, common) => current(i).logicFunction(runState, common),
    };
    if (op.gasFunction !== undefined) {
      delegating.gasFunction = ((runState, gas, common) =>
        current(i).gasFunction!(runState, gas, common)) as AddedOpcode["gasFunction"];
    }
    return delegating;
  });
}

function addMessageHooks(evm: EVM, binding: Binding, ticking: boolean): void {
  evm.events.on("beforeMessage", (m: Message) => {
    binding.messages.push(m);
  });
  // Deploy / method ACLs and contract status (governance/permissions.ts): a refused message reverts with the rule.
  const checkPermissions = permissionHook(
    (k) => liveOverlay(binding).get(k),
    (a) => evm.getPrecompile(new EthAddress(a)) !== undefined,
  );
  evm.events.on("beforeMessage", (m: Message, resolve?: (result?: unknown) => void) => {
    // A failed state read must not let the message through: it reverts (and this node's root will differ).
    checkPermissions(m).then(
      () => resolve?.(),
      (err: unknown) => {
        m.code = revertCode(`permission check failed: ${String(err)}`);
        m.isCompiled = false;
        resolve?.();
      },
    );
  });
  if (ticking) {
    // Two parameters: the EVM awaits `resolve` (and a synchronous throw rejects the message).
    evm.events.on("beforeMessage", (_m: Message, resolve?: (result?: unknown) => void) => {
      const wait = binding.ticker?.tick();
      if (wait === undefined) resolve?.();
      else void wait.then(() => resolve?.());
    });
  }
  evm.events.on("afterMessage", () => {
    binding.messages.pop();
  });
}

function evmBlockOf(ctx: BlockContext, coinbase: EthAddress): EvmBlock {
  return {
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
}

/** ecrecover precompile backend: the native libsecp256k1 binding through src/crypto (64-byte public key). */
function nativeEcrecover(msgHash: Uint8Array, v: bigint, r: Uint8Array, s: Uint8Array): Uint8Array {
  const recovery = v === 27n || v === 28n ? Number(v - 27n) : Number(v);
  const pad = (b: Uint8Array) =>
    b.length >= 32 ? b.subarray(b.length - 32) : concatBytes(new Uint8Array(32 - b.length), b);
  return secp256k1Recover(msgHash, concatBytes(pad(r), pad(s)), recovery).subarray(1);
}
