import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { checkProofs, type ProofJson, runProofCommand } from "../../src/cli/proof.js";
import { keccak256, verifyMerkleProof } from "../../src/crypto/index.js";
import type { ConsortNode } from "../../src/node/index.js";
import {
  addrOf,
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

/** FISCO proofs fetched over HTTP from a real node: hex (not {"0":…} objects), verified against the header. */

let net: SingleNodeNet;
let node: ConsortNode;
let url: string;
const hashes: string[] = [];

interface FiscoReceipt {
  blockNumber: number;
  txProof: ProofJson;
  receiptProof: ProofJson;
}
interface FiscoHeader {
  number: number;
  hash: string;
  txsRoot: string;
  receiptsRoot: string;
}

beforeAll(async () => {
  net = await SingleNodeNet.create();
  // The leader gathers for 300 ms: the five transactions below land in one block (proofs with siblings).
  node = await net.start({ consensus: { minSealTimeMs: 300 } });
  url = rpcUrl(node);
  const [sender] = net.accounts;
  const raws = [0, 1, 2, 3, 4].map((nonce) =>
    signLegacyFast(keyOf(sender!), { nonce: BigInt(nonce), to: addrOf(net.accounts[1]!), value: 1n }),
  );
  // One batch: the five reach the pool together, while the leader gathers.
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(
      raws.map((raw, id) => ({
        jsonrpc: "2.0",
        id,
        method: "eth_sendRawTransaction",
        params: [bytesToHex(raw)],
      })),
    ),
  });
  const answers = (await res.json()) as { id: number; result: string }[];
  for (const a of answers.sort((x, y) => x.id - y.id)) hashes.push(a.result);
  await waitReceipts(
    node,
    hashes.map((h) => hexToBytes(h)),
    30_000,
  );
});

afterAll(async () => {
  await node?.close();
  await net?.remove();
});

async function fetchProofs(hash: string): Promise<{ receipt: FiscoReceipt; header: FiscoHeader }> {
  const receipt = await rpc<FiscoReceipt>(url, "getTransactionReceipt", ["group0", "", hash, true]);
  const header = await rpc<FiscoHeader>(url, "getBlockByNumber", [
    "group0",
    "",
    receipt.blockNumber,
    true,
    true,
  ]);
  return { receipt, header };
}

describe("FISCO proofs over HTTP", () => {
  it("are hex, and verify against the header's roots with src/crypto", async () => {
    const hash = hashes[3]!;
    const { receipt, header } = await fetchProofs(hash);
    for (const p of [receipt.txProof, receipt.receiptProof]) {
      expect(p.leaf).toMatch(/^0x[0-9a-f]{64}$/);
      expect(p.root).toMatch(/^0x[0-9a-f]{64}$/);
      expect(p.blockHash).toBe(header.hash);
      for (const s of p.proof.siblings) expect(s).toMatch(/^0x[0-9a-f]{64}$/);
    }
    const block = await rpc<{ transactions: string[] }>(url, "getBlockByNumber", [
      "group0",
      "",
      receipt.blockNumber,
      false,
      true,
    ]);
    expect(receipt.txProof.proof.leafCount).toBe(block.transactions.length);
    expect(receipt.txProof.proof.index).toBe(block.transactions.indexOf(hash));
    expect(receipt.txProof.proof.siblings.length).toBeGreaterThan(0); // not alone in its block
    expect(receipt.txProof.leaf).toBe(hash);
    expect(verifyMerkleProof(hexToBytes(header.txsRoot), hexToBytes(hash), receipt.txProof.proof)).toBe(true);
    const receiptLeaf = hexToBytes(receipt.receiptProof.leaf);
    expect(verifyMerkleProof(hexToBytes(header.receiptsRoot), receiptLeaf, receipt.receiptProof.proof)).toBe(
      true,
    );
    expect(checkProofs(hash, header, receipt.txProof, receipt.receiptProof).every((c) => c.ok)).toBe(true);
    // getTransaction with requireProof carries the same tx proof.
    const tx = await rpc<{ txProof: ProofJson }>(url, "getTransaction", ["group0", "", hash, true]);
    expect(tx.txProof).toEqual(receipt.txProof);
  });

  it("a tampered proof does not verify (sibling, leaf, index, root)", async () => {
    const hash = hashes[1]!;
    const { receipt, header } = await fetchProofs(hash);
    const flip = (h: string) => `${h.slice(0, -1)}${h.endsWith("0") ? "1" : "0"}`;
    const clone = (): ProofJson => JSON.parse(JSON.stringify(receipt.txProof)) as ProofJson;
    const tampered: ProofJson[] = [];
    const sibling = clone();
    sibling.proof.siblings[0] = flip(sibling.proof.siblings[0]!);
    tampered.push(sibling);
    const index = clone();
    index.proof.index = (index.proof.index + 1) % index.proof.leafCount;
    tampered.push(index);
    for (const p of tampered) {
      expect(verifyMerkleProof(hexToBytes(header.txsRoot), hexToBytes(hash), p.proof)).toBe(false);
      expect(checkProofs(hash, header, p, receipt.receiptProof).some((c) => !c.ok)).toBe(true);
    }
    // Another transaction's hash is not proven by this path.
    expect(verifyMerkleProof(hexToBytes(header.txsRoot), hexToBytes(hashes[2]!), receipt.txProof.proof)).toBe(
      false,
    );
    const leaf = clone();
    leaf.leaf = bytesToHex(keccak256(hexToBytes(hash)));
    expect(checkProofs(hash, header, leaf, receipt.receiptProof).some((c) => !c.ok)).toBe(true);
    const root = { ...header, receiptsRoot: flip(header.receiptsRoot) };
    expect(checkProofs(hash, root, receipt.txProof, receipt.receiptProof).filter((c) => !c.ok).length).toBe(
      2,
    );
  });

  it("consort proof verify checks a committed transaction over RPC", async () => {
    const lines: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((s: string) => void lines.push(s));
    try {
      await runProofCommand(["verify", hashes[4]!, "--rpc", url]);
    } finally {
      log.mockRestore();
    }
    expect(lines.filter((l) => l.startsWith("ok  ")).length).toBe(7);
    expect(lines.at(-1)).toMatch(/^verified: 0x[0-9a-f]{64} and its receipt are in block \d+/);
    const unknown = `0x${"ab".repeat(32)}`;
    await expect(runProofCommand(["verify", unknown, "--rpc", url])).rejects.toThrow(/is not committed/);
    expect((await rpcRaw(url, "getTransactionReceipt", ["group0", "", unknown, true])).result).toBeNull();
  });
});
