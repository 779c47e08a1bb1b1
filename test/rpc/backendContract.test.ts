import { Wallet as EthersWallet, type Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeIdToPeerId } from "../../src/network/index.js";
import type { ConsortNode } from "../../src/node/index.js";
import { NodeRpcBackend } from "../../src/node/rpcBackend.js";
import type { RpcBackend, RpcNewBlockEvent } from "../../src/rpc/interface.js";
import { type Hash, type Transaction, TxType } from "../../src/types/index.js";
import { startNodes, type TestNode, waitFor as waitForNet } from "../network/helpers.js";
import {
  addrOf,
  assetDeployData,
  assetTransferData,
  bytesToHex,
  hexToBytes,
  keyOf,
  rpc,
  rpcUrl,
  SingleNodeNet,
  signLegacyFast,
  signNative,
  waitFor,
  waitReceipts,
} from "../node/helpers.js";
import { CHAIN_ID as FAKE_CHAIN_ID, FakeBackend, REVERT_ADDRESS, SENDER, signEth } from "./fakeBackend.js";
import { type Outcome, outcomeDiff, outcomeOf, shapeDiff, shapeOf } from "./shape.js";

/**
 * The contract between the fake RpcBackend (test/rpc/fakeBackend.ts, behind most RPC tests) and the node's real one
 * (NodeRpcBackend over an in-process node: LevelDB in a temp dir, the real EVM): every method the fake implements is
 * run on both, on chains with the same kinds of content (transfers of each tx type, a native tx, a contract deploy,
 * a token transfer with logs, a reverted tx, a pending tx), and the answers must have the same shape: same keys, same
 * kinds of values, same nullability, same error codes. A field added to one side only fails here, so the RPC tests
 * that run on the fake cannot drift from the node. Tracing is left out: the fake throws RPC_UNSUPPORTED for it and
 * test/node/trace.test.ts covers it on a real node.
 */

const UNKNOWN_HASH: Hash = new Uint8Array(32).fill(0xab);
const SOMEONE = hexToBytes(`0x${"22".repeat(20)}`);

/** One side of the comparison: a backend and the samples of its chain the cases read. */
interface Side {
  backend: RpcBackend;
  /** Committed transactions of each type, by TxType. */
  txOfType: Map<TxType, Hash>;
  /** A contract creation, a call that logged, a reverted call (all committed). */
  createTx: Hash;
  loggedTx: Hash;
  failedTx: Hash;
  /** A transaction still in the pool. */
  pendingTx: Hash;
  /** A block with logs, one with no transactions, the genesis. */
  blockWithLogs: number;
  /** An address with code, one with a balance and nonce. */
  contract: Uint8Array;
  funded: Uint8Array;
  /** Raw transactions to submit: a fresh valid one, one with a used nonce, one for another chain. */
  freshRaw: () => Promise<Uint8Array>;
  staleNonceRaw: Uint8Array;
  otherChainRaw: Uint8Array;
  /** Commits one more block (with a transaction) and resolves once it is committed. */
  produceBlock: () => Promise<void>;
}

let fake: Side;
let real: Side;
let net: SingleNodeNet;
let node: ConsortNode;

async function fakeSide(): Promise<Side> {
  const b = await FakeBackend.withChain();
  const tx = (n: number, i: number) => b.blocks[n]!.transactions[i]!.hash;
  const receipts = b.blocks[1]!.receipts;
  expect(receipts[0]!.logs.length).toBeGreaterThan(0);
  const pending = await b.sendRawTransaction(
    await signEth({ type: 2, nonce: 5, to: bytesToHex(SOMEONE), value: 1n, gasLimit: 21_000n }),
  );
  let nextNonce = 6;
  return {
    backend: b,
    txOfType: new Map([
      [TxType.Legacy, tx(1, 0)],
      [TxType.FeeMarket, tx(1, 1)],
      [TxType.AccessList, tx(2, 0)],
      [TxType.Native, tx(2, 1)],
    ]),
    createTx: tx(2, 2),
    loggedTx: tx(1, 0),
    failedTx: tx(3, 0),
    pendingTx: pending,
    blockWithLogs: 1,
    contract: hexToBytes(`0x${"77".repeat(20)}`),
    funded: SENDER,
    freshRaw: () =>
      signEth({ type: 2, nonce: nextNonce++, to: bytesToHex(SOMEONE), value: 1n, gasLimit: 21_000n }),
    staleNonceRaw: await signEth({ type: 0, nonce: 0, to: bytesToHex(SOMEONE), gasLimit: 21_000n }),
    otherChainRaw: hexToBytes(
      await new EthersWallet(`0x${"11".repeat(32)}`).signTransaction({
        chainId: FAKE_CHAIN_ID + 1n,
        type: 0,
        nonce: 9,
        to: bytesToHex(SOMEONE),
        gasLimit: 21_000n,
        gasPrice: 0n,
      }),
    ),
    produceBlock: async () => {
      await b.sendRawTransaction(
        await signEth({ type: 2, nonce: nextNonce++, to: bytesToHex(SOMEONE), gasLimit: 21_000n }),
      );
      b.mine();
    },
  };
}

async function realSide(): Promise<Side> {
  net = await SingleNodeNet.create();
  node = await net.start();
  // The backend the node wired into its own RPC server (private there: the composition root owns it).
  const backend = (node.rpc as unknown as { backend: RpcBackend }).backend;
  expect(backend).toBeInstanceOf(NodeRpcBackend);
  const [, alice, bob, carol, dave] = net.accounts as [Wallet, Wallet, Wallet, Wallet, Wallet];
  const nonces = new Map<Wallet, bigint>();
  const nonce = (w: Wallet) => {
    const n = nonces.get(w) ?? 0n;
    nonces.set(w, n + 1n);
    return n;
  };
  const ethers = async (w: Wallet, fields: Record<string, unknown>) =>
    hexToBytes(
      await w.signTransaction({ chainId: node.genesis.chainId, nonce: Number(nonce(w)), ...fields }),
    );
  const submit = async (raws: Uint8Array[]) => {
    const hashes: Hash[] = [];
    for (const raw of raws) hashes.push(await backend.sendRawTransaction(raw));
    await waitReceipts(node, hashes, 60_000);
    return hashes;
  };

  const [legacy, feeMarket, accessList, native, create] = await submit([
    signLegacyFast(keyOf(alice), { nonce: nonce(alice), to: SOMEONE, value: 1n }),
    await ethers(alice, { type: 2, to: bytesToHex(SOMEONE), value: 1n, gasLimit: 21_000n, maxFeePerGas: 0n }),
    await ethers(alice, {
      type: 1,
      to: bytesToHex(SOMEONE),
      gasLimit: 30_000n,
      gasPrice: 0n,
      accessList: [{ address: bytesToHex(SOMEONE), storageKeys: [`0x${"00".repeat(32)}`] }],
    }),
    signNative(keyOf(carol), node.chain.height(), { to: SOMEONE }),
    // Type 2, as the fake's creation: receipts carry their transaction.
    await ethers(bob, {
      type: 2,
      data: bytesToHex(assetDeployData(1000n)),
      gasLimit: 1_000_000n,
      maxFeePerGas: 0n,
    }),
  ]);
  const token = (await backend.getReceipt(create!))!.receipt.contractAddress!;
  const [logged, failed] = await submit([
    signLegacyFast(keyOf(bob), {
      nonce: nonce(bob),
      to: token,
      data: assetTransferData(alice.address, 5n),
      gasLimit: 200_000n,
    }),
    // dave holds no tokens: the transfer reverts (type 2, as the fake's failed one).
    await ethers(dave, {
      type: 2,
      to: bytesToHex(token),
      data: bytesToHex(assetTransferData(alice.address, 5n)),
      gasLimit: 200_000n,
      maxFeePerGas: 0n,
    }),
  ]);
  const loggedAt = (await backend.getReceipt(logged!))!;
  expect(loggedAt.receipt.logs.length).toBeGreaterThan(0);
  expect((await backend.getReceipt(failed!))!.receipt.status).not.toBe(
    (await backend.getReceipt(logged!))!.receipt.status,
  );
  // A nonce gap keeps this one in the pool; type 2, as the fake's pending one.
  const pending = await backend.sendRawTransaction(
    hexToBytes(
      await dave.signTransaction({
        chainId: node.genesis.chainId,
        type: 2,
        nonce: 50,
        to: bytesToHex(SOMEONE),
        value: 1n,
        gasLimit: 21_000n,
        maxFeePerGas: 0n,
      }),
    ),
  );
  return {
    backend,
    txOfType: new Map([
      [TxType.Legacy, legacy!],
      [TxType.FeeMarket, feeMarket!],
      [TxType.AccessList, accessList!],
      [TxType.Native, native!],
    ]),
    createTx: create!,
    loggedTx: logged!,
    failedTx: failed!,
    pendingTx: pending,
    blockWithLogs: loggedAt.location.blockNumber,
    contract: token,
    funded: addrOf(alice),
    freshRaw: async () => signLegacyFast(keyOf(alice), { nonce: nonce(alice), to: SOMEONE, value: 1n }),
    staleNonceRaw: signLegacyFast(keyOf(alice), { nonce: 0n, to: SOMEONE, value: 2n }),
    otherChainRaw: signLegacyFast(
      keyOf(alice),
      { nonce: 0n, to: SOMEONE, value: 3n },
      node.genesis.chainId + 1n,
    ),
    produceBlock: async () => {
      await submit([signLegacyFast(keyOf(alice), { nonce: nonce(alice), to: SOMEONE, value: 1n })]);
    },
  };
}

beforeAll(async () => {
  fake = await fakeSide();
  real = await realSide();
}, 120_000);

afterAll(async () => {
  await node?.close();
  await net?.remove();
});

/** Runs `call` on both sides and expects the same outcome shape; returns both outcomes for further checks. */
async function same(what: string, call: (s: Side) => unknown): Promise<[Outcome, Outcome]> {
  const f = await outcomeOf(() => call(fake));
  const r = await outcomeOf(() => call(real));
  expect(outcomeDiff(f, r), what).toEqual([]);
  return [f, r];
}

/** Like `same`, and both sides must answer (not throw, not null). */
async function sameAnswer(what: string, call: (s: Side) => unknown): Promise<void> {
  const [f, r] = await same(what, call);
  expect("shape" in f && f.shape !== "null", `${what}: fake answers`).toBe(true);
  expect("shape" in r && r.shape !== "null", `${what}: real answers`).toBe(true);
}

/** Both sides must throw an error with this code. */
async function sameError(what: string, code: string, call: (s: Side) => unknown): Promise<void> {
  const [f] = await same(what, call);
  expect(f, what).toEqual({ errorCode: code });
}

/** The RpcBackend methods the cases below run on both sides. */
const COMPARED = [
  "headNumber",
  "getBlock",
  "getTransaction",
  "getReceipt",
  "getBlockReceipts",
  "getTransactionProof",
  "getReceiptProof",
  "sendRawTransaction",
  "call",
  "getBalance",
  "getNonce",
  "getCode",
  "getStorageAt",
  "gasPrice",
  "blockGasLimit",
  "pendingCount",
  "totalTransactionCount",
  "sealers",
  "observers",
  "getSystemConfig",
  "consensusStatus",
  "syncStatus",
  "peers",
  "nodeInfo",
  "onNewBlock",
  "onPendingTransactions",
  "sealersAt",
];
/** Methods the fake does not implement (it throws RPC_UNSUPPORTED): test/node/trace.test.ts runs them on a node. */
const NOT_IN_FAKE = ["traceTransaction", "traceBlock", "traceCall", "createAccessList"];
/** The fake's own controls and helpers, not RpcBackend methods. */
const FAKE_CONTROLS = [
  "constructor",
  "seal",
  "mine",
  "find",
  "locate",
  "proof",
  "checkStateBlock",
  "listenerCount",
];

describe("the contract covers every method", () => {
  it("each method of the fake is compared here or listed as not faked; the real backend has them all", () => {
    const fakeMethods = Object.getOwnPropertyNames(FakeBackend.prototype).filter(
      (m) => !FAKE_CONTROLS.includes(m),
    );
    expect(fakeMethods.sort()).toEqual([...COMPARED, ...NOT_IN_FAKE].sort());
    for (const m of [...COMPARED, ...NOT_IN_FAKE]) {
      expect(typeof (NodeRpcBackend.prototype as unknown as Record<string, unknown>)[m], m).toBe("function");
    }
  });
});

describe("fake and real RpcBackend answer in the same shapes", () => {
  it("identity: chainId, groupId, clientVersion, headNumber, gasPrice, blockGasLimit", async () => {
    await sameAnswer("chainId", (s) => s.backend.chainId);
    await sameAnswer("groupId", (s) => s.backend.groupId);
    await sameAnswer("clientVersion", (s) => s.backend.clientVersion);
    await sameAnswer("headNumber", (s) => s.backend.headNumber());
    await sameAnswer("gasPrice", (s) => s.backend.gasPrice());
    await sameAnswer("blockGasLimit", (s) => s.backend.blockGasLimit());
  });

  it("getBlock by number and hash, with and without transactions; null for unknown ones", async () => {
    // Transactions are compared by type in their own test: blocks hold different mixes on the two chains.
    const block = async (s: Side, ref: number | "hash", full: boolean) => {
      const byNumber = await s.backend.getBlock(s.blockWithLogs, full);
      const b = ref === "hash" ? await s.backend.getBlock(byNumber!.hash, full) : byNumber;
      return b && { ...b, transactions: b.transactions === null ? null : "array" };
    };
    await sameAnswer("getBlock(n, true)", (s) => block(s, s.blockWithLogs, true));
    await sameAnswer("getBlock(n, false)", (s) => block(s, s.blockWithLogs, false));
    await sameAnswer("getBlock(hash, true)", (s) => block(s, "hash", true));
    await sameAnswer("getBlock(0, false)", (s) => s.backend.getBlock(0, false));
    const [f] = await same("getBlock(unknown number)", (s) =>
      s.backend.getBlock(s.backend.headNumber() + 100, true),
    );
    expect(f).toEqual({ shape: "null" });
    const [g] = await same("getBlock(unknown hash)", (s) => s.backend.getBlock(UNKNOWN_HASH, false));
    expect(g).toEqual({ shape: "null" });
  });

  it("transactions of each type (legacy, access list, fee market, native), committed and pending", async () => {
    for (const type of [TxType.Legacy, TxType.AccessList, TxType.FeeMarket, TxType.Native]) {
      await sameAnswer(`getTransaction(type ${type})`, (s) =>
        s.backend.getTransaction(s.txOfType.get(type)!),
      );
      const [f] = await same(`tx type ${type}`, async (s) => {
        const found = await s.backend.getTransaction(s.txOfType.get(type)!);
        return found!.tx.type;
      });
      expect(f).toEqual({ shape: "number" });
    }
    await sameAnswer("getTransaction(pending)", (s) => s.backend.getTransaction(s.pendingTx));
    const [p] = await same(
      "pending location",
      async (s) => (await s.backend.getTransaction(s.pendingTx))!.location,
    );
    expect(p).toEqual({ shape: "null" });
    const [u] = await same("getTransaction(unknown)", (s) => s.backend.getTransaction(UNKNOWN_HASH));
    expect(u).toEqual({ shape: "null" });
  });

  it("full transactions inside a block have the shape getTransaction gives them", async () => {
    for (const s of [fake, real]) {
      const legacy = await s.backend.getTransaction(s.txOfType.get(TxType.Legacy)!);
      const block = await s.backend.getBlock(legacy!.location!.blockNumber, true);
      const inBlock = block!.transactions!.find(
        (t: Transaction) => bytesToHex(t.hash) === bytesToHex(legacy!.tx.hash),
      );
      expect(shapeDiff(shapeOf(legacy!.tx), shapeOf(inBlock))).toEqual([]);
    }
  });

  it("receipts: with logs, of a creation, of a failure; null for pending and unknown; block receipts", async () => {
    await sameAnswer("getReceipt(logged)", (s) => s.backend.getReceipt(s.loggedTx));
    await sameAnswer("getReceipt(create)", (s) => s.backend.getReceipt(s.createTx));
    await sameAnswer("getReceipt(failed)", (s) => s.backend.getReceipt(s.failedTx));
    const [p] = await same("getReceipt(pending)", (s) => s.backend.getReceipt(s.pendingTx));
    expect(p).toEqual({ shape: "null" });
    const [u] = await same("getReceipt(unknown)", (s) => s.backend.getReceipt(UNKNOWN_HASH));
    expect(u).toEqual({ shape: "null" });
    await sameAnswer("getBlockReceipts(with logs)", (s) => s.backend.getBlockReceipts(s.blockWithLogs));
    const [e] = await same("getBlockReceipts(unknown)", (s) =>
      s.backend.getBlockReceipts(s.backend.headNumber() + 100),
    );
    expect(e).toEqual({ shape: { array: "none" } });
  });

  it("transaction and receipt proofs; null for unknown hashes", async () => {
    await sameAnswer("getTransactionProof", (s) => s.backend.getTransactionProof(s.loggedTx));
    await sameAnswer("getReceiptProof", (s) => s.backend.getReceiptProof(s.loggedTx));
    for (const what of ["getTransactionProof", "getReceiptProof"] as const) {
      const [u] = await same(`${what}(unknown)`, (s) => s.backend[what](UNKNOWN_HASH));
      expect(u).toEqual({ shape: "null" });
    }
  });

  it("state reads at latest, pending and a past block; an unknown block is RPC_NOT_FOUND", async () => {
    for (const block of ["latest", "pending", 1] as const) {
      await sameAnswer(`getBalance(${block})`, (s) => s.backend.getBalance(s.funded, block));
      await sameAnswer(`getNonce(${block})`, (s) => s.backend.getNonce(s.funded, block));
      await sameAnswer(`getCode(${block})`, (s) => s.backend.getCode(s.contract, block));
      await sameAnswer(`getStorageAt(${block})`, (s) =>
        s.backend.getStorageAt(s.contract, new Uint8Array(32), block),
      );
    }
    const beyond = (s: Side) => s.backend.headNumber() + 100;
    await sameError("getBalance(unknown block)", "RPC_NOT_FOUND", (s) =>
      s.backend.getBalance(s.funded, beyond(s)),
    );
    await sameError("getNonce(unknown block)", "RPC_NOT_FOUND", (s) =>
      s.backend.getNonce(s.funded, beyond(s)),
    );
    await sameError("getCode(unknown block)", "RPC_NOT_FOUND", (s) =>
      s.backend.getCode(s.contract, beyond(s)),
    );
    await sameError("getStorageAt(unknown block)", "RPC_NOT_FOUND", (s) =>
      s.backend.getStorageAt(s.contract, new Uint8Array(32), beyond(s)),
    );
    await sameError("call(unknown block)", "RPC_NOT_FOUND", (s) =>
      s.backend.call(
        { from: null, to: s.contract, data: new Uint8Array(0), value: 0n, gasLimit: null, gasPrice: null },
        beyond(s),
      ),
    );
  });

  it("call: a success and a revert", async () => {
    const request = (to: Uint8Array) => ({
      from: null,
      to,
      data: new Uint8Array(0),
      value: 0n,
      gasLimit: null,
      gasPrice: null,
    });
    await sameAnswer("call(success)", (s) => s.backend.call(request(SOMEONE), "latest"));
    await sameAnswer("call(revert)", async (s) => {
      if (s === fake) return s.backend.call(request(REVERT_ADDRESS), "latest");
      const to = (await s.backend.getReceipt(s.failedTx))!.tx.to!;
      const failedInput = (await s.backend.getTransaction(s.failedTx))!.tx;
      return s.backend.call({ ...request(to), from: failedInput.sender, data: failedInput.input }, "latest");
    });
  });

  it("sendRawTransaction: a hash, and the same error codes for a duplicate, a used nonce, another chain, garbage", async () => {
    await sameAnswer("sendRawTransaction", async (s) => s.backend.sendRawTransaction(await s.freshRaw()));
    await sameError("duplicate", "TXPOOL_ALREADY_KNOWN", async (s) => {
      const raw = await s.freshRaw();
      await s.backend.sendRawTransaction(raw);
      return s.backend.sendRawTransaction(raw);
    });
    await sameError("used nonce", "TXPOOL_NONCE_TOO_LOW", (s) =>
      s.backend.sendRawTransaction(s.staleNonceRaw),
    );
    await sameError("other chain", "TXPOOL_INVALID", (s) => s.backend.sendRawTransaction(s.otherChainRaw));
    await sameError("garbage", "TXPOOL_INVALID", (s) =>
      s.backend.sendRawTransaction(Uint8Array.of(0xf8, 0x01, 0x02)),
    );
  });

  it("pool, counts, validators, config, consensus, sync and node info", async () => {
    await sameAnswer("pendingCount", (s) => s.backend.pendingCount());
    await sameAnswer("totalTransactionCount", (s) => s.backend.totalTransactionCount());
    await sameAnswer("sealers", (s) => s.backend.sealers());
    await sameAnswer("sealersAt", (s) => s.backend.sealersAt(s.blockWithLogs));
    await same("observers", (s) => s.backend.observers());
    await sameAnswer("getSystemConfig(tx_count_limit)", (s) => s.backend.getSystemConfig("tx_count_limit"));
    const [u] = await same("getSystemConfig(unknown)", (s) => s.backend.getSystemConfig("no_such_key"));
    expect(u).toEqual({ shape: "null" });
    await sameAnswer("consensusStatus", (s) => s.backend.consensusStatus());
    await sameAnswer("syncStatus", (s) => s.backend.syncStatus());
    await sameAnswer("nodeInfo", (s) => s.backend.nodeInfo());
  });

  it("new-block and pending-transaction events", async () => {
    const events = new Map<Side, RpcNewBlockEvent>();
    const pending = new Map<Side, Hash[]>();
    const offs: (() => void)[] = [];
    for (const s of [fake, real]) {
      offs.push(s.backend.onNewBlock((ev) => events.set(s, ev)));
      offs.push(s.backend.onPendingTransactions((h) => pending.set(s, h)));
    }
    try {
      for (const s of [fake, real]) await s.produceBlock();
      await waitFor("both new-block events", () => events.size === 2 && pending.size === 2, 30_000);
      const shape = (ev: RpcNewBlockEvent) => ({
        ...ev,
        block: { ...ev.block, transactions: ev.block.transactions === null ? null : "array" },
      });
      expect(shapeDiff(shapeOf(shape(events.get(fake)!)), shapeOf(shape(events.get(real)!)))).toEqual([]);
      expect(shapeDiff(shapeOf(pending.get(fake)), shapeOf(pending.get(real)))).toEqual([]);
      expect(shapeOf(pending.get(real))).toEqual({ array: "bytes" });
    } finally {
      for (const off of offs) off();
    }
  });

  it("peers: the same entry shape, with a real remote address (FISCO getPeers' endPoint)", async () => {
    // A single validator has no peers: a second member connects to the node's own transport.
    const [other] = (await startNodes(1, {}, undefined, [node.nodeKey.nodeId])) as [TestNode];
    try {
      node.transport.setAllowedNodes([node.nodeKey.nodeId, other.key.nodeId]);
      other.transport.setStaticPeers(node.transport.listenAddresses());
      await waitForNet("peer connected", () => node.transport.peerCount() === 1, 20_000);
      await sameAnswer("peers", (s) => s.backend.peers());
      const [peer] = real.backend.peers();
      expect(peer!.address).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+/);
      // As FISCO's getPeers shows it over JSON-RPC.
      const answer = await rpc<{ peers: { endPoint: string; peerId: string }[] }>(
        rpcUrl(node),
        "getPeers",
        [],
      );
      expect(answer.peers).toEqual([
        expect.objectContaining({
          endPoint: peer!.address,
          peerId: nodeIdToPeerId(other.key.nodeId).toString(),
        }),
      ]);
    } finally {
      await other.transport.stop();
    }
  });
});
