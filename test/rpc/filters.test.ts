import { afterEach, describe, expect, it } from "vitest";
import type { Json } from "../../src/rpc/ethFormat.js";
import { FilterManager, type LogFilterSpec } from "../../src/rpc/filters.js";
import type { RpcBlock } from "../../src/rpc/interface.js";
import { blockLogs } from "../../src/rpc/logs.js";
import { NO_PAUSE } from "../../src/rpc/slicer.js";
import { bytesToHex } from "../../src/util/hex.js";
import { signEth, TOKEN_ADDRESS, TRANSFER_TOPIC } from "./fakeBackend.js";
import { type Harness, startHarness } from "./helpers.js";

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

describe("eth_getLogs", () => {
  it("filters by address, topics (with alternatives and null), blockHash", async () => {
    h = await startHarness();
    const token = bytesToHex(TOKEN_ADDRESS);
    const all = (await h.rpc("eth_getLogs", [{ fromBlock: "earliest", toBlock: "latest" }])).result;
    expect(all).toHaveLength(3);
    const byTopic = await h.rpc("eth_getLogs", [
      {
        fromBlock: "0x0",
        topics: [[bytesToHex(TRANSFER_TOPIC), `0x${"00".repeat(32)}`], null, `0x${"02".repeat(32)}`],
      },
    ]);
    expect(byTopic.result).toHaveLength(3);
    const noMatch = await h.rpc("eth_getLogs", [
      { fromBlock: "0x0", topics: [null, `0x${"05".repeat(32)}`] },
    ]);
    expect(noMatch.result).toEqual([]);
    const other = await h.rpc("eth_getLogs", [{ fromBlock: "0x0", address: [`0x${"99".repeat(20)}`] }]);
    expect(other.result).toEqual([]);
    const blockHash = bytesToHex(h.backend.blocks[2]!.block.hash);
    const inBlock = await h.rpc("eth_getLogs", [{ blockHash, address: token }]);
    expect(inBlock.result).toHaveLength(1);
    expect(inBlock.result[0].blockNumber).toBe("0x2");
    expect(inBlock.result[0].transactionIndex).toBe("0x1");
    const both = await h.rpc("eth_getLogs", [{ blockHash, fromBlock: "0x1" }]);
    expect(both.error?.code).toBe(-32602);
    // A numbered end past the head: refused, not cut at the head (geth; execution-apis filter-error-*-block-range).
    for (const fromBlock of ["0x0", "0x100"]) {
      const future = await h.rpc("eth_getLogs", [{ fromBlock, toBlock: "0x200" }]);
      expect(future.error).toEqual({
        code: -32602,
        message: "block range extends beyond current head block",
      });
    }
    const head = `0x${h.backend.headNumber().toString(16)}`;
    expect((await h.rpc("eth_getLogs", [{ fromBlock: "0x0", toBlock: head }])).result).toHaveLength(3);
    const pastHead = await h.rpc("eth_getLogs", [{ fromBlock: "0x100", toBlock: "latest" }]);
    expect(pastHead.result).toEqual([]);
    for (const [fromBlock, toBlock] of [
      ["0x2", "0x1"],
      ["0x200", "0x100"], // both past the head: still the wrong way round
      ["latest", "0x0"],
    ]) {
      const reversed = await h.rpc("eth_getLogs", [{ fromBlock, toBlock }]);
      expect(reversed.error).toMatchObject({
        code: -32602,
        message: /^invalid block range params: fromBlock/,
      });
    }
  });

  it("refuses a block range above getLogsMaxBlockRange (no silent truncation) and too many results", async () => {
    h = await startHarness({ getLogsMaxBlockRange: 2, getLogsMaxResults: 2 });
    const wide = await h.rpc("eth_getLogs", [{ fromBlock: "0x0", toBlock: "latest" }]);
    expect(wide.error?.code).toBe(-32005);
    expect(wide.error?.message).toBe("exceed maximum block range: 2 (asked for 4 blocks, 0..3)");
    const narrow = await h.rpc("eth_getLogs", [{ fromBlock: "0x2", toBlock: "0x3" }]);
    expect(narrow.result).toHaveLength(1);
    // Exactly getLogsMaxResults logs (block 1 holds two) is still an answer; three (blocks 1 and 2) are refused.
    const atMax = await h.rpc("eth_getLogs", [{ fromBlock: "0x0", toBlock: "0x1" }]);
    expect(atMax.result).toHaveLength(2);
    const many = await h.rpc("eth_getLogs", [{ fromBlock: "0x1", toBlock: "0x2" }]);
    expect(many.error).toEqual({
      code: -32005,
      message: "query returned more than 2 results: narrow the block range or filter",
    });
  });

  it("skips blocks whose logs bloom rules the filter out (their receipts are never read)", async () => {
    h = await startHarness();
    const read: number[] = [];
    const getBlockReceipts = h.backend.getBlockReceipts.bind(h.backend);
    h.backend.getBlockReceipts = async (n: number) => {
      read.push(n);
      return getBlockReceipts(n);
    };
    const none = await h.rpc("eth_getLogs", [{ fromBlock: "0x0", address: `0x${"99".repeat(20)}` }]);
    expect(none.result).toEqual([]);
    expect(read).toEqual([]);
    const token = await h.rpc("eth_getLogs", [{ fromBlock: "0x0", address: bytesToHex(TOKEN_ADDRESS) }]);
    expect(token.result.length).toBeGreaterThan(0);
    const blocksWithTokenLogs = new Set(
      token.result.map((l: { blockNumber: string }) => Number(l.blockNumber)),
    );
    expect(new Set(read)).toEqual(blocksWithTokenLogs);
  });
});

describe("polling filters", () => {
  it("block, pending and log filters return changes once, then nothing", async () => {
    h = await startHarness();
    const blockF = (await h.rpc("eth_newBlockFilter")).result;
    const pendingF = (await h.rpc("eth_newPendingTransactionFilter")).result;
    const logF = (await h.rpc("eth_newFilter", [{ address: bytesToHex(TOKEN_ADDRESS) }])).result;
    const raw = await signEth({
      type: 0,
      nonce: 5,
      to: bytesToHex(TOKEN_ADDRESS),
      gasLimit: 60_000n,
      gasPrice: 0n,
    });
    const hash = (await h.rpc("eth_sendRawTransaction", [bytesToHex(raw)])).result;
    h.backend.outcomes.set(hash, {
      status: 1,
      logs: [{ address: TOKEN_ADDRESS, topics: [TRANSFER_TOPIC], data: new Uint8Array(0) }],
      output: new Uint8Array(0),
    });
    const block = h.backend.mine();
    // Filters are filled after the commit, off the commit path.
    await h.server.settled();
    expect((await h.rpc("eth_getFilterChanges", [pendingF])).result).toEqual([hash]);
    expect((await h.rpc("eth_getFilterChanges", [blockF])).result).toEqual([bytesToHex(block.hash)]);
    const logs = (await h.rpc("eth_getFilterChanges", [logF])).result;
    expect(logs).toHaveLength(1);
    expect(logs[0].transactionHash).toBe(hash);
    expect((await h.rpc("eth_getFilterChanges", [blockF])).result).toEqual([]);
    const allLogs = (await h.rpc("eth_getFilterLogs", [logF])).result;
    expect(allLogs).toHaveLength(1); // filter's own range defaults to latest..latest
    expect((await h.rpc("eth_uninstallFilter", [blockF])).result).toBe(true);
    expect((await h.rpc("eth_uninstallFilter", [blockF])).result).toBe(false);
    const gone = await h.rpc("eth_getFilterChanges", [blockF]);
    expect(gone.error).toEqual({ code: -32000, message: "filter not found" });
    // The log filter got only its own block's log: the next block (no logs) adds nothing.
    h.backend.mine();
    await h.server.settled();
    expect((await h.rpc("eth_getFilterChanges", [logF])).result).toEqual([]);
  });

  it("enforces maxFilters", async () => {
    h = await startHarness({ maxFilters: 2 });
    const first = (await h.rpc("eth_newBlockFilter")).result;
    await h.rpc("eth_newBlockFilter");
    const third = await h.rpc("eth_newBlockFilter");
    expect(third.error).toEqual({ code: -32005, message: "too many filters installed (max 2)" });
    expect((await h.rpc("eth_uninstallFilter", [first])).result).toBe(true);
    expect((await h.rpc("eth_newBlockFilter")).result).toMatch(/^0x[0-9a-f]+$/);
  });
});

describe("FilterManager", () => {
  it("expires idle filters and bounds buffers", async () => {
    let now = 0;
    const fm = new FilterManager({ maxFilters: 10, bufferMax: 3, idleTimeoutMs: 1000 }, () => now);
    const a = fm.install("pendingTransactions");
    const b = fm.install("block");
    await fm.onPending(
      [1, 2, 3, 4, 5].map((i) => new Uint8Array(32).fill(i)),
      NO_PAUSE,
    );
    expect(fm.changes(a)).toEqual([3, 4, 5].map((i) => bytesToHex(new Uint8Array(32).fill(i))));
    now = 900;
    fm.changes(a);
    now = 1500;
    fm.expire();
    expect(fm.size).toBe(1);
    expect(() => fm.changes(b)).toThrow("filter not found");
  });

  it("eth_getFilterLogs does not keep a filter alive: only a poll that drains it does (as geth)", () => {
    let now = 0;
    const fm = new FilterManager({ maxFilters: 10, bufferMax: 3, idleTimeoutMs: 1000 }, () => now);
    const spec: LogFilterSpec = {
      criteria: { addresses: [], topics: [] },
      fromBlock: "latest",
      toBlock: "latest",
    };
    const polled = fm.install("logs", spec);
    const readOnly = fm.install("logs", spec);
    for (now = 400; now <= 1600; now += 400) {
      fm.changes(polled);
      expect(fm.logSpec(readOnly)).toBe(spec);
    }
    fm.expire();
    expect(fm.logSpec(polled)).toBe(spec);
    expect(() => fm.logSpec(readOnly)).toThrow("filter not found");
  });

  it("bounds the bytes of all buffers together: the filter being filled drops its oldest", async () => {
    const fm = new FilterManager({
      maxFilters: 10,
      bufferMax: 1000,
      bufferBytesMax: 10_000,
      idleTimeoutMs: 1e9,
    });
    const big = fm.install("logs", {
      criteria: { addresses: [], topics: [] },
      fromBlock: null,
      toBlock: null,
    });
    const small = fm.install("logs", {
      criteria: { addresses: [], topics: [] },
      fromBlock: null,
      toBlock: null,
    });
    // A log with ~2 KB of data: five fill the budget.
    const log = (i: number) => ({
      logIndex: `0x${i.toString(16)}`,
      data: `0x${"ab".repeat(1000)}`,
      topics: [],
    });
    let i = 0;
    for (let block = 0; block < 8; block++) {
      await fm.onBlock(new Uint8Array(32).fill(block), () => [log(i++)], NO_PAUSE);
    }
    // Two filters × eight logs of ~2 KB would be ~32 KB; the budget keeps 10,000 bytes, the newest of each.
    expect(fm.bytes).toBeLessThanOrEqual(10_000);
    const kept = fm.changes(big) as { logIndex: string }[];
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.at(-1)?.logIndex).toBe("0xe"); // each block's log was made for one filter at a time: 0x0,0x1 …
    const keptSmall = fm.changes(small) as { logIndex: string }[];
    expect(keptSmall.at(-1)?.logIndex).toBe("0xf");
    expect(fm.bytes).toBe(0); // drained
    // Draining gave the budget back: a new block's log is buffered whole.
    await fm.onBlock(new Uint8Array(32), () => [log(99)], NO_PAUSE);
    expect(fm.changes(big)).toHaveLength(1);
    fm.uninstall(small);
    expect(fm.bytes).toBe(0);
  });
});

describe("blockLogs", () => {
  it("with a cache, a log matched by several criteria is formatted once: the same object for all of them", () => {
    const block = {
      header: { number: 7, timestampMs: 1_000 },
      hash: new Uint8Array(32).fill(7),
      transactionHashes: [new Uint8Array(32).fill(1)],
    } as unknown as RpcBlock;
    const receipts = [
      {
        logs: [
          { address: TOKEN_ADDRESS, topics: [TRANSFER_TOPIC], data: new Uint8Array([1]) },
          { address: TOKEN_ADDRESS, topics: [], data: new Uint8Array([2]) },
        ],
      },
    ];
    const byAddress = { addresses: [TOKEN_ADDRESS], topics: [] };
    const byTopic = { addresses: [], topics: [[TRANSFER_TOPIC]] };
    const formatted: Json[] = [];
    const a: Json[] = [];
    const b: Json[] = [];
    blockLogs(byAddress, block, receipts, a, 100, formatted);
    blockLogs(byTopic, block, receipts, b, 100, formatted);
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(1);
    expect(b[0]).toBe(a[0]);
    const uncached: Json[] = [];
    blockLogs(byAddress, block, receipts, uncached, 100);
    expect(uncached).toEqual(a);
    expect(uncached[0]).not.toBe(a[0]);
  });
});
