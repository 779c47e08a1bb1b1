import { randomBytes } from "node:crypto";
import { RLP } from "@ethereumjs/rlp";
import { type TransactionRequest, Wallet } from "ethers";
import { encodeNativeTx } from "../../src/codec/index.js";
import { keccak256, secp256k1Sign } from "../../src/crypto/index.js";
import { TxPool, type TxPoolDeps, type TxPoolOptionsInput } from "../../src/txpool/index.js";
import type { Address } from "../../src/types/index.js";
import { bigintToBytes, bytesToHex, concatBytes, hexToBytes } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";

export const CHAIN_ID = 20200n;
export const GROUP_ID = "group0";
export const TX_GAS_LIMIT = 3_000_000n;

/** Yields to the event loop like a real LevelDB read does, so concurrent adds really interleave. */
function io(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Stands in for the committed state (owned by the executor/ledger): nonces and balances by address. */
export class MemoryState {
  readonly nonces = new Map<string, bigint>();
  readonly balances = new Map<string, bigint>();
  reads = 0;

  /** Runs once, right after the next nonce read took its (now stale) value: simulates a commit racing a read. */
  afterNextNonceRead: (() => void) | undefined;

  async getAccountNonce(address: Address): Promise<bigint> {
    this.reads++;
    await io();
    const nonce = this.nonces.get(bytesToHex(address)) ?? 0n;
    const hook = this.afterNextNonceRead;
    this.afterNextNonceRead = undefined;
    hook?.();
    return nonce;
  }

  async getBalance(address: Address): Promise<bigint> {
    this.reads++;
    await io();
    return this.balances.get(bytesToHex(address)) ?? 0n;
  }

  setNonce(address: string, nonce: bigint): void {
    this.nonces.set(address.toLowerCase(), nonce);
  }

  setBalance(address: string, balance: bigint): void {
    this.balances.set(address.toLowerCase(), balance);
  }
}

/** Stands in for the ledger: a height and the native nonces of recent blocks. */
export class MemoryChain {
  currentHeight = 10;
  readonly usedNonces = new Set<string>();

  height(): number {
    return this.currentHeight;
  }

  async hasNativeNonce(nonce: Uint8Array): Promise<boolean> {
    await io();
    return this.usedNonces.has(bytesToHex(nonce));
  }
}

export class ManualClock {
  ms = 1_700_000_000_000;
  now = (): number => this.ms;
}

export interface Harness {
  pool: TxPool;
  state: MemoryState;
  chain: MemoryChain;
  clock: ManualClock;
}

/**
 * A pool on in-memory state. Its senders are recovered on the calling thread unless `opts.recoveryThreads` says
 * otherwise (the rules under test do not depend on where; recoveryThreads.test.ts checks that, and closes its pools).
 */
export function makePool(opts: Partial<TxPoolOptionsInput> = {}, deps: Partial<TxPoolDeps> = {}): Harness {
  const state = new MemoryState();
  const chain = new MemoryChain();
  const clock = new ManualClock();
  const pool = new TxPool(
    { chainId: CHAIN_ID, groupId: GROUP_ID, recoveryThreads: 0, ...opts },
    { state, chain, txGasLimit: () => TX_GAS_LIMIT, logger: silentLogger(), now: clock.now, ...deps },
  );
  return { pool, state, chain, clock };
}

/** Deterministic test wallets. */
export function wallet(i: number): Wallet {
  return new Wallet(`0x${(i + 1).toString(16).padStart(64, "0")}`);
}

export const RECIPIENT = "0x00000000000000000000000000000000000000aa";

/** A real signed Ethereum tx (type 0 by default, zero price, 21000 gas, to RECIPIENT). */
export async function signEth(w: Wallet, fields: TransactionRequest = {}): Promise<Uint8Array> {
  const req: TransactionRequest = {
    type: 0,
    chainId: CHAIN_ID,
    nonce: 0,
    to: RECIPIENT,
    value: 0n,
    gasLimit: 21_000n,
    ...fields,
  };
  if (req.type === 2) {
    req.maxFeePerGas ??= 0n;
    req.maxPriorityFeePerGas ??= 0n;
  } else {
    req.gasPrice ??= 0n;
  }
  return hexToBytes(await w.signTransaction(req));
}

export interface NativeOverrides {
  chainId?: bigint;
  groupId?: string;
  nonce?: Uint8Array;
  blockLimit?: number;
  value?: bigint;
  gasLimit?: bigint;
  gasPrice?: bigint;
  input?: Uint8Array;
}

/** A real signed native (0x7c) tx; random 16-byte nonce, blockLimit height + 500 unless overridden. */
export function signNative(w: Wallet, height: number, o: NativeOverrides = {}): Uint8Array {
  return encodeNativeTx(
    {
      chainId: o.chainId ?? CHAIN_ID,
      groupId: o.groupId ?? GROUP_ID,
      nonce: o.nonce ?? new Uint8Array(randomBytes(16)),
      blockLimit: o.blockLimit ?? height + 500,
      to: hexToBytes(RECIPIENT),
      value: o.value ?? 0n,
      input: o.input ?? new Uint8Array(0),
      gasLimit: o.gasLimit ?? 100_000n,
      gasPrice: o.gasPrice ?? 0n,
    },
    hexToBytes(w.privateKey),
  );
}

/**
 * A type-2 tx signed by hand (RLP + secp256k1), for fee fields ethers refuses to sign (tip above fee cap).
 * Zero nonce, 21000 gas, to RECIPIENT, no value, no data.
 */
export function signRawFeeMarket(w: Wallet, maxPriorityFeePerGas: bigint, maxFeePerGas: bigint): Uint8Array {
  const fields = [CHAIN_ID, 0n, maxPriorityFeePerGas, maxFeePerGas, 21_000n].map(bigintToBytes);
  const body = [...fields, hexToBytes(RECIPIENT), new Uint8Array(0), new Uint8Array(0), []];
  const digest = keccak256(concatBytes(new Uint8Array([2]), RLP.encode(body)));
  const { signature, recovery } = secp256k1Sign(digest, hexToBytes(w.privateKey));
  const r = bytesToBigintStrip(signature.subarray(0, 32));
  const s = bytesToBigintStrip(signature.subarray(32));
  const signed = [...body, bigintToBytes(BigInt(recovery)), r, s];
  return concatBytes(new Uint8Array([2]), RLP.encode(signed));
}

function bytesToBigintStrip(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}
