import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Wallet } from "ethers";
import { encodeFunctionData } from "viem";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Chain } from "../../src/chain/index.js";
import { decodeTransaction } from "../../src/codec/index.js";
import { NodeKey } from "../../src/crypto/index.js";
import { governance } from "../../src/execution/index.js";
import type { LevelLedger } from "../../src/ledger/index.js";
import { permissionCheck } from "../../src/node/permissionCheck.js";
import { ReceiptStatus, type Transaction } from "../../src/types/index.js";
import { hexToBytes } from "../../src/util/hex.js";
import { CHAIN_ID, certify, ethTx, makeGenesis, nativeTx, openChainIn } from "../chain/helpers.js";

/**
 * The pool's permission check reads the committed head through the ledger's committed-state cache: a governance
 * change is seen by the first admission after its commit, never before (executed but uncommitted, or dropped when
 * another block commits that height), and a restart reads what is on disk.
 */
describe("permissionCheck over the committed-state cache", () => {
  let dir: string;
  const open: LevelLedger[] = [];
  const sealer = NodeKey.generate();
  const genesis = makeGenesis(sealer);
  const user = Wallet.createRandom();
  const frozen = `account status: ${user.address.toLowerCase()} is frozen, its transactions are refused`;
  let userTx: Transaction;
  let adminNonce = 0;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-permission-"));
    adminNonce = 0;
    const raw = await user.signTransaction({
      type: 0,
      chainId: CHAIN_ID,
      nonce: 0,
      to: user.address,
      gasLimit: 21_000n,
      gasPrice: 0n,
    });
    userTx = decodeTransaction(hexToBytes(raw));
  });
  afterEach(async () => {
    for (const l of open.splice(0)) await l.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** The governor's proposal to set the user's account status (one governor: it executes in its own block). */
  const setStatus = (status: number) =>
    ethTx({
      nonce: adminNonce++,
      to: governance.COMMITTEE_ADDRESS,
      gasLimit: 1_000_000n,
      data: hexToBytes(
        encodeFunctionData({
          abi: governance.COMMITTEE_ABI,
          functionName: "createSetAccountStatusProposal",
          args: [user.address as `0x${string}`, status, 0n],
        }),
      ),
    });

  async function build(chain: Chain, txs: Transaction[]) {
    const built = await chain.buildBlock(txs, { proposer: sealer.nodeId, view: 0, nowMs: Date.now() });
    for (const r of built.executed.receipts) expect(r.status).toBe(ReceiptStatus.Success);
    return built;
  }

  async function commit(chain: Chain, built: Awaited<ReturnType<typeof build>>) {
    await chain.commit(built.hash, certify(sealer, built.block.header.number, 0, built.hash));
  }

  it("sees a freeze from the height after its commit, not while executed only or after it was replaced", async () => {
    const { chain } = await openChainIn(dir, open, "a", genesis);
    const check = permissionCheck(chain);
    expect(await check(userTx)).toBeNull(); // the user's status is now cached (absent = normal)

    const freezeA = await build(chain, [await setStatus(1)]);
    expect(await check(userTx)).toBeNull(); // executed, not committed

    // Another block commits height 1 (a view change's): the executed freeze is dropped with its parent.
    adminNonce = 0;
    const other = await build(chain, [nativeTx(new Uint8Array([1]), 100)]);
    await commit(chain, other);
    expect(chain.height()).toBe(1);
    expect(await check(userTx)).toBeNull();
    await expect(
      chain.buildBlock([], { proposer: sealer.nodeId, view: 0, nowMs: Date.now(), parentHash: freezeA.hash }),
    ).rejects.toMatchObject({ code: "CHAIN_UNKNOWN_PARENT" });

    await commit(chain, await build(chain, [await setStatus(1)]));
    expect(await check(userTx)).toBe(frozen); // committed at 2: refused for height 3

    await commit(chain, await build(chain, [await setStatus(0)]));
    expect(await check(userTx)).toBeNull(); // the cached "frozen" replaced by the deletion
  });

  it("keeps one cache per store: a restart reads what is on disk, another store answers for its own state", async () => {
    const a = await openChainIn(dir, open, "a", genesis);
    const b = await openChainIn(dir, open, "b", genesis);
    expect(await permissionCheck(a.chain)(userTx)).toBeNull();
    expect(await permissionCheck(b.chain)(userTx)).toBeNull();
    await commit(a.chain, await build(a.chain, [await setStatus(1)]));
    expect(await permissionCheck(a.chain)(userTx)).toBe(frozen);
    expect(await permissionCheck(b.chain)(userTx)).toBeNull(); // b committed no freeze

    await a.ledger.close();
    const again = await openChainIn(dir, open, "a", genesis);
    expect(await permissionCheck(again.chain)(userTx)).toBe(frozen);
    await commit(again.chain, await build(again.chain, [await setStatus(0)]));
    expect(await permissionCheck(again.chain)(userTx)).toBeNull();
  });
});
