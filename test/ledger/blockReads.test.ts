import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { encodeBlock } from "../../src/codec/index.js";
import { generatePrivateKey } from "../../src/crypto/index.js";
import { LevelLedger } from "../../src/ledger/index.js";
import { silentLogger } from "../../src/util/logger.js";
import { buildCommit, CHAIN_ID, GROUP_ID, nativeTx } from "./helpers.js";

describe("LevelLedger: stored bytes of recent blocks", () => {
  let dir: string;
  const open: LevelLedger[] = [];
  const openLedger = async () => {
    const ledger = await LevelLedger.open(
      { dataDir: dir, chainId: CHAIN_ID, groupId: GROUP_ID },
      { logger: silentLogger() },
    );
    open.push(ledger);
    return ledger;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "consort-blockreads-"));
  });
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves a just-committed block's bytes from memory, the same bytes as stored", async () => {
    const ledger = await openLedger();
    const key = generatePrivateKey();
    const commits = [buildCommit(0, null, [])];
    await ledger.commitBlock(commits[0]!);
    for (let n = 1; n <= 3; n++) {
      commits.push(buildCommit(n, ledger.head()!.hash, [nativeTx(key), nativeTx(key)]));
      await ledger.commitBlock(commits[n]!);
    }
    const store = (ledger as unknown as { store: { get: () => unknown } }).store;
    const get = vi.spyOn(store, "get");
    const live = await Promise.all([0, 1, 2, 3].map((n) => ledger.getBlockBytes(n)));
    expect(get).not.toHaveBeenCalled();
    expect(live).toEqual(commits.map((c) => encodeBlock(c.block)));

    await ledger.close();
    const reopened = await openLedger();
    for (let n = 0; n <= 3; n++) expect(await reopened.getBlockBytes(n)).toEqual(live[n]);
    expect(await reopened.getBlockBytes(4)).toBeNull();
  });

  it("serves a just-committed block's receipts from memory, equal to the stored ones", async () => {
    const ledger = await openLedger();
    const key = generatePrivateKey();
    await ledger.commitBlock(buildCommit(0, null, []));
    const commit = buildCommit(1, ledger.head()!.hash, [nativeTx(key), nativeTx(key), nativeTx(key)]);
    await ledger.commitBlock(commit);
    const store = (ledger as unknown as { store: { get: () => unknown; getMany: () => unknown } }).store;
    const reads = [vi.spyOn(store, "get"), vi.spyOn(store, "getMany")];
    const live = await ledger.getBlockReceipts(1);
    live.pop(); // a caller's copy: the cached list stays whole
    const lookups = await Promise.all(commit.block.transactions.map((tx) => ledger.getReceipt(tx.hash)));
    expect(reads[1]).not.toHaveBeenCalled(); // (get: the tx index only)
    expect(await ledger.getBlockReceipts(1)).toEqual(commit.receipts);

    await ledger.close();
    const reopened = await openLedger();
    expect(await reopened.getBlockReceipts(1)).toEqual(commit.receipts);
    for (const [i, tx] of commit.block.transactions.entries()) {
      expect(await reopened.getReceipt(tx.hash)).toEqual(lookups[i]);
    }
  });
});
