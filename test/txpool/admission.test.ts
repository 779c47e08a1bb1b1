import { JsonRpcProvider, Network } from "ethers";
import {
  InsufficientFundsError,
  IntrinsicGasTooLowError,
  NonceTooHighError,
  NonceTooLowError,
  TipAboveFeeCapError,
} from "viem";
import { afterAll, describe, expect, it } from "vitest";
import { keccak256 } from "../../src/crypto/index.js";
import { type TxPool, TxPoolError, type TxPoolErrorCode } from "../../src/txpool/index.js";
import { TxType } from "../../src/types/index.js";
import { bytesEqual, bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { captureLogger } from "../fixtures/logger.js";
import {
  CHAIN_ID,
  makePool,
  RECIPIENT,
  signEth,
  signNative,
  signRawFeeMarket,
  TX_GAS_LIMIT,
  wallet,
} from "./helpers.js";

async function rejection(p: Promise<unknown>): Promise<TxPoolError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TxPoolError);
    return err as TxPoolError;
  }
  throw new Error("expected a rejection");
}

async function expectReject(pool: TxPool, raw: Uint8Array, code: TxPoolErrorCode, message: RegExp) {
  const err = await rejection(pool.add(raw));
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
  return err;
}

// ethers 6 maps eth_sendRawTransaction errors on their text: prove ours map to the intended codes.
const provider = new JsonRpcProvider("http://127.0.0.1:9", Network.from(Number(CHAIN_ID)), {
  staticNetwork: true,
});
afterAll(() => provider.destroy());
function ethersCode(message: string): string {
  const payload = { method: "eth_sendRawTransaction", params: ["0x"], id: 1, jsonrpc: "2.0" as const };
  const err = provider.getRpcError(payload, { id: 1, error: { code: -32000, message } }) as unknown as {
    code: string;
  };
  return err.code;
}

describe("TxPool admission: accepted transactions", () => {
  it("accepts types 0, 1, 2 and native with hash = keccak256(raw) and the recovered sender", async () => {
    const { pool, chain } = makePool();
    const w = wallet(0);
    const raws = [
      await signEth(w, { type: 0, nonce: 0 }),
      await signEth(w, { type: 1, nonce: 1, accessList: [] }),
      await signEth(w, { type: 2, nonce: 2 }),
      signNative(w, chain.height()),
    ];
    const types = [];
    for (const raw of raws) {
      const tx = await pool.add(raw);
      expect(bytesEqual(tx.hash, keccak256(raw))).toBe(true);
      expect(bytesToHex(tx.sender)).toBe(w.address.toLowerCase());
      expect(pool.get(tx.hash)).toBe(tx);
      types.push(tx.type);
    }
    expect(types).toEqual([TxType.Legacy, TxType.AccessList, TxType.FeeMarket, TxType.Native]);
    expect(pool.size()).toBe(4);
    expect(pool.stats().bytes).toBe(raws.reduce((n, r) => n + r.length, 0));
    expect(await pool.pendingNonce(hexToBytes(w.address))).toBe(3n);
  });

  it("emits onAdded once per add with origin local, and unsubscribes", async () => {
    const { pool } = makePool();
    const seen: string[] = [];
    const off = pool.onAdded((txs, origin) => seen.push(`${txs.length}:${origin}`));
    await pool.add(await signEth(wallet(0), { nonce: 0 }));
    off();
    await pool.add(await signEth(wallet(0), { nonce: 1 }));
    expect(seen).toEqual(["1:local"]);
  });

  it("a listener that throws is logged; the add and the other listeners go on", async () => {
    const logger = captureLogger();
    const { pool } = makePool({}, { logger });
    const seen: number[] = [];
    pool.onAdded(() => {
      throw new Error("listener bug");
    });
    pool.onAdded((txs) => seen.push(txs.length));
    const tx = await pool.add(await signEth(wallet(0)));
    expect(pool.get(tx.hash)).toBe(tx);
    expect(seen).toEqual([1]);
    expect(logger.find("txpool onAdded listener threw").map((e) => [e.level, e.obj])).toEqual([
      ["error", { err: "listener bug" }],
    ]);
  });
});

describe("TxPool logs", () => {
  it("a replaced tx, an eviction, expired txs and a refusal, each with what identifies it", async () => {
    const logger = captureLogger();
    const { pool, clock } = makePool({ countMax: 2, ttlMs: 1000 }, { logger });
    const a = wallet(0);
    const A0 = await pool.add(await signEth(a, { nonce: 0, gasPrice: 10n }));
    const bumped = await pool.add(await signEth(a, { nonce: 0, gasPrice: 20n }));
    const A1 = await pool.add(await signEth(a, { nonce: 1 }));
    const hex = (h: Uint8Array) => bytesToHex(h);
    expect(logger.find("tx replaced").map((e) => e.obj)).toEqual([
      { hash: hex(A0.hash), by: hex(bumped.hash) },
    ]);
    await pool.add(await signEth(wallet(1))); // full: a's newest (A1) goes
    expect(
      logger.find("txpool full: evicted the newest tx of the sender holding the most").map((e) => e.obj),
    ).toEqual([{ evicted: 1, sender: a.address.toLowerCase(), hash: hex(A1.hash) }]);
    expect(pool.pruneExpired()).toBe(0);
    expect(logger.find("expired txs dropped")).toEqual([]);
    clock.ms += 1000;
    expect(pool.pruneExpired()).toBe(2);
    expect(logger.find("expired txs dropped").map((e) => e.obj)).toEqual([{ dropped: 2 }]);
    await rejection(pool.add(new Uint8Array([1, 2, 3])));
    expect(logger.find("tx rejected").map((e) => [e.level, e.obj.code, e.obj.origin])).toEqual([
      ["trace", "TXPOOL_INVALID", "local"],
    ]);
  });
});

describe("TxPool admission: every rejection with its code and geth wording", () => {
  it("oversized raw bytes are refused before decoding", async () => {
    const { pool } = makePool({ txBytesMax: 1024 });
    const err = await expectReject(
      pool,
      new Uint8Array(1025).fill(0xff),
      "TXPOOL_OVERSIZED",
      /^oversized data/,
    );
    expect(err.meta).toMatchObject({ size: 1025 });
    const raw = await signEth(wallet(0));
    await makePool({ txBytesMax: raw.length }).pool.add(raw); // exactly at the bound: admitted
  });

  it("a tx the permission check refuses is TXPOOL_NOT_PERMITTED with its reason", async () => {
    const refusedSender = wallet(1).address.toLowerCase();
    const { pool } = makePool(
      {},
      { permissionCheck: async (tx) => (bytesToHex(tx.sender) === refusedSender ? "not on the list" : null) },
    );
    await pool.add(await signEth(wallet(0)));
    await expectReject(pool, await signEth(wallet(1)), "TXPOOL_NOT_PERMITTED", /^not on the list$/);
    expect(pool.size()).toBe(1);
  });

  it("the pool's own refusals come before the permission check and the state reads", async () => {
    let checks = 0;
    const { pool, state } = makePool(
      { senderCountMax: 1 },
      {
        permissionCheck: async () => {
          checks++;
          return null;
        },
      },
    );
    const w = wallet(0);
    const A0 = await pool.add(await signEth(w, { nonce: 0, gasPrice: 10n }));
    const N = await pool.add(signNative(wallet(1), 10));
    expect([checks, state.reads]).toEqual([2, 1]);
    await expectReject(pool, await signEth(w, { nonce: 1 }), "TXPOOL_SENDER_LIMIT", /account limit/);
    await expectReject(
      pool,
      await signEth(w, { nonce: 0, gasPrice: 10n, gasLimit: 30_000n }),
      "TXPOOL_UNDERPRICED",
      /underpriced/,
    );
    await expectReject(pool, signNative(wallet(1), 10), "TXPOOL_SENDER_LIMIT", /account limit/);
    await expectReject(
      pool,
      signNative(wallet(2), 10, { nonce: (N as { nonce: Uint8Array }).nonce }),
      "TXPOOL_NONCE_USED",
      /nonce/,
    );
    expect([checks, state.reads]).toEqual([2, 1]);
    expect(pool.get(A0.hash)).toBe(A0);
  });

  it("a failing state read is passed on, and not counted as a refusal", async () => {
    const { pool, state } = makePool();
    state.getAccountNonce = async () => {
      throw new Error("disk on fire");
    };
    await expect(pool.add(await signEth(wallet(0)))).rejects.toThrow(/^disk on fire$/);
    expect(pool.stats().rejected).toEqual({ local: {}, peer: {} });
  });

  it("undecodable bytes, a bad signature and another chain id are TXPOOL_INVALID wrapping the CodecError", async () => {
    const { pool } = makePool();
    const garbage = await expectReject(pool, new Uint8Array([0x02, 0xc0, 1, 2]), "TXPOOL_INVALID", /invalid/);
    expect((garbage.cause as { code?: string }).code).toMatch(/^CODEC_/);

    const raw = await signEth(wallet(0));
    const tampered = raw.slice();
    tampered.fill(0xff, tampered.length - 32); // s >= secp256k1 n: no valid signature
    await expectReject(pool, tampered, "TXPOOL_INVALID", /invalid/);

    const otherChain = await signEth(wallet(0), { chainId: 1n });
    const err = await expectReject(pool, otherChain, "TXPOOL_INVALID", /invalid sender/);
    expect((err.cause as { code?: string }).code).toBe("CODEC_WRONG_CHAIN_ID");
    const nativeOther = signNative(wallet(0), 10, { chainId: 1n });
    await expectReject(pool, nativeOther, "TXPOOL_INVALID", /invalid/);
    expect(pool.size()).toBe(0);
  });

  it("gas limit above tx_gas_limit or below intrinsic gas", async () => {
    const { pool } = makePool();
    const w = wallet(0);
    const tooBig = await signEth(w, { gasLimit: TX_GAS_LIMIT + 1n });
    await expectReject(pool, tooBig, "TXPOOL_GAS_LIMIT", /^exceeds block gas limit/);
    const tooSmall = await signEth(w, { gasLimit: 20_999n });
    const err = await expectReject(pool, tooSmall, "TXPOOL_GAS_LIMIT", /^intrinsic gas too low/);
    expect(IntrinsicGasTooLowError.nodeMessage.test(err.message)).toBe(true);
    // data costs 16 per non-zero byte: 21000 is not enough with 1 byte of data
    const withData = await signEth(w, { data: "0x01" });
    await expectReject(pool, withData, "TXPOOL_GAS_LIMIT", /minimum needed 21016/);
    // contract creation: 53000 + initcode words
    const create = await signEth(w, { to: null, data: "0x6000", gasLimit: 53_000n });
    await expectReject(pool, create, "TXPOOL_GAS_LIMIT", /intrinsic gas too low/);
    const native = signNative(w, 10, { gasLimit: 1000n });
    await expectReject(pool, native, "TXPOOL_GAS_LIMIT", /intrinsic gas too low/);
  });

  it("gas price below the (dynamic) minimum; tip above fee cap", async () => {
    let min = 5n;
    const { pool } = makePool({ minGasPrice: () => min });
    const w = wallet(0);
    await expectReject(
      pool,
      await signEth(w, { gasPrice: 4n }),
      "TXPOOL_UNDERPRICED",
      /^transaction underpriced/,
    );
    await expectReject(
      pool,
      await signEth(w, { type: 2, maxFeePerGas: 100n, maxPriorityFeePerGas: 4n }),
      "TXPOOL_UNDERPRICED",
      /^transaction underpriced/,
    );
    await expectReject(pool, signNative(w, 10, { gasPrice: 1n }), "TXPOOL_UNDERPRICED", /underpriced/);
    min = 0n;
    await pool.add(await signEth(w, { gasPrice: 4n }));
    await pool.add(signRawFeeMarket(wallet(2), 1n, 2n)); // the hand-built encoding is valid…
    const err = await rejection(pool.add(signRawFeeMarket(wallet(1), 2n, 1n))); // …tip above cap is not
    expect(err.code).toBe("TXPOOL_INVALID");
    expect(TipAboveFeeCapError.nodeMessage.test(err.message)).toBe(true);
  });

  it("already known", async () => {
    const { pool } = makePool();
    const raw = await signEth(wallet(0));
    await pool.add(raw);
    await expectReject(pool, raw, "TXPOOL_ALREADY_KNOWN", /^already known$/);
    const native = signNative(wallet(0), 10);
    await pool.add(native);
    await expectReject(pool, native, "TXPOOL_ALREADY_KNOWN", /^already known$/);
  });

  it("nonce too low against the account nonce; too high: more than nonceGapMax above the next free nonce", async () => {
    const { pool, state } = makePool({ nonceGapMax: 64 });
    const w = wallet(0);
    state.setNonce(w.address, 5n);
    const low = await expectReject(
      pool,
      await signEth(w, { nonce: 4 }),
      "TXPOOL_NONCE_TOO_LOW",
      /^nonce too low/,
    );
    expect(ethersCode(low.message)).toBe("NONCE_EXPIRED");
    expect(NonceTooLowError.nodeMessage.test(low.message)).toBe(true);
    const high = await expectReject(
      pool,
      await signEth(w, { nonce: 5 + 65 }),
      "TXPOOL_NONCE_TOO_HIGH",
      /^nonce too high: next nonce 5, tx nonce 70, gap limit 64$/,
    );
    expect(NonceTooHighError.nodeMessage.test(high.message)).toBe(true);
    expect(ethersCode(high.message)).not.toBe("NONCE_EXPIRED");
    await pool.add(await signEth(w, { nonce: 5 + 64 })); // the last nonce inside the gap
    await pool.add(await signEth(w, { nonce: 5 }));
    // the next free nonce is now 6: the gap moved up with it
    await pool.add(await signEth(w, { nonce: 6 + 64 }));
    await expectReject(pool, await signEth(w, { nonce: 6 + 65 }), "TXPOOL_NONCE_TOO_HIGH", /gap limit 64/);
    expect(pool.size()).toBe(3);
  });

  it("same (sender, nonce): replacement underpriced unless the price is bumped 10%", async () => {
    const { pool } = makePool();
    const w = wallet(0);
    const first = await pool.add(await signEth(w, { gasPrice: 100n }));
    const same = await signEth(w, { gasPrice: 109n });
    const err = await expectReject(pool, same, "TXPOOL_UNDERPRICED", /^replacement transaction underpriced$/);
    expect(ethersCode(err.message)).toBe("REPLACEMENT_UNDERPRICED");
    const bumped = await pool.add(await signEth(w, { gasPrice: 110n }));
    expect(pool.get(first.hash)).toBeUndefined();
    expect(pool.get(bumped.hash)).toBe(bumped);
    expect(pool.size()).toBe(1);
    // a tx already sealed into a proposal cannot be replaced
    expect(pool.seal(10)).toHaveLength(1);
    await expectReject(pool, await signEth(w, { gasPrice: 1000n }), "TXPOOL_UNDERPRICED", /replacement/);
  });

  it("insufficient funds for value (fees not charged by default) and for gas * price when charged", async () => {
    const { pool, state } = makePool();
    const w = wallet(0);
    const err = await expectReject(
      pool,
      await signEth(w, { value: 1n }),
      "TXPOOL_INSUFFICIENT_FUNDS",
      /^insufficient funds for gas \* price \+ value/,
    );
    expect(ethersCode(err.message)).toBe("INSUFFICIENT_FUNDS");
    expect(InsufficientFundsError.nodeMessage.test(err.message)).toBe(true);
    await expectReject(
      pool,
      signNative(w, 10, { value: 7n }),
      "TXPOOL_INSUFFICIENT_FUNDS",
      /insufficient funds/,
    );
    state.setBalance(w.address, 7n);
    await pool.add(await signEth(w, { value: 7n, gasPrice: 1n })); // gas not charged: value suffices

    const charged = makePool({ feesCharged: true });
    charged.state.setBalance(w.address, 21_000n);
    await expectReject(
      charged.pool,
      await signEth(w, { value: 1n, gasPrice: 1n }),
      "TXPOOL_INSUFFICIENT_FUNDS",
      /insufficient funds/,
    );
    await charged.pool.add(await signEth(w, { value: 0n, gasPrice: 1n }));
  });

  it("native: wrong group, block limit expired / too far ahead", async () => {
    const { pool, chain } = makePool();
    const w = wallet(0);
    chain.currentHeight = 100;
    await expectReject(pool, signNative(w, 100, { groupId: "group1" }), "TXPOOL_WRONG_GROUP", /group/);
    await expectReject(
      pool,
      signNative(w, 100, { blockLimit: 100 }),
      "TXPOOL_BLOCK_LIMIT",
      /^block limit expired/,
    );
    await expectReject(
      pool,
      signNative(w, 100, { blockLimit: 1101 }),
      "TXPOOL_BLOCK_LIMIT",
      /^block limit too far ahead/,
    );
    await pool.add(signNative(w, 100, { blockLimit: 101 }));
    await pool.add(signNative(w, 100, { blockLimit: 1100 }));
    expect(pool.size()).toBe(2);
  });

  it("native: nonce already used in the pool or in the last blocks of the ledger", async () => {
    const { pool, chain } = makePool();
    const nonce = hexToBytes("0x0102030405");
    await pool.add(signNative(wallet(0), 10, { nonce }));
    // a different tx (other sender) with the same nonce
    await expectReject(
      pool,
      signNative(wallet(1), 10, { nonce }),
      "TXPOOL_NONCE_USED",
      /^nonce already used/,
    );
    const used = hexToBytes("0xaabb");
    chain.usedNonces.add(bytesToHex(used));
    await expectReject(
      pool,
      signNative(wallet(0), 10, { nonce: used }),
      "TXPOOL_NONCE_USED",
      /nonce already used/,
    );
  });

  it("pool full at bytesMax with no larger holder: txpool is full", async () => {
    const one = await signEth(wallet(0));
    const byBytes = makePool({ bytesMax: one.length * 2 + 10, txBytesMax: one.length + 10 });
    await byBytes.pool.add(one);
    await byBytes.pool.add(await signEth(wallet(1)));
    await expectReject(byBytes.pool, await signEth(wallet(2)), "TXPOOL_FULL", /^txpool is full$/);
    expect(byBytes.pool.stats().bytes).toBeLessThanOrEqual(one.length * 2 + 10);
  });

  it("counts rejections by origin (RPC: local, gossip: peer) and code in stats()", async () => {
    const { pool } = makePool();
    const raw = await signEth(wallet(0));
    await pool.add(raw);
    await rejection(pool.add(raw));
    await rejection(pool.add(new Uint8Array([1, 2, 3])));
    const [again, bad, oversized] = await pool.addBatch([raw, new Uint8Array([4]), new Uint8Array(200_000)]);
    expect([again!.ok, bad!.ok, oversized!.ok]).toEqual([false, false, false]);
    const s = pool.stats();
    expect(s.rejected).toEqual({
      local: { TXPOOL_ALREADY_KNOWN: 1, TXPOOL_INVALID: 1 },
      peer: { TXPOOL_ALREADY_KNOWN: 1, TXPOOL_INVALID: 1, TXPOOL_OVERSIZED: 1 },
    });
    expect(s.count).toBe(1);
  });

  it("rejects bad options naming the field", () => {
    expect(() => makePool({ countMax: 0 })).toThrow(/txpool.countMax/);
  });
});

describe("TxPool.addBatch", () => {
  it("returns one result per raw tx, never throws, and emits one onAdded event with origin peer", async () => {
    const { pool } = makePool();
    const events: { n: number; origin: string }[] = [];
    pool.onAdded((txs, origin) => events.push({ n: txs.length, origin }));
    const good = await signEth(wallet(0));
    const results = await pool.addBatch([
      good,
      new Uint8Array([9, 9, 9]),
      good,
      signNative(wallet(1), 10),
      await signEth(wallet(2), { to: RECIPIENT, value: 5n }),
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, false, false, true, false]);
    const codes = results.map((r) => (r.ok ? "ok" : (r.error as TxPoolError).code));
    expect(codes).toEqual([
      "ok",
      "TXPOOL_INVALID",
      "TXPOOL_ALREADY_KNOWN",
      "ok",
      "TXPOOL_INSUFFICIENT_FUNDS",
    ]);
    expect(events).toEqual([{ n: 2, origin: "peer" }]);
    await pool.addBatch([good, new Uint8Array([9])]); // nothing added: no event
    expect(events).toHaveLength(1);
  });
});
