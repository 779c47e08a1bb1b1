import { expect } from "vitest";
import { hashHeader } from "../../src/codec/index.js";
import { verifyMerkleProof } from "../../src/crypto/index.js";
import type { LevelLedger } from "../../src/ledger/index.js";
import { receiptLeaf } from "../../src/ledger/index.js";
import type { Hash } from "../../src/types/index.js";
import { COUNTER_KEY, stateKey, stateValue, txCountOf } from "./helpers.js";

const decoder = new TextDecoder();

/**
 * Checks the deterministic test chain through the ledger API. Blocks `from`..head in full: header, body,
 * certificate, every tx by its hash index, receipts, number↔hash indexes (and tx/receipt proofs of every block with
 * `proofs: "all"`, of the head only otherwise). Every block 0..head: parent links, the state it wrote, the tx count
 * total. Nothing of block head+1's state exists. The state history answers for every height it keeps.
 */
export async function verifyChain(
  ledger: LevelLedger,
  opts: { proofs: "all" | "head"; from?: number },
): Promise<number> {
  const head = ledger.head();
  expect(head).not.toBeNull();
  const headNumber = head!.number;
  const from = Math.max(0, opts.from ?? 0);
  let parentHash: Hash | null = null;
  let txTotal = 0;
  for (let m = 0; m <= headNumber; m++) {
    txTotal += txCountOf(m);
    if (m >= from) continue;
    const header = await ledger.getHeader(m);
    expect(header, `header ${m}`).not.toBeNull();
    if (parentHash !== null) expect(header!.parentHash).toEqual(parentHash);
    parentHash = hashHeader(header!);
  }
  const keys = Array.from({ length: headNumber + 1 }, (_, m) => [
    stateKey(m, 0),
    stateKey(m, 1),
    stateKey(m, 2),
  ]);
  const all = await ledger.getManyState(keys.flat());
  for (let m = 0; m <= headNumber; m++) {
    expect(all[3 * m], `state s/${m}/0`).toEqual(m === headNumber ? stateValue(m, 0) : undefined);
    expect(all[3 * m + 1], `state s/${m}/1`).toEqual(stateValue(m, 1));
    expect(all[3 * m + 2], `state s/${m}/2`).toEqual(stateValue(m, 2));
  }
  for (let m = from; m <= headNumber; m++) {
    const block = await ledger.getBlock(m);
    expect(block, `block ${m}`).not.toBeNull();
    const { header, hash, transactions, certificate } = block!;
    expect(header.number).toBe(m);
    expect(hashHeader(header)).toEqual(hash);
    if (parentHash !== null) expect(header.parentHash).toEqual(parentHash);
    expect(certificate.height).toBe(m);
    expect(certificate.blockHash).toEqual(hash);
    expect(transactions).toHaveLength(txCountOf(m));
    const [byNumber, byHash, header2, receipts] = await Promise.all([
      ledger.getBlockHash(m),
      ledger.getBlockNumber(hash),
      ledger.getHeader(hash),
      ledger.getBlockReceipts(m),
    ]);
    expect(byNumber).toEqual(hash);
    expect(byHash).toBe(m);
    expect(header2).toEqual(header);
    expect(receipts).toHaveLength(transactions.length);
    await Promise.all(
      transactions.map(async (tx, i) => {
        const [found, withReceipt] = await Promise.all([
          ledger.getTransaction(tx.hash),
          ledger.getReceipt(tx.hash),
        ]);
        expect(found, `tx ${i} of block ${m}`).not.toBeNull();
        expect(found!.blockNumber).toBe(m);
        expect(found!.index).toBe(i);
        expect(found!.blockHash).toEqual(hash);
        expect(found!.tx.raw).toEqual(tx.raw);
        expect(found!.tx.sender).toEqual(tx.sender);
        expect(withReceipt!.receipt).toEqual(receipts[i]);
        expect(withReceipt!.receipt.txHash).toEqual(tx.hash);
        if (opts.proofs === "all" || m === headNumber) {
          const [txProof, receiptProof] = await Promise.all([
            ledger.getTxProof(tx.hash),
            ledger.getReceiptProof(tx.hash),
          ]);
          expect(txProof!.root).toEqual(header.txRoot);
          expect(verifyMerkleProof(header.txRoot, tx.hash, txProof!.proof)).toBe(true);
          expect(receiptProof!.root).toEqual(header.receiptRoot);
          expect(receiptProof!.leaf).toEqual(receiptLeaf(receipts[i]!));
          expect(verifyMerkleProof(header.receiptRoot, receiptLeaf(receipts[i]!), receiptProof!.proof)).toBe(
            true,
          );
        }
      }),
    );
    parentHash = hash;
  }
  expect(ledger.head()!.hash).toEqual(parentHash);
  expect(decoder.decode(await ledger.getState(COUNTER_KEY))).toBe(String(headNumber));
  // State history: the counter (and a key deleted one block after its creation) at every height the ledger keeps.
  for (let m = ledger.oldestStateBlock(); m <= headNumber; m++) {
    const [counter, created] = await ledger.getManyStateAt([COUNTER_KEY, stateKey(m, 0)], m);
    expect(decoder.decode(counter), `counter at ${m}`).toBe(String(m));
    expect(created, `s/${m}/0 at ${m}`).toEqual(stateValue(m, 0));
    if (m > 0) expect(await ledger.getStateAt(stateKey(m - 1, 0), m), `s/${m - 1}/0 at ${m}`).toBeUndefined();
  }
  for (let j = 0; j < 3; j++) expect(await ledger.getState(stateKey(headNumber + 1, j))).toBeUndefined();
  expect(await ledger.getBlock(headNumber + 1)).toBeNull();
  expect(ledger.totalTransactionCount()).toBe(txTotal);
  return headNumber;
}
