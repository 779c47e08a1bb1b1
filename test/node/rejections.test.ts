import { RLP } from "@ethereumjs/rlp";
import { encodeFunctionData } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CONSENSUS_NODES_ABI,
  CONSENSUS_NODES_ADDRESS,
  ONLY_COMMITTEE_REASON,
  SYSTEM_CONFIG_ABI,
  SYSTEM_CONFIG_ADDRESS,
} from "../../src/execution/index.js";
import type { ConsortNode } from "../../src/node/index.js";
import { TxPoolError } from "../../src/txpool/index.js";
import { ReceiptStatus } from "../../src/types/index.js";
import { bytesToBigint } from "../../src/util/hex.js";
import {
  addrOf,
  bytesToHex,
  decodeErrorString,
  freshWallets,
  hexToBytes,
  keyOf,
  rpc,
  rpcRaw,
  rpcUrl,
  SingleNodeNet,
  signLegacyFast,
  signNative,
  waitReceipts,
} from "./helpers.js";

/**
 * Acceptance (issue 4): every rejection has a clear error, through JSON-RPC (code -32000 + message) and through
 * txpool.add (typed TxPoolError code + message). A direct system-contract write reverts, naming the committee.
 * The node runs with txpool.countMax = 8 so "txpool is full" is reachable, and a 300 ms view timeout so spurious
 * view changes would show.
 */

const POOL_MAX = 8;
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function lastIndexOfPair(b: Uint8Array, x: number, y: number): number {
  for (let i = b.length - 2; i >= 0; i--) if (b[i] === x && b[i + 1] === y) return i;
  return -1;
}

function bigintToBytes32(v: bigint): Uint8Array {
  return hexToBytes(`0x${v.toString(16).padStart(64, "0")}`);
}
const TO = hexToBytes("0x00000000000000000000000000000000000000aa");

describe("single node: transaction rejections", () => {
  let net: SingleNodeNet;
  let node: ConsortNode;
  let url: string;

  beforeAll(async () => {
    net = await SingleNodeNet.create();
    node = await net.start({ txpool: { countMax: POOL_MAX }, consensus: { viewTimeoutMs: 300 } });
    url = rpcUrl(node);
  });

  afterAll(async () => {
    await node?.close();
    await net?.remove();
  });

  /** Submits over RPC; returns the JSON-RPC error (fails the test when it was accepted). */
  async function rpcReject(raw: Uint8Array): Promise<{ code: number; message: string }> {
    const body = await rpcRaw(url, "eth_sendRawTransaction", [bytesToHex(raw)]);
    expect(body.result, "accepted").toBeUndefined();
    expect(body.error).toEqual({ code: expect.any(Number), message: expect.any(String) });
    return body.error!;
  }

  /** Submits to the pool directly; returns the TxPoolError. */
  async function poolReject(raw: Uint8Array): Promise<TxPoolError> {
    const err = await node.txpool.add(raw).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TxPoolError);
    return err as TxPoolError;
  }

  async function commit(raw: Uint8Array) {
    const hash = await rpc<string>(url, "eth_sendRawTransaction", [bytesToHex(raw)]);
    const [r] = await waitReceipts(node, [hexToBytes(hash)], 20_000);
    return r!;
  }

  it("bad signature", async () => {
    const sender = net.accounts[1]!;
    const good = signLegacyFast(keyOf(sender), { nonce: 0n, to: TO, value: 1n });
    // Same tx with s = 0 (no valid signature has it).
    const fields = RLP.decode(good) as Uint8Array[];
    fields[8] = new Uint8Array(0);
    const bad = RLP.encode(fields);
    const e1 = await rpcReject(bad);
    expect(e1.code).toBe(-32000);
    expect(e1.message).toMatch(/^invalid sender: .*s.*out of range/);
    const e2 = await poolReject(bad);
    expect(e2.code).toBe("TXPOOL_INVALID");
    expect(e2.message).toMatch(/^invalid sender:/);
    // Native tx whose signature is replaced by its malleable twin (s -> n - s): refused, not a different sender.
    const native = signNative(keyOf(sender), node.chain.height());
    const at = lastIndexOfPair(native, 0x52, 0x40); // protobuf field 10 (signature), 64 bytes
    expect(at).toBeGreaterThan(0);
    const tampered = native.slice();
    const sBytes = tampered.subarray(at + 2 + 32, at + 2 + 64);
    sBytes.set(bigintToBytes32(SECP256K1_N - bytesToBigint(sBytes)));
    const e3 = await poolReject(tampered);
    expect(e3.code).toBe("TXPOOL_INVALID");
    expect(e3.message).toMatch(/^invalid sender: .*s > n\/2/);
    const e4 = await rpcReject(tampered);
    expect(e4.message).toBe(e3.message);
  });

  it("wrong chain id", async () => {
    const sender = net.accounts[1]!;
    const raw = signLegacyFast(keyOf(sender), { nonce: 0n, to: TO, value: 1n }, 1n);
    const e1 = await rpcReject(raw);
    expect(e1.code).toBe(-32000);
    expect(e1.message).toMatch(/^invalid sender: .*chain id 1, want 20200/);
    const e2 = await poolReject(signNative(keyOf(sender), node.chain.height(), { chainId: 7n }));
    expect(e2.code).toBe("TXPOOL_INVALID");
    expect(e2.message).toMatch(/chain id 7, want 20200/);
  });

  it("replayed tx, nonce too low, native nonce reuse", async () => {
    const sender = net.accounts[2]!;
    const raw = signLegacyFast(keyOf(sender), { nonce: 0n, to: TO, value: 1n });
    // A duplicate while pending is "already known".
    const hash = await rpc<string>(url, "eth_sendRawTransaction", [bytesToHex(raw)]);
    const dup = await rpcRaw(url, "eth_sendRawTransaction", [bytesToHex(raw)]);
    // Refused either way: pooled ("already known") or, if its block committed in between, "nonce too low".
    expect(dup.result).toBeUndefined();
    expect(dup.error?.message).toMatch(/^(already known|nonce too low)/);
    const [r] = await waitReceipts(node, [hexToBytes(hash)], 20_000);
    expect(r!.receipt.status).toBe(ReceiptStatus.Success);
    // The same raw tx after it committed.
    const e1 = await rpcReject(raw);
    expect(e1.code).toBe(-32000);
    expect(e1.message).toMatch(/^(already known|nonce too low)/);
    // Another tx with the spent nonce.
    const other = signLegacyFast(keyOf(sender), { nonce: 0n, to: TO, value: 2n });
    const e2 = await rpcReject(other);
    expect(e2.message).toBe("nonce too low: next nonce 1, tx nonce 0");
    expect((await poolReject(other)).code).toBe("TXPOOL_NONCE_TOO_LOW");

    // Native: a nonce used by a committed tx, then the same nonce in the pool.
    const nonce = new Uint8Array(16).fill(0x5a);
    const n1 = signNative(keyOf(sender), node.chain.height(), { nonce, value: 3n });
    const committed = await commit(n1);
    expect(committed.receipt.status).toBe(ReceiptStatus.Success);
    const replay = signNative(keyOf(sender), node.chain.height(), { nonce, value: 4n });
    const e3 = await rpcReject(replay);
    expect(e3.code).toBe(-32000);
    expect(e3.message).toBe("nonce already used");
    expect((await poolReject(n1)).message).toMatch(/^(already known|nonce already used)/);
    // Same nonce twice in the pool at once: exactly one is admitted.
    const nonce2 = new Uint8Array(16).fill(0x6b);
    const h = node.chain.height();
    const both = await Promise.allSettled([
      node.txpool.add(signNative(keyOf(sender), h, { nonce: nonce2, value: 5n })),
      node.txpool.add(signNative(keyOf(sender), h, { nonce: nonce2, value: 6n })),
    ]);
    expect(both.filter((b) => b.status === "fulfilled")).toHaveLength(1);
    const loser = both.find((b) => b.status === "rejected") as PromiseRejectedResult;
    expect((loser.reason as TxPoolError).code).toBe("TXPOOL_NONCE_USED");
    expect((loser.reason as TxPoolError).message).toBe("nonce already used");
    const winner = both.find((b) => b.status === "fulfilled") as PromiseFulfilledResult<{ hash: Uint8Array }>;
    await waitReceipts(node, [winner.value.hash], 20_000);
  });

  it("expired and too-far blockLimit", async () => {
    const sender = net.accounts[3]!;
    const h = node.chain.height();
    expect(h).toBeGreaterThan(0);
    const e1 = await rpcReject(signNative(keyOf(sender), h, { blockLimit: h }));
    expect(e1.code).toBe(-32000);
    expect(e1.message).toBe(`block limit expired: blockLimit ${h}, height ${h}`);
    const e2 = await rpcReject(signNative(keyOf(sender), h, { blockLimit: h + 1001 }));
    expect(e2.message).toBe(`block limit too far ahead: blockLimit ${h + 1001}, max ${h + 1000}`);
    const e3 = await poolReject(signNative(keyOf(sender), h, { blockLimit: h + 1001 }));
    expect(e3.code).toBe("TXPOOL_BLOCK_LIMIT");
    // The edges are accepted.
    const edge = await rpc<string>(url, "eth_sendRawTransaction", [
      bytesToHex(signNative(keyOf(sender), h, { blockLimit: h + 1000 })),
    ]);
    await waitReceipts(node, [hexToBytes(edge)], 20_000);
  });

  it("gas over tx_gas_limit", async () => {
    const sender = net.accounts[4]!;
    const limit = node.chain.systemConfig().txGasLimit;
    const raw = signLegacyFast(keyOf(sender), { nonce: 0n, to: TO, gasLimit: limit + 1n });
    const e1 = await rpcReject(raw);
    expect(e1.code).toBe(-32000);
    expect(e1.message).toBe(`exceeds block gas limit: gas ${limit + 1n}, limit ${limit}`);
    const e2 = await poolReject(signNative(keyOf(sender), node.chain.height(), { gasLimit: limit + 1n }));
    expect(e2.code).toBe("TXPOOL_GAS_LIMIT");
  });

  it("a direct system-contract write reverts, naming the committee instead", async () => {
    const outsider = net.accounts[5]!;
    const data = hexToBytes(
      encodeFunctionData({
        abi: SYSTEM_CONFIG_ABI,
        functionName: "setValueByKey",
        args: ["tx_count_limit", "1"],
      }),
    );
    const r = await commit(
      signLegacyFast(keyOf(outsider), { nonce: 0n, to: SYSTEM_CONFIG_ADDRESS, data, gasLimit: 200_000n }),
    );
    expect(r.receipt.status).toBe(ReceiptStatus.Failed);
    expect(decodeErrorString(r.receipt.output)).toBe(`setValueByKey: ${ONLY_COMMITTEE_REASON}`);
    expect(node.chain.systemConfig().txCountLimit).toBe(1000);
    // The FISCO receipt shows it too; eth_call reports it as a revert (code 3).
    const fisco = await rpc<{ status: number; message: string }>(url, "getTransactionReceipt", [
      "group0",
      "",
      bytesToHex(r.tx.hash),
    ]);
    expect(fisco.status).not.toBe(0);
    expect(fisco.message).toBe(`setValueByKey: ${ONLY_COMMITTEE_REASON}`);
    const nodesData = encodeFunctionData({
      abi: CONSENSUS_NODES_ABI,
      functionName: "addObserver",
      args: [bytesToHex(new Uint8Array(32).fill(1))],
    });
    const call = await rpcRaw(url, "eth_call", [
      { from: outsider.address, to: bytesToHex(CONSENSUS_NODES_ADDRESS), data: nodesData },
      "latest",
    ]);
    expect(call.error?.code).toBe(3);
    expect(call.error?.message).toContain(`addObserver: ${ONLY_COMMITTEE_REASON}`);
    // Native tx from a non-admin: same.
    const nr = await commit(
      signNative(keyOf(outsider), node.chain.height(), {
        to: CONSENSUS_NODES_ADDRESS,
        input: hexToBytes(nodesData),
        gasLimit: 200_000n,
      }),
    );
    expect(nr.receipt.status).toBe(ReceiptStatus.Failed);
    expect(decodeErrorString(nr.receipt.output)).toBe(`addObserver: ${ONLY_COMMITTEE_REASON}`);
    expect(node.chain.observers()).toHaveLength(0);
  });

  it("a nonce gap holds a sender's later txs back until it is filled; both commit in nonce order", async () => {
    const sender = net.accounts[8]!;
    const second = await node.txpool.add(signLegacyFast(keyOf(sender), { nonce: 1n, to: TO, value: 2n }));
    // A block committed after it was admitted (another sender's tx) leaves it out: not a sleep, a commit.
    const other = await node.txpool.add(signNative(keyOf(net.accounts[0]!), node.chain.height(), { to: TO }));
    await waitReceipts(node, [other.hash], 20_000);
    expect(await node.ledger.getReceipt(second.hash)).toBeNull();
    expect(node.txpool.get(second.hash)?.hash).toEqual(second.hash);
    const first = await node.txpool.add(signLegacyFast(keyOf(sender), { nonce: 0n, to: TO, value: 1n }));
    const [r0, r1] = await waitReceipts(node, [first.hash, second.hash], 20_000);
    expect(r0!.receipt.status).toBe(ReceiptStatus.Success);
    expect(r1!.receipt.status).toBe(ReceiptStatus.Success);
    expect([r0!.blockNumber, r0!.index]).toEqual([r1!.blockNumber, r1!.index - 1]);
  });

  it("replay protection survives a restart (Ethereum nonce, native nonce index)", async () => {
    const sender = net.accounts[9]!;
    const eth = signLegacyFast(keyOf(sender), { nonce: 0n, to: TO, value: 1n });
    const nonce = new Uint8Array(16).fill(0x7d);
    const native = signNative(keyOf(sender), node.chain.height(), { nonce });
    const txs = [await node.txpool.add(eth), await node.txpool.add(native)];
    await waitReceipts(
      node,
      txs.map((t) => t.hash),
      20_000,
    );
    const head = node.chain.head();
    await node.close();
    node = await net.start({ txpool: { countMax: POOL_MAX }, consensus: { viewTimeoutMs: 300 } });
    url = rpcUrl(node);
    expect(node.chain.head()).toEqual(head);
    expect(node.txpool.size()).toBe(0);
    expect((await rpcReject(eth)).message).toBe("nonce too low: next nonce 1, tx nonce 0");
    expect((await rpcReject(native)).message).toBe("nonce already used");
    const again = signNative(keyOf(sender), node.chain.height(), { nonce, value: 9n });
    expect((await poolReject(again)).code).toBe("TXPOOL_NONCE_USED");
  });

  it("a tx the executor refuses for now (overspent balance) waits parked, without rebuilds or view changes", async () => {
    // Each tx is within the balance at admission (the pool checks them one by one); together they overspend.
    const poor = freshWallets(1, 77)[0]!;
    const funder = net.accounts[1]!;
    const fund = await node.txpool.add(
      signLegacyFast(keyOf(funder), { nonce: 0n, to: addrOf(poor), value: 100n }),
    );
    await waitReceipts(node, [fund.hash], 20_000);
    let builds = 0;
    const build = node.chain.buildBlock.bind(node.chain);
    node.chain.buildBlock = (...args) => {
      builds++;
      return build(...args);
    };
    try {
      const t1 = await node.txpool.add(signLegacyFast(keyOf(poor), { nonce: 0n, to: TO, value: 60n }));
      const t2 = await node.txpool.add(signLegacyFast(keyOf(poor), { nonce: 1n, to: TO, value: 60n }));
      await waitReceipts(node, [t1.hash], 20_000);
      const [b0, v0] = [builds, node.consensus.counters.viewChanges];
      await new Promise((r) => setTimeout(r, 1500));
      expect(node.txpool.get(t2.hash)?.hash).toEqual(t2.hash);
      expect(await node.ledger.getReceipt(t2.hash)).toBeNull();
      expect(builds - b0).toBeLessThanOrEqual(1); // at most the retry after t1's commit
      expect(node.consensus.counters.viewChanges).toBe(v0);
      // Funded again: the next commit un-parks t2 and it goes through.
      const top = await node.txpool.add(
        signLegacyFast(keyOf(funder), { nonce: 1n, to: addrOf(poor), value: 100n }),
      );
      const [, r2] = await waitReceipts(node, [top.hash, t2.hash], 20_000);
      expect(r2!.receipt.status).toBe(ReceiptStatus.Success);
    } finally {
      node.chain.buildBlock = build;
    }
  });

  it("txpool full: the largest holder is refused; a smaller one evicts its newest tx", async () => {
    // Nonce-gapped txs (nonce 1.. of a fresh sender) stay pooled and unsealable: fill the pool with them,
    // POOL_MAX - 1 from a flooder and 1 from another sender.
    const flooder = net.accounts[6]!;
    const other = net.accounts[7]!;
    expect(node.txpool.size()).toBe(0);
    const flood = [];
    for (let i = 1; i < POOL_MAX; i++) {
      flood.push(
        await node.txpool.add(signLegacyFast(keyOf(flooder), { nonce: BigInt(i), to: TO, value: 1n })),
      );
    }
    const other1 = await node.txpool.add(signLegacyFast(keyOf(other), { nonce: 1n, to: TO, value: 1n }));
    expect(node.txpool.size()).toBe(POOL_MAX);
    const more = signLegacyFast(keyOf(flooder), { nonce: BigInt(POOL_MAX), to: TO, value: 1n });
    const e1 = await rpcReject(more);
    expect(e1.code).toBe(-32000);
    expect(e1.message).toBe("txpool is full");
    const e2 = await poolReject(signNative(keyOf(flooder), node.chain.height()));
    expect(e2.code).toBe("TXPOOL_FULL");
    expect(node.txpool.stats().rejected.local.TXPOOL_FULL).toBeGreaterThanOrEqual(2);
    // Only unsealable txs pooled: the view timer stays off (no view change storm while they wait for the gap).
    const views = node.consensus.counters.viewChanges;
    await new Promise((r) => setTimeout(r, 1500));
    expect(node.consensus.counters.viewChanges).toBe(views);
    expect(node.consensus.status()!.view).toBe(0);
    // The other sender (1 pending) still gets in: the flooder's highest nonce makes room.
    const other0 = await node.txpool.add(signLegacyFast(keyOf(other), { nonce: 0n, to: TO, value: 1n }));
    expect(node.txpool.stats().evicted).toBe(1);
    expect(node.txpool.get(flood.at(-1)!.hash)).toBeUndefined();
    expect(node.txpool.get(flood[0]!.hash)).toBe(flood[0]);
    await waitReceipts(node, [other0.hash, other1.hash], 20_000);
    void addrOf;
  });
});
