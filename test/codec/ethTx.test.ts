import { createCustomCommon, Hardfork, Mainnet } from "@ethereumjs/common";
import { RLP } from "@ethereumjs/rlp";
import { createTxFromRLP } from "@ethereumjs/tx";
import { Transaction as EthersTransaction, Wallet } from "ethers";
import { beforeAll, describe, expect, it } from "vitest";
import { CodecError, decodeTransaction } from "../../src/codec/index.js";
import { SECP256K1_N } from "../../src/crypto/index.js";
import type { Transaction } from "../../src/types/index.js";
import { bigintToBytes, bytesToHex, concatBytes, hexToBytes } from "../../src/util/hex.js";
import { fuzzRuns } from "./fuzz.js";

const CHAIN_ID = 20200n;
const wallet = new Wallet("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
const TO = "0x3535353535353535353535353535353535353535";
const accessList = [
  {
    address: "0x1111111111111111111111111111111111111111",
    storageKeys: [`0x${"00".repeat(31)}01`, `0x${"ab".repeat(32)}`],
  },
];

let legacy: string;
let legacyPre155: string;
let accessListTx: string;
let feeMarket: string;
let creation: string;

beforeAll(async () => {
  const base = { to: TO, nonce: 7, gasLimit: 50_000n, value: 123_456_789n, data: "0xdeadbeef" };
  legacy = await wallet.signTransaction({ ...base, type: 0, chainId: CHAIN_ID, gasPrice: 2_000_000_000n });
  legacyPre155 = await wallet.signTransaction({ ...base, type: 0, chainId: 0n, gasPrice: 1n });
  accessListTx = await wallet.signTransaction({
    ...base,
    type: 1,
    chainId: CHAIN_ID,
    gasPrice: 3n,
    accessList,
  });
  feeMarket = await wallet.signTransaction({
    ...base,
    type: 2,
    chainId: CHAIN_ID,
    maxFeePerGas: 100_000_000_000n,
    maxPriorityFeePerGas: 1_500_000_000n,
    accessList,
  });
  creation = await wallet.signTransaction({
    type: 2,
    chainId: CHAIN_ID,
    nonce: 0,
    gasLimit: 1_000_000n,
    maxFeePerGas: 10n,
    maxPriorityFeePerGas: 0n,
    data: "0x6080604052",
  });
});

function expectCodecError(fn: () => unknown, code?: string): CodecError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(CodecError);
  if (code !== undefined) expect((caught as CodecError).code).toBe(code);
  return caught as CodecError;
}

function checkCommon(tx: Transaction, raw: string): void {
  const ethers = EthersTransaction.from(raw);
  expect(bytesToHex(tx.hash)).toBe(ethers.hash);
  expect(bytesToHex(tx.sender)).toBe(wallet.address.toLowerCase());
  expect(tx.to === null ? null : bytesToHex(tx.to)).toBe(ethers.to?.toLowerCase() ?? null);
  expect(tx.value).toBe(ethers.value);
  expect(bytesToHex(tx.input)).toBe(ethers.data);
  expect(tx.gasLimit).toBe(ethers.gasLimit);
  expect(tx.r).toBe(BigInt(ethers.signature!.r));
  expect(tx.s).toBe(BigInt(ethers.signature!.s));
  expect(bytesToHex(tx.raw)).toBe(raw);
}

function accessListHex(tx: Transaction) {
  if (tx.type !== 1 && tx.type !== 2) throw new Error("no access list");
  return tx.accessList.map((e) => ({
    address: bytesToHex(e.address),
    storageKeys: e.storageKeys.map(bytesToHex),
  }));
}

describe("Ethereum transactions signed by ethers", () => {
  it("legacy EIP-155", () => {
    const tx = decodeTransaction(hexToBytes(legacy), { chainId: CHAIN_ID });
    checkCommon(tx, legacy);
    expect(tx.type).toBe(0);
    if (tx.type !== 0) return;
    expect(tx.chainId).toBe(CHAIN_ID);
    expect(tx.nonce).toBe(7n);
    expect(tx.gasPrice).toBe(2_000_000_000n);
    expect(tx.v).toBe(CHAIN_ID * 2n + 35n + BigInt(EthersTransaction.from(legacy).signature!.yParity));
  });

  it("legacy pre-EIP-155: accepted, chainId reported from opts (0 without)", () => {
    const tx = decodeTransaction(hexToBytes(legacyPre155), { chainId: CHAIN_ID });
    checkCommon(tx, legacyPre155);
    expect(tx.chainId).toBe(CHAIN_ID);
    expect([27n, 28n]).toContain(tx.v);
    expect(decodeTransaction(hexToBytes(legacyPre155)).chainId).toBe(0n);
  });

  it("EIP-2930", () => {
    const tx = decodeTransaction(hexToBytes(accessListTx), { chainId: CHAIN_ID });
    checkCommon(tx, accessListTx);
    expect(tx.type).toBe(1);
    if (tx.type !== 1) return;
    expect(tx.gasPrice).toBe(3n);
    expect(tx.nonce).toBe(7n);
    expect(tx.chainId).toBe(CHAIN_ID);
    expect(accessListHex(tx)).toEqual(accessList);
  });

  it("EIP-1559, and contract creation (to = null)", () => {
    const tx = decodeTransaction(hexToBytes(feeMarket), { chainId: CHAIN_ID });
    checkCommon(tx, feeMarket);
    expect(tx.type).toBe(2);
    if (tx.type !== 2) return;
    expect(tx.maxFeePerGas).toBe(100_000_000_000n);
    expect(tx.maxPriorityFeePerGas).toBe(1_500_000_000n);
    expect(tx.nonce).toBe(7n);
    expect([0n, 1n]).toContain(tx.v);
    expect(accessListHex(tx)).toEqual(accessList);

    const create = decodeTransaction(hexToBytes(creation));
    checkCommon(create, creation);
    expect(create.to).toBeNull();
  });

  it("agrees with @ethereumjs/tx on fields and signing hash", () => {
    const common = createCustomCommon({ chainId: Number(CHAIN_ID) }, Mainnet, { hardfork: Hardfork.Prague });
    for (const raw of [legacy, accessListTx, feeMarket]) {
      const ours = decodeTransaction(hexToBytes(raw));
      const theirs = createTxFromRLP(hexToBytes(raw), { common });
      expect(bytesToHex(ours.sender)).toBe(theirs.getSenderAddress().toString());
      expect(ours.hash).toEqual(theirs.hash());
      expect(ours.gasLimit).toBe(theirs.gasLimit);
    }
  });

  it("trusted sender skips recovery", () => {
    const sender = new Uint8Array(20).fill(9);
    expect(decodeTransaction(hexToBytes(feeMarket), { sender }).sender).toEqual(sender);
  });
});

describe("rejections", () => {
  it("wrong chain id → CODEC_WRONG_CHAIN_ID", () => {
    for (const raw of [legacy, accessListTx, feeMarket]) {
      expectCodecError(() => decodeTransaction(hexToBytes(raw), { chainId: 1n }), "CODEC_WRONG_CHAIN_ID");
    }
  });

  /** Re-encodes a typed or legacy tx with r or s replaced. */
  function withSignature(raw: string, r: bigint | null, s: bigint | null): Uint8Array {
    const bytes = hexToBytes(raw);
    const typed = (bytes[0] ?? 0) < 0xc0;
    const values = RLP.decode(typed ? bytes.subarray(1) : bytes) as Uint8Array[];
    const n = values.length;
    if (r !== null) values[n - 2] = bigintToBytes(r);
    if (s !== null) values[n - 1] = bigintToBytes(s);
    const body = RLP.encode(values);
    return typed ? concatBytes(bytes.subarray(0, 1), body) : body;
  }

  it("flipped r or s: another sender or CODEC_INVALID_SIGNATURE", () => {
    for (const raw of [legacy, accessListTx, feeMarket]) {
      const tx = decodeTransaction(hexToBytes(raw));
      for (const [r, s] of [
        [tx.r ^ 1n, null],
        [null, tx.s ^ (1n << 8n)],
        [tx.r ^ (1n << 200n), null],
      ] as const) {
        const tampered = withSignature(raw, r, s);
        try {
          const other = decodeTransaction(tampered);
          expect(other.sender).not.toEqual(tx.sender);
        } catch (err) {
          expect(err).toBeInstanceOf(CodecError);
          expect((err as CodecError).code).toBe("CODEC_INVALID_SIGNATURE");
        }
      }
    }
  });

  it("s > n/2, r = 0, s = 0, r >= n → CODEC_INVALID_SIGNATURE", () => {
    for (const raw of [legacy, accessListTx, feeMarket]) {
      const tx = decodeTransaction(hexToBytes(raw));
      const cases: [bigint | null, bigint | null][] = [
        [null, SECP256K1_N - tx.s],
        [0n, null],
        [null, 0n],
        [SECP256K1_N, null],
      ];
      for (const [r, s] of cases) {
        expectCodecError(() => decodeTransaction(withSignature(raw, r, s)), "CODEC_INVALID_SIGNATURE");
      }
    }
  });

  it("every truncated prefix → CodecError, never another error", () => {
    for (const raw of [legacy, legacyPre155, accessListTx, feeMarket]) {
      const bytes = hexToBytes(raw);
      for (let len = 0; len < bytes.length; len++) {
        expectCodecError(() => decodeTransaction(bytes.subarray(0, len)));
      }
      // Trailing garbage is rejected too.
      expectCodecError(() => decodeTransaction(concatBytes(bytes, Uint8Array.of(0))), "CODEC_MALFORMED");
    }
  });

  it("unsupported types, garbage and non-canonical quantities", () => {
    for (const t of [0x03, 0x04, 0x05, 0x7b, 0x7f, 0xbf]) {
      const bytes = hexToBytes(feeMarket);
      bytes[0] = t;
      expectCodecError(() => decodeTransaction(bytes), "CODEC_UNSUPPORTED_TYPE");
    }
    expectCodecError(() => decodeTransaction(new Uint8Array(0)), "CODEC_TRUNCATED");
    expectCodecError(() => decodeTransaction(new Uint8Array(200 * 1024)), "CODEC_TOO_LARGE");
    // Nonce with a leading zero byte.
    const values = RLP.decode(hexToBytes(feeMarket).subarray(1)) as Uint8Array[];
    values[1] = Uint8Array.of(0, 7);
    expectCodecError(
      () => decodeTransaction(concatBytes(Uint8Array.of(2), RLP.encode(values))),
      "CODEC_NON_CANONICAL",
    );
    // Wrong field count.
    expectCodecError(
      () => decodeTransaction(concatBytes(Uint8Array.of(2), RLP.encode(values.slice(0, 11)))),
      "CODEC_MALFORMED",
    );
    // A 19-byte `to`.
    const legacyValues = RLP.decode(hexToBytes(legacy)) as Uint8Array[];
    legacyValues[3] = new Uint8Array(19).fill(1);
    expectCodecError(() => decodeTransaction(RLP.encode(legacyValues)), "CODEC_INVALID_FIELD");
    // Legacy v that is neither 27/28 nor EIP-155.
    const badV = RLP.decode(hexToBytes(legacy)) as Uint8Array[];
    badV[6] = Uint8Array.of(30);
    expectCodecError(() => decodeTransaction(RLP.encode(badV)), "CODEC_INVALID_SIGNATURE");
    // y-parity 2.
    const badParity = RLP.decode(hexToBytes(feeMarket).subarray(1)) as Uint8Array[];
    badParity[9] = Uint8Array.of(2);
    expectCodecError(
      () => decodeTransaction(concatBytes(Uint8Array.of(2), RLP.encode(badParity))),
      "CODEC_INVALID_SIGNATURE",
    );
  });

  it("random garbage → CodecError only", () => {
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed & 0xff;
    };
    for (let i = 0; i < fuzzRuns(2000); i++) {
      const bytes = Uint8Array.from({ length: 1 + (i % 120) }, rand);
      if (i % 3 === 0) bytes[0] = 2;
      if (i % 3 === 1) bytes[0] = 0xf8;
      expectCodecError(() => decodeTransaction(bytes));
    }
  });
});
