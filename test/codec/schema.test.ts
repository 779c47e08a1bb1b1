import { describe, expect, it } from "vitest";

// The schema is parsed when src/codec/schema.ts loads. This file imports it inside the test, not at the top: a
// broken schema then fails this test rather than the loading of a test file, which a mutation run (Stryker's vitest
// runner) reports as "no tests ran", not as a failure.

describe("codec schema", () => {
  it("parses, and each exported type is the message of its name", async () => {
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
});
