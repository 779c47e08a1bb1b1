import { readFile } from "node:fs/promises";
import path from "node:path";
import { getCreateAddress, Interface } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertSameChain,
  blockNumber,
  rpcBatch,
  sendRaw,
  signTx,
  waitAllAtLeast,
  waitReceipts,
  wallets,
} from "./chainUtil.js";
import { ProcessTestnet, rpc } from "./harness.js";

/**
 * Acceptance: 4 validators + 1 observer, 200 transactions (value transfers from several accounts, an ERC20-like
 * deploy and token transfers) submitted over JSON-RPC round-robin to all five nodes (observer included) all commit;
 * every node reports identical block hashes and state roots at every height.
 */
describe("e2e: 4 validators + 1 observer", () => {
  let net: ProcessTestnet;

  beforeAll(async () => {
    net = await ProcessTestnet.create({ validators: 4, observers: 1 });
    await net.startAll(120_000);
    // Warm-up: the first block after a cold start is slow (see the report); commit one tx (account 9 → 0) so the
    // figures below measure the running chain. Account 9's ether balance is not checked.
    const ws = wallets(net.testnet.accounts);
    const t0 = performance.now();
    const warm = await sendRaw(
      net.nodes[0]!.rpcUrl,
      await signTx(ws[9]!, { nonce: 0, to: ws[0]!.address, value: 1n }),
    );
    await waitReceipts(net.nodes[0]!.rpcUrl, [warm], 120_000);
    console.log(
      `[figures] first block after a cold start committed in ${((performance.now() - t0) / 1000).toFixed(2)} s`,
    );
  }, 300_000);

  afterAll(async () => {
    await net?.close();
  }, 60_000);

  it("commits 200 txs sent to different nodes and every node agrees on every block", async () => {
    const urls = net.nodes.map((n) => n.rpcUrl);
    const ws = wallets(net.testnet.accounts);
    const asset = JSON.parse(
      await readFile(path.join(import.meta.dirname, "../../contracts/build/Asset.json"), "utf8"),
    ) as { abi: unknown[]; bytecode: string };
    const token = new Interface(asset.abi as never);

    // The observer knows the sealers and is connected before we start.
    const sealers = await rpc<{ nodeID: string }[]>(urls[4]!, "getSealerList", ["group0", ""]);
    expect(sealers).toHaveLength(4);

    const deployer = ws[6]!;
    const tokenAddress = getCreateAddress({ from: deployer.address, nonce: 0 });
    const supply = 1_000_000n;
    const raws: string[] = [];
    raws.push(
      await signTx(deployer, {
        nonce: 0,
        data: token.encodeDeploy(["Consort Token", "CST", supply]).replace("0x", asset.bytecode),
        gasLimit: 1_000_000n,
      }),
    );
    const tokenRecipients = [ws[7]!.address, ws[8]!.address, ws[9]!.address];
    const tokenExpected = new Map<string, bigint>(tokenRecipients.map((a) => [a, 0n]));
    for (let i = 1; i <= 29; i++) {
      const to = tokenRecipients[i % 3]!;
      const amount = BigInt(i);
      tokenExpected.set(to, tokenExpected.get(to)! + amount);
      raws.push(
        await signTx(deployer, {
          nonce: i,
          to: tokenAddress,
          data: token.encodeFunctionData("transfer", [to, amount]),
          gasLimit: 100_000n,
        }),
      );
    }
    // 170 value transfers: 5 senders × 34. Round-robin below sends each of these senders to one node, while the
    // deployer's consecutive token-transfer nonces are spread over all five (nonce gaps filled through gossip).
    const senders = [1, 2, 3, 4, 5].map((i) => ws[i]!);
    const valueExpected = new Map<string, bigint>();
    const transfers: string[] = [];
    for (let n = 0; n < 34; n++) {
      for (const [k, s] of senders.entries()) {
        const to = ws[(k + n) % 3 === 0 ? 7 : 8]!.address;
        const value = 1000n + BigInt(n);
        valueExpected.set(to, (valueExpected.get(to) ?? 0n) + value);
        transfers.push(await signTx(s, { nonce: n, to, value }));
      }
    }
    raws.push(...transfers);
    expect(raws).toHaveLength(200);

    const balancesBefore = await rpcBatch<string>(
      urls[0]!,
      [...valueExpected.keys()].map((a) => ["eth_getBalance", [a, "latest"]]),
    );
    const heightStart = await blockNumber(urls[0]!);
    const t0 = performance.now();
    // The deploy first (token transfers need the code), then everything round-robin over the five nodes.
    const hashes: string[] = [await sendRaw(urls[0]!, raws[0]!)];
    const rest = raws.slice(1);
    const sent = await Promise.all(
      urls.map(async (url, i) => {
        const mine = rest.filter((_, j) => j % urls.length === i);
        const out: [number, string][] = [];
        for (const raw of mine) out.push([rest.indexOf(raw), await sendRaw(url, raw)]);
        return out;
      }),
    );
    for (const [j, h] of sent.flat().sort((a, b) => a[0] - b[0])) hashes[j + 1] = h;
    const submitS = (performance.now() - t0) / 1000;
    expect(hashes.filter(Boolean)).toHaveLength(200);

    const receipts = await waitReceipts(urls[0]!, hashes, 120_000);
    const elapsedS = (performance.now() - t0) / 1000;
    const heightEnd = Math.max(...receipts.map((r) => Number(r.blockNumber)));
    const bad = receipts.filter((r) => r.status !== "0x1");
    expect(bad, JSON.stringify(bad.slice(0, 3))).toHaveLength(0);
    expect(receipts[0]!.contractAddress?.toLowerCase()).toBe(tokenAddress.toLowerCase());
    const blocks = heightEnd - heightStart;
    console.log(
      `[figures] 200 txs submitted in ${submitS.toFixed(2)} s, all committed after ${elapsedS.toFixed(2)} s in ${blocks} blocks: ` +
        `${(200 / elapsedS).toFixed(1)} tx/s, ${(blocks / elapsedS).toFixed(2)} blocks/s`,
    );

    // Every node (the observer too) has every receipt, the same chain, and the same token balances.
    await waitAllAtLeast(urls, heightEnd, 60_000);
    for (const url of urls.slice(1)) {
      const rs = await waitReceipts(url, hashes, 30_000);
      expect(rs.map((r) => r.blockHash)).toEqual(receipts.map((r) => r.blockHash));
    }
    const chain = await assertSameChain(urls, heightEnd);
    expect(chain.reduce((n, b) => n + b.txs, 0)).toBeGreaterThanOrEqual(200);

    for (const url of urls) {
      const calls: [string, unknown[]][] = [...tokenExpected.keys()].map((a) => [
        "eth_call",
        [{ to: tokenAddress, data: token.encodeFunctionData("balanceOf", [a]) }, "latest"],
      ]);
      calls.push([
        "eth_call",
        [{ to: tokenAddress, data: token.encodeFunctionData("balanceOf", [deployer.address]) }, "latest"],
      ]);
      const out = await rpcBatch<string>(url, calls);
      const got = out.map((x) => BigInt(x));
      const want = [...tokenExpected.values()];
      want.push(supply - want.reduce((a, b) => a + b, 0n));
      expect(got, url).toEqual(want);
      const balances = await rpcBatch<string>(
        url,
        [...valueExpected.keys()].map((a) => ["eth_getBalance", [a, "latest"]]),
      );
      // Recipients 7 and 8 received only these value transfers (they never sent a tx).
      const diffs = balances.map((b, i) => BigInt(b) - BigInt(balancesBefore[i]!));
      expect(diffs, url).toEqual([...valueExpected.values()]);
    }
  }, 300_000);
});
