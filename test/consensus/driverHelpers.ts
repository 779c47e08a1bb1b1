import { decodeTransaction, encodeNativeTx } from "../../src/codec/index.js";
import type { GenesisConfig } from "../../src/config/index.js";
import { keccak256, NodeKey, privateKeyToAddress } from "../../src/crypto/index.js";
import type { TxPoolInterface } from "../../src/txpool/index.js";
import type { Transaction } from "../../src/types/index.js";

/** Shared by the consensus driver's tests: validator keys, a genesis, native transfers and a small pool. */

export const ADMIN_KEY = keccak256(new TextEncoder().encode("driver persist test admin"));

export const keys = [1, 2, 3, 4].map((i) => NodeKey.fromSeed(new Uint8Array(32).fill(i)));

export function genesisOf(sealers: NodeKey[]): GenesisConfig {
  return {
    chainId: 20200n,
    groupId: "group0",
    timestampMs: 1_700_000_000_000,
    sealers: sealers.map((k) => ({ nodeId: k.nodeId, weight: 1 })),
    observers: [],
    committee: { governors: [{ address: privateKeyToAddress(ADMIN_KEY), weight: 1 }] },
    alloc: [{ address: privateKeyToAddress(ADMIN_KEY), balance: 10n ** 20n }],
    systemConfig: {},
  };
}

export function transfer(i: number): Transaction {
  return decodeTransaction(
    encodeNativeTx(
      {
        chainId: 20200n,
        groupId: "group0",
        nonce: new Uint8Array([i]),
        blockLimit: 100,
        to: new Uint8Array(20).fill(7),
        value: 1n,
        input: new Uint8Array(),
        gasLimit: 21_000n,
        gasPrice: 0n,
      },
      ADMIN_KEY,
    ),
  );
}

/** The pool as the driver uses it, holding `txs` until they are sealed once; `add` is a client's submission. */
export function fakePool(txs: Transaction[]): TxPoolInterface & { add(tx: Transaction): void } {
  let pending = [...txs];
  const listeners: ((txs: Transaction[], origin: "local" | "peer") => void)[] = [];
  return {
    hasWork: () => pending.length > 0,
    size: () => pending.length,
    seal: () => {
      const out = pending;
      pending = [];
      return out;
    },
    releaseSealed: () => {},
    park: () => {},
    drop: () => 0,
    onAdded: (listener: (txs: Transaction[], origin: "local" | "peer") => void) => {
      listeners.push(listener);
      return () => listeners.splice(listeners.indexOf(listener), 1);
    },
    add: (tx: Transaction) => {
      pending.push(tx);
      for (const l of listeners) l([tx], "local");
    },
  } as unknown as TxPoolInterface & { add(tx: Transaction): void };
}
