import type { AccountFields, StateManagerInterface } from "@ethereumjs/common";
import { Account, type Address as EthAddress } from "@ethereumjs/util";
import { keccak256 } from "../crypto/index.js";
import { ExecutionError } from "./errors.js";
import type { StateOverlay } from "./overlay.js";
import {
  accountKey,
  codeKey,
  decodeAccount,
  EMPTY_CODE_HASH,
  encodeAccount,
  storageKey,
  storagePrefix,
  ZERO_HASH,
} from "./stateLayout.js";

const EMPTY = new Uint8Array(0);

function stripZeros(value: Uint8Array): Uint8Array {
  let i = 0;
  while (i < value.length && value[i] === 0) i++;
  return i === 0 ? value : value.subarray(i);
}

/**
 * @ethereumjs StateManagerInterface over a block's StateOverlay (flat keys, see stateLayout.ts).
 * Checkpoints map to the overlay's undo journal. There is no trie: getStateRoot is not meaningful here
 * (the executor computes one root per block from the overlay's changes).
 */
export class FlatStateManager implements StateManagerInterface {
  /** Storage values at the start of the current transaction, for EIP-2200/3529 SSTORE gas. */
  private readonly txOriginals = new Map<string, Uint8Array>();
  /** Decoded accounts by stored value (values are immutable, so identity is a safe memo key). */
  private readonly accountMemo = new WeakMap<Uint8Array, ReturnType<typeof decodeAccount>>();

  readonly originalStorageCache = {
    get: async (address: EthAddress, key: Uint8Array): Promise<Uint8Array> => {
      const k = storageKey(address.bytes, key);
      const original = this.txOriginals.get(k);
      if (original !== undefined) return original;
      return (await this.overlay.get(k)) ?? EMPTY;
    },
    clear: (): void => {
      this.txOriginals.clear();
    },
  };

  /** The overlay in use; null while the manager's EVM is back in the pool (evmEnv.ts). */
  private current: StateOverlay | null;

  /**
   * @param storageWritten storage key prefixes (one per contract) written in this block: clearStorage scans
   *   only those (shared with shallow copies).
   */
  constructor(
    overlay: StateOverlay | null,
    private readonly storageWritten = new Set<string>(),
  ) {
    this.current = overlay;
  }

  /** The overlay this manager reads and writes; asserts it has one (a pooled EVM's is taken away between uses). */
  get overlay(): StateOverlay {
    if (this.current === null) {
      throw new ExecutionError("EXEC_INTERNAL", "state manager used while its EVM is back in the pool");
    }
    return this.current;
  }

  /**
   * Points this manager at another block's (or call's) overlay, or at none (null), forgetting what it kept of the
   * last one: a pooled EVM (evmEnv.ts) keeps its manager from use to use.
   */
  rebind(overlay: StateOverlay | null): void {
    this.current = overlay;
    this.txOriginals.clear();
    this.storageWritten.clear();
  }

  private decode(raw: Uint8Array) {
    let a = this.accountMemo.get(raw);
    if (a === undefined) {
      a = decodeAccount(raw);
      this.accountMemo.set(raw, a);
    }
    return a;
  }

  async getAccount(address: EthAddress): Promise<Account | undefined> {
    const raw = await this.overlay.get(accountKey(address.bytes));
    if (raw === null) return undefined;
    const a = this.decode(raw);
    return new Account(a.nonce, a.balance, undefined, a.codeHash);
  }

  async putAccount(address: EthAddress, account?: Account): Promise<void> {
    if (account === undefined) return this.deleteAccount(address);
    const raw = encodeAccount({ nonce: account.nonce, balance: account.balance, codeHash: account.codeHash });
    this.overlay.put(accountKey(address.bytes), raw);
  }

  async deleteAccount(address: EthAddress): Promise<void> {
    this.overlay.put(accountKey(address.bytes), null);
    // An account deleted by SELFDESTRUCT (EIP-6780: created in the same tx) or EIP-161 can only hold storage
    // written in this block: drop it so a later creation at the same address starts clean.
    await this.clearStorage(address);
  }

  async modifyAccountFields(address: EthAddress, fields: AccountFields): Promise<void> {
    const account = (await this.getAccount(address)) ?? new Account();
    if (fields.nonce !== undefined) account.nonce = fields.nonce;
    if (fields.balance !== undefined) account.balance = fields.balance;
    if (fields.codeHash !== undefined) account.codeHash = fields.codeHash;
    await this.putAccount(address, account);
  }

  async putCode(address: EthAddress, value: Uint8Array): Promise<void> {
    const codeHash = value.length === 0 ? EMPTY_CODE_HASH : keccak256(value);
    if (value.length > 0) this.overlay.put(codeKey(codeHash), new Uint8Array(value));
    await this.modifyAccountFields(address, { codeHash });
  }

  async getCode(address: EthAddress): Promise<Uint8Array> {
    const raw = await this.overlay.get(accountKey(address.bytes));
    if (raw === null) return EMPTY;
    const { codeHash } = this.decode(raw);
    if (codeHash === EMPTY_CODE_HASH) return EMPTY;
    const code = await this.overlay.get(codeKey(codeHash));
    if (code === null) {
      throw new ExecutionError("EXEC_STATE_CORRUPT", "code missing for an account's code hash", {
        address: address.toString(),
      });
    }
    return code;
  }

  async getCodeSize(address: EthAddress): Promise<number> {
    return (await this.getCode(address)).length;
  }

  async getStorage(address: EthAddress, key: Uint8Array): Promise<Uint8Array> {
    if (key.length !== 32) throw new ExecutionError("EXEC_INTERNAL", "storage key must be 32 bytes");
    return (await this.overlay.get(storageKey(address.bytes, key))) ?? EMPTY;
  }

  async putStorage(address: EthAddress, key: Uint8Array, value: Uint8Array): Promise<void> {
    if (key.length !== 32) throw new ExecutionError("EXEC_INTERNAL", "storage key must be 32 bytes");
    const k = storageKey(address.bytes, key);
    if (!this.txOriginals.has(k)) this.txOriginals.set(k, (await this.overlay.get(k)) ?? EMPTY);
    const v = stripZeros(value);
    this.storageWritten.add(storagePrefix(address.bytes));
    this.overlay.put(k, v.length === 0 ? null : new Uint8Array(v));
  }

  /**
   * Deletes the storage written in this block for `address`. The flat layout cannot enumerate the parent
   * state's slots; under Cancun (EIP-6780) storage is only cleared for contracts created in the same
   * transaction, whose storage exists in this overlay only.
   */
  async clearStorage(address: EthAddress): Promise<void> {
    const prefix = storagePrefix(address.bytes);
    if (!this.storageWritten.has(prefix)) return;
    for (const k of this.overlay.dirtyKeysWithPrefix(prefix)) {
      if (this.overlay.peek(k) !== null) this.overlay.put(k, null);
    }
  }

  async checkpoint(): Promise<void> {
    this.overlay.checkpoint();
  }

  async commit(): Promise<void> {
    this.overlay.commit();
  }

  async revert(): Promise<void> {
    this.overlay.revert();
  }

  async getStateRoot(): Promise<Uint8Array> {
    return ZERO_HASH;
  }

  async setStateRoot(): Promise<void> {
    throw new ExecutionError("EXEC_INTERNAL", "FlatStateManager has no state roots to switch to");
  }

  async hasStateRoot(): Promise<boolean> {
    return false;
  }

  clearCaches(): void {}

  /** A manager over the same overlay (the EVM's shallowCopy). */
  shallowCopy(): StateManagerInterface {
    return new FlatStateManager(this.overlay, this.storageWritten);
  }
}
