import {
  type BaseContract,
  type CallExceptionError,
  Contract,
  ContractFactory,
  type ContractTransactionResponse,
  type EventLog,
  getAddress,
  isError,
  JsonRpcProvider,
  parseEther,
  Wallet,
  WebSocketProvider,
} from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keepBlockPoller } from "../chainUtil.js";
import { ACCOUNT, type ClientNet, deferred, untilEvent, within } from "./net.js";

/** The Asset contract as ethers sees it (methods looked up by name at run time). */
type Asset = BaseContract & {
  // biome-ignore lint/suspicious/noExplicitAny: ethers' generated-method typing is `any` without typechain
  [name: string]: any;
};

const WAIT_MS = 60_000;

/**
 * ethers v6, unchanged: ContractFactory deploy, transfers, receipts, queryFilter, WebSocketProvider subscriptions,
 * HTTP filter polling, revert decoding (custom error and Error(string)), geth-style error mapping.
 */
export function ethersSuite(getNet: () => ClientNet): void {
  describe("ethers v6", () => {
    let net: ClientNet;
    let provider: JsonRpcProvider;
    let wallet: Wallet;
    let token: Asset;
    let tokenAddress: string;
    const to = () => getAddress(net.accounts[ACCOUNT.recipient]!.address);

    beforeAll(async () => {
      net = getNet();
      // Documented advice for instant-finality chains: no 250 ms request cache, short polling, a block poller that
      // runs before the first send.
      provider = new JsonRpcProvider(net.url, undefined, { cacheTimeout: -1, pollingInterval: 250 });
      await keepBlockPoller(provider);
      wallet = new Wallet(net.accounts[ACCOUNT.ethers]!.privateKey, provider);
    });

    afterAll(() => {
      provider?.destroy();
    });

    it("sees the chain: chainId 20200, blocks with zero base fee", async () => {
      const network = await provider.getNetwork();
      expect(network.chainId).toBe(20200n);
      const block = await provider.getBlock("latest");
      expect(block).not.toBeNull();
      expect(block!.baseFeePerGas).toBe(0n);
      const fee = await provider.getFeeData();
      expect(fee.gasPrice).not.toBeNull();
    });

    it("deploys Asset with ContractFactory and waits for the receipt", async () => {
      const factory = new ContractFactory(net.asset.abi as never, net.asset.bytecode, wallet);
      const deployed = (await factory.deploy("Ethers Asset", "ETA", 1_000_000n)) as unknown as Asset;
      const receipt = await deployed.deploymentTransaction()!.wait(1, WAIT_MS);
      expect(receipt?.status).toBe(1);
      tokenAddress = await deployed.getAddress();
      expect(receipt?.contractAddress?.toLowerCase()).toBe(tokenAddress.toLowerCase());
      expect((await provider.getCode(tokenAddress)).length).toBeGreaterThan(2);
      token = deployed;
      expect(await token.name()).toBe("Ethers Asset");
      expect(await token.balanceOf(wallet.address)).toBe(1_000_000n);
    });

    it("transfers, reads balances, handles back-to-back sends (pending nonce)", async () => {
      const before = await token.balanceOf(to());
      const tx = (await token.transfer(to(), 100n)) as ContractTransactionResponse;
      const receipt = await tx.wait(1, WAIT_MS);
      expect(receipt?.status).toBe(1);
      expect(await token.balanceOf(to())).toBe(before + 100n);

      // Three sends without waiting: ethers takes each nonce from eth_getTransactionCount(…, "pending").
      const sent: ContractTransactionResponse[] = [];
      for (let i = 1; i <= 3; i++) sent.push(await token.transfer(to(), BigInt(i)));
      expect(new Set(sent.map((t) => t.nonce)).size).toBe(3);
      const pooled = await provider.getTransaction(sent[2]!.hash);
      expect(pooled?.hash).toBe(sent[2]!.hash);
      const receipts = await Promise.all(sent.map((t) => t.wait(1, WAIT_MS)));
      expect(receipts.map((r) => r?.status)).toEqual([1, 1, 1]);
      expect(await token.balanceOf(to())).toBe(before + 106n);
      expect(await token.balanceOf(wallet.address)).toBe(1_000_000n - (before + 106n));

      // A plain value transfer, then two confirmations: blocks are sealed only for transactions, so a second one is
      // sent once the first is in a block.
      const value = await wallet.sendTransaction({ to: to(), value: parseEther("0.5") });
      expect((await value.wait(1, WAIT_MS))?.status).toBe(1);
      const confirmed = value.wait(2, WAIT_MS);
      await (await wallet.sendTransaction({ to: to(), value: 1n })).wait(1, WAIT_MS);
      expect((await confirmed)?.status).toBe(1);
    });

    it("queries past Transfer events (queryFilter, getLogs)", async () => {
      const all = (await token.queryFilter("Transfer", 0, "latest")) as EventLog[];
      expect(all.length).toBeGreaterThanOrEqual(5);
      expect(all[0]!.args.from).toBe("0x0000000000000000000000000000000000000000");
      expect(all[0]!.args.value).toBe(1_000_000n);
      const toRecipient = (await token.queryFilter(token.filters.Transfer!(null, to()))) as EventLog[];
      expect(toRecipient.map((e) => e.args.value)).toEqual([100n, 1n, 2n, 3n]);
      const logs = await provider.getLogs({ address: tokenAddress, fromBlock: 0, toBlock: "latest" });
      expect(logs.length).toBe(all.length);
      // logIndex is the position in the block, blockHash matches the block.
      const block = await provider.getBlock(logs[0]!.blockNumber);
      expect(logs[0]!.blockHash).toBe(block!.hash);
    });

    it("subscribes to new heads, pending transactions and Transfer logs over WebSocket", async () => {
      const ws = new WebSocketProvider(net.wsUrl, undefined, { cacheTimeout: -1 });
      try {
        const wsToken = new Contract(tokenAddress, net.asset.abi as never, ws);
        const head = deferred<number>();
        const transfer = deferred<{ from: string; to: string; value: bigint }>();
        const pending = deferred<string>();
        await ws.on("block", (n: number) => head.resolve(n));
        await ws.on("pending", (hash: string) => pending.resolve(hash));
        await wsToken.on("Transfer", (from: string, to: string, value: bigint) =>
          transfer.resolve({ from, to, value }),
        );
        const start = await provider.getBlockNumber();
        // eth_subscribe was sent before this call on the same socket, and the server answers in order.
        await within("ws ready", 10_000, ws.send("eth_blockNumber", []));
        const send = async () => {
          await ((await token.transfer(to(), 7n)) as ContractTransactionResponse).wait(1, WAIT_MS);
        };
        const ev = await untilEvent("a Transfer event over WebSocket", transfer.promise, send);
        expect(ev).toEqual({ from: wallet.address, to: to(), value: 7n });
        expect(await untilEvent("a newHeads block event", head.promise, send)).toBeGreaterThan(start);
        expect(await untilEvent("a newPendingTransactions hash", pending.promise, send)).toMatch(
          /^0x[0-9a-f]{64}$/,
        );
      } finally {
        // destroy() alone: removeAllListeners() first would queue eth_unsubscribe calls that destroy() then cancels.
        await ws.destroy();
      }
    });

    it("contract.on over HTTP polls with eth_newFilter / eth_getFilterChanges", async () => {
      const polled = new Contract(tokenAddress, net.asset.abi as never, provider);
      const got = deferred<bigint>();
      await polled.on("Transfer", (_from: string, _to: string, value: bigint) => got.resolve(value));
      try {
        const send = async () => {
          await ((await token.transfer(to(), 8n)) as ContractTransactionResponse).wait(1, WAIT_MS);
        };
        expect(await untilEvent("a polled Transfer event", got.promise, send)).toBe(8n);
      } finally {
        await polled.removeAllListeners();
      }
    });

    it("decodes reverts: custom error and require reason, from eth_call, estimateGas and a mined tx", async () => {
      const huge = 10n ** 30n;
      // Custom error through eth_call.
      const custom = await token.transfer.staticCall(to(), huge).catch((e: unknown) => e);
      expect(isError(custom, "CALL_EXCEPTION")).toBe(true);
      expect(custom.revert?.name).toBe("InsufficientBalance");
      expect(custom.revert?.args.toArray()).toEqual([wallet.address, expect.any(BigInt), huge]);
      // Error(string) through eth_call.
      const reason = await token.transferFrom
        .staticCall(net.accounts[ACCOUNT.hostile]!.address, to(), 5n)
        .catch((e: unknown) => e);
      expect(isError(reason, "CALL_EXCEPTION")).toBe(true);
      expect(reason.reason).toBe("Asset: insufficient balance");
      // Sending runs eth_estimateGas first: the revert data is on the error, decodable with the ABI.
      const estimate = await token.transfer(to(), huge).catch((e: unknown) => e);
      expect(isError(estimate, "CALL_EXCEPTION")).toBe(true);
      expect(token.interface.parseError(estimate.data)?.name).toBe("InsufficientBalance");
      // A mined revert (explicit gas limit skips estimation): status 0, wait() rejects with the receipt.
      const tx = (await token.transfer(to(), huge, { gasLimit: 100_000n })) as ContractTransactionResponse;
      const mined = await tx.wait(1, WAIT_MS).catch((e: unknown) => e);
      expect(isError(mined, "CALL_EXCEPTION")).toBe(true);
      expect((mined as CallExceptionError).receipt?.status).toBe(0);
    });

    it("maps node errors to ethers error codes (nonce too low, insufficient funds)", async () => {
      const low = await wallet.sendTransaction({ to: to(), value: 1n, nonce: 0 }).catch((e: unknown) => e);
      expect(isError(low, "NONCE_EXPIRED")).toBe(true);
      const broke = await wallet
        .sendTransaction({ to: to(), value: parseEther("100000000") })
        .catch((e: unknown) => e);
      expect(isError(broke, "INSUFFICIENT_FUNDS")).toBe(true);
    });
  });
}
