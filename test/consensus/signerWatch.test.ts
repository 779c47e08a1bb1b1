import { describe, expect, it } from "vitest";
import { SIGNER_WATCH_AFTER_START_MS, SignedCommits, SignerWatch } from "../../src/consensus/signerWatch.js";
import type { CommitCertificate } from "../../src/types/index.js";
import { captureLogger } from "../fixtures/logger.js";
import { keys } from "./driverHelpers.js";

const self = keys[0]!;
const other = keys[1]!;
const STARTED_MS = 1_800_000_000_000;
const hashOf = (n: number) => new Uint8Array(32).fill(n);

function blockAt(timestampMs: number, height: number, signers = [self, other], view = 0) {
  const certificate: CommitCertificate = {
    height,
    view,
    blockHash: hashOf(height),
    signatures: signers.map((k) => ({ nodeId: k.nodeId, signature: new Uint8Array(64) })),
  };
  return { header: { timestampMs }, certificate };
}

describe("SignerWatch: another process signing with this node's key", () => {
  function watch(signed = new SignedCommits()) {
    let nowMs = STARTED_MS + 60_000;
    const logger = captureLogger();
    const w = new SignerWatch({
      self: self.nodeId,
      startedAtMs: STARTED_MS,
      signedCommit: (h, v, hash) => signed.has(h, v, hash),
      logger,
      nowMs: () => nowMs,
    });
    return { w, logger, signed, advance: (ms: number) => (nowMs += ms) };
  }
  const after = STARTED_MS + SIGNER_WATCH_AFTER_START_MS + 1;

  it("counts a recent certificate with this node's signature on a vote it did not make", () => {
    const { w, logger } = watch();
    w.check(blockAt(after, 5));
    expect(w.conflictCount()).toBe(1);
    expect(logger.entries).toHaveLength(1);
    expect(logger.entries[0]).toMatchObject({
      level: "error",
      obj: { height: 5, view: 0, conflicts: 1 },
    });
    expect(logger.entries[0]!.msg).toContain("another process signs with this node's key");
  });

  it("ignores its own votes, others' certificates, blocks from before it started, and genesis", () => {
    const { w, signed } = watch();
    signed.remember({ height: 5, view: 2, blockHash: hashOf(5) });
    w.check(blockAt(after, 5, [self, other], 2)); // signed by this process
    w.check(blockAt(after, 6, [other])); // this node is not in the certificate
    // Proposed before this process started (plus the clock drift a block may have): a previous process's vote.
    w.check(blockAt(STARTED_MS + SIGNER_WATCH_AFTER_START_MS, 7));
    w.check({ header: { timestampMs: after }, certificate: null });
    expect(w.conflictCount()).toBe(0);
    // The same height and hash in another view is another vote.
    w.check(blockAt(after, 5, [self, other], 3));
    expect(w.conflictCount()).toBe(1);
  });

  it("counts every conflict but tells the operator at most once a minute", () => {
    const { w, logger, advance } = watch();
    w.check(blockAt(after, 5));
    advance(59_000);
    w.check(blockAt(after, 6));
    expect([w.conflictCount(), logger.entries.length]).toEqual([2, 1]);
    advance(1_000);
    w.check(blockAt(after, 7));
    expect([w.conflictCount(), logger.entries.length]).toEqual([3, 2]);
    expect(logger.entries[1]!.obj).toMatchObject({ height: 7, conflicts: 3 });
  });

  it("remembers a bounded number of signed votes, the oldest forgotten first", () => {
    const signed = new SignedCommits();
    for (let h = 1; h <= 4097; h++) signed.remember({ height: h, view: 0, blockHash: hashOf(h % 256) });
    expect(signed.has(1, 0, hashOf(1))).toBe(false);
    expect(signed.has(2, 0, hashOf(2))).toBe(true);
    expect(signed.has(4097, 0, hashOf(4097 % 256))).toBe(true);
    // Remembering a vote again does not push an older one out.
    signed.remember({ height: 2, view: 0, blockHash: hashOf(2) });
    expect(signed.has(2, 0, hashOf(2))).toBe(true);
    expect(signed.has(3, 0, hashOf(3))).toBe(true);
  });
});
