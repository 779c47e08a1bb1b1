import { ContractFactory, Interface, JsonRpcProvider, type Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArtifact } from "../../contracts/artifacts.js";
import type { ConsortNode } from "../../src/node/index.js";
import { rpcRaw, rpcUrl, SingleNodeNet } from "./helpers.js";

/**
 * Issue 16 / issue 11: eth_estimateGas prices what a transaction will write in the block it lands in (number,
 * timestamp, gas price, base fee, prevrandao), so a transaction sent with exactly the estimate succeeds; an endless
 * loop ends out of gas (geth's answers), not on the wall-clock watchdog. A real node: LevelDB in a temp dir.
 */

const writer = loadArtifact("BlockWriter");
const iface = new Interface(writer.abi as never);
/** A non-zero price: writing tx.gasprice then costs a zero → non-zero store (an estimate at price 0 would not). */
const GAS_PRICE = 7_000_000_000n;

let net: SingleNodeNet;
let node: ConsortNode;
let url: string;
let provider: JsonRpcProvider;
let wallet: Wallet;
let contract: string;

/** Sends and waits; returns the receipt whatever its status (ethers throws on status 0). */
async function send(data: string, gasLimit: bigint, to: string | null = contract) {
  const tx = await wallet.sendTransaction({ to, data, gasLimit, gasPrice: GAS_PRICE, type: 0 });
  try {
    await tx.wait(1, 30_000);
  } catch {
    // status 0: read the receipt below
  }
  const receipt = await provider.getTransactionReceipt(tx.hash);
  if (receipt === null) throw new Error("no receipt");
  return receipt;
}

beforeAll(async () => {
  net = await SingleNodeNet.create();
  // A 10M gas cap keeps the endless-loop runs short (the cap is the block gas limit, at most 50M).
  await net.setGasLimits(10_000_000n);
  node = await net.start();
  url = rpcUrl(node);
  provider = new JsonRpcProvider(url, undefined, { cacheTimeout: -1, staticNetwork: true });
  wallet = net.accounts[1]!.connect(provider);
  const deployed = await new ContractFactory(writer.abi as never, writer.bytecode, wallet).deploy({
    gasLimit: 2_000_000n,
  });
  await deployed.waitForDeployment();
  contract = await deployed.getAddress();
});

afterAll(async () => {
  provider?.destroy();
  await node?.close();
  await net?.remove();
});

describe("eth_estimateGas in the next block's context", () => {
  for (const fn of ["writeNumber", "writeTimestamp", "writeGasPrice", "writeBaseFee", "writePrevrandao"]) {
    it(`a call that ${fn}s succeeds with exactly the estimate`, async () => {
      // Zero the fields first: the write under test is then a zero → non-zero store where the value is non-zero.
      expect((await send(iface.encodeFunctionData("clear"), 200_000n)).status).toBe(1);
      const data = iface.encodeFunctionData(fn);
      const estimate = await provider.estimateGas({
        from: wallet.address,
        to: contract,
        data,
        gasPrice: GAS_PRICE,
      });
      const receipt = await send(data, estimate);
      expect(receipt.status).toBe(1);
      expect(receipt.gasUsed).toBeLessThanOrEqual(estimate);
    });
  }

  it("a deploy whose constructor writes all of them succeeds with exactly the estimate", async () => {
    const estimate = await provider.estimateGas({
      from: wallet.address,
      data: writer.bytecode,
      gasPrice: GAS_PRICE,
    });
    const receipt = await send(writer.bytecode, estimate, null);
    expect(receipt.status).toBe(1);
    const deployed = receipt.contractAddress!;
    const read = async (name: string) =>
      BigInt(await provider.call({ to: deployed, data: iface.encodeFunctionData(name) }));
    expect(await read("gasPrice")).toBe(GAS_PRICE);
    expect(await read("number")).toBe(BigInt(receipt.blockNumber));
  });

  it("an estimate below what the write costs at the real price would fail: the price is what makes the difference", async () => {
    expect((await send(iface.encodeFunctionData("clear"), 200_000n)).status).toBe(1);
    const data = iface.encodeFunctionData("writeGasPrice");
    const atZero = await provider.estimateGas({ from: wallet.address, to: contract, data, gasPrice: 0n });
    const atPrice = await provider.estimateGas({
      from: wallet.address,
      to: contract,
      data,
      gasPrice: GAS_PRICE,
    });
    expect(atPrice).toBeGreaterThan(atZero + 15_000n); // SSTORE of a new non-zero value: 22,100 vs 2,200
    expect((await send(data, atZero)).status).toBe(0);
  });
});

describe("an endless loop ends out of gas, as on geth", () => {
  it("eth_estimateGas: -32000 gas required exceeds allowance (the cap); eth_call: -32000 out of gas", async () => {
    const data = iface.encodeFunctionData("spin");
    const head = (await rpcRaw(url, "eth_getBlockByNumber", ["latest", false])).result as {
      gasLimit: string;
    };
    const cap = BigInt(head.gasLimit) < 50_000_000n ? BigInt(head.gasLimit) : 50_000_000n;
    const estimate = await rpcRaw(url, "eth_estimateGas", [{ from: wallet.address, to: contract, data }]);
    expect(estimate.error).toEqual({ code: -32000, message: `gas required exceeds allowance (${cap})` });
    const call = await rpcRaw(url, "eth_call", [{ to: contract, data }, "latest"]);
    expect(call.error).toEqual({ code: -32000, message: "out of gas" });
    // With a gas field, the field is the cap.
    const small = await rpcRaw(url, "eth_estimateGas", [{ to: contract, data, gas: "0x30d40" }]);
    expect(small.error).toEqual({ code: -32000, message: "gas required exceeds allowance (200000)" });
  });
});

describe("value beyond the sender's balance, as on geth", () => {
  it("eth_call, eth_estimateGas and debug_traceCall: -32000 insufficient funds; the whole balance is fine", async () => {
    const poor = "0x00000000000000000000000000000000000000aa";
    const to = "0x00000000000000000000000000000000000000bb";
    for (const method of ["eth_call", "eth_estimateGas", "debug_traceCall"]) {
      const r = await rpcRaw(url, method, [{ from: poor, to, value: "0x10" }, "latest"]);
      expect(r.error, method).toEqual({
        code: -32000,
        message: `insufficient funds for gas * price + value: address ${poor} have 0 want 16`,
      });
    }
    // No from: the zero address, which holds nothing either.
    expect((await rpcRaw(url, "eth_call", [{ to, value: "0x1" }])).error?.message).toMatch(
      /^insufficient funds/,
    );
    const balance = await provider.getBalance(wallet.address);
    const all = { from: wallet.address, to, value: `0x${balance.toString(16)}` };
    expect(await rpcRaw(url, "eth_estimateGas", [all])).toEqual({ jsonrpc: "2.0", id: 1, result: "0x5208" });
    const more = { ...all, value: `0x${(balance + 1n).toString(16)}` };
    expect((await rpcRaw(url, "eth_estimateGas", [more])).error?.message).toMatch(/have \d+ want \d+$/);
  });
});
