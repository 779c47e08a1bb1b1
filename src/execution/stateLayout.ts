import { RLP } from "@ethereumjs/rlp";
import { KECCAK256_EMPTY, keccak256 } from "../crypto/index.js";
import type { Address, Hash, NodeId } from "../types/index.js";
import { bigintToBytes, bytesToBigint, concatBytes } from "../util/hex.js";
import { ExecutionError } from "./errors.js";
import type { AccountState, StateChange } from "./interface.js";

/**
 * Flat state layout (keys of the ledger's state bucket; the executor owns it). One byte of prefix, then:
 *
 *   0x01 ‖ address(20)              → account: RLP [nonce, balance, codeHash]  (codeHash empty = no code)
 *   0x02 ‖ codeHash(32)             → contract code (content-addressed, never deleted)
 *   0x03 ‖ address(20) ‖ slot(32)   → storage value, big-endian without leading zeros (zero = key deleted)
 *   0x10 ‖ utf8(key)                → system config: RLP [value, enableNumber, prevValue, prevEnableNumber]
 *   0x11                            → consensus node list: RLP [[nodeId, type, weight, enableNumber,
 *                                      prevType, prevWeight], …] in stored order (type 0 none, 1 sealer, 2 observer)
 *   0x12 … 0x1b                     → governance: committee, proposals, ACLs, statuses (governance/layout.ts)
 *
 * Integers are RLP big-endian minimal bytes. A change made in block N carries enableNumber N + 1 and keeps the
 * value in force before it as prev*, so the state after block N answers "what is in force at N" and "at N + 1".
 *
 * State root: one per block, a hash chain over the block's sorted changes (no trie):
 *   stateRoot(N) = keccak256(stateRoot(N - 1) ‖ keccak256(encodeStateChanges(changes(N))))
 *   encodeStateChanges = RLP [[key, value] for a put, [key] for a delete, …] sorted bytewise by key;
 *   the parent of genesis is 32 zero bytes.
 */
export const KEY_PREFIX = {
  account: 0x01,
  code: 0x02,
  storage: 0x03,
  systemConfig: 0x10,
  consensusNodes: 0x11,
} as const;

export const ZERO_HASH: Hash = new Uint8Array(32);
export const EMPTY_CODE_HASH: Hash = KECCAK256_EMPTY;

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** Keys as lower-case hex strings without 0x (what the overlay maps use); `keyBytes` converts back. */
export function accountKey(address: Address): string {
  return `01${hex(address)}`;
}
export function codeKey(codeHash: Hash): string {
  return `02${hex(codeHash)}`;
}
export function storageKey(address: Address, slot: Uint8Array): string {
  return `03${hex(address)}${hex(slot)}`;
}
export function storagePrefix(address: Address): string {
  return `03${hex(address)}`;
}
export function systemConfigKey(key: string): string {
  return `10${Buffer.from(key, "utf8").toString("hex")}`;
}
export const CONSENSUS_NODES_KEY = "11";

export function keyBytes(keyHex: string): Uint8Array {
  return new Uint8Array(Buffer.from(keyHex, "hex"));
}

function corrupt(what: string, cause?: unknown): ExecutionError {
  return new ExecutionError("EXEC_STATE_CORRUPT", `cannot decode stored ${what}`, { what }, { cause });
}

function decodeList(raw: Uint8Array, what: string): Uint8Array[] {
  let decoded: unknown;
  try {
    decoded = RLP.decode(raw);
  } catch (err) {
    throw corrupt(what, err);
  }
  if (!Array.isArray(decoded)) throw corrupt(what);
  for (const item of decoded) if (!(item instanceof Uint8Array)) throw corrupt(what);
  return decoded as Uint8Array[];
}

function decodeNumber(bytes: Uint8Array, what: string): number {
  const n = bytesToBigint(bytes);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(what);
  return Number(n);
}

// ---- accounts ----

export function encodeAccount(a: AccountState): Uint8Array {
  const codeHash =
    a.codeHash.length === 32 && !bytesEq(a.codeHash, EMPTY_CODE_HASH) ? a.codeHash : new Uint8Array(0);
  return RLP.encode([bigintToBytes(a.nonce), bigintToBytes(a.balance), codeHash]);
}

export function decodeAccount(raw: Uint8Array): AccountState {
  const fields = decodeList(raw, "account");
  if (fields.length !== 3) throw corrupt("account");
  const codeHash = fields[2]!;
  if (codeHash.length !== 0 && codeHash.length !== 32) throw corrupt("account");
  return {
    nonce: bytesToBigint(fields[0]!),
    balance: bytesToBigint(fields[1]!),
    codeHash: codeHash.length === 0 ? EMPTY_CODE_HASH : codeHash,
  };
}

function bytesEq(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---- system config ----

export interface StoredConfigEntry {
  value: string;
  enableNumber: number;
  prevValue: string | null;
  prevEnableNumber: number;
}

export function encodeConfigEntry(e: StoredConfigEntry): Uint8Array {
  return RLP.encode([
    Buffer.from(e.value, "utf8"),
    bigintToBytes(BigInt(e.enableNumber)),
    e.prevValue === null ? [] : [Buffer.from(e.prevValue, "utf8")],
    bigintToBytes(BigInt(e.prevEnableNumber)),
  ]);
}

export function decodeConfigEntry(raw: Uint8Array): StoredConfigEntry {
  let d: unknown;
  try {
    d = RLP.decode(raw);
  } catch (err) {
    throw corrupt("system config entry", err);
  }
  if (!Array.isArray(d) || d.length !== 4) throw corrupt("system config entry");
  const [value, enable, prev, prevEnable] = d as unknown[];
  if (
    !(value instanceof Uint8Array) ||
    !(enable instanceof Uint8Array) ||
    !(prevEnable instanceof Uint8Array)
  )
    throw corrupt("system config entry");
  if (!Array.isArray(prev) || prev.length > 1 || (prev.length === 1 && !(prev[0] instanceof Uint8Array)))
    throw corrupt("system config entry");
  return {
    value: Buffer.from(value).toString("utf8"),
    enableNumber: decodeNumber(enable, "system config entry"),
    prevValue: prev.length === 1 ? Buffer.from(prev[0] as Uint8Array).toString("utf8") : null,
    prevEnableNumber: decodeNumber(prevEnable, "system config entry"),
  };
}

// ---- consensus nodes ----

export const NodeType = { None: 0, Sealer: 1, Observer: 2 } as const;
export type NodeType = (typeof NodeType)[keyof typeof NodeType];

export interface StoredNodeEntry {
  nodeId: NodeId;
  type: NodeType;
  weight: number;
  enableNumber: number;
  prevType: NodeType;
  prevWeight: number;
}

function toNodeType(n: number): NodeType {
  if (n === 0 || n === 1 || n === 2) return n;
  throw corrupt("consensus node type");
}

export function encodeNodeList(entries: StoredNodeEntry[]): Uint8Array {
  return RLP.encode(
    entries.map((e) => [
      e.nodeId,
      bigintToBytes(BigInt(e.type)),
      bigintToBytes(BigInt(e.weight)),
      bigintToBytes(BigInt(e.enableNumber)),
      bigintToBytes(BigInt(e.prevType)),
      bigintToBytes(BigInt(e.prevWeight)),
    ]),
  );
}

export function decodeNodeList(raw: Uint8Array): StoredNodeEntry[] {
  let d: unknown;
  try {
    d = RLP.decode(raw);
  } catch (err) {
    throw corrupt("consensus node list", err);
  }
  if (!Array.isArray(d)) throw corrupt("consensus node list");
  return d.map((item: unknown) => {
    if (!Array.isArray(item) || item.length !== 6) throw corrupt("consensus node list");
    for (const f of item) if (!(f instanceof Uint8Array)) throw corrupt("consensus node list");
    const f = item as Uint8Array[];
    if (f[0]!.length !== 32) throw corrupt("consensus node list");
    return {
      nodeId: f[0]!,
      type: toNodeType(decodeNumber(f[1]!, "node type")),
      weight: decodeNumber(f[2]!, "node weight"),
      enableNumber: decodeNumber(f[3]!, "node enable number"),
      prevType: toNodeType(decodeNumber(f[4]!, "node type")),
      prevWeight: decodeNumber(f[5]!, "node weight"),
    };
  });
}

// ---- state root ----

export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Canonical encoding of a block's changes (must already be sorted by key, keys unique). */
export function encodeStateChanges(changes: readonly StateChange[]): Uint8Array {
  return RLP.encode(changes.map(([k, v]) => (v === null ? [k] : [k, v])));
}

export function computeStateRoot(parentStateRoot: Hash, changes: readonly StateChange[]): Hash {
  return keccak256(concatBytes(parentStateRoot, keccak256(encodeStateChanges(changes))));
}
