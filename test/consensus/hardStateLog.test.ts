import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  HardStateLog,
  HardStateLogError,
  LEGACY_HARD_STATE_FILE,
  readHardStateLog,
} from "../../src/consensus/index.js";
import { stringifyWithBytes } from "../../src/util/jsonBytes.js";
import { hardState } from "./coreHelpers.js";

const vote = (byte: number) => new Uint8Array(32).fill(byte);

describe("HardStateLog: the consensus hard state on disk", () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-hardstate-"));
    file = path.join(dir, "consensus-state.wal");
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a fresh data dir has no state; after saves, a new instance loads the last one (bytes and all)", async () => {
    const log = new HardStateLog(file);
    expect(await log.load()).toBeNull();
    await log.save(hardState({ height: 1, prepareVote: vote(1) }));
    await log.save(hardState({ height: 1, view: 2, commitVote: vote(2) }));
    await log.save(hardState({ height: 2, prePrepareVote: vote(3) }));
    const loaded = await new HardStateLog(file).load();
    expect(loaded).toEqual(hardState({ height: 2, prePrepareVote: vote(3) }));
    expect(loaded?.prePrepareVote).toBeInstanceOf(Uint8Array);
    expect(readHardStateLog(file)).toEqual(loaded);
  });

  it("drops a record torn by a crash, truncates it, and appends the next save after the last good record", async () => {
    const log = new HardStateLog(file);
    await log.load();
    await log.save(hardState({ height: 4, prepareVote: vote(4) }));
    const goodBytes = statSync(file).size;
    await log.save(hardState({ height: 5, commitVote: vote(5) }));
    const whole = readFileSync(file);
    // The second record only partly reached the disk: every cut loads the first record.
    for (const cut of [goodBytes + 3, goodBytes + 8, whole.length - 1]) {
      writeFileSync(file, whole.subarray(0, cut));
      const reopened = new HardStateLog(file);
      expect(await reopened.load()).toEqual(hardState({ height: 4, prepareVote: vote(4) }));
      expect(statSync(file).size).toBe(goodBytes);
    }
    // A crash after the size grew but before the data landed: the tail reads as zeros.
    appendFileSync(file, Buffer.alloc(100));
    const reopened = new HardStateLog(file);
    expect(await reopened.load()).toEqual(hardState({ height: 4, prepareVote: vote(4) }));
    expect(statSync(file).size).toBe(goodBytes);
    await reopened.save(hardState({ height: 6 }));
    expect(await new HardStateLog(file).load()).toEqual(hardState({ height: 6 }));
  });

  it("refuses a log damaged before its last record (HARD_STATE_CORRUPT): a vote after it may have been sent", async () => {
    const log = new HardStateLog(file);
    await log.load();
    await log.save(hardState({ height: 7 }));
    await log.save(hardState({ height: 8 }));
    const bytes = readFileSync(file);
    bytes[10] = (bytes[10] as number) ^ 0xff; // inside the first record's payload
    writeFileSync(file, bytes);
    const err = await new HardStateLog(file).load().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HardStateLogError);
    expect(err).toMatchObject({ code: "HARD_STATE_CORRUPT", meta: { file, offset: 0 } });
    expect((err as Error).message).toMatch(/bad record at byte 0 \(checksum\)/);
    expect(readFileSync(file)).toEqual(bytes); // nothing truncated
  });

  it("drops a last record whose length reached the disk but whose bytes did not (checksum fails at the end)", async () => {
    const log = new HardStateLog(file);
    await log.load();
    await log.save(hardState({ height: 4 }));
    const goodBytes = statSync(file).size;
    await log.save(hardState({ height: 5 }));
    const bytes = readFileSync(file);
    bytes.fill(0x20, goodBytes + 8 + 2); // the second record's payload after 2 bytes: blanks, its length intact
    writeFileSync(file, bytes);
    expect(await new HardStateLog(file).load()).toEqual(hardState({ height: 4 }));
    expect(statSync(file).size).toBe(goodBytes);
  });

  it("refuses a header that declares more than any record holds (damage, not a torn write), naming the offset", async () => {
    const log = new HardStateLog(file);
    await log.load();
    await log.save(hardState({ height: 7 }));
    const goodBytes = statSync(file).size;
    const header = Buffer.alloc(8);
    header.writeUInt32BE(0x7b226865, 0); // '{"he': a JSON file where a record header should be
    appendFileSync(file, Buffer.concat([header, Buffer.alloc(32, 1)]));
    const err = await new HardStateLog(file).load().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HardStateLogError);
    expect(err).toMatchObject({ code: "HARD_STATE_CORRUPT", meta: { file, offset: goodBytes } });
    expect((err as Error).message).toMatch(/bad record at byte \d+ \(length\)/);
  });

  it("rewrites itself holding only the latest state once it reaches compactBytes", async () => {
    const log = new HardStateLog(file, { compactBytes: 2_000 });
    await log.load();
    // 50 records of ~300 bytes: without the rewrite the file would pass 2,000 bytes by the 7th.
    for (let h = 1; h <= 50; h++) {
      await log.save(hardState({ height: h, prepareVote: vote(h) }));
      expect(statSync(file).size).toBeLessThanOrEqual(2_000);
    }
    expect(await new HardStateLog(file).load()).toEqual(hardState({ height: 50, prepareVote: vote(50) }));
    expect(existsSync(`${file}.tmp`)).toBe(false);
  });

  it("imports the JSON file of earlier versions once, then removes it", async () => {
    const legacy = path.join(dir, LEGACY_HARD_STATE_FILE);
    const state = hardState({ height: 9, view: 1, commitVote: vote(9) });
    writeFileSync(legacy, stringifyWithBytes(state));
    expect(await new HardStateLog(file).load()).toEqual(state);
    expect(existsSync(legacy)).toBe(false);
    expect(await new HardStateLog(file).load()).toEqual(state);
  });

  it("a save that cannot reach the disk rejects (the driver halts rather than send the vote)", async () => {
    const log = new HardStateLog(path.join(dir, "missing-folder", "consensus-state.wal"));
    expect(await log.load()).toBeNull();
    await expect(log.save(hardState({ height: 1 }))).rejects.toThrow(/ENOENT/);
  });
});
