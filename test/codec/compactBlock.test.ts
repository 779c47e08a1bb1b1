import { describe, expect, it } from "vitest";
import {
  CodecError,
  decodeCompactBlock,
  decodeTransaction,
  encodeBlock,
  encodeCompactBlock,
  encodeNativeTx,
} from "../../src/codec/index.js";
import { generatePrivateKey, keccak256 } from "../../src/crypto/index.js";
import type { BlockHeader, Transaction } from "../../src/types/index.js";
import { concatBytes } from "../../src/util/hex.js";

const fill = (n: number, b: number) => new Uint8Array(n).fill(b);
const KEY = generatePrivateKey();

const header: BlockHeader = {
  chainId: 20200n,
  groupId: "group0",
  number: 7,
  parentHash: fill(32, 1),
  timestampMs: 1_700_000_000_000,
  txRoot: fill(32, 2),
  receiptRoot: fill(32, 3),
  stateRoot: fill(32, 4),
  gasUsed: 21_000_000n,
  proposer: fill(32, 5),
  view: 3,
};

function transfers(count: number): Transaction[] {
  return Array.from({ length: count }, (_, i) =>
    decodeTransaction(
      encodeNativeTx(
        {
          chainId: 20200n,
          groupId: "group0",
          nonce: new Uint8Array([i >> 8, i & 0xff, 1]),
          blockLimit: 100,
          to: fill(20, 7),
          value: 5n,
          input: new Uint8Array(),
          gasLimit: 21000n,
          gasPrice: 0n,
        },
        KEY,
      ),
    ),
  );
}

/**
 * `count` txs with distinct hashes and senders around one real signed tx: the compact codec reads only hash and
 * sender, encodeBlock only raw and sender, and signing 1000 txs would take a second of every run.
 */
function manyTxs(count: number): Transaction[] {
  const [tx] = transfers(1) as [Transaction];
  return Array.from({ length: count }, (_, i) => {
    const index = Uint8Array.of(i >> 8, i & 0xff);
    const sender = new Uint8Array(20);
    sender.set(index, 18);
    return { ...tx, hash: keccak256(index), sender };
  });
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CodecError);
    return (err as CodecError).code;
  }
  throw new Error("did not throw");
}

describe("compact block (consensus proposal)", () => {
  it("round-trips header, hashes and senders, deterministically, without raw tx bytes", () => {
    const txs = manyTxs(1000);
    const block = { header, transactions: txs, certificate: null };
    const compact = encodeCompactBlock(block);
    expect(encodeCompactBlock(block)).toEqual(compact);
    const decoded = decodeCompactBlock(compact);
    expect(decoded.header).toEqual(header);
    expect(decoded.transactions).toHaveLength(1000);
    decoded.transactions.forEach((t, i) => {
      expect(t.hash).toEqual(txs[i]?.hash);
      expect(t.sender).toEqual(txs[i]?.sender);
    });
    // 32 B hash + 20 B sender + 6 B framing per tx, plus the header.
    expect(compact.length).toBeLessThanOrEqual(1000 * 58 + 300);
    expect(compact.length * 2).toBeLessThan(encodeBlock(block).length);
    expect(encodeCompactBlock({ header, transactions: [] }).length).toBeLessThan(300);
  });

  it("refuses garbage with typed errors", () => {
    const good = encodeCompactBlock({ header, transactions: transfers(2) });
    expect(codeOf(() => decodeCompactBlock(new Uint8Array()))).toBe("CODEC_MISSING_FIELD");
    expect(codeOf(() => decodeCompactBlock(good.subarray(0, good.length - 3)))).toMatch(
      /CODEC_TRUNCATED|CODEC_MALFORMED/,
    );
    expect(codeOf(() => decodeCompactBlock(new Uint8Array([0xff, 0xff, 0xff])))).toMatch(
      /CODEC_TRUNCATED|CODEC_MALFORMED/,
    );
    // An unknown trailing field decodes but is not canonical.
    expect(codeOf(() => decodeCompactBlock(concatBytes(good, new Uint8Array([0x18, 0x01]))))).toBe(
      "CODEC_NON_CANONICAL",
    );
    // A 31-byte hash.
    const short = { hash: fill(31, 1), sender: fill(20, 2) };
    expect(codeOf(() => encodeCompactBlock({ header, transactions: [short] }))).toBe("CODEC_INVALID_FIELD");
    // A full block is not a compact one.
    expect(() =>
      decodeCompactBlock(encodeBlock({ header, transactions: transfers(1), certificate: null })),
    ).toThrow(CodecError);
  });
});
