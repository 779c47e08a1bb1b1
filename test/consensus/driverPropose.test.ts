import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Chain } from "../../src/chain/index.js";
import { decodeBlock } from "../../src/codec/index.js";
import { ConsensusDriver } from "../../src/consensus/driver.js";
import { Executor } from "../../src/execution/index.js";
import { LevelLedger } from "../../src/ledger/index.js";
import type { Transport } from "../../src/network/index.js";
import { silentLogger } from "../../src/util/logger.js";
import { fakePool, genesisOf, keys, transfer } from "./driverHelpers.js";

/**
 * Latency (issue 14): a leader waiting for transactions proposes as soon as one arrives, not on its next tick.
 * The tick here is a minute long, so only the pool's "added" event can make it propose within the test.
 */
describe("ConsensusDriver: proposing on arrival", () => {
  let dir: string;
  let ledger: LevelLedger | null = null;
  let driver: ConsensusDriver | null = null;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-driver-propose-"));
  });
  afterEach(async () => {
    await driver?.stop();
    driver = null;
    await ledger?.close();
    ledger = null;
    await rm(dir, { recursive: true, force: true });
  });

  it("a lone validator with an empty pool proposes the moment a tx is added", async () => {
    ledger = await LevelLedger.open(
      { dataDir: path.join(dir, "ledger"), chainId: 20200n, groupId: "group0" },
      { logger: silentLogger() },
    );
    const chain = new Chain(genesisOf([keys[0]!]), {
      ledger,
      executor: new Executor({}, { logger: silentLogger() }),
      logger: silentLogger(),
    });
    await chain.init();
    // A quorum of one: the lone validator commits without any peer.
    const transport = {
      subscribe: () => () => {},
      publish: () => Promise.resolve(),
      sendDirect: () => Promise.resolve(),
    } as unknown as Transport;
    const pool = fakePool([]);
    driver = new ConsensusDriver(
      {
        tickMs: 60_000,
        viewTimeoutMs: 600_000,
        minSealTimeMs: 0,
        queueMax: 1000,
        stateFile: path.join(dir, "state.json"),
      },
      {
        chain,
        txpool: pool,
        transport,
        nodeKey: keys[0]!,
        logger: silentLogger(),
        fetchBlocks: () => {},
        onFatal: () => {},
      },
    );
    await driver.start();
    // Idle: the leader was asked to propose, but has nothing to seal (no empty blocks).
    await new Promise((r) => setTimeout(r, 200));
    expect(chain.height()).toBe(0);

    pool.add(transfer(1));
    const deadline = Date.now() + 20_000;
    while (chain.height() < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(chain.height()).toBe(1);
    expect(decodeBlock((await chain.blockBytes(1))!).transactions).toHaveLength(1);
  });
});
