import { getCreateAddress } from "ethers";
import {
  type Abi,
  decodeErrorResult,
  decodeEventLog,
  decodeFunctionResult,
  encodeDeployData,
  encodeFunctionData,
  type Hex,
  toHex,
  keccak256 as viemKeccak,
} from "viem";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { keccak256 } from "../../src/crypto/index.js";
import {
  bloomContains,
  ExecutionError,
  Executor,
  genesisState,
  readAccount,
  readCode,
  readStorage,
} from "../../src/execution/index.js";
import { FlatStateManager } from "../../src/execution/stateManager.js";
import { ReceiptStatus, type Transaction } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import {
  addr,
  assetArtifact,
  genesisSpec,
  helloArtifact,
  LevelState,
  MemoryState,
  signEth,
  signNative,
  TestChain,
  wallets,
} from "./helpers.js";

const ETH = 10n ** 18n;
const users = wallets(12);
const [admin, alice, bob] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0]];
const alloc = users.map((w) => ({ address: addr(w), balance: 1000n * ETH }));
const asset = assetArtifact();
const hello = helloArtifact();
const assetAbi = asset.abi as Abi;
const helloAbi = hello.abi as Abi;

function data(hex: Hex): Uint8Array {
  return hexToBytes(hex);
}

async function newChain(): Promise<TestChain> {
  return TestChain.create(new MemoryState(), genesisSpec([addr(admin)], alloc));
}

async function deployAsset(chain: TestChain, supply = 1_000_000n): Promise<Uint8Array> {
  const nonce = Number((await readAccount(chain.state, addr(admin))).nonce);
  const tx = await signEth(admin, {
    to: null,
    nonce,
    data: data(
      encodeDeployData({ abi: assetAbi, bytecode: asset.bytecode as Hex, args: ["Gold", "GLD", supply] }),
    ),
    gasLimit: 3_000_000n,
  });
  const out = await chain.block([tx]);
  expect(out.receipts[0]!.status).toBe(ReceiptStatus.Success);
  const contract = out.receipts[0]!.contractAddress!;
  expect(bytesToHex(contract)).toBe(getCreateAddress({ from: admin.address, nonce }).toLowerCase());
  return contract;
}

async function assetBalance(chain: TestChain, contract: Uint8Array, who: Uint8Array): Promise<bigint> {
  const r = await chain.executor.call(
    chain.state,
    {
      to: contract,
      data: data(
        encodeFunctionData({ abi: assetAbi, functionName: "balanceOf", args: [bytesToHex(who) as Hex] }),
      ),
    },
    chain.callCtx(),
  );
  expect(r.status).toBe(1);
  return decodeFunctionResult({
    abi: assetAbi,
    functionName: "balanceOf",
    data: bytesToHex(r.output) as Hex,
  }) as bigint;
}

describe("genesis", () => {
  it("writes accounts, config, nodes and a root that depends on every change", () => {
    const g = genesisState(genesisSpec([addr(admin)], alloc));
    expect(g.stateRoot.length).toBe(32);
    const g2 = genesisState(
      genesisSpec([addr(admin)], [...alloc.slice(1), { address: addr(admin), balance: 1n }]),
    );
    expect(bytesToHex(g2.stateRoot)).not.toBe(bytesToHex(g.stateRoot));
    const keys = g.stateChanges.map(([k]) => bytesToHex(k));
    expect([...keys].sort()).toEqual(keys);
  });

  it("rejects unknown and invalid system config keys", () => {
    const spec = genesisSpec([], alloc);
    expect(() => genesisState({ ...spec, systemConfig: { nope: "1" } })).toThrow(ExecutionError);
    expect(() => genesisState({ ...spec, systemConfig: { tx_gas_limit: "99" } })).toThrow(/tx_gas_limit/);
    expect(() => genesisState({ ...spec, sealers: [] })).toThrow(/sealer/);
  });
});

describe("value transfers", () => {
  it("moves value among many senders, with nonces, fast path gas and no fees", async () => {
    const chain = await newChain();
    const txs: Transaction[] = [];
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < users.length; i++) {
        const to = users[(i + 1) % users.length]!;
        txs.push(
          await signEth(users[i]!, {
            to: addr(to),
            nonce: round,
            value: BigInt(i + 1) * ETH,
            gasLimit: 21_000n,
          }),
        );
      }
    }
    const out = await chain.block(txs);
    expect(out.rejected).toEqual([]);
    expect(out.receipts).toHaveLength(36);
    expect(out.receipts.every((r) => r.status === 1 && r.gasUsed === 21_000n)).toBe(true);
    expect(out.gasUsed).toBe(36n * 21_000n);
    expect(out.receipts[35]!.cumulativeGasUsed).toBe(out.gasUsed);
    for (let i = 0; i < users.length; i++) {
      const a = await readAccount(chain.state, addr(users[i]!));
      const received = BigInt(((i + users.length - 1) % users.length) + 1) * ETH * 3n;
      const sent = BigInt(i + 1) * ETH * 3n;
      expect(a.nonce).toBe(3n);
      expect(a.balance).toBe(1000n * ETH - sent + received);
    }
  });

  it("a value transfer writes each account once: the sender's nonce and value together", async () => {
    const chain = await newChain();
    const carol = users[3]!;
    const puts = vi.spyOn(FlatStateManager.prototype, "putAccount");
    try {
      const out = await chain.block([await signEth(alice, { to: addr(carol), nonce: 0, value: 5n })]);
      expect(out.receipts[0]!.status).toBe(ReceiptStatus.Success);
      expect(puts.mock.calls.map(([address]) => address.toString())).toEqual([
        bytesToHex(addr(alice)),
        bytesToHex(addr(carol)),
      ]);
    } finally {
      puts.mockRestore();
    }
    const a = await readAccount(chain.state, addr(alice));
    expect([a.nonce, a.balance]).toEqual([1n, 1000n * ETH - 5n]);
    expect((await readAccount(chain.state, addr(carol))).balance).toBe(1000n * ETH + 5n);
  });

  it("transfers to oneself and of zero value: the nonce moves, balances do not, no empty account appears", async () => {
    const chain = await newChain();
    const nobody = new Uint8Array(20).fill(0x77);
    const out = await chain.block([
      await signEth(alice, { to: addr(alice), nonce: 0, value: 7n * ETH }),
      await signEth(alice, { to: nobody, nonce: 1, value: 0n }),
      signNative(bob, { to: addr(bob), value: 3n * ETH }),
      signNative(bob, { to: nobody, value: 0n }),
    ]);
    expect(out.receipts.map((r) => r.status)).toEqual([1, 1, 1, 1]);
    const a = await readAccount(chain.state, addr(alice));
    expect([a.nonce, a.balance]).toEqual([2n, 1000n * ETH]);
    const b = await readAccount(chain.state, addr(bob));
    expect([b.nonce, b.balance]).toEqual([0n, 1000n * ETH]);
    // Only alice's nonce changed: bob's self-transfer and the zero-value ones write nothing to the state.
    expect(out.stateChanges.map(([key]) => bytesToHex(key))).toEqual([
      `0x01${bytesToHex(addr(alice)).slice(2)}`,
    ]);
  });

  it("build mode drops nonce-too-low / insufficient-balance txs; verify mode throws on them", async () => {
    const chain = await newChain();
    const ok = await signEth(alice, { to: addr(bob), nonce: 0, value: 1n });
    const dupNonce = await signEth(alice, { to: addr(bob), nonce: 0, value: 2n });
    const gap = await signEth(alice, { to: addr(bob), nonce: 5, value: 1n });
    const broke = await signEth(bob, { to: addr(alice), nonce: 0, value: 5000n * ETH });
    const tooMuchGas = await signEth(bob, { to: addr(alice), nonce: 0, gasLimit: 400_000_000n });
    const lowGas = await signEth(bob, { to: addr(alice), nonce: 0, gasLimit: 20_000n });
    const wrongChain = await signEth(bob, { to: addr(alice), nonce: 0, chainId: 1n });
    const ctx = chain.ctx();
    const built = await chain.executor.executeBlock(
      chain.state,
      ctx,
      [ok, dupNonce, gap, broke, tooMuchGas, lowGas, wrongChain],
      "build",
    );
    expect(built.transactions).toEqual([ok]);
    expect(built.rejected.map((r) => r.code)).toEqual([
      "NONCE_TOO_LOW",
      "NONCE_TOO_HIGH",
      "INSUFFICIENT_BALANCE",
      "TX_GAS_LIMIT_EXCEEDED",
      "INTRINSIC_GAS_TOO_LOW",
      "WRONG_CHAIN_ID",
    ]);
    expect(built.rejected.map((r) => r.retryable)).toEqual([false, true, true, false, false, false]);

    // The replica verifies the leader's kept txs and gets the same result.
    const verified = await chain.executor.executeBlock(chain.state, ctx, built.transactions, "verify");
    expect(bytesToHex(verified.stateRoot)).toBe(bytesToHex(built.stateRoot));

    const err = await chain.executor.executeBlock(chain.state, ctx, [ok, dupNonce], "verify").catch((e) => e);
    expect(err).toBeInstanceOf(ExecutionError);
    expect(err.code).toBe("EXEC_INVALID_BLOCK");
    expect(err.meta).toMatchObject({ txIndex: 1, code: "NONCE_TOO_LOW", txHash: bytesToHex(dupNonce.hash) });
    await expect(chain.executor.executeBlock(chain.state, ctx, [broke], "verify")).rejects.toThrow(/balance/);
  });

  it("enforces block_gas_limit as Ethereum does: a tx fits if its gas limit is at most what the block has left", async () => {
    const spec = genesisSpec([addr(admin)], alloc);
    const chain = await TestChain.create(new MemoryState(), {
      ...spec,
      systemConfig: { ...spec.systemConfig, tx_gas_limit: 100_000, block_gas_limit: 150_000 },
    });
    // Each uses 21000 gas. a and b ask for 100000 each (200000 of limits: over 150000, yet both fit: b finds
    // 129000 left); c asks for 50000 (108000 left); d asks for 100000 with 87000 left: it does not fit.
    const a = await signEth(alice, { to: addr(bob), nonce: 0, value: 1n, gasLimit: 100_000n });
    const b = await signEth(bob, { to: addr(alice), nonce: 0, value: 1n, gasLimit: 100_000n });
    const c = await signEth(users[3]!, { to: addr(alice), nonce: 0, value: 1n, gasLimit: 50_000n });
    const d = await signEth(users[4]!, { to: addr(alice), nonce: 0, value: 1n, gasLimit: 100_000n });
    // The context's gasLimit is ignored: the on-chain value rules (and is what GASLIMIT shows).
    const ctx = { ...chain.ctx(), gasLimit: 10n ** 12n };
    const out = await chain.executor.executeBlock(chain.state, ctx, [a, b, c, d], "build");
    expect(out.transactions).toEqual([a, b, c]);
    expect(out.gasUsed).toBe(63_000n);
    expect(out.rejected).toHaveLength(1);
    expect(out.rejected[0]).toMatchObject({ tx: d, code: "BLOCK_GAS_LIMIT_REACHED", retryable: true });
    expect(out.rejected[0]!.reason).toMatch(/63000 of block_gas_limit 150000 used already/);
    await expect(chain.executor.executeBlock(chain.state, ctx, [a, b, c], "verify")).resolves.toBeDefined();
    const err = await chain.executor.executeBlock(chain.state, ctx, [a, b, c, d], "verify").catch((e) => e);
    expect(err).toMatchObject({
      code: "EXEC_INVALID_BLOCK",
      meta: { code: "BLOCK_GAS_LIMIT_REACHED", txIndex: 3 },
    });
  });

  it("refuses a genesis whose tx_gas_limit exceeds block_gas_limit", () => {
    const spec = genesisSpec([addr(admin)], alloc);
    expect(() =>
      genesisState({ ...spec, systemConfig: { tx_gas_limit: 3_000_000, block_gas_limit: 2_000_000 } }),
    ).toThrow(/tx_gas_limit \(3000000\) may not exceed block_gas_limit \(2000000\)/);
  });

  it("enforces tx_count_limit", async () => {
    const spec = genesisSpec([addr(admin)], alloc);
    const chain = await TestChain.create(new MemoryState(), {
      ...spec,
      systemConfig: { ...spec.systemConfig, tx_count_limit: 1 },
    });
    const a = await signEth(alice, { to: addr(bob), nonce: 0, value: 1n, gasLimit: 21_000n });
    const b = await signEth(bob, { to: addr(alice), nonce: 0, value: 1n, gasLimit: 21_000n });
    const out = await chain.executor.executeBlock(chain.state, chain.ctx(), [a, b], "build");
    expect(out.transactions).toEqual([a]);
    expect(out.rejected[0]).toMatchObject({ code: "BLOCK_TX_COUNT_LIMIT_REACHED", retryable: true });
  });
});

describe("contracts", () => {
  let chain: TestChain;
  let contract: Uint8Array;

  beforeAll(async () => {
    chain = await newChain();
    contract = await deployAsset(chain);
  });

  it("deploys Asset and serves balanceOf/name via call", async () => {
    expect((await readCode(chain.state, contract)).length).toBeGreaterThan(100);
    expect(await assetBalance(chain, contract, addr(admin))).toBe(1_000_000n);
    const r = await chain.executor.call(
      chain.state,
      { to: contract, data: data(encodeFunctionData({ abi: assetAbi, functionName: "name" })) },
      chain.callCtx(),
    );
    expect(
      decodeFunctionResult({ abi: assetAbi, functionName: "name", data: bytesToHex(r.output) as Hex }),
    ).toBe("Gold");
    // balanceOf(admin) lives at keccak(admin . slot 3) (name 0, symbol 1, totalSupply 2, balanceOf 3).
    const slot = viemKeccak(
      `0x${admin.address.slice(2).toLowerCase().padStart(64, "0")}${"3".padStart(64, "0")}`,
    );
    const word = await readStorage(chain.state, contract, hexToBytes(slot));
    expect(BigInt(bytesToHex(word))).toBe(1_000_000n);
  });

  it("transfers tokens with Transfer logs and a bloom that contains them", async () => {
    const txs: Transaction[] = [];
    const nonce = Number((await readAccount(chain.state, addr(admin))).nonce);
    for (let i = 0; i < 5; i++) {
      txs.push(
        await signEth(admin, {
          to: contract,
          nonce: nonce + i,
          data: data(
            encodeFunctionData({
              abi: assetAbi,
              functionName: "transfer",
              args: [alice.address as Hex, 100n],
            }),
          ),
        }),
      );
    }
    const out = await chain.block(txs);
    expect(out.receipts.map((r) => r.status)).toEqual([1, 1, 1, 1, 1]);
    const r0 = out.receipts[0]!;
    expect(r0.logs).toHaveLength(1);
    const ev = decodeEventLog({
      abi: assetAbi,
      data: bytesToHex(r0.logs[0]!.data) as Hex,
      topics: r0.logs[0]!.topics.map((t) => bytesToHex(t)) as [Hex, ...Hex[]],
    });
    expect(ev.eventName).toBe("Transfer");
    expect(bloomContains(r0.logsBloom, contract)).toBe(true);
    expect(bloomContains(r0.logsBloom, r0.logs[0]!.topics[0]!)).toBe(true);
    expect(bloomContains(r0.logsBloom, hexToBytes(`0x${"00".repeat(19)}77`))).toBe(false);
    expect(await assetBalance(chain, contract, addr(alice))).toBe(500n);
    expect(await assetBalance(chain, contract, addr(admin))).toBe(1_000_000n - 500n);
  });

  it("reverts with a custom error and with a reason string: status 0, output = revert data", async () => {
    const customTx = await signEth(bob, {
      to: contract,
      nonce: Number((await readAccount(chain.state, addr(bob))).nonce),
      data: data(
        encodeFunctionData({ abi: assetAbi, functionName: "transfer", args: [alice.address as Hex, 1n] }),
      ),
    });
    const reasonTx = await signNative(bob, {
      to: contract,
      data: data(
        encodeFunctionData({
          abi: assetAbi,
          functionName: "transferFrom",
          args: [alice.address as Hex, bob.address as Hex, 10_000n],
        }),
      ),
    });
    const out = await chain.block([customTx, reasonTx]);
    const [custom, reason] = out.receipts as [(typeof out.receipts)[0], (typeof out.receipts)[0]];
    expect(custom.status).toBe(ReceiptStatus.Failed);
    expect(custom.logs).toEqual([]);
    const decoded = decodeErrorResult({ abi: assetAbi, data: bytesToHex(custom.output) as Hex });
    expect(decoded.errorName).toBe("InsufficientBalance");
    expect(decoded.args).toEqual([bob.address, 0n, 1n]);
    expect(reason.status).toBe(ReceiptStatus.Failed);
    const r = decodeErrorResult({ abi: [], data: bytesToHex(reason.output) as Hex });
    expect(r.args).toEqual(["Asset: insufficient balance"]);
    // Failed txs still use gas and (Ethereum) still bump the nonce.
    expect(custom.gasUsed).toBeGreaterThan(21_000n);
    expect((await readAccount(chain.state, addr(bob))).nonce).toBe(1n);
    // eth_call returns the same revert data.
    const c = await chain.executor.call(
      chain.state,
      { from: addr(bob), to: contract, data: customTx.input },
      chain.callCtx(),
    );
    expect(c.status).toBe(0);
    expect(c.error).toBe("revert");
    expect(bytesToHex(c.output)).toBe(bytesToHex(custom.output));
  });

  it("HelloWorld: event log, bloom, get/set via native txs (0x7c), CREATE2-style native address", async () => {
    const deploy = signNative(alice, { to: null, data: hexToBytes(hello.bytecode), gasLimit: 2_000_000n });
    const out = await chain.block([deploy]);
    const receipt = out.receipts[0]!;
    expect(receipt.status).toBe(1);
    const helloAddr = receipt.contractAddress!;
    const expected = keccak256(
      hexToBytes(
        `0xff${alice.address.slice(2)}${bytesToHex(deploy.hash).slice(2)}${viemKeccak(hello.bytecode as Hex).slice(2)}`,
      ),
    ).subarray(12);
    expect(bytesToHex(helloAddr)).toBe(bytesToHex(expected));
    // Native txs do not touch the account nonce.
    const nonceBefore = (await readAccount(chain.state, addr(alice))).nonce;

    const set = signNative(alice, {
      to: helloAddr,
      data: data(encodeFunctionData({ abi: helloAbi, functionName: "set", args: ["Consort"] })),
    });
    const out2 = await chain.block([set]);
    const r = out2.receipts[0]!;
    expect(r.status).toBe(1);
    expect(r.logs).toHaveLength(1);
    const ev = decodeEventLog({
      abi: helloAbi,
      data: bytesToHex(r.logs[0]!.data) as Hex,
      topics: r.logs[0]!.topics.map((t) => bytesToHex(t)) as [Hex, ...Hex[]],
    });
    expect(ev.eventName).toBe("NameChanged");
    expect(ev.args).toMatchObject({ by: alice.address, oldName: "Hello, World!", newName: "Consort" });
    expect(bloomContains(r.logsBloom, helloAddr)).toBe(true);
    expect(
      bloomContains(r.logsBloom, hexToBytes(viemKeccak(toHex("NameChanged(address,string,string)")))),
    ).toBe(true);
    expect((await readAccount(chain.state, addr(alice))).nonce).toBe(nonceBefore);

    const get = await chain.executor.call(
      chain.state,
      { to: helloAddr, data: data(encodeFunctionData({ abi: helloAbi, functionName: "get" })) },
      chain.callCtx(),
    );
    expect(
      decodeFunctionResult({ abi: helloAbi, functionName: "get", data: bytesToHex(get.output) as Hex }),
    ).toBe("Consort");
    // A native tx replayed in the same block (same nonce) is rejected.
    const dup = await chain.executor.executeBlock(chain.state, chain.ctx(), [set, set], "build");
    expect(dup.rejected.map((x) => x.code)).toEqual(["NATIVE_NONCE_REUSED"]);
    const expired = signNative(alice, { to: helloAddr, blockLimit: chain.number });
    await expect(chain.executor.executeBlock(chain.state, chain.ctx(), [expired], "verify")).rejects.toThrow(
      /blockLimit/,
    );
  });

  it("estimateGas finds a gas limit that works", async () => {
    const req = {
      from: addr(admin),
      to: contract,
      data: data(
        encodeFunctionData({ abi: assetAbi, functionName: "transfer", args: [users[7]!.address as Hex, 1n] }),
      ),
    };
    const { gas, result } = await chain.executor.estimateGas(chain.state, req, chain.callCtx());
    expect(result.status).toBe(1);
    expect(gas).toBeGreaterThanOrEqual(result.gasUsed);
    expect((await chain.executor.call(chain.state, { ...req, gasLimit: gas }, chain.callCtx())).status).toBe(
      1,
    );
    expect(
      (await chain.executor.call(chain.state, { ...req, gasLimit: gas - 1n }, chain.callCtx())).status,
    ).toBe(0);
  });
});

describe("determinism and LevelDB", () => {
  let level: LevelState;
  beforeAll(async () => {
    level = await LevelState.open();
  });
  afterAll(async () => {
    await level.close();
  });

  it("replaying the same blocks into a fresh state (LevelDB vs memory) gives identical roots and receipts", async () => {
    const blocks: Transaction[][] = [];
    const deployNonce = 0;
    blocks.push([
      await signEth(admin, {
        to: null,
        nonce: deployNonce,
        data: data(
          encodeDeployData({ abi: assetAbi, bytecode: asset.bytecode as Hex, args: ["A", "A", 10n ** 9n] }),
        ),
        gasLimit: 3_000_000n,
      }),
      await signEth(alice, { to: addr(bob), nonce: 0, value: 5n }),
    ]);
    const contract = hexToBytes(getCreateAddress({ from: admin.address, nonce: deployNonce }));
    const second: Transaction[] = [];
    for (let i = 0; i < 20; i++) {
      second.push(
        await signEth(admin, {
          to: contract,
          nonce: 1 + i,
          data: data(
            encodeFunctionData({
              abi: assetAbi,
              functionName: "transfer",
              args: [users[i % 12]!.address as Hex, 7n],
            }),
          ),
        }),
      );
    }
    second.push(signNative(bob, { to: addr(alice), value: 3n }));
    blocks.push(second);

    const spec = genesisSpec([addr(admin)], alloc);
    const run = async (chain: TestChain) => {
      const results = [];
      for (const b of blocks) results.push(await chain.block(b, "verify"));
      return results;
    };
    const a = await run(await TestChain.create(level, spec));
    const b = await run(await TestChain.create(new MemoryState(), spec));
    expect(a.map((x) => bytesToHex(x.stateRoot))).toEqual(b.map((x) => bytesToHex(x.stateRoot)));
    expect(a.map((x) => x.receipts)).toEqual(b.map((x) => x.receipts));
    expect(a.map((x) => x.stateChanges)).toEqual(b.map((x) => x.stateChanges));
    expect(bytesToHex(a[0]!.stateRoot)).not.toBe(bytesToHex(a[1]!.stateRoot));
    expect((await readAccount(level, addr(bob))).balance).toBe(1000n * ETH + 5n - 3n);
    // A different executor instance gives the same result too (no hidden state).
    const fresh = new Executor({ nativeEcrecover: false }, { logger: silentLogger() });
    const c = await TestChain.create(new MemoryState(), spec);
    const out = await fresh.executeBlock(c.state, c.ctx(), blocks[0]!, "verify");
    expect(bytesToHex(out.stateRoot)).toBe(bytesToHex(a[0]!.stateRoot));
  });
});
