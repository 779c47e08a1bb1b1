import { encodeFunctionData } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArtifact } from "../../contracts/artifacts.js";
import { NodeKey } from "../../src/crypto/index.js";
import { governance } from "../../src/execution/index.js";
import type { ConsortNode } from "../../src/node/index.js";
import type { Address } from "../../src/types/index.js";
import { ReceiptStatus } from "../../src/types/index.js";
import {
  bytesToHex,
  hexToBytes,
  keyOf,
  rpc,
  rpcRaw,
  rpcUrl,
  SingleNodeNet,
  signLegacyFast,
  waitReceipts,
} from "./helpers.js";

/**
 * FISCO-style answers on a real node: block sealer lists and signature indexes from the validator set that signed
 * each block (not today's), getTotalTransactionCount's failed count, the group/node methods and FISCO-named filters.
 */

const TO = hexToBytes("0x00000000000000000000000000000000000000aa");
const G = ["group0", ""];
const callee = loadArtifact("Callee");

interface FiscoBlock {
  number: number;
  sealer: number;
  sealerList: string[];
  consensusWeights: number[];
  signatureList: { index: number; signature: string }[];
}

let net: SingleNodeNet;
let node: ConsortNode;
let url: string;
let self: string;
const nonces = new Map<number, bigint>();

/** A tx from dev account `i`; waits for its receipt. */
async function send(i: number, to: Address | null, data = "0x", gasLimit = 500_000n) {
  const nonce = nonces.get(i) ?? 0n;
  nonces.set(i, nonce + 1n);
  const raw = signLegacyFast(keyOf(net.accounts[i]!), { nonce, to, data: hexToBytes(data), gasLimit });
  const hash = await rpc<string>(url, "eth_sendRawTransaction", [bytesToHex(raw)]);
  const [r] = await waitReceipts(node, [hexToBytes(hash)], 30_000);
  return r!;
}

/** Node changes are committee proposals; dev account 0 is the only governor, so each executes at once. */
const COMMITTEE = governance.COMMITTEE_ADDRESS;
const nodesCall = (
  functionName: "createAddSealerProposal" | "createSetWeightProposal" | "createAddObserverProposal",
  id: string,
  w?: bigint,
) =>
  encodeFunctionData({
    abi: governance.COMMITTEE_ABI,
    functionName,
    args: (w === undefined ? [id, 0n] : [id, w, 0n]) as never,
  });

beforeAll(async () => {
  net = await SingleNodeNet.create();
  // The offline sealer added below leads every other height: a short view timeout keeps blocks coming.
  node = await net.start({ consensus: { viewTimeoutMs: 300 } });
  url = rpcUrl(node);
  self = bytesToHex(node.nodeKey.nodeId).slice(2);
});

afterAll(async () => {
  await node?.close();
  await net?.remove();
});

describe("FISCO answers on a real node", () => {
  it("getTotalTransactionCount counts committed and failed transactions", async () => {
    const before = await rpc<{ transactionCount: number; failedTransactionCount: number }>(
      url,
      "getTotalTransactionCount",
      G,
    );
    const deploy = await send(1, null, callee.bytecode, 1_000_000n);
    const set150 = `0x60fe47b1${(150).toString(16).padStart(64, "0")}`; // set(150): reverts
    const failed = await send(1, deploy.receipt.contractAddress!, set150);
    expect(failed.receipt.status).toBe(ReceiptStatus.Failed);
    const after = await rpc<{
      blockNumber: number;
      transactionCount: number;
      failedTransactionCount: number;
    }>(url, "getTotalTransactionCount", G);
    expect(after.transactionCount).toBe(before.transactionCount + 2);
    expect(after.failedTransactionCount).toBe(before.failedTransactionCount + 1);
    expect(after.failedTransactionCount).toBe(1);
  });

  it("block sealer lists, weights and signature indexes are those of the set that signed the block", async () => {
    const weighted = await send(0, COMMITTEE, nodesCall("createSetWeightProposal", `0x${self}`, 7n));
    expect(weighted.receipt.status).toBe(ReceiptStatus.Success);
    const newSealer = bytesToHex(NodeKey.generate().nodeId).slice(2);
    // A node becomes a sealer only after it has been an observer.
    const observed = await send(0, COMMITTEE, nodesCall("createAddObserverProposal", newSealer));
    expect(observed.receipt.status).toBe(ReceiptStatus.Success);
    const added = await send(0, COMMITTEE, nodesCall("createAddSealerProposal", newSealer, 1n));
    expect(added.receipt.status).toBe(ReceiptStatus.Success);
    const later = await send(2, TO);
    expect(later.blockNumber).toBeGreaterThan(added.blockNumber);
    const block = (n: number) => rpc<FiscoBlock>(url, "getBlockByNumber", [...G, n, true]);
    const shape = (b: FiscoBlock) => ({
      sealer: b.sealer,
      sealerList: b.sealerList,
      consensusWeights: b.consensusWeights,
      signers: b.signatureList.map((s) => s.index),
    });
    // The block that set the weight was signed by the set with the old weight (changes apply from h + 1).
    expect(shape(await block(weighted.blockNumber))).toEqual({
      sealer: 0,
      sealerList: [self],
      consensusWeights: [1],
      signers: [0],
    });
    expect(shape(await block(added.blockNumber))).toEqual({
      sealer: 0,
      sealerList: [self],
      consensusWeights: [7],
      signers: [0],
    });
    const now = shape(await block(later.blockNumber));
    expect(now.sealerList).toEqual([self, newSealer]);
    expect(now.consensusWeights).toEqual([7, 1]);
    expect(now.signers).toEqual([0]);
    // getSealerList: today's set, or (an extension) the set of a given block.
    expect(await rpc(url, "getSealerList", G)).toEqual([
      { nodeID: self, weight: 7 },
      { nodeID: newSealer, weight: 1 },
    ]);
    expect(await rpc(url, "getSealerList", [...G, weighted.blockNumber])).toEqual([
      { nodeID: self, weight: 1 },
    ]);
    // getGroupInfo's genesis sealers are the genesis ones.
    const gi = await rpc<{ genesisConfig: { sealerList: unknown[] } }>(url, "getGroupInfo", ["group0"]);
    expect(gi.genesisConfig.sealerList).toEqual([{ nodeID: self, weight: 1 }]);
    const byType = await rpc(url, "getNodeListByType", [...G, "consensus_sealer"]);
    expect(byType).toEqual([
      { nodeID: self, weight: 7, type: "consensus_sealer" },
      { nodeID: newSealer, weight: 1, type: "consensus_sealer" },
    ]);
  });

  it("group and node methods in FISCO 3.x shapes", async () => {
    expect(await rpc(url, "getGroupList")).toEqual({ code: 0, msg: "success", groupList: ["group0"] });
    const info = await rpc<Record<string, unknown>>(url, "getGroupNodeInfo", G);
    expect(info).toMatchObject({ name: self, nodeID: self, type: 0, serviceInfo: [] });
    expect(info.iniConfig).toMatchObject({
      chainID: "20200",
      groupID: "group0",
      nodeID: self,
      isWasm: false,
    });
    const list = await rpc<{ groupID: string; nodeList: unknown[] }[]>(url, "getGroupInfoList");
    expect(list).toHaveLength(1);
    expect(list[0]!.groupID).toBe("group0");
    expect(list[0]!.nodeList).toEqual([info]);
    expect(await rpc(url, "getGroupPeers", ["group0"])).toEqual([]);
    expect(await rpc(url, "getNodeListByType", [...G, "consensus_observer"])).toEqual([]);
    const bad = await rpcRaw(url, "getNodeListByType", [...G, "leader"]);
    expect(bad.error?.code).toBe(-32602);
    expect((await rpcRaw(url, "getGroupPeers", ["group1"])).error?.code).toBe(-40001);
  });

  it("FISCO-named filters: newBlockFilter / getFilterChanges / uninstallFilter, getLogs, behind the group id", async () => {
    const id = await rpc<string>(url, "newBlockFilter", ["group0"]);
    const r = await send(3, TO);
    const changes = await rpc<string[]>(url, "getFilterChanges", ["group0", id]);
    const hash = (await rpc<{ hash: string }>(url, "getBlockByNumber", [...G, r.blockNumber, true])).hash;
    expect(changes).toContain(hash);
    expect(await rpc(url, "uninstallFilter", ["group0", id])).toBe(true);
    const logs = await rpc<unknown[]>(url, "getLogs", ["group0", { fromBlock: "0x0", toBlock: "latest" }]);
    expect(Array.isArray(logs)).toBe(true);
    expect((await rpcRaw(url, "newBlockFilter", ["group9"])).error?.code).toBe(-40001);
  });
});
