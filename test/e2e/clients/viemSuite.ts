import {
  type Abi,
  type Address,
  BaseError,
  type Chain,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  defineChain,
  getAddress,
  type Hex,
  http,
  type PublicClient,
  parseAbiItem,
  type WalletClient,
  webSocket,
} from "viem";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { beforeAll, describe, expect, it } from "vitest";
import { ACCOUNT, type ClientNet, deferred, untilEvent } from "./net.js";

const WAIT_MS = 60_000;

/** The revert decoded by viem: the ContractFunctionRevertedError inside whatever viem threw. */
function revertOf(err: unknown): ContractFunctionRevertedError {
  expect(err).toBeInstanceOf(BaseError);
  const found = (err as BaseError).walk((e) => e instanceof ContractFunctionRevertedError);
  expect(found).toBeInstanceOf(ContractFunctionRevertedError);
  return found as ContractFunctionRevertedError;
}

/**
 * viem 2, unchanged: defineChain(20200), deployContract, writeContract, waitForTransactionReceipt,
 * getContractEvents / getLogs, watchBlocks / watchContractEvent over the webSocket() transport, simulateContract reverts.
 */
export function viemSuite(getNet: () => ClientNet): void {
  describe("viem", () => {
    let net: ClientNet;
    let chain: Chain;
    let publicClient: PublicClient;
    let walletClient: WalletClient;
    let account: PrivateKeyAccount;
    let abi: Abi;
    let address: Address;
    let deployBlock: bigint;
    const to = () => getAddress(net.accounts[ACCOUNT.recipient]!.address);

    beforeAll(() => {
      net = getNet();
      abi = net.asset.abi as Abi;
      chain = defineChain({
        id: 20200,
        name: "Consort testnet",
        nativeCurrency: { name: "Consort", symbol: "CST", decimals: 18 },
        rpcUrls: { default: { http: [net.url], webSocket: [net.wsUrl] } },
        // Documented advice: viem polls every 4 s by default; blocks are final at commit here.
        blockTime: 500,
      });
      account = privateKeyToAccount(net.accounts[ACCOUNT.viem]!.privateKey as Hex);
      publicClient = createPublicClient({ chain, transport: http(), pollingInterval: 250 });
      walletClient = createWalletClient({ chain, transport: http(), account });
    });

    it("deploys Asset (deployContract + waitForTransactionReceipt)", async () => {
      expect(await publicClient.getChainId()).toBe(20200);
      const hash = await walletClient.deployContract({
        abi,
        bytecode: net.asset.bytecode,
        args: ["Viem Asset", "VMA", 1_000_000n],
        account,
        chain,
      });
      const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: WAIT_MS });
      expect(receipt.status).toBe("success");
      expect(receipt.contractAddress).toMatch(/^0x[0-9a-fA-F]{40}$/);
      address = receipt.contractAddress!;
      deployBlock = receipt.blockNumber;
      const code = await publicClient.getCode({ address });
      expect(code && code.length > 2).toBe(true);
      expect(await publicClient.readContract({ address, abi, functionName: "symbol" })).toBe("VMA");
    });

    it("transfers with writeContract and reads balances", async () => {
      const hash = await walletClient.writeContract({
        address,
        abi,
        functionName: "transfer",
        args: [to(), 250n],
        account,
        chain,
      });
      const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: WAIT_MS });
      expect(receipt.status).toBe("success");
      expect(receipt.logs).toHaveLength(1);
      const tx = await publicClient.getTransaction({ hash });
      expect(tx.blockNumber).toBe(receipt.blockNumber);
      expect(await publicClient.readContract({ address, abi, functionName: "balanceOf", args: [to()] })).toBe(
        250n,
      );
      expect(
        await publicClient.readContract({ address, abi, functionName: "balanceOf", args: [account.address] }),
      ).toBe(1_000_000n - 250n);
      // A plain value transfer (viem sends type-2 with the fees the node suggests).
      const valueHash = await walletClient.sendTransaction({ to: to(), value: 12345n, account, chain });
      const valueReceipt = await publicClient.waitForTransactionReceipt({
        hash: valueHash,
        timeout: WAIT_MS,
      });
      expect(valueReceipt.status).toBe("success");
    });

    it("queries past events (getContractEvents, getLogs with an event)", async () => {
      const events = await publicClient.getContractEvents({
        address,
        abi,
        eventName: "Transfer",
        fromBlock: 0n,
      });
      expect(events.map((e) => (e as unknown as { args: { value: bigint } }).args.value)).toEqual([
        1_000_000n,
        250n,
      ]);
      const logs = await publicClient.getLogs({
        address,
        event: parseAbiItem("event Transfer(address indexed from, address indexed to, uint256 value)"),
        args: { to: to() },
        fromBlock: deployBlock,
        toBlock: "latest",
      });
      expect(logs).toHaveLength(1);
      expect(logs[0]!.args).toEqual({ from: account.address, to: to(), value: 250n });
    });

    it("watches blocks and contract events over the webSocket() transport", async () => {
      const wsClient = createPublicClient({ chain, transport: webSocket(net.wsUrl) });
      const block = deferred<bigint>();
      const event = deferred<{ value: bigint }>();
      const errors: Error[] = [];
      const unwatchBlocks = wsClient.watchBlocks({
        onBlock: (b) => block.resolve(b.number),
        onError: (e) => errors.push(e),
      });
      const unwatchEvents = wsClient.watchContractEvent({
        address,
        abi,
        eventName: "Transfer",
        onLogs: (logs) => event.resolve((logs[0] as unknown as { args: { value: bigint } }).args),
        onError: (e) => errors.push(e),
      });
      try {
        const start = await publicClient.getBlockNumber();
        const send = async () => {
          const hash = await walletClient.writeContract({
            address,
            abi,
            functionName: "transfer",
            args: [to(), 9n],
            account,
            chain,
          });
          await publicClient.waitForTransactionReceipt({ hash, timeout: WAIT_MS });
        };
        expect((await untilEvent("a Transfer log over WebSocket", event.promise, send)).value).toBe(9n);
        expect(await untilEvent("a new block over WebSocket", block.promise, send)).toBeGreaterThan(start);
        expect(errors).toEqual([]);
      } finally {
        unwatchBlocks();
        unwatchEvents();
        await (await wsClient.transport.getRpcClient()).close();
      }
    });

    it("decodes reverts from simulateContract: custom error and require reason", async () => {
      const huge = 10n ** 30n;
      const custom = await publicClient
        .simulateContract({ account, address, abi, functionName: "transfer", args: [to(), huge] })
        .catch((e: unknown) => e);
      const c = revertOf(custom);
      expect(c.data?.errorName).toBe("InsufficientBalance");
      expect(c.data?.args).toEqual([account.address, expect.any(BigInt), huge]);

      const required = await publicClient
        .simulateContract({
          account,
          address,
          abi,
          functionName: "transferFrom",
          args: [getAddress(net.accounts[ACCOUNT.hostile]!.address), to(), 1n],
        })
        .catch((e: unknown) => e);
      expect(revertOf(required).reason).toBe("Asset: insufficient balance");

      // writeContract estimates gas first: the same decoded revert, nothing is sent.
      const written = await walletClient
        .writeContract({ address, abi, functionName: "transfer", args: [to(), huge], account, chain })
        .catch((e: unknown) => e);
      expect(revertOf(written).data?.errorName).toBe("InsufficientBalance");

      // A mined revert (explicit gas skips estimation): receipt status "reverted".
      const hash = await walletClient.writeContract({
        address,
        abi,
        functionName: "transfer",
        args: [to(), huge],
        account,
        chain,
        gas: 100_000n,
      });
      const receipt = await publicClient.waitForTransactionReceipt({ hash, timeout: WAIT_MS });
      expect(receipt.status).toBe("reverted");
    });
  });
}
