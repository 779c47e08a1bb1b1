import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { commitDigest } from "../../src/consensus/pbft/core/index.js";
import { keccak256, NodeKey } from "../../src/crypto/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import { Checker } from "./checker.js";
import type { Acknowledged } from "./history.js";

/**
 * The checker against fake nodes that serve FISCO getBlockByNumber over real HTTP: it must pass a sound chain and
 * fail each kind of broken one (what makes the campaign able to fail at all).
 */
const keys = Array.from({ length: 4 }, () => NodeKey.generate());
const sealers = keys.map((k) => ({ nodeId: k.nodeId, weight: 1 }));
const sealerList = keys.map((k) => bytesToHex(k.nodeId));

interface Block {
  number: number;
  hash: string;
  view: number;
  sealerList: string[];
  signatureList: { index: number; signature: string }[];
  transactions: string[];
}

const hashOf = (tag: string) => bytesToHex(keccak256(new TextEncoder().encode(tag)));

/** Block n, signed by `signers` at `certView` (a re-proposed block is certified in a later view than its header's). */
function block(
  n: number,
  tag: string,
  txs: string[],
  opts: { certView?: number; signers?: number[] } = {},
): Block {
  const hash = hashOf(`${tag}/${n}`);
  const certView = opts.certView ?? 0;
  const digest = commitDigest(keccak256, n, certView, Buffer.from(hash.slice(2), "hex"));
  const signers = opts.signers ?? [0, 1, 2];
  return {
    number: n,
    hash,
    view: 0,
    sealerList,
    signatureList: signers.map((i) => ({ index: i, signature: bytesToHex(keys[i]!.sign(digest)) })),
    transactions: txs,
  };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function fakeNode(chain: Block[]): Promise<string> {
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      const { method, params } = JSON.parse(body) as { method: string; params: unknown[] };
      const result = method === "getBlockNumber" ? chain.length : (chain[(params[2] as number) - 1] ?? null);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ jsonrpc: "2.0", id: 1, result }));
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const ack = (tx: string, b: Block): Acknowledged => ({
  tx,
  node: 0,
  blockNumber: b.number,
  blockHash: b.hash,
  scenario: "test",
});

describe("chaos checker", () => {
  const tx1 = hashOf("tx1");
  const tx2 = hashOf("tx2");

  it("passes a sound chain, a certificate from a later view included", async () => {
    const chain = [block(1, "a", [tx1]), block(2, "a", [tx2], { certView: 3, signers: [1, 2, 3] })];
    const checker = new Checker(await Promise.all([fakeNode(chain), fakeNode(chain)]), sealers);
    const result = await checker.check([ack(tx1, chain[0]!), ack(tx2, chain[1]!)]);
    expect(result.violations).toEqual([]);
    expect(result).toMatchObject({ ok: true, height: 2, lost: 0, misplaced: 0, checkedBlocks: 4 });
  });

  it("fails a lost tx, a tx in another block than its receipt said, and a duplicate", async () => {
    const chain = [block(1, "a", [tx1]), block(2, "a", [tx1])];
    const checker = new Checker([await fakeNode(chain)], sealers);
    const elsewhere = block(2, "other", [tx1]);
    const result = await checker.check([ack(hashOf("never"), chain[0]!), { ...ack(tx1, elsewhere) }]);
    expect(result.ok).toBe(false);
    expect(result.lost).toBe(1);
    expect(result.misplaced).toBe(1);
    expect(result.violations.join("\n")).toMatch(/MISPLACED: tx/);
    expect(result.violations.join("\n")).toMatch(/LOST: tx/);
    expect(result.violations.join("\n")).toMatch(/in block 1 and again in block 2/);
    // The same loss is reported once across checks.
    expect((await checker.check([ack(hashOf("never"), chain[0]!)])).lost).toBe(0);
  });

  it("fails a block without a quorum, a forged signature, and two certified blocks at one height", async () => {
    const short = [block(1, "a", [], { signers: [0, 1] })];
    expect((await new Checker([await fakeNode(short)], sealers).check([])).violations.join()).toMatch(
      /certificate does not verify/,
    );
    const forged = block(1, "a", []);
    forged.signatureList[2] = { index: 3, signature: forged.signatureList[2]!.signature };
    expect((await new Checker([await fakeNode([forged])], sealers).check([])).ok).toBe(false);
    const fork = new Checker(
      await Promise.all([fakeNode([block(1, "a", [])]), fakeNode([block(1, "b", [])])]),
      sealers,
    );
    expect((await fork.check([])).violations.join()).toMatch(/SAFETY: height 1 has 2 blocks/);
  });

  it("fails nodes that disagree or stand at different heights", async () => {
    const a = [block(1, "a", []), block(2, "a", [])];
    const uncertified = { ...block(2, "b", []), signatureList: [] };
    const checker = new Checker(await Promise.all([fakeNode(a), fakeNode([a[0]!, uncertified])]), sealers);
    expect((await checker.check([])).violations.join("\n")).toMatch(/nodes disagree at height 2/);
    const behind = new Checker(await Promise.all([fakeNode(a), fakeNode(a.slice(0, 1))]), sealers);
    expect((await behind.check([])).violations.join()).toMatch(/heights differ/);
  });
});
