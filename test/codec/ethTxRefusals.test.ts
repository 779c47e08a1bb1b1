import { RLP } from "@ethereumjs/rlp";
import { Transaction as EthersTransaction, Wallet } from "ethers";
import { describe, expect, it } from "vitest";
import { decodeEthereumTx } from "../../src/codec/ethTx.js";
import { decodeTransaction } from "../../src/codec/index.js";
import { keccak256, privateKeyToAddress, SECP256K1_N } from "../../src/crypto/index.js";
import { bytesToHex, concatBytes, hexToBytes } from "../../src/util/hex.js";
import {
  accessListFields,
  CHAIN_ID,
  EMPTY,
  encodeList,
  feeMarketFields,
  fill,
  KEY,
  legacyFields,
  q,
  type Rlp,
  SENDER,
  sign,
  signLegacy155,
  signTyped,
  valuesOf,
  withValue,
} from "./ethSigning.js";
import { expectRefusal, refusal } from "./refusal.js";

// Ethereum transactions: a published vector, and every refusal with its code, field and text. Transactions with
// fields no wallet would sign (chain id 0 under EIP-155, 4096 access list entries, a short r) are signed here with
// src/crypto over the signing hash the EIPs define, and cross-checked against ethers where ethers can parse them.

describe("published vectors", () => {
  it("EIP-155's example transaction (chain 1): fields, v, r, s and sender", () => {
    // From the text of EIP-155: nonce 9, gas price 20 gwei, gas 21000, to 0x3535…, 1 ether, private key 0x4646….
    const raw = hexToBytes(
      "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe5" +
        "37567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83",
    );
    const tx = decodeTransaction(raw, { chainId: 1n });
    expect(tx.type).toBe(0);
    if (tx.type !== 0) return;
    expect(bytesToHex(tx.sender)).toBe(SENDER);
    expect(bytesToHex(privateKeyToAddress(KEY))).toBe(SENDER);
    expect(tx.chainId).toBe(1n);
    expect(tx.nonce).toBe(9n);
    expect(tx.gasPrice).toBe(20_000_000_000n);
    expect(tx.gasLimit).toBe(21_000n);
    expect(bytesToHex(tx.to!)).toBe(`0x${"35".repeat(20)}`);
    expect(tx.value).toBe(10n ** 18n);
    expect(tx.input).toEqual(EMPTY);
    expect(tx.v).toBe(37n);
    expect(tx.r).toBe(18515461264373351373200002665853028612451056578545711640558177340181847433846n);
    expect(tx.s).toBe(46948507304638947509940763649030358759909902576025900602547168820602576006531n);
    expect(bytesToHex(tx.hash)).toBe(EthersTransaction.from(bytesToHex(raw)).hash);
    // Our own EIP-155 signing of the same fields gives the same bytes (RFC 6979 signatures are deterministic).
    expect(signLegacy155(legacyFields(), 1n)).toEqual(raw);
  });

  it("EIP-155 with chain id 0 (v = 35 and v = 36) is a chain-0 transaction, not a pre-EIP-155 one", () => {
    const byV = new Map<bigint, Uint8Array>();
    for (let nonce = 0n; nonce < 64n && byV.size < 2; nonce++) {
      const raw = signLegacy155(legacyFields(nonce), 0n);
      byV.set(decodeTransaction(raw).v, raw);
    }
    for (const v of [35n, 36n]) {
      const raw = byV.get(v)!;
      const tx = decodeTransaction(raw);
      expect({ v: tx.v, chainId: tx.chainId, sender: bytesToHex(tx.sender) }).toEqual({
        v,
        chainId: 0n,
        sender: SENDER,
      });
      // ethers refuses v = 35/36 outright ("non-canonical legacy v"); here it reads as chain 0, which every node
      // path refuses, since each passes its own chain id (txpool, txResolver) or the header's (block decode).
      expect(() => EthersTransaction.from(bytesToHex(raw))).toThrow(/non-canonical legacy v/);
      expect(refusal(() => decodeTransaction(raw, { chainId: CHAIN_ID })).code).toBe("CODEC_WRONG_CHAIN_ID");
      // The other v flips the recovery id: another sender (or none), never this one.
      const flipped = withValue(raw, 6, q(v === 35n ? 36n : 35n));
      try {
        expect(bytesToHex(decodeTransaction(flipped).sender)).not.toBe(SENDER);
      } catch (err) {
        expect((err as { code: string }).code).toBe("CODEC_INVALID_SIGNATURE");
      }
    }
  });

  it("pre-EIP-155 legacy, v = 27 and v = 28: signed over the six fields, no chain id", () => {
    const byV = new Map<bigint, Uint8Array>();
    for (let nonce = 0n; nonce < 64n && byV.size < 2; nonce++) {
      const fields = legacyFields(nonce);
      const { recovery, r, s } = sign(keccak256(RLP.encode(fields)));
      byV.set(27n + BigInt(recovery), RLP.encode([...fields, q(27n + BigInt(recovery)), r, s]));
    }
    for (const v of [27n, 28n]) {
      const raw = byV.get(v)!;
      const tx = decodeTransaction(raw);
      expect({ v: tx.v, chainId: tx.chainId, sender: bytesToHex(tx.sender) }).toEqual({
        v,
        chainId: 0n,
        sender: SENDER,
      });
      expect(EthersTransaction.from(bytesToHex(raw)).from?.toLowerCase()).toBe(SENDER);
      expect(decodeTransaction(raw, { chainId: CHAIN_ID }).chainId).toBe(CHAIN_ID);
    }
  });

  it("typed transactions signed here agree with ethers", async () => {
    const wallet = new Wallet(bytesToHex(KEY));
    const ours = signTyped(2, feeMarketFields(4n));
    const theirs = await wallet.signTransaction({
      type: 2,
      chainId: CHAIN_ID,
      nonce: 4,
      maxPriorityFeePerGas: 1n,
      maxFeePerGas: 2n,
      gasLimit: 21_000n,
      to: `0x${"35".repeat(20)}`,
      value: 1n,
      data: "0x",
      accessList: [],
    });
    expect(bytesToHex(ours)).toBe(theirs);
  });
});

describe("refusals", () => {
  it("empty input, unsupported type bytes", () => {
    expectRefusal(
      () => decodeEthereumTx(EMPTY),
      "CODEC_TRUNCATED",
      "Transaction",
      "",
      "Transaction: empty input",
    );
    expectRefusal(
      () => decodeTransaction(Uint8Array.of(2)),
      "CODEC_TRUNCATED",
      "FeeMarketTx",
      "",
      "FeeMarketTx: empty input",
    );
    expectRefusal(
      () => decodeTransaction(Uint8Array.of(1)),
      "CODEC_TRUNCATED",
      "AccessListTx",
      "",
      "AccessListTx: empty input",
    );
    // 0xc0 (an empty list) is a legacy tx, with no fields.
    expectRefusal(
      () => decodeTransaction(Uint8Array.of(0xc0)),
      "CODEC_MALFORMED",
      "LegacyTx",
      "",
      "LegacyTx: 0 fields, want 9",
    );
    for (const [first, hex] of [
      [0, "0x0"],
      [3, "0x3"],
      [0x7b, "0x7b"],
      [0xbf, "0xbf"],
    ] as const) {
      expectRefusal(
        () => decodeTransaction(Uint8Array.of(first, 0xc0)),
        "CODEC_UNSUPPORTED_TYPE",
        "Transaction",
        "type",
        `Transaction.type: unsupported transaction type ${hex}`,
      );
    }
  });

  it("RLP that ends early is CODEC_TRUNCATED; trailing bytes, non-canonical RLP and a non-list are CODEC_MALFORMED", () => {
    const raw = signTyped(2, feeMarketFields());
    const cut = refusal(() => decodeTransaction(raw.subarray(0, raw.length - 1)));
    expect(cut.code).toBe("CODEC_TRUNCATED");
    expect(cut.message).toMatch(/^FeeMarketTx: invalid RLP \(/);
    expect(cut.cause).toBeInstanceOf(Error);
    const trailing = refusal(() => decodeTransaction(concatBytes(raw, Uint8Array.of(0))));
    expect(trailing.code).toBe("CODEC_MALFORMED");
    expect(trailing.message).toMatch(/^FeeMarketTx: invalid RLP \(/);
    // The nonce 1 written as a one-byte string (0x81 0x01) instead of the byte itself: RLP that is not canonical.
    const items = valuesOf(raw).map((v) => RLP.encode(v));
    items[1] = Uint8Array.of(0x81, 0x01);
    const longForm = concatBytes(Uint8Array.of(2), encodeList(items));
    expect(refusal(() => decodeTransaction(longForm)).code).toBe("CODEC_MALFORMED");
    expectRefusal(
      () => decodeTransaction(concatBytes(Uint8Array.of(2), RLP.encode(q(5n)))),
      "CODEC_MALFORMED",
      "FeeMarketTx",
      "",
      "FeeMarketTx: expected an RLP list",
    );
  });

  it("a wrong field count", () => {
    const legacy = signLegacy155(legacyFields(), CHAIN_ID);
    const cases: [Uint8Array, string, string][] = [
      [RLP.encode(valuesOf(legacy).slice(0, 8)), "LegacyTx", "8 fields, want 9"],
      [RLP.encode([...valuesOf(legacy), EMPTY]), "LegacyTx", "10 fields, want 9"],
      [
        concatBytes(Uint8Array.of(1), RLP.encode(feeMarketFields().concat([EMPTY, EMPTY, EMPTY]))),
        "AccessListTx",
        "12 fields, want 11",
      ],
      [
        concatBytes(Uint8Array.of(2), RLP.encode(accessListFields().concat([EMPTY, EMPTY, EMPTY]))),
        "FeeMarketTx",
        "11 fields, want 12",
      ],
    ];
    for (const [raw, type, text] of cases) {
      expectRefusal(() => decodeTransaction(raw), "CODEC_MALFORMED", type, "", `${type}: ${text}`);
    }
  });

  it("a list where a byte string belongs, and a non-minimal quantity, name the field", () => {
    const byType: [Uint8Array, string, string[]][] = [
      [
        signLegacy155(legacyFields(), CHAIN_ID),
        "LegacyTx",
        ["nonce", "gasPrice", "gasLimit", "to", "value", "input", "v", "r", "s"],
      ],
      [
        signTyped(1, accessListFields()),
        "AccessListTx",
        [
          "chainId",
          "nonce",
          "gasPrice",
          "gasLimit",
          "to",
          "value",
          "input",
          "accessList",
          "yParity",
          "r",
          "s",
        ],
      ],
      [
        signTyped(2, feeMarketFields()),
        "FeeMarketTx",
        [
          "chainId",
          "nonce",
          "maxPriorityFeePerGas",
          "maxFeePerGas",
          "gasLimit",
          "to",
          "value",
          "input",
          "accessList",
          "yParity",
          "r",
          "s",
        ],
      ],
    ];
    const quantities = new Set([
      "chainId",
      "nonce",
      "gasPrice",
      "maxPriorityFeePerGas",
      "maxFeePerGas",
      "gasLimit",
      "value",
      "v",
      "yParity",
    ]);
    for (const [raw, type, fields] of byType) {
      fields.forEach((field, index) => {
        if (field === "accessList") {
          expectRefusal(
            () => decodeTransaction(withValue(raw, index, Uint8Array.of(1))),
            "CODEC_MALFORMED",
            type,
            field,
            `${type}.${field}: expected a list`,
          );
          return;
        }
        expectRefusal(
          () => decodeTransaction(withValue(raw, index, [])),
          "CODEC_MALFORMED",
          type,
          field,
          `${type}.${field}: expected a byte string, got a list`,
        );
        if (!quantities.has(field)) return;
        expectRefusal(
          () => decodeTransaction(withValue(raw, index, Uint8Array.of(0, 1))),
          "CODEC_NON_CANONICAL",
          type,
          field,
          `${type}.${field}: quantity has a leading zero byte`,
        );
        expectRefusal(
          () => decodeTransaction(withValue(raw, index, fill(33, 1))),
          "CODEC_INVALID_FIELD",
          type,
          field,
          `${type}.${field}: quantity of 33 bytes exceeds 32`,
        );
      });
    }
  });

  it("to: empty (a creation) or 20 bytes", () => {
    const legacy = signLegacy155(legacyFields(), CHAIN_ID);
    const typed = signTyped(2, feeMarketFields());
    for (const length of [1, 19, 21, 32]) {
      expectRefusal(
        () => decodeTransaction(withValue(legacy, 3, fill(length, 1))),
        "CODEC_INVALID_FIELD",
        "LegacyTx",
        "to",
        `LegacyTx.to: ${length} bytes, want 20 or 0`,
      );
      expect(refusal(() => decodeTransaction(withValue(typed, 5, fill(length, 1)))).meta).toEqual({
        type: "FeeMarketTx",
        field: "to",
      });
    }
    const creation = [...legacyFields()];
    creation[3] = EMPTY;
    expect(decodeTransaction(signLegacy155(creation, CHAIN_ID)).to).toBeNull();
  });

  it("access list: up to 4096 [address, keys] entries of 20-byte addresses and 32-byte keys", () => {
    const entry = (keys: Rlp[] = [fill(32, 2)]): Rlp[] => [fill(20, 1), keys];
    const full = Array.from({ length: 4096 }, () => entry([]));
    const tx = decodeTransaction(signTyped(2, feeMarketFields(1n, full)));
    expect(tx.type === 2 && tx.accessList.length).toBe(4096);
    expect(bytesToHex(tx.sender)).toBe(SENDER);
    const two = decodeTransaction(
      signTyped(1, [...accessListFields().slice(0, 7), [entry(), entry([fill(32, 3), fill(32, 4)])]]),
    );
    expect(two.type === 1 && two.accessList).toEqual([
      { address: fill(20, 1), storageKeys: [fill(32, 2)] },
      { address: fill(20, 1), storageKeys: [fill(32, 3), fill(32, 4)] },
    ]);

    const FM = "FeeMarketTx";
    const refused = (list: Rlp[]) => () => decodeTransaction(signTyped(2, feeMarketFields(1n, list)));
    expectRefusal(
      refused([...full, entry([])]),
      "CODEC_TOO_LARGE",
      FM,
      "accessList",
      `${FM}.accessList: too many entries`,
    );
    const cases: [Rlp[], string, string, string][] = [
      [[entry(), [fill(20, 1)]], "CODEC_MALFORMED", "accessList[1]", "expected [address, keys]"],
      [[[fill(20, 1), [], []]], "CODEC_MALFORMED", "accessList[0]", "expected [address, keys]"],
      [[fill(20, 1)], "CODEC_MALFORMED", "accessList[0]", "expected [address, keys]"],
      [[[fill(19, 1), []]], "CODEC_INVALID_FIELD", "accessList[0].address", "want 20 bytes"],
      [[[fill(21, 1), []]], "CODEC_INVALID_FIELD", "accessList[0].address", "want 20 bytes"],
      [[[[], []]], "CODEC_INVALID_FIELD", "accessList[0].address", "want 20 bytes"],
      [[[fill(20, 1), fill(32, 2)]], "CODEC_MALFORMED", "accessList[0].storageKeys", "expected a list"],
      [
        [entry([fill(32, 2), fill(31, 2)])],
        "CODEC_INVALID_FIELD",
        "accessList[0].storageKeys[1]",
        "want 32 bytes",
      ],
      [[entry([fill(33, 2)])], "CODEC_INVALID_FIELD", "accessList[0].storageKeys[0]", "want 32 bytes"],
      [[entry([[]])], "CODEC_INVALID_FIELD", "accessList[0].storageKeys[0]", "want 32 bytes"],
    ];
    for (const [list, code, field, text] of cases) {
      expectRefusal(refused(list), code, FM, field, `${FM}.${field}: ${text}`);
    }
  });

  it("EIP-1559: the priority fee may equal the fee cap, not exceed it", () => {
    const fields = feeMarketFields();
    fields[2] = q(2n); // maxPriorityFeePerGas = maxFeePerGas = 2
    const tx = decodeTransaction(signTyped(2, fields));
    expect(tx.type === 2 && [tx.maxPriorityFeePerGas, tx.maxFeePerGas]).toEqual([2n, 2n]);
    fields[2] = q(3n);
    expectRefusal(
      () => decodeTransaction(signTyped(2, fields)),
      "CODEC_INVALID_FIELD",
      "FeeMarketTx",
      "maxPriorityFeePerGas",
      "FeeMarketTx.maxPriorityFeePerGas: exceeds maxFeePerGas",
    );
  });

  it("signature values: y-parity 0/1, legacy v 27/28 or ≥ 35, r in 1..n-1, s in 1..n/2", () => {
    const typed = signTyped(2, feeMarketFields());
    expectRefusal(
      () => decodeTransaction(withValue(typed, 9, q(2n))),
      "CODEC_INVALID_SIGNATURE",
      "FeeMarketTx",
      "yParity",
      "FeeMarketTx.yParity: invalid y-parity 2",
    );
    const legacy = signLegacy155(legacyFields(), CHAIN_ID);
    for (const v of [0n, 1n, 26n, 29n, 34n]) {
      expectRefusal(
        () => decodeTransaction(withValue(legacy, 6, q(v))),
        "CODEC_INVALID_SIGNATURE",
        "LegacyTx",
        "v",
        `LegacyTx.v: invalid v ${v}`,
      );
    }
    const L = "LegacyTx";
    const cases: [number, bigint, string, string][] = [
      [7, 0n, "r", "out of range 1..n-1"],
      [7, SECP256K1_N, "r", "out of range 1..n-1"],
      [7, SECP256K1_N + 1n, "r", "out of range 1..n-1"],
      [8, 0n, "s", "out of range 1..n-1"],
      [8, SECP256K1_N, "s", "out of range 1..n-1"],
      [8, SECP256K1_N - 1n, "s", "s > n/2 (EIP-2)"],
    ];
    for (const [index, value, field, text] of cases) {
      expectRefusal(
        () => decodeTransaction(withValue(legacy, index, q(value))),
        "CODEC_INVALID_SIGNATURE",
        L,
        field,
        `${L}.${field}: ${text}`,
      );
    }
    // r or s not minimal: an invalid signature (not a non-canonical quantity), naming r or s.
    expectRefusal(
      () => decodeTransaction(withValue(legacy, 7, Uint8Array.of(0, 1))),
      "CODEC_INVALID_SIGNATURE",
      L,
      "r",
      `${L}.r: ${L}.r: quantity has a leading zero byte`,
    );
    expectRefusal(
      () => decodeTransaction(withValue(legacy, 8, fill(33, 1))),
      "CODEC_INVALID_SIGNATURE",
      L,
      "s",
      `${L}.s: ${L}.s: quantity of 33 bytes exceeds 32`,
    );
    // r = 5 is in range but no curve point has x = 5: nothing to recover.
    const err = refusal(() => decodeTransaction(withValue(legacy, 7, q(5n))));
    expect({ code: err.code, field: err.meta.field, message: err.message }).toEqual({
      code: "CODEC_INVALID_SIGNATURE",
      field: "signature",
      message: "LegacyTx.signature: sender could not be recovered",
    });
    expect(err.cause).toBeInstanceOf(Error);
  });

  it("an r or s shorter than 32 bytes is placed right-aligned (the sender is still right)", () => {
    let shortR: Uint8Array | undefined;
    let shortS: Uint8Array | undefined;
    // RFC 6979: deterministic. About 1 nonce in 256 gives a 31-byte r (or s); 3000 tries all but guarantee both.
    for (let nonce = 0n; nonce < 3000n && (shortR === undefined || shortS === undefined); nonce++) {
      const raw = signTyped(2, feeMarketFields(nonce));
      const [r, s] = valuesOf(raw).slice(10) as [Uint8Array, Uint8Array];
      if (shortR === undefined && r.length < 32) shortR = raw;
      if (shortS === undefined && s.length < 32) shortS = raw;
    }
    for (const raw of [shortR, shortS]) {
      expect(raw).toBeDefined();
      expect(bytesToHex(decodeTransaction(raw!).sender)).toBe(SENDER);
      expect(EthersTransaction.from(bytesToHex(raw!)).from?.toLowerCase()).toBe(SENDER);
    }
  });

  it("wrong chain id: the chain ids in the error", () => {
    for (const [raw, type] of [
      [signLegacy155(legacyFields(), CHAIN_ID), "LegacyTx"],
      [signTyped(1, accessListFields()), "AccessListTx"],
      [signTyped(2, feeMarketFields()), "FeeMarketTx"],
    ] as const) {
      const err = refusal(() => decodeTransaction(raw, { chainId: 7n }));
      expect({ code: err.code, message: err.message, meta: err.meta }).toEqual({
        code: "CODEC_WRONG_CHAIN_ID",
        message: `${type}: chain id 20200, want 7`,
        meta: { type, field: "chainId", chainId: CHAIN_ID, expected: 7n },
      });
      expect(decodeTransaction(raw, { chainId: CHAIN_ID }).chainId).toBe(CHAIN_ID);
    }
  });

  it("a trusted sender must be 20 bytes; a given hash is used as the tx hash", () => {
    const raws = [signLegacy155(legacyFields(), CHAIN_ID), signTyped(2, feeMarketFields())];
    for (const [raw, type] of [
      [raws[0]!, "LegacyTx"],
      [raws[1]!, "FeeMarketTx"],
    ] as const) {
      for (const sender of [fill(19, 1), fill(21, 1), "0x9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f"]) {
        expectRefusal(
          () => decodeTransaction(raw, { sender: sender as Uint8Array }),
          "CODEC_INVALID_FIELD",
          type,
          "sender",
          `${type}.sender: trusted sender must be 20 bytes`,
        );
      }
      const hash = fill(32, 0xab);
      expect(decodeTransaction(raw, { hash }).hash).toEqual(hash);
      expect(decodeTransaction(raw).hash).toEqual(keccak256(raw));
    }
  });
});
