import { describe, expect, it, vi } from "vitest";

// What src/codec does when a module loads: parse the schema, set up module state. This file imports the codec only
// inside its tests, never at the top: a module that fails to load then fails a test here rather than the loading
// of the test files, which a mutation run (Stryker's vitest runner) reports as "no test failed", i.e. survived.

describe("codec modules at load", () => {
  it("the schema parses, and each exported type is the message of its name", async () => {
    const { pb, CONSORT_PROTO } = await import("../../src/codec/schema.js");
    expect(CONSORT_PROTO).toMatch(/^\s*syntax = "proto3";\s*package consort;/);
    const names = Object.fromEntries(Object.entries(pb).map(([key, type]) => [key, type.fullName]));
    expect(names).toEqual({
      BlockHeader: ".consort.BlockHeader",
      CertificateSignature: ".consort.CertificateSignature",
      CommitCertificate: ".consort.CommitCertificate",
      BlockTx: ".consort.BlockTx",
      Block: ".consort.Block",
      CompactTx: ".consort.CompactTx",
      CompactBlock: ".consort.CompactBlock",
      Log: ".consort.Log",
      Receipt: ".consort.Receipt",
      NativeTxBody: ".consort.NativeTxBody",
      NativeTxEnvelope: ".consort.NativeTxEnvelope",
      NativeTxSignature: ".consort.NativeTxSignature",
    });
    // Field names stay camelCase in code (keepCase false): block_limit is read as blockLimit.
    expect(pb.NativeTxBody.fields.blockLimit?.id).toBe(4);
  });

  it("a freshly loaded ethTx module decodes a chain-1 EIP-155 tx first correctly (its chain id cache starts empty)", async () => {
    vi.resetModules(); // other test files may have loaded it already (mutation runs share one module graph)
    const { decodeEthereumTx } = await import("../../src/codec/ethTx.js");
    const { bytesToHex, hexToBytes } = await import("../../src/util/hex.js");
    // EIP-155's example: chain 1, private key 0x4646…46.
    const raw = hexToBytes(
      "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc" +
        "2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83",
    );
    const tx = decodeEthereumTx(raw);
    expect(tx.chainId).toBe(1n);
    expect(bytesToHex(tx.sender)).toBe("0x9d8a62f656a8d1615c1294fd71e9cfb3e4855a4f");
  });
});
