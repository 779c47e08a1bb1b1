import type { Address } from "../types/index.js";
import { ExecutionError } from "./errors.js";
import type { AccountState, ConsensusNodes, StateReader, SystemConfig } from "./interface.js";
import { accountKey, codeKey, decodeAccount, EMPTY_CODE_HASH, storageKey } from "./stateLayout.js";
import {
  type KeyGetter,
  readConsensusNodesFrom,
  readerGetter,
  readSystemConfigFrom,
} from "./systemContracts.js";

/**
 * Read helpers over the committed flat state (RPC, the node). `atHeight` selects between the value in force
 * at the head and a change made in the head block that takes effect at head + 1: pass head to get what was
 * in force while the head block executed, head + 1 for what the next block uses.
 */
export async function readSystemConfig(state: StateReader, atHeight: number): Promise<SystemConfig> {
  return readSystemConfigFrom(readerGetter(state), atHeight);
}

export async function readConsensusNodes(state: StateReader, atHeight: number): Promise<ConsensusNodes> {
  return readConsensusNodesFrom(readerGetter(state), atHeight);
}

/** The account (zero nonce and balance, empty code hash when it does not exist). */
export async function readAccount(state: StateReader, address: Address): Promise<AccountState> {
  const raw = await readerGetter(state)(accountKey(checkAddress(address)));
  return raw === null ? { nonce: 0n, balance: 0n, codeHash: EMPTY_CODE_HASH } : decodeAccount(raw);
}

export async function readCode(state: StateReader, address: Address): Promise<Uint8Array> {
  const get: KeyGetter = readerGetter(state);
  const raw = await get(accountKey(checkAddress(address)));
  if (raw === null) return new Uint8Array(0);
  const { codeHash } = decodeAccount(raw);
  if (codeHash === EMPTY_CODE_HASH) return new Uint8Array(0);
  const code = await get(codeKey(codeHash));
  if (code === null)
    throw new ExecutionError("EXEC_STATE_CORRUPT", "code missing for an account's code hash");
  return code;
}

/** The 32-byte storage word at `slot` (32 bytes) of `address`. */
export async function readStorage(
  state: StateReader,
  address: Address,
  slot: Uint8Array,
): Promise<Uint8Array> {
  if (slot.length !== 32) throw new ExecutionError("EXEC_INVALID_CALL", "storage slot must be 32 bytes");
  const raw = await readerGetter(state)(storageKey(checkAddress(address), slot));
  const out = new Uint8Array(32);
  if (raw !== null) out.set(raw, 32 - raw.length);
  return out;
}

function checkAddress(address: Address): Address {
  if (address.length !== 20) throw new ExecutionError("EXEC_INVALID_CALL", "address must be 20 bytes");
  return address;
}
