import { describe, expect, it } from "vitest";
import {
  CodecError,
  codecLimits,
  decodeTransaction,
  decodeTransactionAsync,
  SenderCache,
  type SenderRecoverer,
} from "../../src/codec/index.js";
import {
  keccak256,
  privateKeyToAddress,
  recoverAddress,
  secp256k1RecoveryCount,
} from "../../src/crypto/index.js";
import type { Transaction } from "../../src/types/index.js";
import { hexToBytes } from "../../src/util/hex.js";
import { refusal } from "./refusal.js";
import { signTx, type TxSpec } from "./txFactory.js";

// decodeTransaction, the entry point for raw bytes from peers, clients and disk: its own refusals, the size bound,
// the sender cache's paths, and the memory layout of what it returns (one buffer of its own per tx).

const CHAIN_ID = 20200n;
const KEY = hexToBytes("0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d");

function spec(type: TxSpec["type"], to: Uint8Array | null = new Uint8Array(20).fill(0xaa)): TxSpec {
  return {
    type,
    nonce: 1n,
    to,
    value: 2n,
    input: Uint8Array.of(1, 2, 3),
    gasLimit: 50_000n,
    gasPrice: 1n,
    accessList: [],
    nativeNonce: Uint8Array.of(4, 5),
    blockLimit: 10,
    groupId: "group0",
  };
}

describe("decodeTransaction", () => {
  it("refuses what is not bytes, empty input and input over txBytesMax", () => {
    for (const notBytes of ["0x7c", [0x7c], null]) {
      expect(refusal(() => decodeTransaction(notBytes as never))).toMatchObject({
        code: "CODEC_MALFORMED",
        message: "Transaction: input is not bytes",
        meta: { type: "Transaction", field: "" },
      });
    }
    expect(refusal(() => decodeTransaction(new Uint8Array(0)))).toMatchObject({
      code: "CODEC_TRUNCATED",
      message: "Transaction: empty input",
    });
    expect(refusal(() => decodeTransaction(new Uint8Array(codecLimits.txBytesMax + 1)))).toMatchObject({
      code: "CODEC_TOO_LARGE",
      message: "Transaction: 131073 bytes exceeds 131072",
      meta: { type: "Transaction", field: "" },
    });
    // Exactly txBytesMax bytes are not too large (these are not a transaction either).
    expect(refusal(() => decodeTransaction(new Uint8Array(codecLimits.txBytesMax))).code).toBe(
      "CODEC_UNSUPPORTED_TYPE",
    );
  });

  it("returns the byte fields as views of one buffer of its own, sharing no memory with the input", () => {
    for (const type of [0, 1, 2, 0x7c] as const) {
      const raw = signTx(spec(type), CHAIN_ID, KEY);
      const input = Buffer.from(raw); // a Buffer, as LevelDB and fastify give them
      const tx = decodeTransaction(input, { chainId: CHAIN_ID });
      const views: Uint8Array[] = [tx.raw, tx.hash, tx.sender, tx.to!, tx.input];
      if (tx.type === 0x7c) views.push(tx.nonce);
      for (const view of views) {
        expect(view.constructor).toBe(Uint8Array);
        expect(view.buffer).toBe(tx.raw.buffer);
      }
      const total = views.reduce((sum, v) => sum + v.length, 0);
      expect(tx.raw.buffer.byteLength).toBe(total);
      expect(tx.raw).toEqual(raw);
      expect(tx.hash).toEqual(keccak256(raw));
      expect(tx.sender).toEqual(privateKeyToAddress(KEY));
      expect(tx.to).toEqual(new Uint8Array(20).fill(0xaa));
      expect(tx.input).toEqual(Uint8Array.of(1, 2, 3));
      if (tx.type === 0x7c) expect(tx.nonce).toEqual(Uint8Array.of(4, 5));
      input.fill(0);
      expect(tx.raw).toEqual(raw);
      expect(tx.input).toEqual(Uint8Array.of(1, 2, 3));
    }
  });

  it("keeps to = null for a contract creation", () => {
    for (const type of [0, 2, 0x7c] as const) {
      const tx: Transaction = decodeTransaction(signTx(spec(type, null), CHAIN_ID, KEY));
      expect(tx.to).toBeNull();
      expect(tx.raw.buffer.byteLength).toBe(tx.raw.length + 32 + 20 + 3 + (tx.type === 0x7c ? 2 : 0));
    }
  });
});

describe("decodeTransaction with a sender cache", () => {
  it("a trusted sender bypasses the cache: no lookup, no entry", () => {
    const cache = new SenderCache();
    const raw = signTx(spec(2), CHAIN_ID, KEY);
    const sender = new Uint8Array(20).fill(7);
    expect(decodeTransaction(raw, { sender, senders: cache }).sender).toEqual(sender);
    expect(cache.stats()).toEqual({ entries: 0, hits: 0, misses: 0 });
  });

  it("the cache key is the given hash when there is one, keccak256(raw) otherwise", () => {
    const raw = signTx(spec(0x7c), CHAIN_ID, KEY);
    const given = new Uint8Array(32).fill(0x42);
    const cache = new SenderCache();
    const tx = decodeTransaction(raw, { senders: cache, hash: given });
    expect(tx.hash).toEqual(given);
    expect(cache.get(given)).toEqual(privateKeyToAddress(KEY));
    const other = new SenderCache();
    decodeTransaction(raw, { senders: other });
    expect(other.get(keccak256(raw))).toEqual(privateKeyToAddress(KEY));
  });

  it("a hit answers with the cached sender without recovering; the hash stays the tx's", () => {
    const raw = signTx(spec(1), CHAIN_ID, KEY);
    const cache = new SenderCache();
    const planted = new Uint8Array(20).fill(0x99);
    cache.set(keccak256(raw), planted); // what this node recovered earlier (here: planted, to see it is used)
    const before = secp256k1RecoveryCount();
    const tx = decodeTransaction(raw, { senders: cache });
    expect(secp256k1RecoveryCount()).toBe(before);
    expect(tx.sender).toEqual(planted);
    expect(tx.hash).toEqual(keccak256(raw));
    expect(cache.stats()).toEqual({ entries: 1, hits: 1, misses: 0 });
  });

  it("a refused tx is not cached", () => {
    const raw = signTx(spec(2), CHAIN_ID, KEY);
    const cache = new SenderCache();
    expect(refusal(() => decodeTransaction(raw, { chainId: 1n, senders: cache })).code).toBe(
      "CODEC_WRONG_CHAIN_ID",
    );
    expect(cache.stats()).toEqual({ entries: 0, hits: 0, misses: 1 });
  });
});

/** A SenderRecoverer that recovers on this thread (as the worker does) and records what it was asked. */
function recordingRecoverer(fail = false): SenderRecoverer & { asked: Uint8Array[] } {
  const asked: Uint8Array[] = [];
  return {
    asked,
    recoverAddress: async (msgHash, signature, recovery) => {
      asked.push(msgHash);
      if (fail) throw new Error("no key");
      return recoverAddress(msgHash, signature, recovery);
    },
  };
}

async function asyncRefusal(promise: Promise<unknown>): Promise<CodecError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CodecError);
  return err as CodecError;
}

describe("decodeTransactionAsync (the sender recovered by a SenderRecoverer: a worker thread in the pool)", () => {
  it.each([0, 1, 2, 0x7c] as const)(
    "type %s: the same tx as decodeTransaction, one recovery asked",
    async (type) => {
      const raw = signTx(spec(type), CHAIN_ID, KEY);
      const recoverer = recordingRecoverer();
      const tx = await decodeTransactionAsync(raw, { chainId: CHAIN_ID }, recoverer);
      expect(tx).toEqual(decodeTransaction(raw, { chainId: CHAIN_ID }));
      expect(tx.sender).toEqual(privateKeyToAddress(KEY));
      expect(recoverer.asked).toHaveLength(1);
      // One buffer of its own, as decodeTransaction returns it.
      expect(tx.sender.buffer).toBe(tx.raw.buffer);
    },
  );

  it("records the recovered sender in the cache; a hit or a trusted sender asks the recoverer nothing", async () => {
    const cache = new SenderCache();
    const raw = signTx(spec(2), CHAIN_ID, KEY);
    const recoverer = recordingRecoverer();
    await decodeTransactionAsync(raw, { senders: cache }, recoverer);
    expect(cache.stats()).toMatchObject({ entries: 1, misses: 1 });
    const again = await decodeTransactionAsync(raw, { senders: cache }, recoverer);
    expect(again.sender).toEqual(privateKeyToAddress(KEY));
    const trusted = new Uint8Array(20).fill(3);
    expect((await decodeTransactionAsync(raw, { sender: trusted }, recoverer)).sender).toEqual(trusted);
    expect(recoverer.asked).toHaveLength(1);
    expect(cache.stats()).toMatchObject({ entries: 1, hits: 1 });
    // A hit recovers nothing on this thread either, and still runs every other check.
    const before = secp256k1RecoveryCount();
    await decodeTransactionAsync(raw, { senders: cache }, recoverer);
    expect(secp256k1RecoveryCount()).toBe(before);
    const wrongChain = await asyncRefusal(
      decodeTransactionAsync(raw, { senders: cache, chainId: 1n }, recoverer),
    );
    expect(wrongChain.code).toBe("CODEC_WRONG_CHAIN_ID");
  });

  it("a failed recovery is CODEC_INVALID_SIGNATURE naming the tx type, and nothing is cached", async () => {
    const cache = new SenderCache();
    for (const [type, name] of [
      [0, "LegacyTx"],
      [2, "FeeMarketTx"],
      [0x7c, "NativeTx"],
    ] as const) {
      const raw = signTx(spec(type), CHAIN_ID, KEY);
      const err = await asyncRefusal(
        decodeTransactionAsync(raw, { senders: cache }, recordingRecoverer(true)),
      );
      expect({ code: err.code, type: err.meta.type, field: err.meta.field }).toEqual({
        code: "CODEC_INVALID_SIGNATURE",
        type: name,
        field: "signature",
      });
      expect(err.message).toMatch(/sender could not be recovered/);
    }
    expect(cache.stats().entries).toBe(0);
  });

  it("refuses what decodeTransaction refuses before asking for a recovery", async () => {
    const recoverer = recordingRecoverer();
    const raw = signTx(spec(1), CHAIN_ID, KEY);
    const wrongChain = await asyncRefusal(decodeTransactionAsync(raw, { chainId: 1n }, recoverer));
    expect(wrongChain.code).toBe("CODEC_WRONG_CHAIN_ID");
    const empty = await asyncRefusal(decodeTransactionAsync(new Uint8Array(0), {}, recoverer));
    expect(empty.code).toBe("CODEC_TRUNCATED");
    expect(recoverer.asked).toHaveLength(0);
  });
});
