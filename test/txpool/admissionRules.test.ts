import { describe, expect, it } from "vitest";
import {
  checkBalance,
  checkBlockLimit,
  checkSenderShare,
  invalidTx,
  txCost,
  validateStatic,
} from "../../src/txpool/admission.js";
import type { TxPoolDeps } from "../../src/txpool/interface.js";
import { resolveTxPoolOptions } from "../../src/txpool/options.js";
import type { Entry, SenderQueue } from "../../src/txpool/pending.js";
import { type Transaction, TxType } from "../../src/types/index.js";
import { ConsortError } from "../../src/util/errors.js";

// The admission rules one by one, on plain tx values: each bound is checked at the bound (accepted) and one past
// it (refused with its code), so a loosened or tightened comparison fails here.

const CHAIN_ID = 20200n;
const opts = resolveTxPoolOptions({ chainId: CHAIN_ID, groupId: "group0" });
const HEIGHT = 10;
const deps = { chain: { height: () => HEIGHT }, txGasLimit: () => 100_000n } as unknown as TxPoolDeps;

function tx(over: Record<string, unknown> = {}): Transaction {
  return {
    type: TxType.Legacy,
    raw: new Uint8Array(100),
    chainId: CHAIN_ID,
    to: new Uint8Array(20),
    input: new Uint8Array(0),
    gasLimit: 21_000n,
    gasPrice: 0n,
    value: 0n,
    accessList: [],
    sender: new Uint8Array(20).fill(1),
    ...over,
  } as unknown as Transaction;
}
const native = (over: Record<string, unknown> = {}) =>
  tx({ type: TxType.Native, groupId: "group0", blockLimit: HEIGHT + 1, ...over });

function code(f: () => void): string | null {
  try {
    f();
    return null;
  } catch (err) {
    return (err as ConsortError).code;
  }
}
const stat = (t: Transaction, o = opts) => code(() => validateStatic(t, o, deps));

describe("validateStatic", () => {
  it("raw size: at txBytesMax accepted, one byte more oversized", () => {
    expect(stat(tx({ raw: new Uint8Array(opts.txBytesMax) }))).toBeNull();
    expect(stat(tx({ raw: new Uint8Array(opts.txBytesMax + 1) }))).toBe("TXPOOL_OVERSIZED");
  });

  it("chain id and group id", () => {
    expect(stat(tx({ chainId: CHAIN_ID + 1n }))).toBe("TXPOOL_INVALID");
    expect(stat(native())).toBeNull();
    expect(stat(native({ groupId: "group1" }))).toBe("TXPOOL_WRONG_GROUP");
    // an Ethereum tx carries no group: not checked
    expect(stat(tx({ groupId: "other" }))).toBeNull();
  });

  it("native block limit window is checked, Ethereum txs have none", () => {
    expect(stat(native({ blockLimit: HEIGHT }))).toBe("TXPOOL_BLOCK_LIMIT");
    expect(stat(tx({ blockLimit: HEIGHT }))).toBeNull();
  });

  it("initcode: a create at INITCODE_BYTES_MAX passes the size rule, one byte more is oversized; a call is not bounded by it", () => {
    const big = (n: number) => new Uint8Array(n).fill(1);
    const gas = 10_000_000n;
    const o = resolveTxPoolOptions({ chainId: CHAIN_ID, groupId: "group0" });
    const roomy = { ...deps, txGasLimit: () => gas } as TxPoolDeps;
    const s = (t: Transaction) => code(() => validateStatic(t, o, roomy));
    expect(s(tx({ to: null, input: big(49_152), gasLimit: gas }))).toBeNull();
    expect(s(tx({ to: null, input: big(49_153), gasLimit: gas }))).toBe("TXPOOL_OVERSIZED");
    expect(s(tx({ input: big(49_153), gasLimit: gas }))).toBeNull();
  });

  it("gas limit: at the tx gas limit accepted, above refused; below intrinsic refused, at it accepted", () => {
    expect(stat(tx({ gasLimit: 100_000n }))).toBeNull();
    expect(stat(tx({ gasLimit: 100_001n }))).toBe("TXPOOL_GAS_LIMIT");
    expect(stat(tx({ gasLimit: 20_999n }))).toBe("TXPOOL_GAS_LIMIT");
    expect(stat(tx({ gasLimit: 21_000n }))).toBeNull();
  });

  it("fee market: tip above fee cap refused, equal accepted; legacy txs have no tip", () => {
    const fm = (tip: bigint, cap: bigint) =>
      tx({ type: TxType.FeeMarket, maxPriorityFeePerGas: tip, maxFeePerGas: cap });
    expect(stat(fm(2n, 1n))).toBe("TXPOOL_INVALID");
    expect(stat(fm(1n, 1n))).toBeNull();
    expect(stat(tx({ maxPriorityFeePerGas: 2n, maxFeePerGas: 1n }))).toBeNull();
  });

  it("minimum gas price, as a value or a function", () => {
    const o = resolveTxPoolOptions({ chainId: CHAIN_ID, groupId: "group0", minGasPrice: 5n });
    expect(stat(tx({ gasPrice: 4n }), o)).toBe("TXPOOL_UNDERPRICED");
    expect(stat(tx({ gasPrice: 5n }), o)).toBeNull();
    const f = resolveTxPoolOptions({ chainId: CHAIN_ID, groupId: "group0", minGasPrice: () => 7n });
    expect(stat(tx({ gasPrice: 6n }), f)).toBe("TXPOOL_UNDERPRICED");
    expect(stat(tx({ gasPrice: 7n }), f)).toBeNull();
  });
});

describe("checkBlockLimit", () => {
  const nat = (blockLimit: number) => native({ blockLimit }) as never;
  it("accepts (height, height + window], refuses outside", () => {
    expect(code(() => checkBlockLimit(nat(10), 10, 5))).toBe("TXPOOL_BLOCK_LIMIT");
    expect(code(() => checkBlockLimit(nat(11), 10, 5))).toBeNull();
    expect(code(() => checkBlockLimit(nat(15), 10, 5))).toBeNull();
    expect(code(() => checkBlockLimit(nat(16), 10, 5))).toBe("TXPOOL_BLOCK_LIMIT");
  });
});

describe("txCost and checkBalance", () => {
  const charged = resolveTxPoolOptions({ chainId: CHAIN_ID, groupId: "group0", feesCharged: true });
  it("value only when fees are free; value + gasLimit × fee cap when charged", () => {
    expect(txCost(tx({ value: 5n, gasPrice: 3n }), opts)).toBe(5n);
    expect(txCost(tx({ value: 5n, gasPrice: 3n }), charged)).toBe(5n + 21_000n * 3n);
    const fm = tx({ type: TxType.FeeMarket, value: 1n, maxFeePerGas: 4n, maxPriorityFeePerGas: 1n });
    expect(txCost(fm, charged)).toBe(1n + 21_000n * 4n);
  });
  it("balance at the cost passes, one below fails, a free tx needs no balance", () => {
    expect(code(() => checkBalance(tx({ value: 5n }), { balance: 5n }, opts))).toBeNull();
    expect(code(() => checkBalance(tx({ value: 5n }), { balance: 4n }, opts))).toBe(
      "TXPOOL_INSUFFICIENT_FUNDS",
    );
    expect(code(() => checkBalance(tx({ value: 5n }), {}, opts))).toBe("TXPOOL_INSUFFICIENT_FUNDS");
    expect(code(() => checkBalance(tx(), {}, opts))).toBeNull();
  });
});

describe("checkSenderShare", () => {
  const small = resolveTxPoolOptions({
    chainId: CHAIN_ID,
    groupId: "group0",
    senderCountMax: 3,
    senderBytesMax: 1000,
    nativeSenderCountMax: 2,
  });
  const queue = (count: number, bytes: number, nativeCount = 0): SenderQueue =>
    ({
      count,
      bytes,
      native: new Map(Array.from({ length: nativeCount }, (_, i) => [String(i), {}])),
    }) as unknown as SenderQueue;
  const replacing = (size: number) => ({ size }) as Entry;
  const share = (t: Transaction, q: SenderQueue | undefined, r?: Entry) =>
    code(() => checkSenderShare(small, t, q, r));

  it("count: the add that reaches senderCountMax passes, the next does not; a replacement frees its slot", () => {
    expect(share(tx(), undefined)).toBeNull();
    expect(share(tx(), queue(2, 0))).toBeNull();
    expect(share(tx(), queue(3, 0))).toBe("TXPOOL_SENDER_LIMIT");
    expect(share(tx(), queue(3, 0), replacing(100))).toBeNull();
  });

  it("bytes: up to senderBytesMax, counting the replaced tx's bytes as freed", () => {
    expect(share(tx({ raw: new Uint8Array(1000) }), undefined)).toBeNull();
    expect(share(tx({ raw: new Uint8Array(1001) }), undefined)).toBe("TXPOOL_SENDER_LIMIT");
    expect(share(tx({ raw: new Uint8Array(400) }), queue(1, 600))).toBeNull();
    expect(share(tx({ raw: new Uint8Array(401) }), queue(1, 600))).toBe("TXPOOL_SENDER_LIMIT");
    expect(share(tx({ raw: new Uint8Array(500) }), queue(1, 600), replacing(100))).toBeNull();
    expect(share(tx({ raw: new Uint8Array(501) }), queue(1, 600), replacing(100))).toBe(
      "TXPOOL_SENDER_LIMIT",
    );
  });

  it("native count: below nativeSenderCountMax passes, at it refused; Ethereum txs are not counted there", () => {
    expect(share(native(), queue(1, 0, 1))).toBeNull();
    expect(share(native(), queue(2, 0, 2))).toBe("TXPOOL_SENDER_LIMIT");
    expect(share(tx(), queue(2, 0, 2))).toBeNull();
    expect(share(native(), undefined)).toBeNull();
  });

  it("names the option that refused, and the sender", () => {
    try {
      checkSenderShare(small, tx(), queue(3, 0), undefined);
      expect.unreachable();
    } catch (err) {
      expect((err as ConsortError).meta).toEqual({
        sender: `0x${"01".repeat(20)}`,
        limit: 3,
        option: "txpool.senderCountMax",
      });
    }
  });
});

describe("invalidTx: geth's wording for decode failures", () => {
  const codec = (c: string, meta: Record<string, unknown> = {}) => new ConsortError(c as never, "bad", meta);
  it.each([
    [
      codec("CODEC_INVALID_FIELD", { field: "maxPriorityFeePerGas" }),
      /^max priority fee per gas higher than max fee per gas$/,
    ],
    [codec("CODEC_INVALID_FIELD", { field: "to" }), /^invalid transaction: /],
    [codec("CODEC_MALFORMED", { field: "maxPriorityFeePerGas" }), /^invalid transaction: /],
    [codec("CODEC_WRONG_CHAIN_ID"), /^invalid sender: /],
    [codec("CODEC_INVALID_SIGNATURE"), /^invalid sender: /],
    [new Error("boom"), /^invalid transaction: boom/],
  ])("%s", (err, message) => {
    const out = invalidTx(err);
    expect(out.code).toBe("TXPOOL_INVALID");
    expect(out.message).toMatch(message);
    expect(out.meta.codecCode).toBe(err instanceof ConsortError ? err.code : undefined);
  });
});
