import { JsonRpcProvider, Wallet } from "ethers";
import { afterEach, describe, expect, it } from "vitest";
import type { RpcReceiptLookup } from "../../src/rpc/interface.js";
import type { Hash } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { FakeBackend, PRIVATE_KEY } from "./fakeBackend.js";
import { type Harness, type RpcResponse, startHarness } from "./helpers.js";

/**
 * A block commits while a receipt lookup reads the ledger: the lookup that finds nothing for `hash` for the
 * `commitOnLookup`-th time seals the pool right after it answered (as the node's commit lands while the lookup's
 * LevelDB read is in flight).
 */
class CommitDuringLookup extends FakeBackend {
  watched: string | null = null;
  commitOnLookup = 1;
  misses = 0;

  override async getReceipt(hash: Hash): Promise<RpcReceiptLookup | null> {
    const found = await super.getReceipt(hash);
    if (found === null && bytesToHex(hash) === this.watched && ++this.misses === this.commitOnLookup) {
      this.mine();
    }
    return found;
  }
}

let h: Harness | null = null;
afterEach(async () => {
  await h?.close();
  h = null;
});

async function batch(calls: [string, unknown[]][]): Promise<RpcResponse[]> {
  const body = calls.map(([method, params], id) => ({ jsonrpc: "2.0", id, method, params }));
  return (await h!.post(JSON.stringify(body))).json as RpcResponse[];
}

describe("a batch reads the head once", () => {
  it("eth_blockNumber after a receipt lookup reports the head the batch found, not a block committed during it", async () => {
    const backend = new CommitDuringLookup();
    h = await startHarness({}, backend);
    const wallet = new Wallet(PRIVATE_KEY);
    const nonce = Number((await h.rpc("eth_getTransactionCount", [wallet.address, "pending"])).result);
    const raw = await wallet.signTransaction({
      to: wallet.address,
      nonce,
      gasLimit: 21_000,
      gasPrice: 0,
      chainId: 20200,
    });
    const hash = (await h.rpc("eth_sendRawTransaction", [raw])).result as string;
    backend.watched = hash;
    const before = backend.headNumber();

    const [receipt, number, latest] = await batch([
      ["eth_getTransactionReceipt", [hash]],
      ["eth_blockNumber", []],
      ["eth_getBlockByNumber", ["latest", false]],
    ]);
    expect(backend.headNumber()).toBe(before + 1); // the block did commit during the batch
    expect(receipt!.result).toBeNull();
    expect(number!.result).toBe(`0x${before.toString(16)}`);
    expect(latest!.result.number).toBe(`0x${before.toString(16)}`);

    // The next request sees the new head and finds the receipt there.
    const [again, numberAfter] = await batch([
      ["eth_getTransactionReceipt", [hash]],
      ["eth_blockNumber", []],
    ]);
    expect(again!.result.blockNumber).toBe(`0x${(before + 1).toString(16)}`);
    expect(numberAfter!.result).toBe(`0x${(before + 1).toString(16)}`);
    expect((await h.rpc("eth_blockNumber")).result).toBe(`0x${(before + 1).toString(16)}`);
  });

  it("ethers' tx.wait() returns when the block commits inside its [receipt, blockNumber] batch", async () => {
    const backend = new CommitDuringLookup();
    // wait() looks the receipt up once alone, then in a batch with the block poller's first eth_blockNumber.
    backend.commitOnLookup = 2;
    h = await startHarness({}, backend);
    const provider = new JsonRpcProvider(h.url, 20200, {
      staticNetwork: true,
      pollingInterval: 50,
      cacheTimeout: -1,
    });
    try {
      const wallet = new Wallet(PRIVATE_KEY, provider);
      const tx = await wallet.sendTransaction({ to: wallet.address, gasLimit: 21_000, gasPrice: 0 });
      backend.watched = tx.hash;
      // Before the fix: the batch reported the new block with a null receipt, and ethers waited for the next
      // block, which an idle chain never seals (here: TIMEOUT after 3 s).
      const receipt = await tx.wait(1, 3_000);
      expect(backend.misses).toBe(2);
      expect(receipt?.blockNumber).toBe(backend.headNumber());
    } finally {
      provider.destroy();
    }
  });
});
