import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Contract, type ContractAbi, Web3 } from "web3";
import { ACCOUNT, type ClientNet, deferred, untilEvent } from "./net.js";

/** web3's ContractExecutionError: the node's revert, decoded against the contract ABI, is its `cause`. */
interface Web3Revert {
  name: string;
  cause?: { errorName?: string; errorArgs?: Record<string, unknown>; message?: string; data?: string };
}

/**
 * web3.js v4, unchanged: deploy, send, getPastLogs / getPastEvents, newBlockHeaders and logs subscriptions over
 * WebSocket, contract events over WebSocket, revert reasons (custom error and Error(string)).
 */
export function web3Suite(getNet: () => ClientNet): void {
  describe("web3.js v4", () => {
    let net: ClientNet;
    let web3: Web3;
    let from: string;
    let token: Contract<ContractAbi>;
    let address: string;
    const to = () => net.accounts[ACCOUNT.recipient]!.address;

    beforeAll(() => {
      net = getNet();
      web3 = new Web3(net.url);
      // Shorter receipt polling than the 1 s default; blocks are final at commit.
      web3.eth.transactionPollingInterval = 250;
      web3.eth.transactionConfirmationPollingInterval = 250;
      web3.eth.transactionPollingTimeout = 60_000;
      from = web3.eth.accounts.wallet.add(net.accounts[ACCOUNT.web3]!.privateKey)[0]!.address;
    });

    afterAll(() => {
      web3?.eth.accounts.wallet.clear();
    });

    it("deploys Asset and sends a transfer", async () => {
      expect(await web3.eth.getChainId()).toBe(20200n);
      const factory = new web3.eth.Contract(net.asset.abi as ContractAbi);
      const deployed = await factory
        .deploy({ data: net.asset.bytecode, arguments: ["Web3 Asset", "W3A", 1_000_000n] as never })
        .send({ from });
      address = deployed.options.address!;
      expect((await web3.eth.getCode(address)).length).toBeGreaterThan(2);
      token = new web3.eth.Contract(net.asset.abi as ContractAbi, address);

      const receipt = await token.methods.transfer!(to(), 300n).send({ from });
      expect(receipt.status).toBe(1n);
      expect(await token.methods.balanceOf!(to()).call()).toBe(300n);
      expect(await token.methods.balanceOf!(from).call()).toBe(1_000_000n - 300n);

      const value = await web3.eth.sendTransaction({ from, to: to(), value: 1000n });
      expect(value.status).toBe(1n);
      const fetched = await web3.eth.getTransactionReceipt(value.transactionHash);
      expect(fetched.blockHash).toBe(value.blockHash);
    });

    it("reads past logs and events (getPastLogs, getPastEvents)", async () => {
      const events = await token.getPastEvents("allEvents", { fromBlock: 0, toBlock: "latest" });
      const values = events.flatMap((e) =>
        typeof e !== "string" && e.event === "Transfer" ? [e.returnValues.value as bigint] : [],
      );
      expect(values).toEqual([1_000_000n, 300n]);
      const logs = await web3.eth.getPastLogs({ address, fromBlock: 0, toBlock: "latest" });
      expect(logs).toHaveLength(2);
      const transferTopic = web3.utils.sha3("Transfer(address,address,uint256)");
      const filtered = await web3.eth.getPastLogs({
        address,
        topics: [transferTopic!, null, null],
        fromBlock: 0,
      });
      expect(filtered).toHaveLength(2);
    });

    it("subscribes to newBlockHeaders, logs and contract events over WebSocket", async () => {
      const ws = new Web3(net.wsUrl);
      try {
        const heads = await ws.eth.subscribe("newBlockHeaders");
        const logs = await ws.eth.subscribe("logs", { address });
        const wsToken = new ws.eth.Contract(net.asset.abi as ContractAbi, address);
        const events = wsToken.events.Transfer!();
        const head = deferred<bigint>();
        const log = deferred<string[]>();
        const event = deferred<bigint>();
        heads.on("data", (h) => head.resolve(BigInt(h.number as bigint)));
        logs.on("data", (l) => log.resolve(l.topics as string[]));
        events.on("data", (e) => event.resolve(e.returnValues.value as bigint));
        const start = await web3.eth.getBlockNumber();
        const send = async () => {
          await token.methods.transfer!(to(), 11n).send({ from });
        };
        expect(await untilEvent("a contract Transfer event", event.promise, send)).toBe(11n);
        expect((await untilEvent("a log", log.promise, send))[0]).toBe(
          web3.utils.sha3("Transfer(address,address,uint256)"),
        );
        expect(await untilEvent("a new block header", head.promise, send)).toBeGreaterThan(start);
        await heads.unsubscribe();
        await logs.unsubscribe();
        await events.unsubscribe();
      } finally {
        ws.provider?.disconnect(1000, "test done");
      }
    });

    it("decodes revert reasons: custom error and require reason, on call and on send", async () => {
      const huge = 10n ** 30n;
      const custom = (await token.methods.transfer!(to(), huge)
        .call({ from })
        .catch((e: unknown) => e)) as Web3Revert;
      expect(custom.name).toBe("ContractExecutionError");
      expect(custom.cause?.errorName).toBe("InsufficientBalance");
      expect(custom.cause?.errorArgs?.needed).toBe(huge);

      const required = (await token.methods.transferFrom!(net.accounts[ACCOUNT.hostile]!.address, to(), 1n)
        .call({ from })
        .catch((e: unknown) => e)) as Web3Revert;
      expect(required.name).toBe("ContractExecutionError");
      expect(required.cause?.errorName).toBe("Error");
      expect(required.cause?.message).toBe("execution reverted: Asset: insufficient balance");

      // send() estimates gas first: same decoded error, nothing is sent.
      const sent = (await token.methods.transfer!(to(), huge)
        .send({ from })
        .catch((e: unknown) => e)) as Web3Revert;
      expect(sent.name).toBe("ContractExecutionError");
      expect(sent.cause?.errorName).toBe("InsufficientBalance");
    });
  });
}
