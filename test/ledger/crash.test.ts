import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Level } from "level";
import { afterEach, describe, expect, it } from "vitest";
import { Bucket, bytesKey, numberKey, readU64, receiptKey } from "../../src/ledger/buckets.js";
import { LedgerError, LevelLedger } from "../../src/ledger/index.js";
import { decodeHashList } from "../../src/ledger/records.js";
import { silentLogger } from "../../src/util/logger.js";
import { CHAIN_ID, GROUP_ID, txCountOf } from "./helpers.js";
import { verifyChain } from "./verify.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");
const fixture = join(here, "fixtures", "commitLoop.ts");
const RUNS = 20;
const logger = silentLogger();

const children = new Set<ChildProcess>();
const dirs: string[] = [];

afterEach(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
  children.clear();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveExit) => child.once("exit", () => resolveExit()));
}

/**
 * Runs the commit loop on `dir` until it printed a committed height, then for a random 50–400 ms more, and SIGKILLs
 * it. Returns the highest height it printed (committed and synced before the print).
 */
async function runAndKill(dir: string, onFirstCommit?: () => Promise<void>): Promise<number> {
  const child = spawn(process.execPath, ["--import", "tsx", fixture, dir], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let printed = -1;
  let stderr = "";
  let buffer = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const firstCommit = new Promise<void>((resolveFirst, rejectFirst) => {
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      for (const line of lines) {
        const m = /^committed (\d+)$/.exec(line);
        if (m) printed = Math.max(printed, Number(m[1]));
      }
      if (printed >= 0) resolveFirst();
    });
    child.once("exit", (code, signal) =>
      rejectFirst(new Error(`commit loop exited early (code ${code}, signal ${signal}): ${stderr}`)),
    );
  });
  try {
    await firstCommit;
    if (onFirstCommit) await onFirstCommit();
    await new Promise((r) => setTimeout(r, 50 + Math.floor(Math.random() * 350)));
    if (child.exitCode !== null)
      throw new Error(`commit loop exited early (code ${child.exitCode}): ${stderr}`);
    child.kill("SIGKILL");
    await exited(child);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited(child);
    children.delete(child);
  }
  expect(child.signalCode).toBe("SIGKILL");
  return printed;
}

/**
 * Raw LevelDB view: every block 0..head has all its records (header, hash indexes, body, certificate, tx hash list,
 * a tx index entry and a receipt per transaction), and nothing of block head+1 reached the disk.
 */
async function expectOnDisk(dir: string, head: number): Promise<void> {
  const raw = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
  await raw.open();
  try {
    const perBlock = [Bucket.header, Bucket.numberToHash, Bucket.body, Bucket.certificate, Bucket.txHashes];
    for (let m = 0; m <= head; m++) {
      const [header, hash, body, certificate, hashList] = await raw.getMany(
        perBlock.map((b) => numberKey(b, m)),
      );
      expect(
        [header, hash, body, certificate, hashList].every((v) => v !== undefined),
        `records of block ${m}`,
      ).toBe(true);
      const number = await raw.get(bytesKey(Bucket.hashToNumber, hash!));
      expect(number && readU64(number, 0), `hashToNumber of block ${m}`).toBe(m);
      const txHashes = decodeHashList(hashList!);
      expect(txHashes, `tx hashes of block ${m}`).toHaveLength(txCountOf(m));
      const found = await raw.getMany([
        ...txHashes.map((h) => bytesKey(Bucket.txIndex, h)),
        ...txHashes.map((_, i) => receiptKey(m, i)),
      ]);
      expect(
        found.every((v) => v !== undefined),
        `tx index and receipts of block ${m}`,
      ).toBe(true);
    }
    const next = head + 1;
    const values = await raw.getMany(perBlock.map((b) => numberKey(b, next)));
    expect(values, `records of block ${next}`).toEqual(perBlock.map(() => undefined));
    const receipts = await raw
      .keys({ gte: numberKey(Bucket.receipt, next), lt: numberKey(Bucket.receipt, next + 1), limit: 1 })
      .all();
    expect(receipts).toEqual([]);
  } finally {
    await raw.close();
  }
}

describe("LevelLedger crash safety", () => {
  it(`survives ${RUNS} SIGKILLs mid-commit with every block complete`, { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "consort-ledger-crash-"));
    dirs.push(dir);
    let lastHead = -1;
    for (let run = 0; run < RUNS; run++) {
      // On the first run, check that a second process cannot open the directory while the child holds it.
      const lockCheck =
        run === 0
          ? async () => {
              const err = await LevelLedger.open(
                { dataDir: dir, chainId: CHAIN_ID, groupId: GROUP_ID },
                { logger },
              ).then(
                async (l) => {
                  await l.close();
                  return null;
                },
                (e: unknown) => e,
              );
              expect(err).toBeInstanceOf(LedgerError);
              expect((err as LedgerError).code).toBe("LEDGER_LOCKED");
            }
          : undefined;
      const printed = await runAndKill(dir, lockCheck);
      const ledger = await LevelLedger.open(
        { dataDir: dir, chainId: CHAIN_ID, groupId: GROUP_ID, blockCacheTxsMax: 1 },
        { logger },
      );
      let head: number;
      try {
        // Blocks the killed child wrote (and the previous head, whose state changed) in full; older ones lighter.
        head = await verifyChain(ledger, { proofs: "head", from: lastHead });
      } finally {
        await ledger.close();
      }
      // Everything the child reported as committed survived; the chain only grows.
      expect(head).toBeGreaterThanOrEqual(printed);
      expect(head).toBeGreaterThan(lastHead);
      await expectOnDisk(dir, head);
      lastHead = head;
    }
  });
});
