import { ContractFactory, Interface, JsonRpcProvider, Transaction, type Wallet } from "ethers";
import { createPublicClient, defineChain, type Hex, http } from "viem";
import { sendRawTransactionSync } from "viem/actions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArtifact } from "../../contracts/artifacts.js";
import type { ConsortNode } from "../../src/node/index.js";
import { CHAIN_ID, rpcRaw, rpcUrl, SingleNodeNet } from "./helpers.js";

/**
 * Synchronous sends on a real node: eth_sendRawTransactionSync (EIP-7966) always; with rpc.syncSend on,
 * eth_sendRawTransaction answers once committed (FISCO BCOS style) so a script that sends and reads at once sees its
 * own write; replay protection (pre-EIP-155 transactions refused unless rpc.allowUnprotectedTxs).
 */

const writer = loadArtifact("BlockWriter");
const callee = loadArtifact("Callee");
const calleeIface = new Interface(callee.abi as never);

/** A legacy transaction signed without a chain id (v = 27/28): valid on every chain. */
async function unprotectedTx(w: Wallet, nonce: number): Promise<string> {
  const tx = Transaction.from({
    type: 0,
    chainId: 0n,
    nonce,
    to: w.address,
    gasLimit: 21_000n,
    gasPrice: 0n,
  });
  tx.signature = w.signingKey.sign(tx.unsignedHash);
  expect(tx.signature.v === 27 || tx.signature.v === 28).toBe(true);
  expect(tx.chainId).toBe(0n);
  return tx.serialized;
}

describe("rpc.syncSend on (FISCO-style eth_sendRawTransaction)", () => {
  let net: SingleNodeNet;
  let node: ConsortNode;
  let url: string;
  let provider: JsonRpcProvider;
  let wallet: Wallet;
  let contract: string;

  beforeAll(async () => {
    net = await SingleNodeNet.create();
    node = await net.start({ rpcOptions: { syncSend: true } });
    url = rpcUrl(node);
    provider = new JsonRpcProvider(url, undefined, { cacheTimeout: -1, staticNetwork: true });
    wallet = net.accounts[1]!.connect(provider);
    const deployed = await new ContractFactory(writer.abi as never, writer.bytecode, wallet).deploy({
      gasLimit: 1_000_000n,
    });
    contract = await deployed.getAddress();
  });

  afterAll(async () => {
    provider?.destroy();
    await node?.close();
    await net?.remove();
  });

  it("a script that sends and reads at once sees its own write (no wait, no polling)", async () => {
    // The deploy above already returned after commit: its code is there without any wait.
    expect((await provider.getCode(contract)).length).toBeGreaterThan(2);
    const c = new ContractFactory(writer.abi as never, writer.bytecode, wallet).attach(contract) as never as {
      writeNumber(o: object): Promise<{ hash: string }>;
      clear(o: object): Promise<{ hash: string }>;
      number(): Promise<bigint>;
    };
    await c.clear({ gasLimit: 200_000n });
    expect(await c.number()).toBe(0n);
    const sent = await c.writeNumber({ gasLimit: 200_000n });
    expect(await c.number()).toBeGreaterThan(0n);
    expect((await provider.getTransactionReceipt(sent.hash))?.status).toBe(1);
  });

  it("a committed transaction that failed is an error carrying its hash", async () => {
    const calleeDeployed = await new ContractFactory(callee.abi as never, callee.bytecode, wallet).deploy({
      gasLimit: 1_000_000n,
    });
    const signed = await wallet.signTransaction({
      to: await calleeDeployed.getAddress(),
      data: calleeIface.encodeFunctionData("set", [150n]),
      gasLimit: 200_000n,
      gasPrice: 0n,
      nonce: await provider.getTransactionCount(wallet.address, "pending"),
      chainId: CHAIN_ID,
    });
    const r = await rpcRaw(url, "eth_sendRawTransaction", [signed]);
    const hash = Transaction.from(signed).hash!;
    expect(r.error).toEqual({
      code: -32000,
      message: expect.stringMatching(
        /failed \(status 0\) in block \d+: execution reverted: value too large$/,
      ),
      data: hash,
    });
    expect((await provider.getTransactionReceipt(hash))?.status).toBe(0);
  });
});

describe("eth_sendRawTransactionSync (EIP-7966) and replay protection (default options)", () => {
  let net: SingleNodeNet;
  let node: ConsortNode;
  let url: string;
  let provider: JsonRpcProvider;

  beforeAll(async () => {
    net = await SingleNodeNet.create();
    node = await net.start();
    url = rpcUrl(node);
    provider = new JsonRpcProvider(url, undefined, { cacheTimeout: -1, staticNetwork: true });
  });

  afterAll(async () => {
    provider?.destroy();
    await node?.close();
    await net?.remove();
  });

  it("ethers gets the receipt: the same object eth_getTransactionReceipt returns", async () => {
    const wallet = net.accounts[1]!.connect(provider);
    const signed = await wallet.signTransaction({
      to: net.accounts[2]!.address,
      value: 5n,
      gasLimit: 21_000n,
      gasPrice: 0n,
      nonce: 0,
      chainId: CHAIN_ID,
    });
    const receipt = await provider.send("eth_sendRawTransactionSync", [signed]);
    const hash = Transaction.from(signed).hash!;
    expect(receipt.transactionHash).toBe(hash);
    expect(receipt.status).toBe("0x1");
    expect(receipt).toEqual(await provider.send("eth_getTransactionReceipt", [hash]));
    // ethers can wrap it as its own receipt object.
    const fetched = await provider.getTransactionReceipt(hash);
    expect(fetched?.blockNumber).toBe(Number(receipt.blockNumber));
  });

  it("viem's sendRawTransactionSync returns the formatted receipt", async () => {
    const chain = defineChain({
      id: Number(CHAIN_ID),
      name: "consort",
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [url] } },
    });
    const client = createPublicClient({ chain, transport: http(url) });
    const wallet = net.accounts[3]!;
    const signed = await wallet.signTransaction({
      to: net.accounts[2]!.address,
      value: 1n,
      gasLimit: 21_000n,
      gasPrice: 0n,
      nonce: 0,
      chainId: CHAIN_ID,
    });
    const receipt = await sendRawTransactionSync(client, { serializedTransaction: signed as Hex });
    expect(receipt.status).toBe("success");
    expect(receipt.from).toBe(wallet.address.toLowerCase());
  });

  it("a transaction that cannot commit in time: code 4, the hash as data", async () => {
    const wallet = net.accounts[4]!;
    const signed = await wallet.signTransaction({
      to: wallet.address,
      gasLimit: 21_000n,
      gasPrice: 0n,
      nonce: 5, // a nonce gap: it waits in the pool
      chainId: CHAIN_ID,
    });
    const r = await rpcRaw(url, "eth_sendRawTransactionSync", [signed, "0xc8"]);
    expect(r.error).toEqual({
      code: 4,
      message: "The transaction was added to the transaction pool but wasn't processed in 200ms.",
      data: Transaction.from(signed).hash,
    });
  });

  it("a pre-EIP-155 transaction is refused with a clear error by default", async () => {
    const raw = await unprotectedTx(net.accounts[5]!, 0);
    for (const method of ["eth_sendRawTransaction", "eth_sendRawTransactionSync"]) {
      const r = await rpcRaw(url, method, [raw]);
      expect(r.error?.code).toBe(-32000);
      expect(r.error?.message).toMatch(/^only replay-protected \(EIP-155\) transactions allowed over RPC/);
    }
    const fisco = await rpcRaw(url, "sendTransaction", ["group0", "", raw, false]);
    expect(fisco.error?.message).toMatch(/^only replay-protected/);
    expect(await provider.getTransactionCount(net.accounts[5]!.address, "pending")).toBe(0);
  });
});

describe("rpc.allowUnprotectedTxs", () => {
  it("lets a node accept a pre-EIP-155 transaction (and it commits)", async () => {
    const net = await SingleNodeNet.create();
    const node = await net.start({ rpcOptions: { allowUnprotectedTxs: true } });
    try {
      const raw = await unprotectedTx(net.accounts[5]!, 0);
      const r = await rpcRaw(rpcUrl(node), "eth_sendRawTransactionSync", [raw]);
      expect((r.result as { status: string }).status).toBe("0x1");
    } finally {
      await node.close();
      await net.remove();
    }
  });
});
