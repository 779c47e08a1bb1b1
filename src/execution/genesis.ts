import type { Address, Hash, NodeId } from "../types/index.js";
import { bytesToHex } from "../util/hex.js";
import { ExecutionError } from "./errors.js";
import { COMMITTEE_KEY, encodeCommittee } from "./governance/layout.js";
import { GOVERNOR_COUNT_MAX, GOVERNOR_WEIGHT_MAX } from "./governance/proposals.js";
import type { StateChange } from "./interface.js";
import {
  accountKey,
  CONSENSUS_NODES_KEY,
  compareBytes,
  computeStateRoot,
  EMPTY_CODE_HASH,
  encodeAccount,
  encodeConfigEntry,
  encodeNodeList,
  keyBytes,
  NodeType,
  type StoredNodeEntry,
  systemConfigKey,
  ZERO_HASH,
} from "./stateLayout.js";
import {
  checkSystemConfigOrder,
  DEFAULT_SYSTEM_CONFIG_VALUES,
  NODE_COUNT_MAX,
  NODE_WEIGHT_MAX,
  validateSystemConfigValue,
} from "./systemContracts.js";

/** Default committee rates (percent): more than half the governors' weight must vote, and more than half for. */
export const DEFAULT_PARTICIPATION_PCT = 51;
export const DEFAULT_WIN_PCT = 51;

/**
 * What the genesis state is built from (src/config's GenesisConfig extends it).
 * systemConfig values are decimal strings or numbers; missing known keys get their defaults
 * (DEFAULT_SYSTEM_CONFIG_VALUES: tx_count_limit, tx_gas_limit, block_gas_limit, consensus_leader_period,
 * min_gas_price); tx_gas_limit may not exceed block_gas_limit.
 */
export interface GenesisSpec {
  chainId: bigint;
  groupId: string;
  timestampMs?: number;
  sealers: { nodeId: NodeId; weight: number }[];
  observers: NodeId[];
  /**
   * The governance committee (governance/committee.ts): governors and weights; participation and win rates in
   * percent (defaults DEFAULT_PARTICIPATION_PCT / DEFAULT_WIN_PCT).
   */
  committee: {
    governors: { address: Address; weight: number }[];
    participationRate?: number;
    winRate?: number;
  };
  /** Initial native balances (for value transfers and Ethereum tools). */
  alloc: { address: Address; balance: bigint }[];
  systemConfig: Record<string, string | number | bigint>;
}

function invalid(message: string, meta: Record<string, unknown> = {}): ExecutionError {
  return new ExecutionError("EXEC_INVALID_GENESIS", message, meta);
}

/** The genesis block's state: every change, and stateRoot = keccak256(0^32 ‖ keccak256(changes)). */
export function genesisState(genesis: GenesisSpec): { stateChanges: StateChange[]; stateRoot: Hash } {
  const changes = new Map<string, Uint8Array>();
  const put = (key: string, value: Uint8Array) => {
    if (changes.has(key)) throw invalid("duplicate genesis entry", { key });
    changes.set(key, value);
  };

  const config: Record<string, string> = { ...DEFAULT_SYSTEM_CONFIG_VALUES };
  for (const [key, value] of Object.entries(genesis.systemConfig)) config[key] = String(value);
  for (const [key, value] of Object.entries(config)) {
    const reason = validateSystemConfigValue(key, value);
    if (reason !== null) throw invalid(`genesis systemConfig: ${reason}`, { key, value });
    put(
      systemConfigKey(key),
      encodeConfigEntry({ value, enableNumber: 0, prevValue: null, prevEnableNumber: 0 }),
    );
  }

  const disorder = checkSystemConfigOrder(config);
  if (disorder !== null) throw invalid(`genesis systemConfig: ${disorder}`);

  if (genesis.sealers.length === 0) throw invalid("genesis needs at least one sealer");
  if (genesis.sealers.length + genesis.observers.length > NODE_COUNT_MAX) {
    throw invalid(`genesis lists more than ${NODE_COUNT_MAX} nodes`);
  }
  const nodes: StoredNodeEntry[] = [];
  const seen = new Set<string>();
  const addNode = (nodeId: NodeId, type: NodeType, weight: number) => {
    const id = bytesToHex(nodeId);
    if (nodeId.length !== 32) throw invalid("node IDs are 32-byte Ed25519 public keys", { nodeId: id });
    if (seen.has(id)) throw invalid("node listed twice", { nodeId: id });
    seen.add(id);
    nodes.push({ nodeId, type, weight, enableNumber: 0, prevType: NodeType.None, prevWeight: 0 });
  };
  for (const s of genesis.sealers) {
    if (!Number.isInteger(s.weight) || s.weight < 1 || s.weight > NODE_WEIGHT_MAX) {
      throw invalid(`sealer weight must be between 1 and ${NODE_WEIGHT_MAX}`, {
        nodeId: bytesToHex(s.nodeId),
      });
    }
    addNode(s.nodeId, NodeType.Sealer, s.weight);
  }
  for (const o of genesis.observers) addNode(o, NodeType.Observer, 0);
  put(CONSENSUS_NODES_KEY, encodeNodeList(nodes));

  const { governors } = genesis.committee;
  if (governors.length === 0) throw invalid("genesis needs at least one governor");
  if (governors.length > GOVERNOR_COUNT_MAX)
    throw invalid(`genesis lists more than ${GOVERNOR_COUNT_MAX} governors`);
  const seenGovernors = new Set<string>();
  for (const g of governors) {
    const id = bytesToHex(g.address);
    if (g.address.length !== 20) throw invalid("governor addresses are 20 bytes", { address: id });
    if (seenGovernors.has(id)) throw invalid("governor listed twice", { address: id });
    seenGovernors.add(id);
    if (!Number.isInteger(g.weight) || g.weight < 1 || g.weight > GOVERNOR_WEIGHT_MAX) {
      throw invalid(`governor weight must be between 1 and ${GOVERNOR_WEIGHT_MAX}`, { address: id });
    }
  }
  const participationPct = genesis.committee.participationRate ?? DEFAULT_PARTICIPATION_PCT;
  const winPct = genesis.committee.winRate ?? DEFAULT_WIN_PCT;
  for (const pct of [participationPct, winPct]) {
    if (!Number.isInteger(pct) || pct < 0 || pct > 100)
      throw invalid("committee rates are percentages 0–100");
  }
  put(COMMITTEE_KEY, encodeCommittee({ governors, participationPct, winPct }));

  for (const { address, balance } of genesis.alloc) {
    if (address.length !== 20)
      throw invalid("alloc addresses are 20 bytes", { address: bytesToHex(address) });
    if (balance < 0n) throw invalid("alloc balance must be >= 0", { address: bytesToHex(address) });
    put(accountKey(address), encodeAccount({ nonce: 0n, balance, codeHash: EMPTY_CODE_HASH }));
  }

  const stateChanges: StateChange[] = [...changes].map(([k, v]) => [keyBytes(k), v] as StateChange);
  stateChanges.sort((a, b) => compareBytes(a[0], b[0]));
  return { stateChanges, stateRoot: computeStateRoot(ZERO_HASH, stateChanges) };
}
