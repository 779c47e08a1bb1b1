import { createCustomCommon, Hardfork, Mainnet, type StateManagerInterface } from "@ethereumjs/common";
import { createEVM } from "@ethereumjs/evm";
import { MerkleStateManager } from "@ethereumjs/statemanager";
import { Account, Address } from "@ethereumjs/util";
import { getCreateAddress } from "ethers";
import { type Abi, encodeDeployData, encodeFunctionData, type Hex } from "viem";
import { describe, expect, it } from "vitest";
import { StateOverlay } from "../../src/execution/overlay.js";
import { FlatStateManager } from "../../src/execution/stateManager.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { addr, assetArtifact, helloArtifact, MemoryState, wallets } from "./helpers.js";

/**
 * Differential test: the same calls on @ethereumjs's MerkleStateManager (the reference) and on our
 * FlatStateManager give the same gas, refunds, outputs, logs and final state. This checks the parts of the
 * state manager the EVM's gas rules depend on (original storage values, checkpoints, deletions).
 */
type Step = { from: Address; to: Address | null; data: Uint8Array; value?: bigint };

async function runAll(sm: StateManagerInterface, steps: Step[], funded: Address[]) {
  const common = createCustomCommon({ chainId: 20200 }, Mainnet, { hardfork: Hardfork.Cancun });
  const evm = await createEVM({ common, stateManager: sm });
  for (const a of funded) await sm.putAccount(a, new Account(0n, 10n ** 21n));
  const results = [];
  for (const step of steps) {
    await sm.checkpoint();
    evm.journal.cleanJournal();
    evm.journal.addAlwaysWarmAddress(step.from.toString());
    if (step.to !== null) evm.journal.addAlwaysWarmAddress(step.to.toString());
    for (const p of evm.precompiles.keys()) evm.journal.addAlwaysWarmAddress(p);
    const r = await evm.runCall({
      caller: step.from,
      origin: step.from,
      to: step.to ?? undefined,
      data: step.data,
      value: step.value ?? 0n,
      gasLimit: 3_000_000n,
    });
    const exec = r.execResult;
    if (exec.selfdestruct !== undefined) {
      for (const a of exec.selfdestruct.keys()) {
        if (exec.createdAddresses?.has(a) === true)
          await evm.journal.deleteAccount(new Address(hexToBytes(a)));
      }
    }
    await evm.journal.cleanup();
    sm.originalStorageCache.clear();
    await sm.commit();
    results.push({
      gas: exec.executionGasUsed,
      refund: exec.gasRefund ?? 0n,
      error: exec.exceptionError?.error ?? null,
      output: bytesToHex(exec.returnValue),
      created: r.createdAddress?.toString() ?? null,
      logs: (exec.logs ?? []).map(([a, topics, d]) => [
        bytesToHex(a),
        topics.map((t) => bytesToHex(t)),
        bytesToHex(d),
      ]),
    });
  }
  return results;
}

describe("FlatStateManager vs MerkleStateManager", () => {
  it("same gas, refunds, outputs, logs and final state for the same calls", async () => {
    const [w0, w1, w2] = wallets(3, 3) as [
      ReturnType<typeof wallets>[0],
      ReturnType<typeof wallets>[0],
      ReturnType<typeof wallets>[0],
    ];
    const [admin, alice, bob] = [w0, w1, w2].map((w) => new Address(addr(w))) as [Address, Address, Address];
    const asset = assetArtifact();
    const hello = helloArtifact();
    const abi = asset.abi as Abi;
    const t = (fn: string, args: unknown[]) =>
      hexToBytes(encodeFunctionData({ abi, functionName: fn, args }));
    const deploy = hexToBytes(
      encodeDeployData({ abi, bytecode: asset.bytecode as Hex, args: ["T", "T", 1000n] }),
    );
    const token = new Address(hexToBytes(getCreateAddress({ from: admin.toString(), nonce: 0 })));
    const hex = (a: Address) => a.toString() as Hex;
    const steps: Step[] = [
      { from: admin, to: null, data: deploy },
      { from: admin, to: token, data: t("transfer", [hex(alice), 100n]) },
      { from: alice, to: token, data: t("transfer", [hex(bob), 100n]) }, // zeroes alice: refund
      { from: admin, to: token, data: t("transfer", [hex(admin), 5n]) }, // same slot written twice
      { from: bob, to: token, data: t("approve", [hex(alice), 60n]) },
      { from: alice, to: token, data: t("transferFrom", [hex(bob), hex(alice), 50n]) },
      { from: alice, to: token, data: t("transferFrom", [hex(bob), hex(alice), 50n]) }, // reverts: allowance
      { from: alice, to: token, data: t("transfer", [hex(bob), 1000n]) }, // reverts: custom error
      { from: bob, to: token, data: t("approve", [hex(alice), 0n]) }, // clears a slot: refund
      { from: bob, to: null, data: hexToBytes(hello.bytecode) },
      { from: alice, to: null, data: hexToBytes(`0x600160005573${"42".repeat(20)}ff`), value: 7n }, // selfdestruct
      { from: alice, to: bob, data: new Uint8Array(0), value: 3n },
    ];
    const merkle = new MerkleStateManager();
    const flat = new FlatStateManager(new StateOverlay(new MemoryState()));
    const a = await runAll(merkle, steps, [admin, alice, bob]);
    const b = await runAll(flat, steps, [admin, alice, bob]);
    expect(b).toEqual(a);
    expect(a.filter((r) => r.error !== null)).toHaveLength(2);
    expect(a[2]!.refund).toBeGreaterThan(0n);

    const slots = [0n, 1n, 2n, 3n].map((i) => hexToBytes(`0x${i.toString(16).padStart(64, "0")}`));
    for (const who of [admin, alice, bob, token, new Address(hexToBytes(`0x${"42".repeat(20)}`))]) {
      const [x, y] = [await merkle.getAccount(who), await flat.getAccount(who)];
      expect([y?.nonce, y?.balance, y && bytesToHex(y.codeHash)]).toEqual([
        x?.nonce,
        x?.balance,
        x && bytesToHex(x.codeHash),
      ]);
      expect(bytesToHex(await flat.getCode(who))).toBe(bytesToHex(await merkle.getCode(who)));
      for (const s of slots) {
        expect(bytesToHex(await flat.getStorage(who, s))).toBe(bytesToHex(await merkle.getStorage(who, s)));
      }
    }
  });
});
