import { JsonRpcProvider, Network, WebSocketProvider } from "ethers";
import { createPublicClient, http } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Web3 } from "web3";
import { EMPTY_UNCLES_HASH } from "../../src/rpc/ethFormat.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import {
  CUSTOM_ERROR_ADDRESS,
  decodeEthTx,
  ESTIMATE_NEEDED,
  REVERT_ADDRESS,
  SENDER,
  signEth,
  TOKEN_ADDRESS,
  TRANSFER_TOPIC,
} from "./fakeBackend.js";
import { type Harness, startHarness } from "./helpers.js";

const QUANTITY = /^0x(0|[1-9a-f][0-9a-f]*)$/;
const DATA = /^0x([0-9a-f]{2})*$/;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

function txHash(block: number, index: number): string {
  return bytesToHex(h.backend.blocks[block]!.transactions[index]!.hash);
}

describe("eth_* shapes (raw JSON)", () => {
  it("block has every key Ethereum clients require, with minimal quantities and seconds", async () => {
    const r = await h.rpc("eth_getBlockByNumber", ["0x1", false]);
    const b = r.result;
    for (const k of [
      "hash",
      "parentHash",
      "sha3Uncles",
      "miner",
      "stateRoot",
      "transactionsRoot",
      "receiptsRoot",
      "logsBloom",
      "number",
      "gasLimit",
      "gasUsed",
      "timestamp",
      "extraData",
      "mixHash",
      "nonce",
      "size",
      "transactions",
      "uncles",
      "difficulty",
      "baseFeePerGas",
    ]) {
      expect(b, k).toHaveProperty(k);
    }
    expect(b.number).toBe("0x1");
    expect(b.difficulty).toBe("0x0");
    expect(b.baseFeePerGas).toBe("0x0");
    expect(b.sha3Uncles).toBe(EMPTY_UNCLES_HASH);
    expect(b.nonce).toBe("0x0000000000000000");
    expect(b.uncles).toEqual([]);
    expect(b.logsBloom).toMatch(/^0x[0-9a-f]{512}$/);
    expect(b.logsBloom).not.toBe(`0x${"00".repeat(256)}`);
    const tsMs = h.backend.blocks[1]!.block.header.timestampMs;
    expect(b.timestamp).toBe(`0x${Math.floor(tsMs / 1000).toString(16)}`);
    for (const k of ["number", "gasLimit", "gasUsed", "timestamp", "size"]) expect(b[k]).toMatch(QUANTITY);
    expect(b.transactions).toEqual([txHash(1, 0), txHash(1, 1)]);
    expect(b.miner).toMatch(/^0x[0-9a-f]{40}$/);
  });

  it("full transactions: v r s, yParity for typed, type-specific fees, pending fields null for pooled txs", async () => {
    const r = await h.rpc("eth_getBlockByNumber", ["0x2", true]);
    const [t1, native, create] = r.result.transactions;
    expect(t1.type).toBe("0x1");
    expect(t1.accessList).toHaveLength(1);
    expect(t1.yParity).toMatch(/^0x[01]$/);
    expect(t1.v).toBe(t1.yParity);
    expect(native.type).toBe("0x7c");
    expect(native.nonce).toBe("0x0");
    expect(native.nativeNonce).toMatch(DATA);
    expect(native.blockLimit).toBe("0x1f4");
    expect(create.to).toBeNull();
    expect(create.maxFeePerGas).toBe("0x0");
    for (const tx of r.result.transactions) {
      for (const k of [
        "hash",
        "from",
        "input",
        "nonce",
        "gas",
        "value",
        "type",
        "chainId",
        "v",
        "r",
        "s",
        "gasPrice",
      ]) {
        expect(tx, k).toHaveProperty(k);
      }
      expect(tx.blockNumber).toBe("0x2");
      expect(tx.r).toMatch(QUANTITY);
      expect(tx.blockTimestamp).toMatch(QUANTITY);
    }
    const legacy = (await h.rpc("eth_getTransactionByHash", [txHash(1, 0)])).result;
    expect(legacy.type).toBe("0x0");
    expect(["0x9df3", "0x9df4"]).toContain(legacy.v); // EIP-155: chainId * 2 + 35 + yParity
    expect(legacy).not.toHaveProperty("yParity");
  });

  it("receipt: contractAddress always present, effectiveGasPrice, logIndex is the position in the block", async () => {
    const r1 = (await h.rpc("eth_getTransactionReceipt", [txHash(1, 0)])).result;
    expect(r1).toHaveProperty("contractAddress", null);
    expect(r1.status).toBe("0x1");
    expect(r1.effectiveGasPrice).toBe("0x0");
    expect(r1.logs.map((l: { logIndex: string }) => l.logIndex)).toEqual(["0x0", "0x1"]);
    expect(r1.logs[0].removed).toBe(false);
    // block 2: tx 0 has no logs, tx 1 (native) has one log -> logIndex 0; block-wide numbering
    const native = (await h.rpc("eth_getTransactionReceipt", [txHash(2, 1)])).result;
    expect(native.logs[0].logIndex).toBe("0x0");
    expect(native.type).toBe("0x7c");
    const create = (await h.rpc("eth_getTransactionReceipt", [txHash(2, 2)])).result;
    expect(create.contractAddress).toMatch(/^0x[0-9a-f]{40}$/);
    expect(create.to).toBeNull();
    const failed = (await h.rpc("eth_getTransactionReceipt", [txHash(3, 0)])).result;
    expect(failed.status).toBe("0x0");
    expect((await h.rpc("eth_getTransactionReceipt", [`0x${"ab".repeat(32)}`])).result).toBeNull();
  });

  it("blockTimestamp: the block's timestamp on the transaction and its logs, by every path", async () => {
    const block = (await h.rpc("eth_getBlockByNumber", ["0x1", true])).result;
    const seen = [
      (await h.rpc("eth_getTransactionByHash", [txHash(1, 0)])).result.blockTimestamp,
      (await h.rpc("eth_getTransactionByBlockNumberAndIndex", ["0x1", "0x0"])).result.blockTimestamp,
      block.transactions[0].blockTimestamp,
      ...(await h.rpc("eth_getTransactionReceipt", [txHash(1, 0)])).result.logs.map(
        (l: { blockTimestamp: string }) => l.blockTimestamp,
      ),
      ...(await h.rpc("eth_getBlockReceipts", ["0x1"])).result[0].logs.map(
        (l: { blockTimestamp: string }) => l.blockTimestamp,
      ),
      ...(await h.rpc("eth_getLogs", [{ fromBlock: "0x1", toBlock: "0x1" }])).result.map(
        (l: { blockTimestamp: string }) => l.blockTimestamp,
      ),
    ];
    expect(seen).toHaveLength(9);
    expect(new Set(seen)).toEqual(new Set([block.timestamp]));
  });

  it("eth_getBlockReceipts numbers logs across the block", async () => {
    const rs = (await h.rpc("eth_getBlockReceipts", ["0x1"])).result;
    expect(rs).toHaveLength(2);
    expect(rs[0].logs.map((l: { logIndex: string }) => l.logIndex)).toEqual(["0x0", "0x1"]);
  });

  it("pending transaction has null block fields; pending nonce counts the pool", async () => {
    const raw = await signEth({
      type: 2,
      nonce: 5,
      to: bytesToHex(TOKEN_ADDRESS),
      gasLimit: 60_000n,
      maxFeePerGas: 0n,
      maxPriorityFeePerGas: 0n,
    });
    const sent = await h.rpc("eth_sendRawTransaction", [bytesToHex(raw)]);
    expect(sent.result).toMatch(/^0x[0-9a-f]{64}$/);
    const tx = (await h.rpc("eth_getTransactionByHash", [sent.result])).result;
    expect(tx.blockHash).toBeNull();
    expect(tx.blockNumber).toBeNull();
    expect(tx.transactionIndex).toBeNull();
    const addr = bytesToHex(SENDER);
    expect((await h.rpc("eth_getTransactionCount", [addr, "pending"])).result).toBe("0x6");
    expect((await h.rpc("eth_getTransactionCount", [addr, "latest"])).result).toBe("0x5");
    expect((await h.rpc("eth_getTransactionReceipt", [sent.result])).result).toBeNull();
    const again = await h.rpc("eth_sendRawTransaction", [bytesToHex(raw)]);
    expect(again.error).toEqual({ code: -32000, message: "already known" });
    h.backend.mine();
    expect((await h.rpc("eth_getTransactionReceipt", [sent.result])).result.blockNumber).toBe("0x4");
  });

  it("reverts: code 3 with decoded Error(string) and revert data; custom errors keep the data", async () => {
    const r = await h.rpc("eth_call", [{ to: bytesToHex(REVERT_ADDRESS), data: "0x" }, "latest"]);
    expect(r.error?.code).toBe(3);
    expect(r.error?.message).toBe("execution reverted: not enough tokens");
    expect(r.error?.data).toMatch(/^0x08c379a0/);
    expect(r).not.toHaveProperty("result");
    const c = await h.rpc("eth_call", [{ to: bytesToHex(CUSTOM_ERROR_ADDRESS) }]);
    expect(c.error?.code).toBe(3);
    expect(c.error?.message).toBe("execution reverted");
    expect(c.error?.data).toMatch(/^0x8e4a23d6/);
    const e = await h.rpc("eth_estimateGas", [{ to: bytesToHex(REVERT_ADDRESS) }]);
    expect(e.error?.message).toBe("execution reverted: not enough tokens");
  });

  it("eth_estimateGas finds the gas a call needs (not just gasUsed)", async () => {
    const r = await h.rpc("eth_estimateGas", [
      { from: bytesToHex(SENDER), to: bytesToHex(TOKEN_ADDRESS), data: "0x" },
    ]);
    const est = BigInt(r.result);
    expect(est >= ESTIMATE_NEEDED).toBe(true);
    expect(est <= (ESTIMATE_NEEDED * 1016n) / 1000n).toBe(true);
    const plain = await h.rpc("eth_estimateGas", [{ to: `0x${"22".repeat(20)}`, value: "0x1" }]);
    expect(plain.result).toBe("0x5208");
  });

  it("fees, simple methods and no-key methods", async () => {
    expect((await h.rpc("eth_chainId")).result).toBe("0x4ee8");
    expect((await h.rpc("net_version")).result).toBe("20200");
    expect((await h.rpc("eth_gasPrice")).result).toBe("0x0");
    expect((await h.rpc("eth_maxPriorityFeePerGas")).result).toBe("0x0");
    expect((await h.rpc("eth_accounts")).result).toEqual([]);
    expect((await h.rpc("eth_syncing")).result).toBe(false);
    expect((await h.rpc("net_listening")).result).toBe(true);
    expect((await h.rpc("net_peerCount")).result).toBe("0x3");
    expect((await h.rpc("web3_sha3", ["0x68656c6c6f"])).result).toBe(
      "0x1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8",
    );
    const fh = (await h.rpc("eth_feeHistory", ["0x3", "latest", [25, 75]])).result;
    expect(fh.baseFeePerGas).toHaveLength(4);
    expect(fh.gasUsedRatio).toHaveLength(3);
    expect(fh.reward).toEqual([
      ["0x0", "0x0"],
      ["0x0", "0x0"],
      ["0x0", "0x0"],
    ]);
    const send = await h.rpc("eth_sendTransaction", [{ from: bytesToHex(SENDER) }]);
    expect(send.error?.code).toBe(-32000);
    expect(send.error?.message).toMatch(/holds no keys/);
    const fill = await h.rpc("eth_fillTransaction", [{}]);
    expect(fill.error).toEqual({
      code: -32601,
      message: "the method eth_fillTransaction does not exist/is not available",
    });
    expect((await h.rpc("eth_getStorageAt", [bytesToHex(TOKEN_ADDRESS), "0x0", "latest"])).result).toBe(
      `0x${"00".repeat(32)}`,
    );
    expect((await h.rpc("eth_getCode", [bytesToHex(TOKEN_ADDRESS)])).result).toBe("0x6080604052");
    expect((await h.rpc("eth_getBalance", [bytesToHex(SENDER), "0x1"])).result).toBe("0x3635c9adc5dea00000");
    const future = await h.rpc("eth_getBalance", [bytesToHex(SENDER), "0x99"]);
    expect(future.error).toEqual({ code: -32000, message: "header not found" });
    expect((await h.rpc("eth_getBlockByNumber", ["0x99", false])).result).toBeNull();
  });
});

describe("refused as geth refuses (execution-apis fixtures)", () => {
  it("eth_feeHistory past the head; reward percentiles not strictly increasing", async () => {
    const head = h.backend.headNumber();
    const beyond = await h.rpc("eth_feeHistory", ["0x2", `0x${(head + 5).toString(16)}`, [50]]);
    expect(beyond.error).toEqual({
      code: -32000,
      message: `request beyond head block: requested ${head + 5}, head ${head}`,
    });
    const atHead = await h.rpc("eth_feeHistory", ["0x2", `0x${head.toString(16)}`, [25, 50]]);
    expect(atHead.result.gasUsedRatio).toHaveLength(2);
    const equal = await h.rpc("eth_feeHistory", ["0x2", "latest", [50, 50]]);
    expect(equal.error?.message).toMatch(/param 2 \(reward percentiles\): expected strictly increasing/);
  });

  it("eth_call and eth_estimateGas: gasPrice with 1559 fees, a tip above the fee cap, an EIP-7702 list, another chain", async () => {
    const to = bytesToHex(TOKEN_ADDRESS);
    for (const [fields, why] of [
      [
        { gasPrice: "0x1", maxFeePerGas: "0x2" },
        "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified",
      ],
      [
        { gasPrice: "0x1", maxPriorityFeePerGas: "0x1" },
        "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified",
      ],
      [{ maxFeePerGas: "0x1", maxPriorityFeePerGas: "0x2" }, "maxFeePerGas (1) < maxPriorityFeePerGas (2)"],
      [
        { authorizationList: [] },
        "authorizationList is not supported: this chain accepts no EIP-7702 (type 4) transactions",
      ],
      [{ chainId: "0x1" }, "chainId does not match node's (have=1, want=20200)"],
    ] as const) {
      for (const method of ["eth_call", "eth_estimateGas"]) {
        const r = await h.rpc(method, [{ to, ...fields }, "latest"]);
        expect(r.error, `${method} ${JSON.stringify(fields)}`).toEqual({
          code: -32602,
          message: `invalid params: param 0 (transaction): ${why}`,
        });
      }
    }
    // Each alone, or equal fee and tip, still runs.
    for (const fields of [
      { gasPrice: "0x1" },
      { maxFeePerGas: "0x2", maxPriorityFeePerGas: "0x2" },
      { chainId: "0x4ee8" },
    ]) {
      expect((await h.rpc("eth_call", [{ to, ...fields }, "latest"])).error).toBeUndefined();
    }
  });

  it("eth_getStorageAt takes a slot as geth does: hex of at most 32 bytes, 0x optional, odd length allowed", async () => {
    const at = (slot: unknown) => h.rpc("eth_getStorageAt", [bytesToHex(TOKEN_ADDRESS), slot, "latest"]);
    const zero = `0x${"00".repeat(32)}`;
    for (const slot of ["0x0", "0x", "0", `0x${"0".repeat(64)}`, "0X00"])
      expect((await at(slot)).result).toBe(zero);
    // Slot 0x…0102 holds a word: every spelling of it reads that word.
    const word = `0x${"ab".repeat(32)}`;
    h.backend.storage.set(`${bytesToHex(TOKEN_ADDRESS)}:0x${"00".repeat(30)}0102`, hexToBytes(word));
    for (const slot of ["0x102", "102", "0x0102", `0x${"0".repeat(61)}102`])
      expect((await at(slot)).result).toBe(word);
    expect((await at(`0x${"0".repeat(65)}`)).error).toEqual({
      code: -32602,
      message: "invalid params: param 1 (storage slot): storage key too long (want at most 32 bytes)",
    });
    expect((await at("0xasdf")).error?.message).toBe(
      'invalid params: param 1 (storage slot): invalid hex in storage key: "0xasdf"',
    );
    expect((await at(1)).error?.message).toBe(
      "invalid params: param 1 (storage slot): expected a hex string, got number",
    );
  });
});

describe("a block given by hash", () => {
  it("as a plain 32-byte hex string selects that block, never a block number (geth; ethers sends hashes so)", async () => {
    const hash1 = bytesToHex(h.backend.blocks[1]!.block.hash);
    const atOne = (await h.rpc("eth_getBalance", [bytesToHex(SENDER), "0x1"])).result;
    expect((await h.rpc("eth_getBalance", [bytesToHex(SENDER), hash1])).result).toBe(atOne);
    const hash2 = bytesToHex(h.backend.blocks[2]!.block.hash);
    expect((await h.rpc("eth_getBlockReceipts", [hash2])).result).toHaveLength(3);
    // All but its last byte zero: as a number it would be block 1; as the hash it is, no block has it.
    const zeros = `0x${"00".repeat(31)}01`;
    expect((await h.rpc("eth_getBlockReceipts", [zeros])).result).toBeNull();
    expect((await h.rpc("eth_getBalance", [bytesToHex(SENDER), zeros])).error).toMatchObject({
      code: -32000,
    });
    // EIP-1898: one or the other.
    const both = await h.rpc("eth_getBalance", [
      bytesToHex(SENDER),
      { blockHash: hash1, blockNumber: "0x1" },
    ]);
    expect(both.error).toEqual({
      code: -32602,
      message:
        "invalid params: param 1 (block tag): cannot specify both BlockHash and BlockNumber, choose one or the other",
    });
    const provider = new JsonRpcProvider(h.url, Network.from(20200), {
      staticNetwork: true,
      cacheTimeout: -1,
    });
    try {
      expect(await provider.getBalance(bytesToHex(SENDER), hash1)).toBe(BigInt(atOne));
    } finally {
      provider.destroy();
    }
  });
});

describe("real clients parse our objects", () => {
  it("ethers JsonRpcProvider: getBlock, getTransaction, getTransactionReceipt, getLogs, call revert", async () => {
    const provider = new JsonRpcProvider(h.url, Network.from(20200), {
      staticNetwork: true,
      cacheTimeout: -1,
    });
    try {
      const block = await provider.getBlock(2, true);
      expect(block?.number).toBe(2);
      expect(block?.prefetchedTransactions).toHaveLength(3);
      const latest = await provider.getBlock("latest");
      expect(latest?.number).toBe(h.backend.headNumber());
      const tx = await provider.getTransaction(txHash(1, 1));
      expect(tx?.value).toBe(5n);
      expect(tx?.from.toLowerCase()).toBe(bytesToHex(SENDER));
      const legacy = await provider.getTransaction(txHash(1, 0));
      expect(legacy?.chainId).toBe(20200n);
      const receipt = await provider.getTransactionReceipt(txHash(1, 0));
      expect(receipt?.status).toBe(1);
      expect(receipt?.logs).toHaveLength(2);
      const created = await provider.getTransactionReceipt(txHash(2, 2));
      expect(created?.contractAddress).toMatch(/^0x[0-9a-fA-F]{40}$/);
      const logs = await provider.getLogs({
        fromBlock: 0,
        toBlock: "latest",
        address: bytesToHex(TOKEN_ADDRESS),
        topics: [bytesToHex(TRANSFER_TOPIC)],
      });
      expect(logs).toHaveLength(3);
      expect(logs.map((l) => l.index)).toEqual([0, 1, 0]);
      await expect(provider.call({ to: bytesToHex(REVERT_ADDRESS), data: "0x" })).rejects.toMatchObject({
        code: "CALL_EXCEPTION",
        reason: "not enough tokens",
      });
      const fee = await provider.getFeeData();
      expect(fee.gasPrice).toBe(0n);
      expect(await provider.getBlockNumber()).toBe(h.backend.headNumber());
    } finally {
      provider.destroy();
    }
  });

  it("viem public client: getBlock, getTransaction, getTransactionReceipt, getLogs, call revert", async () => {
    const client = createPublicClient({ transport: http(h.url, { retryCount: 0 }) });
    const block = await client.getBlock({ blockNumber: 2n, includeTransactions: true });
    expect(block.number).toBe(2n);
    expect(block.transactions).toHaveLength(3);
    expect(block.baseFeePerGas).toBe(0n);
    const tx = await client.getTransaction({ hash: txHash(1, 1) as `0x${string}` });
    expect(tx.type).toBe("eip1559");
    const receipt = await client.getTransactionReceipt({ hash: txHash(3, 0) as `0x${string}` });
    expect(receipt.status).toBe("reverted");
    const logs = await client.getLogs({
      fromBlock: 0n,
      toBlock: "latest",
      address: bytesToHex(TOKEN_ADDRESS) as `0x${string}`,
    });
    expect(logs).toHaveLength(3);
    await expect(
      client.call({ to: bytesToHex(REVERT_ADDRESS) as `0x${string}`, data: "0x" }),
    ).rejects.toThrow(/not enough tokens/);
    expect(await client.getChainId()).toBe(20200);
    const fh = await client.getFeeHistory({ blockCount: 2, rewardPercentiles: [50] });
    expect(fh.baseFeePerGas).toEqual([0n, 0n, 0n]);
  });

  it("web3.js: getBlock, getTransaction, getTransactionReceipt, getPastLogs", async () => {
    const web3 = new Web3(h.url);
    const block = await web3.eth.getBlock(2, true);
    expect(block.number).toBe(2n);
    expect(block.transactions).toHaveLength(3);
    const tx = await web3.eth.getTransaction(txHash(1, 1));
    expect(tx.value).toBe(5n);
    const receipt = await web3.eth.getTransactionReceipt(txHash(1, 0));
    expect(receipt.status).toBe(1n);
    expect(receipt.logs).toHaveLength(2);
    const logs = await web3.eth.getPastLogs({
      fromBlock: 0,
      toBlock: "latest",
      address: bytesToHex(TOKEN_ADDRESS),
    });
    expect(logs).toHaveLength(3);
    expect(await web3.eth.getChainId()).toBe(20200n);
  });

  it("ethers event listeners: HTTP filters (eth_newFilter polling) and WebSocket eth_subscribe", async () => {
    const httpProvider = new JsonRpcProvider(h.url, Network.from(20200), {
      staticNetwork: true,
      cacheTimeout: -1,
    });
    httpProvider.pollingInterval = 50;
    const ws = new WebSocketProvider(h.wsUrl, Network.from(20200), { staticNetwork: true });
    try {
      const filter = { address: bytesToHex(TOKEN_ADDRESS), topics: [bytesToHex(TRANSFER_TOPIC)] };
      const gotHttp = new Promise<string>((resolve) =>
        httpProvider.on(filter, (log) => resolve(log.transactionHash)),
      );
      const gotWs = new Promise<string>((resolve) => ws.on(filter, (log) => resolve(log.transactionHash)));
      const gotBlock = new Promise<number>((resolve) => ws.on("block", (n) => resolve(n)));
      // let both clients install their filter / subscriptions (log + block) before the block is committed
      for (let i = 0; i < 200; i++) {
        const st = h.server.stats();
        if (st.filters >= 1 && st.subscriptions >= 2) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(h.server.stats().filters).toBeGreaterThanOrEqual(1);
      const nonce = Number(
        BigInt((await h.rpc("eth_getTransactionCount", [bytesToHex(SENDER), "pending"])).result),
      );
      const raw = await signEth({
        type: 2,
        nonce,
        to: bytesToHex(TOKEN_ADDRESS),
        gasLimit: 60_000n,
        maxFeePerGas: 0n,
        maxPriorityFeePerGas: 0n,
      });
      const tx = decodeEthTx(raw);
      h.backend.outcomes.set(bytesToHex(tx.hash), {
        status: 1,
        logs: [{ address: TOKEN_ADDRESS, topics: [TRANSFER_TOPIC], data: new Uint8Array(0) }],
        output: new Uint8Array(0),
      });
      await h.rpc("eth_sendRawTransaction", [bytesToHex(raw)]);
      const block = h.backend.mine();
      // ethers' HTTP block poller ignores the first head it sees: keep committing empty blocks, like a live chain,
      // until both listeners fired.
      const ticker = setInterval(() => h.backend.seal([]), 100);
      try {
        expect(await gotWs).toBe(bytesToHex(tx.hash));
        expect(await gotHttp).toBe(bytesToHex(tx.hash));
        expect(await gotBlock).toBeGreaterThanOrEqual(block.header.number);
      } finally {
        clearInterval(ticker);
      }
    } finally {
      httpProvider.destroy();
      await ws.destroy();
    }
  });
});
