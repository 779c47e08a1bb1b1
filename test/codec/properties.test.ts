import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  CodecError,
  decodeBlock,
  decodeCertificate,
  decodeHeader,
  decodeReceipt,
  decodeTransaction,
  encodeBlock,
  encodeCertificate,
  encodeHeader,
  encodeNativeTx,
  encodeReceipt,
  hashHeader,
  type NativeTxFields,
} from "../../src/codec/index.js";
import { generatePrivateKey, privateKeyToAddress } from "../../src/crypto/index.js";
import type { Block, BlockHeader, CommitCertificate, Receipt } from "../../src/types/index.js";
import { fuzzRuns } from "./fuzz.js";
import { signTx, type TxSpec } from "./txFactory.js";

const NUM_RUNS = fuzzRuns(60);
const KEYS = Array.from({ length: 3 }, () => generatePrivateKey());

const bytes = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });
const varBytes = (maxLength: number) => fc.uint8Array({ maxLength });
const uint256 = fc.bigInt({ min: 0n, max: (1n << 256n) - 1n });
const smallQuantity = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), uint256);
const safeInt = fc.oneof(fc.nat(), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const groupId = fc.string({ maxLength: 64 });
const address = bytes(20);
const chainId = fc.bigInt({ min: 1n, max: 1n << 40n });

const header: fc.Arbitrary<BlockHeader> = fc.record({
  chainId: uint256,
  groupId,
  number: safeInt,
  parentHash: bytes(32),
  timestampMs: safeInt,
  txRoot: bytes(32),
  receiptRoot: bytes(32),
  stateRoot: bytes(32),
  gasUsed: smallQuantity,
  proposer: bytes(32),
  view: safeInt,
});

const certificate: fc.Arbitrary<CommitCertificate> = fc.record({
  height: safeInt,
  view: safeInt,
  blockHash: bytes(32),
  signatures: fc.array(fc.record({ nodeId: bytes(32), signature: bytes(64) }), { maxLength: 7 }),
});

const receipt: fc.Arbitrary<Receipt> = fc.record({
  txHash: bytes(32),
  status: fc.constantFrom(0 as const, 1 as const),
  gasUsed: smallQuantity,
  cumulativeGasUsed: smallQuantity,
  logs: fc.array(fc.record({ address, topics: fc.array(bytes(32), { maxLength: 4 }), data: varBytes(100) }), {
    maxLength: 4,
  }),
  contractAddress: fc.option(address, { nil: null }),
  output: varBytes(80),
  logsBloom: bytes(256),
});

const txSpec: fc.Arbitrary<TxSpec> = fc.record({
  type: fc.constantFrom(0 as const, 1 as const, 2 as const, 0x7c as const),
  nonce: fc.bigInt({ min: 0n, max: (1n << 64n) - 2n }),
  to: fc.option(address, { nil: null }),
  value: uint256,
  input: varBytes(64),
  gasLimit: fc.bigInt({ min: 21_000n, max: 30_000_000n }),
  gasPrice: fc.bigInt({ min: 0n, max: 1n << 60n }),
  accessList: fc.array(fc.record({ address, storageKeys: fc.array(bytes(32), { maxLength: 2 }) }), {
    maxLength: 2,
  }),
  nativeNonce: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  blockLimit: safeInt,
  groupId,
});

const nativeFields: fc.Arbitrary<NativeTxFields> = fc.record({
  chainId: uint256,
  groupId,
  nonce: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  blockLimit: safeInt,
  to: fc.option(address, { nil: null }),
  value: uint256,
  input: varBytes(200),
  gasLimit: uint256,
  gasPrice: uint256,
});

const block: fc.Arbitrary<Block> = fc
  .record({
    header,
    chainId,
    specs: fc.array(fc.tuple(txSpec, fc.nat({ max: KEYS.length - 1 })), { maxLength: 4 }),
    certificate: fc.option(certificate, { nil: null }),
  })
  .map(({ header: h, chainId: id, specs, certificate: c }) => ({
    header: { ...h, chainId: id },
    transactions: specs.map(([spec, k]) => decodeTransaction(signTx(spec, id, KEYS[k]!), { chainId: id })),
    certificate: c,
  }));

function expectOnlyCodecErrors(decode: (b: Uint8Array) => unknown) {
  return fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
    try {
      decode(b);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
    }
  });
}

describe("codec round trips (fast-check)", () => {
  it("header: decode(encode(h)) = h, encoding deterministic, hash = keccak(encoding)", () => {
    fc.assert(
      fc.property(header, (h) => {
        const encoded = encodeHeader(h);
        expect(decodeHeader(encoded)).toEqual(h);
        expect(encodeHeader(h)).toEqual(encoded);
        expect(encodeHeader(decodeHeader(encoded))).toEqual(encoded);
        expect(hashHeader(h)).toEqual(hashHeader(decodeHeader(encoded)));
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("certificate", () => {
    fc.assert(
      fc.property(certificate, (c) => {
        const encoded = encodeCertificate(c);
        expect(decodeCertificate(encoded)).toEqual(c);
        expect(encodeCertificate(c)).toEqual(encoded);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("receipt with logs", () => {
    fc.assert(
      fc.property(receipt, (r) => {
        const encoded = encodeReceipt(r);
        expect(decodeReceipt(encoded)).toEqual(r);
        expect(encodeReceipt(r)).toEqual(encoded);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("native tx: fields survive, sender recovered, encoding deterministic", () => {
    fc.assert(
      fc.property(nativeFields, fc.nat({ max: KEYS.length - 1 }), (f, k) => {
        const key = KEYS[k]!;
        const raw = encodeNativeTx(f, key);
        expect(encodeNativeTx(f, key)).toEqual(raw);
        const tx = decodeTransaction(raw, { chainId: f.chainId });
        expect(tx.type).toBe(0x7c);
        if (tx.type !== 0x7c) return;
        expect(tx.sender).toEqual(privateKeyToAddress(key));
        const { chainId, groupId: g, nonce, blockLimit, to, value, input, gasLimit, gasPrice } = tx;
        expect({ chainId, groupId: g, nonce, blockLimit, to, value, input, gasLimit, gasPrice }).toEqual(f);
      }),
      { numRuns: NUM_RUNS },
    );
  });

  it("block with mixed signed txs: round trip with and without trusted senders", () => {
    fc.assert(
      fc.property(block, (b) => {
        const encoded = encodeBlock(b);
        expect(encodeBlock(b)).toEqual(encoded);
        expect(decodeBlock(encoded)).toEqual(b);
        expect(decodeBlock(encoded, { trustSenders: true })).toEqual(b);
        for (const tx of b.transactions)
          expect(decodeTransaction(tx.raw, { chainId: b.header.chainId })).toEqual(tx);
      }),
      { numRuns: fuzzRuns(20) },
    );
  });
});

describe("random and mutated bytes give CodecError only", () => {
  const decoders: [string, (b: Uint8Array) => unknown][] = [
    ["header", decodeHeader],
    ["block", (b) => decodeBlock(b)],
    ["block (trusted)", (b) => decodeBlock(b, { trustSenders: true })],
    ["receipt", decodeReceipt],
    ["certificate", decodeCertificate],
    ["transaction", (b) => decodeTransaction(b)],
    ["native tx", (b) => decodeTransaction(Uint8Array.of(0x7c, ...b))],
    ["typed tx", (b) => decodeTransaction(Uint8Array.of(2, ...b))],
  ];
  for (const [name, decode] of decoders) {
    it(`random bytes → ${name}`, () => {
      fc.assert(expectOnlyCodecErrors(decode), { numRuns: fuzzRuns(300) });
    });
  }

  it("single-byte mutations of valid encodings", () => {
    const cases: [fc.Arbitrary<Uint8Array>, (b: Uint8Array) => unknown][] = [
      [header.map(encodeHeader), decodeHeader],
      [receipt.map(encodeReceipt), decodeReceipt],
      [certificate.map(encodeCertificate), decodeCertificate],
      [block.map(encodeBlock), (b) => decodeBlock(b)],
      [
        fc.tuple(nativeFields, fc.constant(KEYS[0]!)).map(([f, k]) => encodeNativeTx(f, k)),
        (b) => decodeTransaction(b),
      ],
    ];
    for (const [arb, decode] of cases) {
      fc.assert(
        fc.property(arb, fc.nat(), fc.integer({ min: 1, max: 255 }), (encoded, pos, x) => {
          const mutated = encoded.slice();
          const i = pos % Math.max(1, mutated.length);
          if (mutated.length > 0) mutated[i] = (mutated[i] ?? 0) ^ x;
          for (const b of [mutated, encoded.subarray(0, i)]) {
            try {
              decode(b);
            } catch (err) {
              if (!(err instanceof CodecError)) throw err;
            }
          }
        }),
        { numRuns: fuzzRuns(40) },
      );
    }
  });
});
