import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyMerkleProof } from "../../src/crypto/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { REVERT_ADDRESS, signEth, TOKEN_ADDRESS } from "./fakeBackend.js";
import { type Harness, startHarness } from "./helpers.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ sendTransactionWaitMs: 1000 });
});
afterAll(async () => {
  await h.close();
});

const G = ["group0", ""];

describe("FISCO-style methods", () => {
  it("refuses another group with a clear error", async () => {
    const r = await h.rpc("getBlockNumber", ["group9", ""]);
    expect(r.error).toEqual({
      code: -40001,
      message: "group group9 does not exist (this node serves group0)",
    });
    const missing = await h.rpc("getBlockNumber", []);
    expect(missing.error?.code).toBe(-32602);
    expect(missing.error?.message).toMatch(/groupId/);
  });

  it("block queries: number, by number (header only / hashes / full), by hash, hash by number", async () => {
    expect((await h.rpc("getBlockNumber", G)).result).toBe(3);
    const header = (await h.rpc("getBlockByNumber", [...G, 1])).result;
    expect(header).not.toHaveProperty("transactions");
    expect(header.number).toBe(1);
    expect(header.timestamp).toBe(h.backend.blocks[1]!.block.header.timestampMs);
    expect(header.parentInfo).toEqual([
      { blockNumber: 0, blockHash: bytesToHex(h.backend.blocks[0]!.block.hash) },
    ]);
    expect(header.sealerList).toHaveLength(4);
    expect(header.signatureList).toHaveLength(3);
    const hashes = (await h.rpc("getBlockByNumber", [...G, "0x1", false, true])).result;
    expect(hashes.transactions).toHaveLength(2);
    expect(typeof hashes.transactions[0]).toBe("string");
    const full = (await h.rpc("getBlockByNumber", [...G, 2, false, false])).result;
    expect(full.transactions[1].type).toBe(0); // native
    expect(full.transactions[1].groupID).toBe("group0");
    const byHash = (await h.rpc("getBlockByHash", [...G, header.hash, true])).result;
    expect(byHash.number).toBe(1);
    const noPrefix = (await h.rpc("getBlockByHash", [...G, header.hash.slice(2)])).result;
    expect(noPrefix.number).toBe(1);
    expect((await h.rpc("getBlockHashByNumber", [...G, 1])).result).toBe(header.hash);
  });

  it("transactions and receipts, with proofs on request; FISCO status 16 for a revert", async () => {
    const hash = bytesToHex(h.backend.blocks[1]!.transactions[0]!.hash);
    const tx = (await h.rpc("getTransaction", [...G, hash, true])).result;
    expect(tx.hash).toBe(hash);
    const HASH = /^0x[0-9a-f]{64}$/;
    // Hex, never {"0":…} objects: a proof verifies against the block's root with src/crypto.
    expect(tx.txProof).toMatchObject({
      blockNumber: 1,
      index: 0,
      leaf: hash,
      root: expect.stringMatching(HASH),
    });
    expect(tx.txProof.blockHash).toBe(bytesToHex(h.backend.blocks[1]!.block.hash));
    expect(tx.txProof.proof).toEqual({ index: 0, leafCount: 2, siblings: [expect.stringMatching(HASH)] });
    expect(verifyMerkleProof(hexToBytes(tx.txProof.root), hexToBytes(hash), tx.txProof.proof)).toBe(true);
    expect(tx.signature).toMatch(/^0x[0-9a-f]{130}$/);
    const r = (await h.rpc("getTransactionReceipt", [...G, hash, false])).result;
    expect(r.status).toBe(0);
    expect(r.logEntries).toHaveLength(2);
    expect(r).not.toHaveProperty("receiptProof");
    const rp = (await h.rpc("getTransactionReceipt", [...G, hash, true])).result;
    expect(rp.txProof).toEqual(tx.txProof);
    expect(rp.receiptProof.leaf).toMatch(HASH);
    expect(rp.receiptProof.root).toMatch(HASH);
    const receiptLeafBytes = hexToBytes(rp.receiptProof.leaf);
    expect(verifyMerkleProof(hexToBytes(rp.receiptProof.root), receiptLeafBytes, rp.receiptProof.proof)).toBe(
      true,
    );
    const failed = (
      await h.rpc("getTransactionReceipt", [...G, bytesToHex(h.backend.blocks[3]!.transactions[0]!.hash)])
    ).result;
    expect(failed.status).toBe(16);
    expect(failed.message).toBe("not enough tokens");
  });

  it("call returns status and output (no JSON-RPC error on revert)", async () => {
    const ok = (await h.rpc("call", [...G, bytesToHex(TOKEN_ADDRESS), "0x"])).result;
    expect(ok.status).toBe(0);
    expect(BigInt(ok.output)).toBe(42n);
    const rev = (await h.rpc("call", [...G, bytesToHex(REVERT_ADDRESS), "0x"])).result;
    expect(rev.status).toBe(16);
    expect(rev.message).toBe("not enough tokens");
  });

  it("sendTransaction waits for the receipt; times out with a clear error", async () => {
    const raw = await signEth({
      type: 0,
      nonce: 5,
      to: bytesToHex(TOKEN_ADDRESS),
      gasLimit: 60_000n,
      gasPrice: 0n,
    });
    const pending = h.rpc("sendTransaction", [...G, bytesToHex(raw), false]);
    for (let i = 0; i < 200 && h.backend.pendingCount() === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    h.backend.mine();
    const receipt = (await pending).result;
    expect(receipt.blockNumber).toBe(4);
    expect(receipt.status).toBe(0);
    const raw2 = await signEth({
      type: 0,
      nonce: 6,
      to: bytesToHex(TOKEN_ADDRESS),
      gasLimit: 60_000n,
      gasPrice: 0n,
    });
    const timeout = await h.rpc("sendTransaction", [...G, bytesToHex(raw2).slice(2), false]);
    expect(timeout.error?.code).toBe(-32000);
    expect(timeout.error?.message).toMatch(/accepted but not committed within 1000 ms/);
    const dup = await h.rpc("sendTransaction", [...G, bytesToHex(raw2), false]);
    expect(dup.error).toEqual({ code: -32000, message: "already known" });
    h.backend.mine();
  });

  it("node, consensus and config queries", async () => {
    const sealers = (await h.rpc("getSealerList", G)).result;
    expect(sealers).toHaveLength(4);
    expect(sealers[0]).toEqual({ nodeID: "01".repeat(32), weight: 1 });
    expect((await h.rpc("getObserverList", G)).result).toEqual(["09".repeat(32)]);
    expect((await h.rpc("getPbftView", G)).result).toBe(7);
    const cs = (await h.rpc("getConsensusStatus", G)).result;
    expect(cs.leaderIndex).toBe(1);
    expect(cs.view).toBe(7);
    const sync = (await h.rpc("getSyncStatus", G)).result;
    expect(sync.isSyncing).toBe(false);
    expect(sync.genesisHash).toBe(bytesToHex(h.backend.blocks[0]!.block.hash));
    expect((await h.rpc("getPeers", ["group0"])).result.peers).toHaveLength(3);
    expect((await h.rpc("getPendingTxSize", G)).result).toBe(0);
    const total = (await h.rpc("getTotalTransactionCount", G)).result;
    expect(total.failedTransactionCount).toBe(1);
    expect(total.transactionCount).toBeGreaterThanOrEqual(6);
    expect((await h.rpc("getSystemConfigByKey", [...G, "tx_count_limit"])).result).toEqual({
      blockNumber: 0,
      value: "1000",
    });
    expect((await h.rpc("getSystemConfigByKey", [...G, "nope"])).error?.code).toBe(-32000);
    const gi = (await h.rpc("getGroupInfo", ["group0"])).result;
    expect(gi).toMatchObject({
      groupID: "group0",
      chainID: "20200",
      genesisConfig: {
        consensusType: "pbft",
        genesisHash: bytesToHex(h.backend.blocks[0]!.block.hash),
        sealerList: [1, 2, 3, 4].map((b) => ({ nodeID: `0${b}`.repeat(32), weight: 1 })),
      },
    });
    expect(gi.nodeList.map((n: { nodeID: string }) => n.nodeID)).toEqual(
      [1, 2, 3, 4].map((b) => `0${b}`.repeat(32)),
    );
    expect((await h.rpc("getGroupInfoList", [])).result).toEqual([gi]);
    expect((await h.rpc("getGroupList", [])).result).toEqual({
      code: 0,
      msg: "success",
      groupList: ["group0"],
    });
    expect((await h.rpc("getNodeInfo", [])).result.type).toBe("sealer");
    expect((await h.rpc("getCode", [...G, bytesToHex(TOKEN_ADDRESS)])).result).toBe("0x6080604052");
  });
});
