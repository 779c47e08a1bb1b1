import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { getCreateAddress } from "ethers";
import { decodeErrorResult, decodeFunctionResult, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keccak256 } from "../../src/crypto/index.js";
import { readAccount, readStorage } from "../../src/execution/index.js";
import type { ConsortNode } from "../../src/node/index.js";
import { ReceiptStatus } from "../../src/types/index.js";
import { bigintToBytes, bytesToBigint } from "../../src/util/hex.js";
import {
  addrOf,
  assetAbi,
  assetDeployData,
  assetTransferData,
  balanceOfData,
  bytesToHex,
  CHAIN_ID,
  concatBytes,
  freshWallets,
  hexToBytes,
  keyOf,
  openLedger,
  replayAndCompare,
  rpc,
  rpcUrl,
  SingleNodeNet,
  signLegacyFast,
  signNative,
  waitReceipts,
} from "./helpers.js";

/**
 * Acceptance (issue 4): one 1-validator node in process, real LevelDB. 1,000 transactions of every kind commit,
 * balances / token balances / receipts are as expected, and replaying the stored blocks into a fresh store gives
 * identical state roots and receipts at every height.
 */

const FRESH = 100;
const FUND = 10n ** 18n;
const TRANSFERS_PER_FRESH = 5;
const TOKEN_TRANSFERS = 199;
const NATIVE = 200;

/** balanceOf is the 4th storage variable of Asset (name, symbol, totalSupply, balanceOf; decimals is constant). */
const BALANCE_OF_SLOT = 3n;

function balanceSlot(holder: string): Uint8Array {
  return keccak256(concatBytes(pad32(hexToBytes(holder)), pad32(bigintToBytes(BALANCE_OF_SLOT))));
}

function pad32(b: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  out.set(b, 32 - b.length);
  return out;
}

describe("single node: 1,000 transactions, then replay", () => {
  let net: SingleNodeNet;
  let node: ConsortNode | null = null;
  let replayDir: string | null = null;

  beforeAll(async () => {
    net = await SingleNodeNet.create();
    node = await net.start();
  });

  afterAll(async () => {
    await node?.close();
    if (replayDir) await rm(replayDir, { recursive: true, force: true });
    await net?.remove();
  });

  it("commits transfers from many senders, an ERC20 deploy and transfers, concurrent native txs; replays identically", async () => {
    const n = node!;
    const dev = net.accounts;
    const fresh = freshWallets(FRESH, 9);
    /** Expected native balances (only for accounts we touch). */
    const expected = new Map<string, bigint>();
    const bal = (a: string) => expected.get(a.toLowerCase()) ?? 0n;
    const credit = (a: string, v: bigint) => expected.set(a.toLowerCase(), bal(a) + v);
    for (const w of dev) expected.set(w.address.toLowerCase(), 10n ** 24n);
    const statusExpected = new Map<string, ReceiptStatus>();
    let submitted = 0;

    // The fast signer gives exactly ethers' bytes (RFC 6979 signatures are deterministic).
    const sample = { nonce: 7n, to: addrOf(fresh[0]!), value: 5n, gasLimit: 21_000n };
    const viaEthers = await dev[1]!.signTransaction({
      type: 0,
      chainId: CHAIN_ID,
      nonce: 7,
      to: fresh[0]!.address,
      value: 5n,
      gasLimit: 21_000n,
      gasPrice: 0n,
    });
    expect(bytesToHex(signLegacyFast(keyOf(dev[1]!), sample))).toBe(viaEthers);

    // Phase 1: dev accounts 1..5 fund the 100 fresh wallets (20 each, consecutive nonces), signed by ethers (type 2).
    const fundRaws: string[] = [];
    for (let i = 0; i < FRESH; i++) {
      const from = dev[1 + (i % 5)]!;
      fundRaws.push(
        await from.signTransaction({
          type: 2,
          chainId: CHAIN_ID,
          nonce: Math.floor(i / 5),
          to: fresh[i]!.address,
          value: FUND,
          gasLimit: 21_000n,
          maxFeePerGas: 0n,
          maxPriorityFeePerGas: 0n,
        }),
      );
      credit(from.address, -FUND);
      credit(fresh[i]!.address, FUND);
    }
    const fundTxs = await Promise.all(fundRaws.map((r) => n.txpool.add(hexToBytes(r))));
    submitted += fundTxs.length;
    await waitReceipts(
      n,
      fundTxs.map((t) => t.hash),
      30_000,
    );

    // Phase 2: each fresh wallet sends 5 transfers (type 1 via ethers for the first 20 wallets, type 0 otherwise).
    const p2: Uint8Array[] = [];
    for (let k = 0; k < TRANSFERS_PER_FRESH; k++) {
      for (let i = 0; i < FRESH; i++) {
        const from = fresh[i]!;
        const to = fresh[(i * 7 + k * 13 + 1) % FRESH]!;
        const value = BigInt(1000 + i * 10 + k);
        const raw =
          i < 20
            ? hexToBytes(
                await from.signTransaction({
                  type: 1,
                  chainId: CHAIN_ID,
                  nonce: k,
                  to: to.address,
                  value,
                  gasLimit: 21_000n,
                  gasPrice: 0n,
                  accessList: [],
                }),
              )
            : signLegacyFast(keyOf(from), { nonce: BigInt(k), to: addrOf(to), value });
        p2.push(raw);
        credit(from.address, -value);
        credit(to.address, value);
      }
    }
    const p2Txs = await Promise.all(p2.map((r) => n.txpool.add(r)));
    submitted += p2Txs.length;

    // Phase 3: dev 6 deploys Asset and sends 199 token transfers (the last one overdraws: custom-error revert).
    const deployer = dev[6]!;
    const supply = 1_000_000n;
    const token = getCreateAddress({ from: deployer.address, nonce: 0 });
    const tokenBalances = new Map<string, bigint>([[deployer.address.toLowerCase(), supply]]);
    const p3: Uint8Array[] = [
      signLegacyFast(keyOf(deployer), {
        nonce: 0n,
        to: null,
        data: assetDeployData(supply),
        gasLimit: 1_000_000n,
      }),
    ];
    for (let i = 0; i < TOKEN_TRANSFERS; i++) {
      const last = i === TOKEN_TRANSFERS - 1;
      const to = fresh[i % FRESH]!.address;
      const amount = last ? supply * 10n : BigInt(100 + i);
      p3.push(
        signLegacyFast(keyOf(deployer), {
          nonce: BigInt(1 + i),
          to: hexToBytes(token),
          data: assetTransferData(to, amount),
          gasLimit: 100_000n,
        }),
      );
      if (!last) {
        tokenBalances.set(
          deployer.address.toLowerCase(),
          tokenBalances.get(deployer.address.toLowerCase())! - amount,
        );
        tokenBalances.set(to.toLowerCase(), (tokenBalances.get(to.toLowerCase()) ?? 0n) + amount);
      }
    }
    const p3Txs = [];
    for (const raw of p3) p3Txs.push(await n.txpool.add(raw)); // one sender: in nonce order
    submitted += p3Txs.length;
    const overdraw = p3Txs[p3Txs.length - 1]!;
    statusExpected.set(bytesToHex(overdraw.hash), ReceiptStatus.Failed);

    // Phase 4: 200 native txs from ONE sender submitted concurrently (random nonces, blockLimit window).
    const nativeSender = dev[7]!;
    const height = n.chain.height();
    const nativeRaws = Array.from({ length: NATIVE }, (_, i) => {
      const to = fresh[(i * 3) % FRESH]!;
      const value = BigInt(7 + i);
      credit(nativeSender.address, -value);
      credit(to.address, value);
      return signNative(keyOf(nativeSender), height, { to: addrOf(to), value, gasLimit: 50_000n });
    });
    const nativeTxs = await Promise.all(nativeRaws.map((r) => n.txpool.add(r)));
    submitted += nativeTxs.length;
    expect(submitted).toBe(1000);

    const all = [...fundTxs, ...p2Txs, ...p3Txs, ...nativeTxs];
    const receipts = await waitReceipts(
      n,
      all.map((t) => t.hash),
      60_000,
    );
    for (let i = 0; i < all.length; i++) {
      const want = statusExpected.get(bytesToHex(all[i]!.hash)) ?? ReceiptStatus.Success;
      expect(receipts[i]!.receipt.status, `tx ${i} ${bytesToHex(all[i]!.hash)}`).toBe(want);
    }
    // The deploy receipt names the contract; the overdraw carries the custom error.
    const deployReceipt = receipts[fundTxs.length + p2Txs.length]!.receipt;
    expect(bytesToHex(deployReceipt.contractAddress!)).toBe(token.toLowerCase());
    const err = decodeErrorResult({
      abi: assetAbi,
      data: bytesToHex(receipts[fundTxs.length + p2Txs.length + p3Txs.length - 1]!.receipt.output) as Hex,
    });
    expect(err.errorName).toBe("InsufficientBalance");
    expect(err.args?.[2]).toBe(supply * 10n);
    // A successful token transfer logs one Transfer event.
    expect(receipts[fundTxs.length + p2Txs.length + 1]!.receipt.logs).toHaveLength(1);

    // Balances: every account we touched, from the committed state.
    for (const [address, want] of expected) {
      const account = await readAccount(n.ledger, hexToBytes(address));
      expect(account.balance, address).toBe(want);
    }
    expect((await readAccount(n.ledger, addrOf(deployer))).nonce).toBe(BigInt(p3.length));
    // Token balances: storage read for every holder, and eth_call for a few (cross-checks the slot).
    for (const [holder, want] of tokenBalances) {
      const word = await readStorage(n.ledger, hexToBytes(token), balanceSlot(holder));
      expect(bytesToBigint(word), holder).toBe(want);
    }
    const url = rpcUrl(n);
    for (const holder of [deployer.address, fresh[0]!.address, fresh[98]!.address]) {
      const out = await rpc<Hex>(url, "eth_call", [
        { to: token, data: bytesToHex(balanceOfData(holder)) },
        "latest",
      ]);
      const [value] = [decodeFunctionResult({ abi: assetAbi, functionName: "balanceOf", data: out })];
      expect(value).toBe(tokenBalances.get(holder.toLowerCase()));
    }
    expect(BigInt(await rpc<string>(url, "eth_getBalance", [fresh[5]!.address, "latest"]))).toBe(
      bal(fresh[5]!.address),
    );
    expect(n.txpool.size()).toBe(0);
    expect(n.ledger.totalTransactionCount()).toBe(1000);

    // Replay: the node's stored blocks (with their certificates) into a fresh store.
    await n.close();
    node = null;
    const source = await openLedger(n.config.dataDir);
    try {
      replayDir = await mkdtemp(path.join(os.tmpdir(), "consort-replay-"));
      const replayed = await replayAndCompare(source, net.testnet.genesisFile, replayDir, [
        ...[...expected.keys()].map((a) => hexToBytes(a)),
        hexToBytes(token),
      ]);
      expect(replayed).toBe(source.height());
      expect(replayed).toBeGreaterThanOrEqual(2); // several blocks (how many depends on how fast the leader seals)
    } finally {
      await source.close();
    }
  });
});
