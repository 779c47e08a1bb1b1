import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decodeBlock,
  decodeCertificate,
  decodeCompactBlock,
  decodeHeader,
  decodeReceipt,
  decodeTransaction,
  encodeBlock,
  encodeCertificate,
  encodeCompactBlock,
  encodeHeader,
  encodeReceipt,
} from "../../src/codec/index.js";
import { decodePbftMessage, encodePbftMessage, type PbftMessage } from "../../src/consensus/index.js";
import { generatePrivateKey } from "../../src/crypto/index.js";
import {
  decodeSyncRequest,
  decodeSyncResponse,
  decodeTxBatch,
  decodeTxFetchRequest,
  encodeSyncRequest,
  encodeSyncResponse,
  encodeTxBatch,
  encodeTxFetchRequest,
} from "../../src/sync/wire.js";
import type { BlockHeader } from "../../src/types/index.js";
import { fuzzRuns } from "./fuzz.js";
import { signTx } from "./txFactory.js";

// Decode → re-encode: whatever bytes from the network decode without error must be the one encoding of what they
// decode to. Otherwise two byte strings carry one value, and anything keyed by bytes (a tx hash over the raw bytes,
// a dedup cache, a gossip message id) sees two different things. Inputs: valid encodings with one byte changed,
// cut short, extended, or with bytes inserted, and plain random bytes.

const KEY = generatePrivateKey();
const CHAIN_ID = 20200n;
const b = (n: number, fill: number) => new Uint8Array(n).fill(fill);

const header: BlockHeader = {
  chainId: CHAIN_ID,
  groupId: "group0",
  number: 7,
  parentHash: b(32, 1),
  timestampMs: 1_700_000_000_123,
  txRoot: b(32, 2),
  receiptRoot: b(32, 3),
  stateRoot: b(32, 4),
  gasUsed: 21_000n,
  proposer: b(32, 5),
  view: 1,
};
const certificate = {
  height: 7,
  view: 1,
  blockHash: b(32, 6),
  signatures: [
    { nodeId: b(32, 7), signature: b(64, 8) },
    { nodeId: b(32, 9), signature: b(64, 10) },
  ],
};
const spec = {
  nonce: 3n,
  to: b(20, 11),
  value: 5n,
  input: Uint8Array.of(1, 2, 3),
  gasLimit: 50_000n,
  gasPrice: 1n,
  accessList: [],
  nativeNonce: Uint8Array.of(9, 9),
  blockLimit: 100,
  groupId: "group0",
};
// Built inside each test, never at import: code that runs while a file loads is outside every test, so a mutation
// run (Stryker, coverageAnalysis "perTest") would count each codec mutant it reaches as covered by every test.
const rawTxs = () => ([0, 1, 2, 0x7c] as const).map((type) => signTx({ ...spec, type }, CHAIN_ID, KEY));
const txs = () => rawTxs().map((raw) => decodeTransaction(raw, { chainId: CHAIN_ID }));
const pbftMessages: PbftMessage[] = [
  { type: "prepare", height: 7, view: 1, blockHash: b(32, 1), sender: b(32, 3), signature: b(64, 4) },
  {
    type: "prePrepare",
    height: 7,
    view: 1,
    blockHash: b(32, 1),
    payload: b(40, 2),
    sender: b(32, 3),
    signature: b(64, 4),
  },
  { type: "commit", height: 7, view: 0, blockHash: b(32, 1), sender: b(32, 3), signature: b(64, 4) },
  {
    type: "viewChange",
    height: 7,
    toView: 2,
    prepared: { height: 7, view: 1, blockHash: b(32, 1), payload: b(8, 2), prepares: certificate.signatures },
    sender: b(32, 3),
    signature: b(64, 4),
  },
];

interface Case {
  name: string;
  /**
   * false: protobuf without a canonical-bytes check, so skipped unknown fields, repeated scalar fields (last one
   * wins), explicit default values and out-of-order fields all decode to the same value. For these only the value
   * round trip holds (see docs/testing.md, "Canonical encodings", for why each one is acceptable).
   */
  canonical: boolean;
  /** Valid encodings, built when a test asks (see rawTxs). */
  samples(): Uint8Array[];
  decode(bytes: Uint8Array): unknown;
  encode(value: unknown): Uint8Array;
}

const cases: Case[] = [
  {
    name: "header",
    canonical: false,
    samples: () => [encodeHeader(header)],
    decode: decodeHeader,
    encode: (v) => encodeHeader(v as never),
  },
  {
    name: "certificate",
    canonical: false,
    samples: () => [encodeCertificate(certificate), encodeCertificate({ ...certificate, signatures: [] })],
    decode: decodeCertificate,
    encode: (v) => encodeCertificate(v as never),
  },
  {
    name: "receipt",
    canonical: false,
    samples: () => [
      encodeReceipt({
        txHash: b(32, 1),
        status: 1,
        gasUsed: 21_000n,
        cumulativeGasUsed: 42_000n,
        logs: [{ address: b(20, 2), topics: [b(32, 3)], data: Uint8Array.of(4, 5) }],
        contractAddress: null,
        output: Uint8Array.of(6),
        logsBloom: b(256, 0),
      }),
    ],
    decode: decodeReceipt,
    encode: (v) => encodeReceipt(v as never),
  },
  {
    name: "block",
    canonical: false,
    samples: () => [
      encodeBlock({ header, transactions: txs(), certificate }),
      encodeBlock({ header, transactions: [], certificate: null }),
    ],
    decode: (bytes) => decodeBlock(bytes),
    encode: (v) => encodeBlock(v as never),
  },
  {
    name: "compact block",
    canonical: true,
    samples: () => [
      encodeCompactBlock({ header, transactions: txs().map((t) => ({ hash: t.hash, sender: t.sender })) }),
    ],
    decode: decodeCompactBlock,
    encode: (v) => encodeCompactBlock(v as never),
  },
  {
    name: "transaction (legacy, 2930, 1559, native)",
    canonical: true,
    samples: rawTxs,
    decode: (bytes) => decodeTransaction(bytes),
    encode: (v) => (v as { raw: Uint8Array }).raw,
  },
  {
    name: "pbft message",
    canonical: false,
    samples: () => pbftMessages.map(encodePbftMessage),
    decode: (bytes) => decodePbftMessage(bytes),
    encode: (v) => encodePbftMessage(v as never),
  },
  {
    name: "sync request",
    canonical: false,
    samples: () => [
      encodeSyncRequest({ kind: "blocks", fromHeight: 5, countMax: 16 }),
      encodeSyncRequest({ kind: "head", fromHeight: 0, countMax: 0 }),
    ],
    decode: decodeSyncRequest,
    encode: (v) => encodeSyncRequest(v as never),
  },
  {
    name: "sync response",
    canonical: false,
    samples: () => [
      encodeSyncResponse({
        headHeight: 9,
        headHash: b(32, 1),
        blocks: [b(10, 2), b(3, 3)],
        genesisHash: b(32, 4),
      }),
    ],
    decode: decodeSyncResponse,
    encode: (v) => encodeSyncResponse(v as never),
  },
  {
    name: "tx batch",
    canonical: false,
    samples: () => [encodeTxBatch(rawTxs())],
    decode: decodeTxBatch,
    encode: (v) => encodeTxBatch(v as never),
  },
  {
    name: "tx fetch request",
    canonical: false,
    samples: () => [encodeTxFetchRequest(txs().map((t) => t.hash))],
    decode: decodeTxFetchRequest,
    encode: (v) => encodeTxFetchRequest(v as never),
  },
];

/** Valid encodings changed in one of four ways, plus random bytes. */
function inputs(samples: Uint8Array[]): fc.Arbitrary<Uint8Array> {
  const sample = fc.constantFrom(...samples);
  const flip = fc.tuple(sample, fc.nat(), fc.integer({ min: 1, max: 255 })).map(([s, pos, x]) => {
    const out = Uint8Array.from(s); // not s.slice(): on a Buffer (protobufjs output) that is a view
    const i = pos % out.length;
    out[i] = out[i]! ^ x;
    return out;
  });
  const cut = fc.tuple(sample, fc.nat()).map(([s, pos]) => s.subarray(0, pos % s.length));
  const extend = fc.tuple(sample, fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([s, tail]) => {
    const out = new Uint8Array(s.length + tail.length);
    out.set(s);
    out.set(tail, s.length);
    return out;
  });
  const insert = fc
    .tuple(sample, fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 4 }))
    .map(([s, pos, ins]) => {
      const i = pos % (s.length + 1);
      const out = new Uint8Array(s.length + ins.length);
      out.set(s.subarray(0, i));
      out.set(ins, i);
      out.set(s.subarray(i), i + ins.length);
      return out;
    });
  return fc.oneof(flip, cut, extend, insert, fc.uint8Array({ maxLength: 200 }));
}

function tryDecode(c: Case, bytes: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: c.decode(bytes) };
  } catch {
    return { ok: false };
  }
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
/** A decoded value as text: bytes as hex whatever their class (Buffer or Uint8Array), bigints as decimals. */
const show = (value: unknown) =>
  JSON.stringify(value, (_k, v) =>
    v instanceof Uint8Array
      ? hex(v)
      : typeof v === "bigint"
        ? v.toString()
        : v?.type === "Buffer" && Array.isArray(v.data) // Buffer's toJSON runs before this replacer
          ? hex(Uint8Array.from(v.data))
          : v,
  );

describe("decode → re-encode gives back the same bytes (canonical types)", () => {
  for (const c of cases.filter((k) => k.canonical)) {
    it(c.name, () => {
      const samples = c.samples();
      for (const s of samples) expect(c.encode(c.decode(s))).toEqual(s);
      fc.assert(
        fc.property(inputs(samples), (bytes) => {
          const r = tryDecode(c, bytes);
          if (r.ok) expect(hex(c.encode(r.value))).toBe(hex(bytes));
        }),
        { numRuns: fuzzRuns(300) },
      );
    });
  }

  it("they refuse a valid encoding with an unknown field appended", () => {
    for (const c of cases.filter((k) => k.canonical)) {
      for (const s of c.samples())
        expect(() => c.decode(Uint8Array.from([...s, 0x78, 0x00])), c.name).toThrow();
    }
  });
});

describe("decode → re-encode → decode gives the same value (non-canonical types)", () => {
  for (const c of cases.filter((k) => !k.canonical)) {
    it(c.name, () => {
      const samples = c.samples();
      for (const s of samples) expect(c.encode(c.decode(s))).toEqual(s);
      fc.assert(
        fc.property(inputs(samples), (bytes) => {
          const r = tryDecode(c, bytes);
          if (!r.ok) return;
          const again = c.encode(r.value);
          expect(show(c.decode(again))).toBe(show(r.value));
          expect(hex(c.encode(c.decode(again)))).toBe(hex(again)); // the re-encoding is a fixed point
        }),
        { numRuns: fuzzRuns(300) },
      );
    });
  }

  it("each accepts an unknown field appended to a valid encoding (the documented finding)", () => {
    const unknownField = [0x78, 0x00]; // field 15, varint 0: no schema here has a field 15
    for (const c of cases.filter((k) => !k.canonical)) {
      const sample = c.samples()[0]!;
      const padded = Uint8Array.from([...sample, ...unknownField]);
      expect(c.encode(c.decode(padded)), c.name).toEqual(sample);
    }
  });
});
