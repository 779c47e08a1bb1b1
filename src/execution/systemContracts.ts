import { EVMError, type ExecResult, type Message, type PrecompileFunc } from "@ethereumjs/evm";
import type { Hex } from "viem";
import { decodeFunctionData, encodeAbiParameters, encodeFunctionResult, parseAbi } from "viem/utils";
import type { Address, NodeId } from "../types/index.js";
import { bytesToHex, hexToBytes } from "../util/hex.js";
import type { ConsensusNodes, SystemConfig, SystemConfigEntry } from "./interface.js";
import type { StateOverlay } from "./overlay.js";
import {
  CONSENSUS_NODES_KEY,
  decodeConfigEntry,
  decodeNodeList,
  encodeConfigEntry,
  NodeType,
  type StoredConfigEntry,
  type StoredNodeEntry,
  systemConfigKey,
} from "./stateLayout.js";

/** FISCO BCOS addresses of the system precompiles. */
export const SYSTEM_CONFIG_ADDRESS: Address = hexToBytes("0x0000000000000000000000000000000000001000");
export const CONSENSUS_NODES_ADDRESS: Address = hexToBytes("0x0000000000000000000000000000000000001003");

export const SYSTEM_CONFIG_ABI = parseAbi([
  "function setValueByKey(string key, string value) returns (int32)",
  "function getValueByKey(string key) view returns (string, int256)",
]);

export const CONSENSUS_NODES_ABI = parseAbi([
  "function addSealer(string nodeId, uint256 weight) returns (int32)",
  "function addObserver(string nodeId) returns (int32)",
  "function remove(string nodeId) returns (int32)",
  "function setWeight(string nodeId, uint256 weight) returns (int32)",
  "function getSealers() view returns (string[] nodeIds, uint256[] weights)",
  "function getObservers() view returns (string[] nodeIds)",
]);

/** Gas charged by the system precompiles (flat: they touch a handful of keys). */
export const SYSTEM_READ_GAS = 5_000n;
export const SYSTEM_WRITE_GAS = 50_000n;
export const NODE_WEIGHT_MAX = 1_000_000;
/** Bound on the stored consensus node list (sealers + observers + pending removals). */
export const NODE_COUNT_MAX = 1000;

export const ONLY_COMMITTEE_REASON =
  "changes go through committee proposals at 0x0000000000000000000000000000000000010001 (consort gov propose)";

// ---- system config keys ----

interface ConfigKeyRule {
  min: bigint;
  max: bigint;
}
const UINT_MAX = 2n ** 256n - 1n;
/** Known keys and their valid integer ranges (values are decimal strings, FISCO style). Others are refused. */
export const SYSTEM_CONFIG_RULES: Readonly<Record<string, ConfigKeyRule>> = {
  tx_count_limit: { min: 1n, max: 1_000_000n },
  tx_gas_limit: { min: 100_000n, max: 2n ** 63n - 1n },
  block_gas_limit: { min: 100_000n, max: 2n ** 63n - 1n },
  consensus_leader_period: { min: 1n, max: 1_000_000n },
  min_gas_price: { min: 0n, max: UINT_MAX },
};

export const DEFAULT_SYSTEM_CONFIG_VALUES: Readonly<Record<string, string>> = {
  tx_count_limit: "1000",
  // Chosen by measurement with the gas schedule (bench/worstBlock.ts, docs/limits.md): a block of the slowest gas
  // executes in ~1 s (a loop of the cheapest opcodes, ~12 Mgas per CPU-second), and a block holding the largest tx
  // still has room for others' (round-robin sealing can then serve them at once).
  tx_gas_limit: "5000000",
  block_gas_limit: "10000000",
  consensus_leader_period: "1",
  min_gas_price: "0",
};

/** null when `value` is valid for `key`, else the reason (used by genesis and the precompile). */
export function validateSystemConfigValue(key: string, value: string): string | null {
  const rule = SYSTEM_CONFIG_RULES[key];
  if (rule === undefined) return `unknown system config key "${key}"`;
  if (!/^[0-9]{1,78}$/.test(value)) return `${key} must be a decimal integer`;
  const n = BigInt(value);
  if (n < rule.min || n > rule.max) return `${key} must be between ${rule.min} and ${rule.max}`;
  return null;
}

/**
 * Keys whose values are bounded by each other: [lower, upper] means lower's value may not exceed upper's (a tx must
 * fit in a block). null when `config` (every key's value in force from the same height) respects them, else why not.
 */
const CONFIG_ORDER: readonly [lower: string, upper: string][] = [["tx_gas_limit", "block_gas_limit"]];

export function checkSystemConfigOrder(config: Readonly<Record<string, string>>): string | null {
  for (const [lower, upper] of CONFIG_ORDER) {
    const lo = config[lower];
    const hi = config[upper];
    if (lo !== undefined && hi !== undefined && BigInt(lo) > BigInt(hi)) {
      return `${lower} (${lo}) may not exceed ${upper} (${hi})`;
    }
  }
  return null;
}

// ---- reads (shared by the precompiles, the executor and RPC) ----

export type KeyGetter = (key: string) => Promise<Uint8Array | null>;

export function readerGetter(state: {
  getState(key: Uint8Array): Promise<Uint8Array | undefined>;
}): KeyGetter {
  return async (key) => (await state.getState(new Uint8Array(Buffer.from(key, "hex")))) ?? null;
}

export function inForceConfig(e: StoredConfigEntry, atHeight: number): SystemConfigEntry | null {
  if (e.enableNumber <= atHeight) return { value: e.value, enableNumber: e.enableNumber };
  if (e.prevValue === null) return null;
  return { value: e.prevValue, enableNumber: e.prevEnableNumber };
}

export async function readConfigEntries(
  get: KeyGetter,
  atHeight: number,
): Promise<Record<string, SystemConfigEntry>> {
  const out: Record<string, SystemConfigEntry> = {};
  for (const key of Object.keys(SYSTEM_CONFIG_RULES)) {
    const raw = await get(systemConfigKey(key));
    const entry = raw === null ? null : inForceConfig(decodeConfigEntry(raw), atHeight);
    out[key] = entry ?? { value: DEFAULT_SYSTEM_CONFIG_VALUES[key]!, enableNumber: 0 };
  }
  return out;
}

/** Every key's value in force at `atHeight` (defaults for keys never set). */
async function configInForce(get: KeyGetter, atHeight: number): Promise<Record<string, string>> {
  const entries = await readConfigEntries(get, atHeight);
  return Object.fromEntries(Object.entries(entries).map(([key, e]) => [key, e.value]));
}

export async function readSystemConfigFrom(get: KeyGetter, atHeight: number): Promise<SystemConfig> {
  const entries = await readConfigEntries(get, atHeight);
  return {
    txCountLimit: Number(entries.tx_count_limit!.value),
    txGasLimit: BigInt(entries.tx_gas_limit!.value),
    blockGasLimit: BigInt(entries.block_gas_limit!.value),
    consensusLeaderPeriod: Number(entries.consensus_leader_period!.value),
    minGasPrice: BigInt(entries.min_gas_price!.value),
    entries,
  };
}

export async function readNodeEntries(get: KeyGetter): Promise<StoredNodeEntry[]> {
  const raw = await get(CONSENSUS_NODES_KEY);
  return raw === null ? [] : decodeNodeList(raw);
}

function nodesInForce(entries: StoredNodeEntry[], atHeight: number): ConsensusNodes {
  const sealers: ConsensusNodes["sealers"] = [];
  const observers: NodeId[] = [];
  for (const e of entries) {
    const current = e.enableNumber <= atHeight;
    const type = current ? e.type : e.prevType;
    const weight = current ? e.weight : e.prevWeight;
    if (type === NodeType.Sealer) sealers.push({ nodeId: e.nodeId, weight });
    else if (type === NodeType.Observer) observers.push(e.nodeId);
  }
  return { sealers, observers };
}

export async function readConsensusNodesFrom(get: KeyGetter, atHeight: number): Promise<ConsensusNodes> {
  return nodesInForce(await readNodeEntries(get), atHeight);
}

// ---- precompiles ----

export interface SystemPrecompileContext {
  overlay: StateOverlay;
  /** Number of the block being executed: changes are in force from blockNumber + 1. */
  blockNumber: number;
  /** The message the EVM is running (top of the message stack): gives msg.sender and the static flag. */
  currentMessage: () => Message | undefined;
  /** Proposers of the last `count` blocks (BlockContext.recentProposers): liveness evidence for node changes. */
  recentProposers?: (count: number) => Promise<NodeId[]>;
}

function ok(gas: bigint, returnValue: Uint8Array): ExecResult {
  return { executionGasUsed: gas, returnValue };
}

/** Revert with Error(string) so clients decode the reason. */
export function revertWith(gas: bigint, reason: string): ExecResult {
  const data = encodeAbiParameters([{ type: "string" }], [reason]);
  return {
    executionGasUsed: gas,
    returnValue: hexToBytes(`0x08c379a0${data.slice(2)}`),
    exceptionError: new EVMError(EVMError.errorMessages.REVERT),
  };
}

/** The gas a refused call is charged: the read price, or all it has when it has less. */
export function cappedGas(gasLimit: bigint): bigint {
  if (gasLimit < SYSTEM_READ_GAS) return gasLimit;
  return SYSTEM_READ_GAS;
}

function outOfGas(gasLimit: bigint): ExecResult {
  return {
    executionGasUsed: gasLimit,
    returnValue: new Uint8Array(0),
    exceptionError: new EVMError(EVMError.errorMessages.OUT_OF_GAS),
  };
}

function decodeCall<A extends typeof SYSTEM_CONFIG_ABI | typeof CONSENSUS_NODES_ABI>(
  abi: A,
  data: Uint8Array,
) {
  try {
    return decodeFunctionData({ abi, data: bytesToHex(data) as Hex });
  } catch {
    return null;
  }
}

/**
 * The write functions of 0x1000 and 0x1003 are refused: every change goes through a committee proposal at
 * 0x…10001 (src/execution/governance), which calls the same state updates once its votes pass.
 */
function writeGuard(gasLimit: bigint, fn: string): ExecResult {
  if (gasLimit < SYSTEM_WRITE_GAS) return outOfGas(gasLimit);
  return revertWith(SYSTEM_WRITE_GAS, `${fn}: ${ONLY_COMMITTEE_REASON}`);
}

/**
 * null when setting `key` = `value` in block `blockNumber` is valid: the value in its range, and every bound between
 * keys (checkSystemConfigOrder) still holds with the values in force from the next block (changes earlier in the same
 * block included).
 */
export async function checkSystemConfigChange(
  get: KeyGetter,
  blockNumber: number,
  key: string,
  value: string,
): Promise<string | null> {
  return (
    validateSystemConfigValue(key, value) ??
    checkSystemConfigOrder({ ...(await configInForce(get, blockNumber + 1)), [key]: value })
  );
}

/** Writes system config `key` = `value` in block `blockNumber` (in force from blockNumber + 1); value checked. */
export async function writeSystemConfig(
  overlay: Pick<StateOverlay, "get" | "put">,
  blockNumber: number,
  key: string,
  value: string,
): Promise<string | null> {
  const invalid = await checkSystemConfigChange((k) => overlay.get(k), blockNumber, key, value);
  if (invalid !== null) return invalid;
  const k = systemConfigKey(key);
  const raw = await overlay.get(k);
  const stored = raw === null ? null : decodeConfigEntry(raw);
  const enableNumber = blockNumber + 1;
  let next: StoredConfigEntry;
  if (stored !== null && stored.enableNumber === enableNumber) {
    // Changed again in the same block: keep the value in force before this block as prev.
    next = { ...stored, value };
  } else {
    next = {
      value,
      enableNumber,
      prevValue: stored?.value ?? DEFAULT_SYSTEM_CONFIG_VALUES[key] ?? null,
      prevEnableNumber: stored?.enableNumber ?? 0,
    };
  }
  overlay.put(k, encodeConfigEntry(next));
  return null;
}

export function systemConfigPrecompile(ctx: SystemPrecompileContext): PrecompileFunc {
  return async ({ data, gasLimit }) => {
    const call = decodeCall(SYSTEM_CONFIG_ABI, data);
    if (call === null) {
      return revertWith(
        gasLimit < SYSTEM_READ_GAS ? gasLimit : SYSTEM_READ_GAS,
        "unknown function or bad arguments",
      );
    }
    const get = (k: string) => ctx.overlay.get(k);
    if (call.functionName === "getValueByKey") {
      if (gasLimit < SYSTEM_READ_GAS) return outOfGas(gasLimit);
      const [key] = call.args;
      const raw = SYSTEM_CONFIG_RULES[key] === undefined ? null : await get(systemConfigKey(key));
      const entry = raw === null ? null : inForceConfig(decodeConfigEntry(raw), ctx.blockNumber);
      const result = encodeFunctionResult({
        abi: SYSTEM_CONFIG_ABI,
        functionName: "getValueByKey",
        result: entry === null ? ["", -1n] : [entry.value, BigInt(entry.enableNumber)],
      });
      return ok(SYSTEM_READ_GAS, hexToBytes(result));
    }
    return writeGuard(gasLimit, call.functionName);
  };
}

/** "0x" + 64 hex digits (the 32-byte Ed25519 key); null when malformed. */
export function parseNodeId(text: string): NodeId | null {
  const body = text.startsWith("0x") || text.startsWith("0X") ? text.slice(2) : text;
  if (!/^[0-9a-fA-F]{64}$/.test(body)) return null;
  return hexToBytes(body.toLowerCase());
}

export function consensusNodesPrecompile(ctx: SystemPrecompileContext): PrecompileFunc {
  return async ({ data, gasLimit }) => {
    const call = decodeCall(CONSENSUS_NODES_ABI, data);
    if (call === null) {
      return revertWith(
        gasLimit < SYSTEM_READ_GAS ? gasLimit : SYSTEM_READ_GAS,
        "unknown function or bad arguments",
      );
    }
    const get = (k: string) => ctx.overlay.get(k);
    if (call.functionName === "getSealers" || call.functionName === "getObservers") {
      if (gasLimit < SYSTEM_READ_GAS) return outOfGas(gasLimit);
      const nodes = nodesInForce(await readNodeEntries(get), ctx.blockNumber);
      const result =
        call.functionName === "getSealers"
          ? encodeFunctionResult({
              abi: CONSENSUS_NODES_ABI,
              functionName: "getSealers",
              result: [
                nodes.sealers.map((s) => bytesToHex(s.nodeId)),
                nodes.sealers.map((s) => BigInt(s.weight)),
              ],
            })
          : encodeFunctionResult({
              abi: CONSENSUS_NODES_ABI,
              functionName: "getObservers",
              result: nodes.observers.map((o) => bytesToHex(o)),
            });
      return ok(SYSTEM_READ_GAS, hexToBytes(result));
    }
    return writeGuard(gasLimit, call.functionName);
  };
}

/**
 * Applies one node-list change made in block `blockNumber` (in force from blockNumber + 1).
 * Returns the new list, or the revert reason.
 */
export function applyNodeChange(
  entries: StoredNodeEntry[],
  blockNumber: number,
  change: {
    nodeId: NodeId;
    type: NodeType;
    weight: number;
    op: "addSealer" | "addObserver" | "remove" | "setWeight";
  },
): StoredNodeEntry[] | string {
  const enableNumber = blockNumber + 1;
  // Settle: entries in force now forget their previous value; removed nodes in force drop out.
  const list: StoredNodeEntry[] = [];
  for (const e of entries) {
    const settled =
      e.enableNumber <= blockNumber ? { ...e, prevType: e.type, prevWeight: e.weight } : { ...e };
    if (settled.type === NodeType.None && settled.prevType === NodeType.None) continue;
    list.push(settled);
  }
  const idHex = bytesToHex(change.nodeId);
  const index = list.findIndex((e) => bytesToHex(e.nodeId) === idHex);
  const existing = index >= 0 ? list[index]! : null;
  const currentType = existing?.type ?? NodeType.None;
  switch (change.op) {
    case "addSealer":
      if (currentType === NodeType.Sealer) return "the node is already a sealer";
      break;
    case "addObserver":
      if (currentType === NodeType.Observer) return "the node is already an observer";
      break;
    case "remove":
      if (currentType === NodeType.None) return "the node is not in the consensus node list";
      break;
    case "setWeight":
      if (currentType !== NodeType.Sealer) return "only a sealer has a weight";
      break;
  }
  const sealersAfter =
    list.filter((e) => e.type === NodeType.Sealer).length -
    (currentType === NodeType.Sealer ? 1 : 0) +
    (change.type === NodeType.Sealer ? 1 : 0);
  if (sealersAfter < 1) return "the last sealer cannot be removed";
  if (existing === null) {
    if (list.length >= NODE_COUNT_MAX) return `the consensus node list is full (${NODE_COUNT_MAX} nodes)`;
    list.push({
      nodeId: change.nodeId,
      type: change.type,
      weight: change.weight,
      enableNumber,
      prevType: NodeType.None,
      prevWeight: 0,
    });
  } else {
    list[index] = { ...existing, type: change.type, weight: change.weight, enableNumber };
  }
  return list;
}
