import { encodeFunctionData } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeKey } from "../../src/crypto/index.js";
import { governance, readConsensusNodes, readSystemConfig } from "../../src/execution/index.js";
import type { ConsortNode } from "../../src/node/index.js";
import type { Transaction } from "../../src/types/index.js";
import { ReceiptStatus } from "../../src/types/index.js";
import {
  bytesToHex,
  decodeErrorString,
  hexToBytes,
  keyOf,
  SingleNodeNet,
  signLegacyFast,
  signNative,
  waitFor,
  waitReceipts,
} from "./helpers.js";

/**
 * Acceptance (issues 4 and 12): committee proposals (one governor: each executes at once) change the system config and the consensus node list, effective from
 * the height after the block that carries them: tx_count_limit bounds the next blocks; observers come and go;
 * a sealer's weight changes; an added sealer joins the PBFT validator set at h + 1 (weighted quorum: the lone node
 * keeps committing while its weight is a quorum, and stalls once the offline sealer's weight takes it away: the last
 * step, now refused by the quorum rule). Short view timeout: the offline sealer leads every other height until the node's view change.
 */

const TO = hexToBytes("0x00000000000000000000000000000000000000aa");

describe("single node: system contracts drive config and the validator set", () => {
  let net: SingleNodeNet;
  let node: ConsortNode;
  let adminNonce = 0n;

  beforeAll(async () => {
    net = await SingleNodeNet.create();
    node = await net.start({ consensus: { viewTimeoutMs: 300 } });
  });

  afterAll(async () => {
    await node?.close();
    await net?.remove();
  });

  /** A proposal by the only governor (dev account 0): executes in its own tx; waits for its receipt. */
  async function admin(data: string) {
    const to = governance.COMMITTEE_ADDRESS;
    const raw = signLegacyFast(keyOf(net.accounts[0]!), {
      nonce: adminNonce++,
      to,
      data: hexToBytes(data),
      gasLimit: 500_000n,
    });
    const tx = await node.txpool.add(raw);
    const [r] = await waitReceipts(node, [tx.hash], 20_000);
    return r!;
  }

  const NODE_PROPOSALS = {
    addSealer: "createAddSealerProposal",
    addObserver: "createAddObserverProposal",
    remove: "createRmNodeProposal",
    setWeight: "createSetWeightProposal",
  } as const;
  const nodesCall = (op: keyof typeof NODE_PROPOSALS, id: string, w?: bigint) =>
    encodeFunctionData({
      abi: governance.COMMITTEE_ABI,
      functionName: NODE_PROPOSALS[op],
      args: (w === undefined ? [id, 0n] : [id, w, 0n]) as never,
    });
  const setConfig = (key: string, value: string) =>
    encodeFunctionData({
      abi: governance.COMMITTEE_ABI,
      functionName: "createSetSysConfigProposal",
      args: [key, value, 0n],
    });

  it("tx_count_limit = 5: the next blocks hold at most 5 txs", async () => {
    const data = setConfig("tx_count_limit", "5");
    const r = await admin(data);
    expect(r.receipt.status).toBe(ReceiptStatus.Success);
    const h = r.blockNumber;
    // In force from h + 1: the block that set it still ran under the old value.
    expect((await readSystemConfig(node.ledger, h)).txCountLimit).toBe(1000);
    expect((await readSystemConfig(node.ledger, h + 1)).txCountLimit).toBe(5);
    expect(node.chain.systemConfig().txCountLimit).toBe(5);
    expect(node.chain.systemConfig().entries.tx_count_limit).toEqual({ value: "5", enableNumber: h + 1 });

    // 20 txs at once (10 Ethereum from 5 senders, 10 native from one sender).
    const height = node.chain.height();
    const raws: Uint8Array[] = [];
    for (let i = 0; i < 10; i++) {
      raws.push(
        signLegacyFast(keyOf(net.accounts[1 + (i % 5)]!), {
          nonce: BigInt(Math.floor(i / 5)),
          to: TO,
          value: 1n,
        }),
      );
      raws.push(signNative(keyOf(net.accounts[6]!), height, { value: 1n }));
    }
    const txs: Transaction[] = await Promise.all(raws.map((raw) => node.txpool.add(raw)));
    const receipts = await waitReceipts(
      node,
      txs.map((t) => t.hash),
      30_000,
    );
    expect(receipts.every((x) => x.receipt.status === ReceiptStatus.Success)).toBe(true);
    const blocks = new Set(receipts.map((x) => x.blockNumber));
    expect(blocks.size).toBeGreaterThanOrEqual(4);
    for (let b = h + 1; b <= node.chain.height(); b++) {
      const block = await node.ledger.getBlock(b, { withTransactions: false });
      expect(block!.txHashes.length, `block ${b}`).toBeLessThanOrEqual(5);
    }
    // Back to a roomy limit for the rest.
    const back = await admin(setConfig("tx_count_limit", "1000"));
    expect(back.receipt.status).toBe(ReceiptStatus.Success);
    expect(node.chain.systemConfig().txCountLimit).toBe(1000);
    // Invalid values revert with a reason.
    const bad = await admin(setConfig("tx_count_limit", "0"));
    expect(bad.receipt.status).toBe(ReceiptStatus.Failed);
    expect(decodeErrorString(bad.receipt.output)).toBe(
      "committee: refused: tx_count_limit must be between 1 and 1000000",
    );
  });

  it("addObserver then remove: the observer list changes at h + 1; the last sealer cannot be removed", async () => {
    const observer = bytesToHex(NodeKey.generate().nodeId);
    const added = await admin(nodesCall("addObserver", observer));
    expect(added.receipt.status).toBe(ReceiptStatus.Success);
    const h1 = added.blockNumber;
    expect((await readConsensusNodes(node.ledger, h1)).observers).toHaveLength(0);
    expect((await readConsensusNodes(node.ledger, h1 + 1)).observers.map(bytesToHex)).toEqual([observer]);
    expect(node.chain.observers().map(bytesToHex)).toEqual([observer]);
    expect(node.chain.validators()).toHaveLength(1);

    const removed = await admin(nodesCall("remove", observer));
    expect(removed.receipt.status).toBe(ReceiptStatus.Success);
    const h2 = removed.blockNumber;
    expect((await readConsensusNodes(node.ledger, h2)).observers.map(bytesToHex)).toEqual([observer]);
    expect((await readConsensusNodes(node.ledger, h2 + 1)).observers).toHaveLength(0);
    expect(node.chain.observers()).toHaveLength(0);

    const self = bytesToHex(node.nodeKey.nodeId);
    const last = await admin(nodesCall("remove", self));
    expect(last.receipt.status).toBe(ReceiptStatus.Failed);
    expect(decodeErrorString(last.receipt.output)).toBe(
      "committee: refused: the last sealer cannot be removed",
    );
    const again = await admin(nodesCall("remove", observer));
    expect(decodeErrorString(again.receipt.output)).toBe(
      "committee: refused: the node is not in the consensus node list",
    );
  });

  it("setWeight: the PBFT validator set takes the new weight at h + 1 and keeps committing", async () => {
    const self = bytesToHex(node.nodeKey.nodeId);
    const r = await admin(nodesCall("setWeight", self, 7n));
    expect(r.receipt.status).toBe(ReceiptStatus.Success);
    const h = r.blockNumber;
    expect((await readConsensusNodes(node.ledger, h)).sealers[0]!.weight).toBe(1);
    expect(node.chain.validators().map((v) => v.weight)).toEqual([7]);
    await waitFor("consensus at h + 1", () => (node.consensus.status()?.height ?? 0) >= h + 1, 10_000);
    expect(node.consensus.status()!.validators.map((v) => [bytesToHex(v.nodeId), v.weight])).toEqual([
      [self, 7],
    ]);
    // Still commits (1 of 1 by weight).
    const tx = await node.txpool.add(
      signLegacyFast(keyOf(net.accounts[7]!), { nonce: 0n, to: TO, value: 1n }),
    );
    const [after] = await waitReceipts(node, [tx.hash], 20_000);
    expect(after!.blockNumber).toBe(h + 1);
    const block = await node.ledger.getBlock(h + 1, { withTransactions: false });
    expect(block!.certificate.signatures).toHaveLength(1);
  });

  it("observer, then addSealer: the PBFT set and weighted quorum change at h + 1; the halting setWeight is refused", async () => {
    const self = bytesToHex(node.nodeKey.nodeId);
    const newSealer = bytesToHex(NodeKey.generate().nodeId);
    // Not an observer yet: refused (a node becomes a sealer only after it has been an observer).
    const early = await admin(nodesCall("addSealer", newSealer, 1n));
    expect(decodeErrorString(early.receipt.output)).toMatch(
      /is not an observer: a node becomes a sealer only after/,
    );
    expect((await admin(nodesCall("addObserver", newSealer))).receipt.status).toBe(ReceiptStatus.Success);
    const r = await admin(nodesCall("addSealer", newSealer, 1n));
    expect(r.receipt.status).toBe(ReceiptStatus.Success);
    const h = r.blockNumber;
    expect((await readConsensusNodes(node.ledger, h)).sealers).toHaveLength(1);
    const next = (await readConsensusNodes(node.ledger, h + 1)).sealers.map((s) => [
      bytesToHex(s.nodeId),
      s.weight,
    ]);
    expect(next).toEqual([
      [self, 7],
      [newSealer, 1],
    ]);
    expect(node.chain.validators().map((s) => [bytesToHex(s.nodeId), s.weight])).toEqual(next);
    await waitFor(
      "consensus at h + 1 with 2 validators",
      () => {
        const s = node.consensus.status();
        return s !== null && s.height === h + 1 && s.validators.length === 2;
      },
      10_000,
    );
    // Weights 7 + 1: quorum is 8 - floor(7 / 3) = 6 <= 7, so the lone node still commits (after a view change
    // when the offline sealer leads).
    const tx = await node.txpool.add(
      signLegacyFast(keyOf(net.accounts[8]!), { nonce: 0n, to: TO, value: 1n }),
    );
    const [committed] = await waitReceipts(node, [tx.hash], 20_000);
    expect(committed!.blockNumber).toBe(h + 1);
    // consensus_leader_period = 1000: from the next height this node (index 0) leads every height below 1000, so
    // blocks commit in view 0 with no view change, although the offline sealer would lead every other height.
    const lp = await admin(setConfig("consensus_leader_period", "1000"));
    expect(lp.receipt.status).toBe(ReceiptStatus.Success);
    for (let i = 0; i < 3; i++) {
      const t = await node.txpool.add(
        signNative(keyOf(net.accounts[6]!), node.chain.height(), { to: TO, value: 1n }),
      );
      const [rc] = await waitReceipts(node, [t.hash], 20_000);
      expect((await node.ledger.getHeader(rc!.blockNumber))!.view).toBe(0);
    }
    // The offline sealer would get weight 7: the quorum would be 14 - 4 = 10 > 7, the weight of the only sealer
    // that proposes blocks. Refused with the reason; the chain keeps committing.
    const w = await admin(nodesCall("setWeight", newSealer, 7n));
    expect(w.receipt.status).toBe(ReceiptStatus.Failed);
    expect(decodeErrorString(w.receipt.output)).toMatch(
      /committee: refused: quorum unreachable: .* needs 10, .* only 7/,
    );
    expect(node.chain.validators().map((s) => s.weight)).toEqual([7, 1]);
    const more = await node.txpool.add(
      signLegacyFast(keyOf(net.accounts[9]!), { nonce: 0n, to: TO, value: 1n }),
    );
    const [fine] = await waitReceipts(node, [more.hash], 20_000);
    expect(fine!.receipt.status).toBe(ReceiptStatus.Success);
  });
});
