import { execFileSync } from "node:child_process";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { generatePrivateKey } from "../../src/crypto/index.js";
import { LedgerError, LevelLedger } from "../../src/ledger/index.js";
import { silentLogger } from "../../src/util/logger.js";
import { buildCommit, CHAIN_ID, GROUP_ID, nativeTx } from "./helpers.js";

// A real full disk needs a small tmpfs, so root (CI runs as root; the chaos campaign runs the same case end to end).
const isRoot = process.getuid?.() === 0;
const logger = silentLogger();
let dir: string | null = null;

afterEach(async () => {
  if (!dir) return;
  try {
    execFileSync("umount", ["-l", dir]);
  } catch {}
  await rm(dir, { recursive: true, force: true });
  dir = null;
});

function fill(path: string): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (let i = 0; i < 10_000; i++) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
    try {
      for (let i = 0; i < 4096; i++) writeSync(fd, chunk.subarray(0, 256));
    } catch {}
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(!isRoot)("LevelLedger on a full disk", () => {
  it("fails the commit with LEDGER_DISK_FULL, keeps the committed blocks, and goes on once space is freed", async () => {
    dir = await mkdtemp(join(tmpdir(), "consort-diskfull-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", dir]);
    const dataDir = join(dir, "ledger");
    const open = () => LevelLedger.open({ dataDir, chainId: CHAIN_ID, groupId: GROUP_ID }, { logger });
    const key = generatePrivateKey();
    let ledger = await open();
    for (let n = 0; n <= 3; n++)
      await ledger.commitBlock(buildCommit(n, ledger.head()?.hash ?? null, [nativeTx(key)]));
    const filler = join(dir, "filler");
    fill(filler);

    let failure: unknown = null;
    for (let n = 4; n < 200 && failure === null; n++) {
      const txs = Array.from({ length: 20 }, () => nativeTx(key));
      await ledger.commitBlock(buildCommit(n, ledger.head()!.hash, txs)).catch((err: unknown) => {
        failure = err;
      });
    }
    expect(failure).toBeInstanceOf(LedgerError);
    expect((failure as LedgerError).code).toBe("LEDGER_DISK_FULL");
    expect((failure as LedgerError).message).toMatch(/no space left on the data directory/);
    const headBefore = ledger.head()!;

    rmSync(filler);
    await ledger.close().catch(() => {});
    ledger = await open();
    // Whole blocks only: the head is the last block whose commit returned, or (when the failing batch reached
    // the log before the error) the one after it; never a partial block.
    expect(ledger.head()!.number).toBeGreaterThanOrEqual(headBefore.number);
    expect(ledger.head()!.number).toBeLessThanOrEqual(headBefore.number + 1);
    const next = ledger.head()!.number + 1;
    await ledger.commitBlock(buildCommit(next, ledger.head()!.hash, [nativeTx(key)]));
    expect(ledger.head()!.number).toBe(next);
    await ledger.close();
  });
});
