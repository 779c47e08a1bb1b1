import { createCustomCommon, Mainnet } from "@ethereumjs/common";
import { createEVM, type Message } from "@ethereumjs/evm";
import { Address as EthAddress } from "@ethereumjs/util";
import { type Abi, encodeDeployData, encodeFunctionData, type Hex } from "viem";
import { describe, expect, it } from "vitest";
import type { BlockEnv } from "../../src/execution/evmEnv.js";
import { consortEvmParams, REPRICED_PARAMS } from "../../src/execution/gasSchedule.js";
import { intrinsicGasOf } from "../../src/execution/index.js";
import { StateOverlay } from "../../src/execution/overlay.js";
import { runEvm } from "../../src/execution/runEvm.js";
import { FlatStateManager } from "../../src/execution/stateManager.js";
import type { Address, Transaction } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { addr, assetArtifact, genesisSpec, MemoryState, signEth, TestChain, wallets } from "./helpers.js";

/**
 * The consortium gas schedule (src/execution/gasSchedule.ts) is in force in blocks, eth_call and eth_estimateGas:
 * each repriced operation costs exactly its new price more than on Ethereum, measured against the same EVM with
 * Ethereum's (Cancun) schedule on the same state; a transfer and an ERC20 transfer's non-KECCAK work do not change.
 */

const ETH = 10n ** 18n;
const users = wallets(4, 7);
const [alice, bob] = users as [(typeof users)[0], (typeof users)[0]];
const asset = assetArtifact();

const price = (name: string) => {
  const p = REPRICED_PARAMS.find((x) => x.name === name);
  if (p === undefined) throw new Error(name);
  return { eth: BigInt(p.ethereum), consort: BigInt(p.consort), delta: BigInt(p.consort - p.ethereum) };
};

/** A BlockEnv like createEnv's, but with @ethereumjs/evm's stock (Ethereum Cancun) schedule. */
async function ethereumEnv(state: MemoryState, chainId: bigint): Promise<BlockEnv> {
  const overlay = new StateOverlay(state);
  const sm = new FlatStateManager(overlay);
  const common = createCustomCommon({ chainId: Number(chainId) }, Mainnet, { hardfork: "cancun" });
  const evm = await createEVM({ common, stateManager: sm });
  const coinbase = new EthAddress(new Uint8Array(20));
  return {
    overlay,
    sm,
    evm,
    messages: [] as Message[],
    release: () => {},
    evmBlock: {
      header: {
        number: 1n,
        coinbase,
        timestamp: 1n,
        difficulty: 0n,
        prevRandao: new Uint8Array(32),
        gasLimit: 10n ** 12n,
        baseFeePerGas: 0n,
        getBlobGasPrice: () => 0n,
      },
    },
    precompileAddresses: [...evm.precompiles.keys()],
    coinbase,
  };
}

interface Fixture {
  chain: TestChain;
  state: MemoryState;
  nonce: number;
}

async function fixture(): Promise<Fixture> {
  const state = new MemoryState();
  const alloc = users.map((w) => ({ address: addr(w), balance: 1000n * ETH }));
  const chain = await TestChain.create(state, genesisSpec([addr(alice)], alloc));
  return { chain, state, nonce: 0 };
}

async function send(f: Fixture, to: Address | null, data: Uint8Array, gasLimit = 5_000_000n) {
  const tx = await signEth(alice, { to, nonce: f.nonce++, data, gasLimit });
  const out = await f.chain.block([tx]);
  return { tx, receipt: out.receipts[0]! };
}

/** Gas of `tx` (not applied) on Ethereum's schedule, and the KECCAK256 ops it ran (their input sizes in bytes). */
async function onEthereum(f: Fixture, tx: Transaction): Promise<{ gasUsed: bigint; keccakBytes: bigint[] }> {
  const env = await ethereumEnv(f.state, 20200n);
  const keccakBytes: bigint[] = [];
  env.evm.events.on("step", (step: { opcode: { name: string }; stack: bigint[] }) => {
    if (step.opcode.name === "KECCAK256") keccakBytes.push(step.stack[step.stack.length - 2]!);
  });
  const outcome = await runEvm(env, {
    from: tx.sender,
    to: tx.to,
    value: tx.value,
    input: tx.input,
    gasLimit: tx.gasLimit,
    intrinsic: intrinsicGasOf(tx.input, tx.to === null, []),
    gasPrice: 0n,
    salt: undefined,
    accessList: [],
    skipBalance: true,
  });
  return { gasUsed: outcome.gasUsed, keccakBytes };
}

const word = (v: bigint) => v.toString(16).padStart(64, "0");
const precompileAddress = (n: number) => hexToBytes(`0x${n.toString(16).padStart(40, "0")}`);
const BN_G1 = word(1n) + word(2n);
const BN_G2 =
  "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2" +
  "1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed" +
  "090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b" +
  "12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa";

/** Init code that deploys `runtime` as is. */
function deployCode(runtime: number[]): Uint8Array {
  const n = runtime.length;
  return new Uint8Array([0x61, n >> 8, n & 0xff, 0x80, 0x60, 0x0a, 0x5f, 0x39, 0x5f, 0xf3, ...runtime]);
}

describe("consortium gas schedule", () => {
  it("keeps a plain transfer at 21,000 gas", async () => {
    const f = await fixture();
    const tx = await signEth(alice, { to: addr(bob), nonce: f.nonce++, value: 1n, gasLimit: 21_000n });
    const out = await f.chain.block([tx]);
    expect(out.receipts[0]!.status).toBe(1);
    expect(out.receipts[0]!.gasUsed).toBe(21_000n);
  });

  it("an ERC20 transfer costs what it costs on Ethereum plus the KECCAK256 surcharge of its mapping slots", async () => {
    const f = await fixture();
    const deploy = encodeDeployData({
      abi: asset.abi as Abi,
      bytecode: asset.bytecode as Hex,
      args: ["Gold", "GLD", 1_000_000n],
    });
    const token = (await send(f, null, hexToBytes(deploy))).receipt.contractAddress!;
    const data = hexToBytes(
      encodeFunctionData({
        abi: asset.abi as Abi,
        functionName: "transfer",
        args: [bytesToHex(addr(bob)) as Hex, 5n],
      }),
    );
    const tx = await signEth(alice, { to: token, nonce: f.nonce++, data, gasLimit: 100_000n });
    const eth = await onEthereum(f, tx);
    const out = await f.chain.block([tx]);
    expect(out.receipts[0]!.status).toBe(1);
    // Solidity hashes each balanceOf slot (64 bytes, two words): nothing else in a transfer is repriced.
    expect(eth.keccakBytes.length).toBeGreaterThan(0);
    expect(eth.keccakBytes.every((n) => n === 64n)).toBe(true);
    const surcharge =
      BigInt(eth.keccakBytes.length) * (price("keccak256Gas").delta + 2n * price("keccak256WordGas").delta);
    expect(out.receipts[0]!.gasUsed).toBe(eth.gasUsed + surcharge);
    // Pinned, so a change of the schedule or of the compiler output is seen here first.
    expect({ ethereum: eth.gasUsed, consort: out.receipts[0]!.gasUsed }).toEqual({
      ethereum: 51_321n,
      consort: 51_321n + surcharge,
    });
  });

  const pairing = price("bn254PairingGas");
  const pairingWord = price("bn254PairingWordGas");
  const cases: { name: string; address: number; input: string; delta: bigint }[] = [
    {
      name: "bn256 mul (0x07)",
      address: 7,
      input: BN_G1 + word(3n),
      delta: price("bn254MulGas").delta,
    },
    {
      name: "bn256 pairing, 2 pairs (0x08)",
      address: 8,
      input: BN_G1 + BN_G2 + BN_G1 + BN_G2,
      delta: pairing.delta + 2n * pairingWord.delta,
    },
    {
      name: "blake2f, 12 rounds (0x09)",
      address: 9,
      input: `0000000c${"00".repeat(64 + 128 + 16)}01`,
      delta: 12n * price("blake2RoundGas").delta,
    },
    {
      // EIP-7883: 16 per exponent bit for operands up to 32 bytes (min 500), Ethereum Cancun: max(200, 255 / 3).
      name: "modexp, 1-byte modulus, 256-bit exponent (0x05)",
      address: 5,
      input: `${word(1n) + word(32n) + word(1n)}03${word(2n ** 256n - 1n)}fb`,
      delta: 255n * 16n - 200n,
    },
  ];
  for (const c of cases) {
    it(`a call to ${c.name} costs the new price`, async () => {
      const f = await fixture();
      const tx = await signEth(alice, {
        to: precompileAddress(c.address),
        nonce: f.nonce++,
        data: hexToBytes(`0x${c.input}`),
        gasLimit: 3_000_000n,
      });
      const eth = await onEthereum(f, tx);
      const out = await f.chain.block([tx]);
      expect(out.receipts[0]!.status).toBe(1);
      expect(out.receipts[0]!.gasUsed - eth.gasUsed).toBe(c.delta);
    });
  }

  it("a message from a contract (STATICCALL) costs the call base price more; KECCAK256 its new prices", async () => {
    const f = await fixture();
    // STATICCALL(gas, identity, 0, 0, 0, 0); KECCAK256(0, 96) (3 words); STOP
    const runtime = [
      0x5f, 0x5f, 0x5f, 0x5f, 0x60, 0x04, 0x5a, 0xfa, 0x50, 0x60, 0x60, 0x5f, 0x20, 0x50, 0x00,
    ];
    const contract = (await send(f, null, deployCode(runtime))).receipt.contractAddress!;
    const tx = await signEth(alice, { to: contract, nonce: f.nonce++, gasLimit: 100_000n });
    const eth = await onEthereum(f, tx);
    const out = await f.chain.block([tx]);
    expect(out.receipts[0]!.status).toBe(1);
    expect(eth.keccakBytes).toEqual([96n]);
    expect(out.receipts[0]!.gasUsed - eth.gasUsed).toBe(
      price("staticcallGas").delta + price("keccak256Gas").delta + 3n * price("keccak256WordGas").delta,
    );
  });

  it("eth_call and eth_estimateGas run the same schedule as blocks", async () => {
    const f = await fixture();
    const req = {
      from: addr(alice),
      to: precompileAddress(7),
      data: hexToBytes(`0x${BN_G1}${word(3n)}`),
    };
    const estimate = await f.chain.executor.estimateGas(f.state, req, f.chain.callCtx());
    expect(estimate.result.status).toBe(1);
    const tx = await signEth(alice, { to: req.to, nonce: f.nonce++, data: req.data, gasLimit: estimate.gas });
    const out = await f.chain.block([tx]);
    expect(out.receipts[0]!.status).toBe(1);
    expect(estimate.gas).toBe(out.receipts[0]!.gasUsed);
    const call = await f.chain.executor.call(f.state, { ...req, gasLimit: 1_000_000n }, f.chain.callCtx());
    expect(call.gasUsed).toBe(out.receipts[0]!.gasUsed);
    expect(out.receipts[0]!.gasUsed).toBeGreaterThan(price("bn254MulGas").consort);
  });

  it("the worker thread charges heavy precompile calls the same as inline ones (a pairing of 3 pairs)", async () => {
    // Any pairing goes to the worker (precompileOffload.ts); its Common must have the schedule too.
    const f = await fixture();
    const tx = await signEth(alice, {
      to: precompileAddress(8),
      nonce: f.nonce++,
      data: hexToBytes(`0x${(BN_G1 + BN_G2).repeat(3)}`),
      gasLimit: 3_000_000n,
    });
    const eth = await onEthereum(f, tx);
    const out = await f.chain.block([tx]);
    expect(out.receipts[0]!.status).toBe(1);
    expect(out.receipts[0]!.gasUsed - eth.gasUsed).toBe(pairing.delta + 3n * pairingWord.delta);
  });

  it("sets each repriced parameter in every EIP entry of the EVM's params that defines it", () => {
    const params = consortEvmParams();
    for (const p of REPRICED_PARAMS) {
      const values = Object.values(params)
        .filter((entry) => p.name in entry)
        .map((entry) => entry[p.name]);
      expect(values.length).toBeGreaterThan(0);
      expect(values.every((v) => v === p.consort)).toBe(true);
    }
  });
});
