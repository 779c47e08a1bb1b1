import { type CustomCrypto, createCustomCommon, Mainnet } from "@ethereumjs/common";
import { createEVM, type EVM, type Message } from "@ethereumjs/evm";
import { Address as EthAddress } from "@ethereumjs/util";
import { keccak256, secp256k1Recover } from "../crypto/index.js";
import type { Address, NodeId } from "../types/index.js";
import { concatBytes } from "../util/hex.js";
import { fastEipLookup } from "./evmHotPaths.js"; // also patches runInterpreter and MSTORE (see there)
import { consortEvmParams, SCHEDULE_EIPS } from "./gasSchedule.js";
import { governancePrecompiles, permissionHook, revertCode } from "./governance/index.js";
import type { BlockContext } from "./interface.js";
import "./jumpAnalysisCache.js"; // patches the interpreter's per-call code analysis into a per-(EVM, code) one
import type { ExecutorOptions } from "./options.js";
import type { StateOverlay } from "./overlay.js";
import { offloadedPrecompiles } from "./precompileOffload.js";
import { FlatStateManager } from "./stateManager.js";
import {
  CONSENSUS_NODES_ADDRESS,
  consensusNodesPrecompile,
  SYSTEM_CONFIG_ADDRESS,
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
}

type EvmBlock = NonNullable<Parameters<EVM["runCall"]>[0]["block"]>;

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
 * `watchdog`: ticked on every JUMPDEST and before every message: a CallWatchdog for calls (deadline + yields), an
 * EvmYielder for blocks (yields only: no deadline, results never depend on time).
 */
export async function createEnv(
  config: EvmConfig,
  overlay: StateOverlay,
  ctx: BlockContext,
  watchdog?: EvmTicker,
): Promise<BlockEnv> {
  const sm = new FlatStateManager(overlay);
  const messages: Message[] = [];
  const chainId =
    ctx.chainId <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(ctx.chainId) : ctx.chainId.toString();
  const common = createCustomCommon({ chainId }, Mainnet, {
    hardfork: config.hardfork,
    customCrypto: config.customCrypto,
    eips: [...SCHEDULE_EIPS],
  });
  fastEipLookup(common);
  const precompileCtx = {
    overlay,
    blockNumber: ctx.number,
    currentMessage: () => messages[messages.length - 1],
    recentProposers: ctx.recentProposers,
  };
  const getBlockHash = ctx.getBlockHash;
  const evm = await createEVM({
    common,
    params: SCHEDULE_PARAMS,
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
      ...offloadedPrecompiles(config.hardfork, common),
      { address: new EthAddress(SYSTEM_CONFIG_ADDRESS), function: systemConfigPrecompile(precompileCtx) },
      {
        address: new EthAddress(CONSENSUS_NODES_ADDRESS),
        function: consensusNodesPrecompile(precompileCtx),
      },
      ...governancePrecompiles(precompileCtx),
    ],
    ...(watchdog === undefined ? {} : { customOpcodes: watchdog.opcodes() }),
  });
  evm.events.on("beforeMessage", (m: Message) => {
    messages.push(m);
  });
  // Deploy / method ACLs and contract status (governance/permissions.ts): a refused message reverts with the rule.
  const checkPermissions = permissionHook(
    (k) => overlay.get(k),
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

/** ecrecover precompile backend: the native libsecp256k1 binding through src/crypto (64-byte public key). */
function nativeEcrecover(msgHash: Uint8Array, v: bigint, r: Uint8Array, s: Uint8Array): Uint8Array {
  const recovery = v === 27n || v === 28n ? Number(v - 27n) : Number(v);
  const pad = (b: Uint8Array) =>
    b.length >= 32 ? b.subarray(b.length - 32) : concatBytes(new Uint8Array(32 - b.length), b);
  return secp256k1Recover(msgHash, concatBytes(pad(r), pad(s)), recovery).subarray(1);
}
