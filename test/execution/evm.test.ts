import { getCreateAddress } from "ethers";
import { describe, expect, it } from "vitest";
import type { GenesisConfig } from "../../src/config/index.js";
import { keccak256 } from "../../src/crypto/index.js";
import {
  DEFAULT_SYSTEM_CONFIG_VALUES,
  Executor,
  type GenesisSpec,
  genesisState,
  KEY_PREFIX,
  proposerCoinbase,
  readAccount,
  readStorage,
} from "../../src/execution/index.js";
import { type Transaction, TxType } from "../../src/types/index.js";
import { bytesToHex, concatBytes, hexToBytes } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import {
  addr,
  CHAIN_ID,
  genesisSpec,
  MemoryState,
  sealerKeys,
  signEth,
  signNative,
  TestChain,
  wallets,
} from "./helpers.js";

const [admin, alice, bob] = wallets(3) as [
  ReturnType<typeof wallets>[0],
  ReturnType<typeof wallets>[0],
  ReturnType<typeof wallets>[0],
];
const alloc = [admin, alice, bob].map((w) => ({ address: addr(w), balance: 10n ** 20n }));

describe("EVM environment", () => {
  it("NUMBER, TIMESTAMP (s), CHAINID, COINBASE and BLOCKHASH come from the block context", async () => {
    const chain = await TestChain.create(new MemoryState(), genesisSpec([addr(admin)], alloc));
    // NUMBER→m[0] TIMESTAMP→m[32] CHAINID→m[64] COINBASE→m[96] BLOCKHASH(NUMBER-1)→m[128]; RETURN m[0..160]
    const code = hexToBytes("0x436000524260205246604052416060526001430340608052" + "60a06000f3");
    const coinbase = proposerCoinbase(sealerKeys[0]!.nodeId);
    const parentHash = new Uint8Array(32).fill(0xab);
    const ctx = {
      ...chain.ctx(),
      number: 42,
      timestampMs: 1_700_000_123_999,
      coinbase,
      getBlockHash: async (n: number) => (n === 41 ? parentHash : null),
    };
    const r = await chain.executor.call(chain.state, { to: null, data: code }, ctx);
    expect(r.status).toBe(1);
    const word = (i: number) => BigInt(bytesToHex(r.output.subarray(i * 32, i * 32 + 32)));
    expect(word(0)).toBe(42n);
    expect(word(1)).toBe(1_700_000_123n);
    expect(word(2)).toBe(CHAIN_ID);
    expect(word(3)).toBe(BigInt(bytesToHex(coinbase)));
    expect(bytesToHex(r.output.subarray(128, 160))).toBe(bytesToHex(parentHash));
  });

  it("SELFDESTRUCT in the creating tx removes the account and its storage (EIP-6780)", async () => {
    const chain = await TestChain.create(new MemoryState(), genesisSpec([addr(admin)], alloc));
    const beneficiary = new Uint8Array(20).fill(0x42);
    // SSTORE(0, 1); SELFDESTRUCT(beneficiary)
    const init = hexToBytes(`0x600160005573${bytesToHex(beneficiary).slice(2)}ff`);
    const tx = await signEth(alice, { to: null, nonce: 0, value: 5n, data: init, gasLimit: 200_000n });
    const out = await chain.block([tx]);
    expect(out.receipts[0]!.status).toBe(1);
    const created = hexToBytes(getCreateAddress({ from: alice.address, nonce: 0 }));
    expect(await readAccount(chain.state, created)).toMatchObject({ nonce: 0n, balance: 0n });
    expect(BigInt(bytesToHex(await readStorage(chain.state, created, new Uint8Array(32))))).toBe(0n);
    expect((await readAccount(chain.state, beneficiary)).balance).toBe(5n);
    const storageKeys = out.stateChanges.filter(([k]) => k[0] === KEY_PREFIX.storage);
    expect(storageKeys).toEqual([]);
    expect((await readAccount(chain.state, addr(alice))).balance).toBe(10n ** 20n - 5n);
  });

  it("asks nativeNoncesSeen once per block for native replay protection across blocks", async () => {
    const chain = await TestChain.create(new MemoryState(), genesisSpec([addr(admin)], alloc));
    const txs = Array.from({ length: 5 }, () => signNative(bob, { to: addr(alice), value: 1n }));
    const tx = txs[3] as Transaction;
    if (tx.type !== TxType.Native) throw new Error("expected a native tx");
    const seen = new Set<string>([bytesToHex(tx.nonce)]);
    const asked: number[] = [];
    const ctx = {
      ...chain.ctx(),
      nativeNoncesSeen: async (nonces: Uint8Array[]) => {
        asked.push(nonces.length);
        return nonces.map((n) => seen.has(bytesToHex(n)));
      },
    };
    const out = await chain.executor.executeBlock(chain.state, ctx, txs, "build");
    expect(out.rejected.map((r) => [r.tx, r.code])).toEqual([[tx, "NATIVE_NONCE_REUSED"]]);
    expect(out.transactions).toHaveLength(4);
    expect(asked).toEqual([5]); // one read for the block (a ledger read per tx stalled a loaded chain)
    const other = await chain.executor.executeBlock(chain.state, { ...ctx, groupId: "other" }, [tx], "build");
    expect(other.rejected.map((r) => r.code)).toEqual(["WRONG_GROUP_ID"]);
  });

  it("native blockLimit window: parent < blockLimit <= parent + 1000", async () => {
    const chain = await TestChain.create(new MemoryState(), genesisSpec([addr(admin)], alloc));
    await chain.block([]); // head = 1, next block 2
    const edge = signNative(bob, { to: addr(alice), value: 1n, blockLimit: 2 });
    const far = signNative(bob, { to: addr(alice), value: 1n, blockLimit: 1001 });
    const tooFar = signNative(bob, { to: addr(alice), value: 1n, blockLimit: 1002 });
    const expired = signNative(bob, { to: addr(alice), value: 1n, blockLimit: 1 });
    const out = await chain.executor.executeBlock(
      chain.state,
      chain.ctx(),
      [edge, far, tooFar, expired],
      "build",
    );
    expect(out.transactions).toEqual([edge, far]);
    expect(out.rejected.map((r) => r.code)).toEqual(["BLOCK_LIMIT_TOO_FAR", "BLOCK_LIMIT_EXPIRED"]);
  });

  it("the ecrecover precompile (native binding and noble) returns the signer", async () => {
    const chain = await TestChain.create(new MemoryState(), genesisSpec([addr(admin)], alloc));
    const digest = keccak256(new TextEncoder().encode("consort"));
    const sig = alice.signingKey.sign(digest);
    const input = concatBytes(
      digest,
      hexToBytes(`0x${sig.v.toString(16).padStart(64, "0")}`),
      hexToBytes(sig.r),
      hexToBytes(sig.s),
    );
    const ecrecover = hexToBytes(`0x${"00".repeat(19)}01`);
    for (const nativeEcrecover of [true, false]) {
      const executor = new Executor({ nativeEcrecover }, { logger: silentLogger() });
      const r = await executor.call(chain.state, { to: ecrecover, data: input }, chain.ctx());
      expect(bytesToHex(r.output.subarray(12))).toBe(alice.address.toLowerCase());
      const bad = await executor.call(
        chain.state,
        { to: ecrecover, data: input.map((b, i) => (i === 100 ? b ^ 1 : b)) },
        chain.ctx(),
      );
      expect(bytesToHex(bad.output.subarray(12))).not.toBe(alice.address.toLowerCase());
    }
  });

  it("src/config's GenesisConfig is a GenesisSpec", () => {
    const g: GenesisConfig = {
      chainId: CHAIN_ID,
      groupId: "group0",
      timestampMs: 0,
      sealers: [{ nodeId: sealerKeys[0]!.nodeId, weight: 1 }],
      observers: [],
      committee: { governors: [] },
      alloc: [],
      systemConfig: { tx_count_limit: "10" },
    };
    const spec: GenesisSpec = g;
    expect(spec.systemConfig.tx_count_limit).toBe("10");
  });

  it("fills the system config defaults itself: a genesis file without systemConfig gives the same state", () => {
    const base = genesisSpec([addr(admin)], []);
    const rootOf = (systemConfig: GenesisSpec["systemConfig"]) =>
      bytesToHex(genesisState({ ...base, systemConfig }).stateRoot);
    expect(rootOf({})).toBe(rootOf({ ...DEFAULT_SYSTEM_CONFIG_VALUES }));
    expect(rootOf({ tx_count_limit: "999" })).not.toBe(rootOf({}));
  });
});
