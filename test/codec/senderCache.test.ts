import { describe, expect, it } from "vitest";
import {
  decodeBlock,
  decodeTransaction,
  encodeBlock,
  SENDER_CACHE_ENTRIES_DEFAULT,
  SenderCache,
} from "../../src/codec/index.js";
import { keccak256, privateKeyToAddress, secp256k1RecoveryCount } from "../../src/crypto/index.js";
import type { BlockHeader } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { signTx, type TxSpec } from "./txFactory.js";

const CHAIN_ID = 20200n;
const KEY_A = keccak256(new TextEncoder().encode("sender cache test a"));
const KEY_B = keccak256(new TextEncoder().encode("sender cache test b"));

function spec(type: TxSpec["type"], nonce = 0n): TxSpec {
  return {
    type,
    nonce,
    to: new Uint8Array(20).fill(0xaa),
    value: 1n,
    input: new Uint8Array(0),
    gasLimit: 21_000n,
    gasPrice: 0n,
    accessList: [],
    nativeNonce: new Uint8Array([1, 2, 3, Number(nonce)]),
    blockLimit: 100,
    groupId: "group0",
  };
}

const hashOf = (n: number) => keccak256(Uint8Array.of(n));
const addressOf = (n: number) => new Uint8Array(20).fill(n);

describe("SenderCache", () => {
  it("holds at most entriesMax senders, dropping the least recently used first", () => {
    const cache = new SenderCache(3);
    for (let i = 1; i <= 3; i++) cache.set(hashOf(i), addressOf(i));
    expect(cache.get(hashOf(1))).toEqual(addressOf(1)); // 1 is now the most recent
    cache.set(hashOf(4), addressOf(4));
    cache.set(hashOf(5), addressOf(5));
    expect(cache.stats().entries).toBe(3);
    expect(cache.get(hashOf(2))).toBeUndefined();
    expect(cache.get(hashOf(3))).toBeUndefined();
    expect(cache.get(hashOf(1))).toEqual(addressOf(1));
    expect(cache.get(hashOf(5))).toEqual(addressOf(5));
    expect(cache.stats()).toMatchObject({ hits: 3, misses: 2 });
  });

  it("stays bounded under a flood of distinct hashes", () => {
    const cache = new SenderCache(100);
    for (let i = 0; i < 1000; i++) cache.set(keccak256(new Uint8Array([i & 0xff, i >> 8])), addressOf(1));
    expect(cache.stats().entries).toBe(100);
  });

  it("refuses a bound that is not a positive integer", () => {
    expect(() => new SenderCache(0)).toThrow(expect.objectContaining({ code: "CODEC_INVALID_FIELD" }));
    expect(() => new SenderCache(1.5)).toThrow(expect.objectContaining({ code: "CODEC_INVALID_FIELD" }));
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      expect(() => new SenderCache(bad)).toThrow(
        expect.objectContaining({
          code: "CODEC_INVALID_FIELD",
          message: `sender cache bound must be a positive integer, got ${bad}`,
          meta: { field: "entriesMax" },
        }),
      );
    }
    expect(new SenderCache().entriesMax).toBe(SENDER_CACHE_ENTRIES_DEFAULT);
    expect(SENDER_CACHE_ENTRIES_DEFAULT).toBe(100_000);
  });

  it("a bound of 1 keeps the last sender set", () => {
    const cache = new SenderCache(1);
    cache.set(hashOf(1), addressOf(1));
    expect(cache.get(hashOf(1))).toEqual(addressOf(1));
    cache.set(hashOf(2), addressOf(2));
    expect(cache.stats().entries).toBe(1);
    expect(cache.get(hashOf(1))).toBeUndefined();
    expect(cache.get(hashOf(2))).toEqual(addressOf(2));
  });

  it("setting a known hash again replaces its sender and makes it the newest", () => {
    const cache = new SenderCache(2);
    cache.set(hashOf(1), addressOf(1));
    cache.set(hashOf(2), addressOf(2));
    cache.set(hashOf(1), addressOf(9));
    expect(cache.stats().entries).toBe(2);
    cache.set(hashOf(3), addressOf(3)); // evicts 2, the oldest now
    expect(cache.get(hashOf(2))).toBeUndefined();
    expect(cache.get(hashOf(1))).toEqual(addressOf(9));
    expect(cache.get(hashOf(3))).toEqual(addressOf(3));
  });

  it("keeps a copy of the sender, and keys by the hash's own bytes (a view into a larger buffer works)", () => {
    const cache = new SenderCache();
    const sender = addressOf(5);
    const block = new Uint8Array(96);
    block.set(hashOf(1), 0);
    block.set(hashOf(2), 32);
    block.set(hashOf(3), 64);
    cache.set(block.subarray(32, 64), sender);
    sender.fill(0);
    expect(cache.get(hashOf(2))).toEqual(addressOf(5));
    expect(cache.get(hashOf(1))).toBeUndefined();
    expect(cache.get(hashOf(3))).toBeUndefined();
    expect(cache.get(block.subarray(32, 64))).toEqual(addressOf(5));
    expect(cache.stats()).toEqual({ entries: 1, hits: 2, misses: 2 });
  });

  for (const type of [0, 2, 0x7c] as const) {
    it(`type 0x${type.toString(16)}: decodeTransaction recovers a tx once, then answers from the cache`, () => {
      const cache = new SenderCache();
      const raw = signTx(spec(type), CHAIN_ID, KEY_A);
      const before = secp256k1RecoveryCount();
      const first = decodeTransaction(raw, { chainId: CHAIN_ID, senders: cache });
      expect(secp256k1RecoveryCount() - before).toBe(1);
      const again = decodeTransaction(new Uint8Array(raw), { chainId: CHAIN_ID, senders: cache });
      expect(secp256k1RecoveryCount() - before).toBe(1);
      expect(bytesToHex(again.sender)).toBe(bytesToHex(privateKeyToAddress(KEY_A)));
      expect(again).toEqual(first);
      expect(cache.stats()).toMatchObject({ entries: 1, hits: 1, misses: 1 });
    });
  }

  it("does not give a tx re-signed over the same payload the first signer's sender (the key is the full tx hash)", () => {
    const cache = new SenderCache();
    const byA = signTx(spec(0), CHAIN_ID, KEY_A);
    const byB = signTx(spec(0), CHAIN_ID, KEY_B);
    expect(decodeTransaction(byA, { chainId: CHAIN_ID, senders: cache }).sender).toEqual(
      privateKeyToAddress(KEY_A),
    );
    const before = secp256k1RecoveryCount();
    expect(decodeTransaction(byB, { chainId: CHAIN_ID, senders: cache }).sender).toEqual(
      privateKeyToAddress(KEY_B),
    );
    expect(secp256k1RecoveryCount() - before).toBe(1);
  });

  it("a cache hit still runs every other check (chain id)", () => {
    const cache = new SenderCache();
    const raw = signTx(spec(2), CHAIN_ID, KEY_A);
    decodeTransaction(raw, { chainId: CHAIN_ID, senders: cache });
    expect(() => decodeTransaction(raw, { chainId: CHAIN_ID + 1n, senders: cache })).toThrow(
      expect.objectContaining({ code: "CODEC_WRONG_CHAIN_ID" }),
    );
  });
});

describe("decodeBlock with a sender cache", () => {
  it("recovers only the txs this node has not recovered before", () => {
    const cache = new SenderCache();
    const raws = [0n, 1n, 2n].map((n) => signTx(spec(0, n), CHAIN_ID, KEY_A));
    const txs = raws.map((raw) => decodeTransaction(raw, { chainId: CHAIN_ID }));
    decodeTransaction(raws[0] as Uint8Array, { chainId: CHAIN_ID, senders: cache });
    const header: BlockHeader = {
      chainId: CHAIN_ID,
      groupId: "group0",
      number: 1,
      parentHash: new Uint8Array(32).fill(1),
      timestampMs: 1_700_000_000_000,
      txRoot: new Uint8Array(32).fill(2),
      receiptRoot: new Uint8Array(32).fill(3),
      stateRoot: new Uint8Array(32).fill(4),
      gasUsed: 0n,
      proposer: new Uint8Array(32).fill(5),
      view: 0,
    };
    const bytes = encodeBlock({ header, transactions: txs, certificate: null });
    const before = secp256k1RecoveryCount();
    const block = decodeBlock(bytes, { senders: cache });
    expect(secp256k1RecoveryCount() - before).toBe(2);
    expect(block.transactions.map((t) => bytesToHex(t.sender))).toEqual(txs.map((t) => bytesToHex(t.sender)));
  });
});
