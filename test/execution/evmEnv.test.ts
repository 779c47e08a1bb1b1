import { describe, expect, it } from "vitest";
import { CallWatchdog } from "../../src/execution/callWatchdog.js";
import { ExecutionError } from "../../src/execution/errors.js";
import { createEnv, evmConfigOf, evmPoolStats, IDLE_EVMS_MAX } from "../../src/execution/evmEnv.js";
import { defaultExecutorOptions } from "../../src/execution/options.js";
import { StateOverlay } from "../../src/execution/overlay.js";
import { runEvm } from "../../src/execution/runEvm.js";
import { ReceiptStatus } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { addr, genesisSpec, MemoryState, signEth, TestChain, wallets } from "./helpers.js";

/** Init code deploying `JUMPDEST PUSH1 0 JUMP` (loops until the gas, or the call's time, is gone). */
const DEPLOY_ENDLESS = hexToBytes("0x635b6000566000526004601cf3");
/** Init code of a contract that calls itself 50 times per frame, no JUMPDEST: only the per-message check stops it. */
const DEPLOY_SELF_CALLS = hexToBytes(`0x6101f4600e6000396101f46000f3${"600080808080305af150".repeat(50)}`);
/** Creation code that returns BLOCKHASH(NUMBER - 1): PUSH1 1 NUMBER SUB BLOCKHASH PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN. */
const PARENT_HASH = hexToBytes("0x60014303406000526020" + "6000f3");

/** Creation code that returns BALANCE(who) as 32 bytes. */
function balanceOf(who: Uint8Array): Uint8Array {
  return hexToBytes(`0x73${bytesToHex(who).slice(2)}3160005260206000f3`);
}

const users = wallets(2, 11);
const [payer, payee] = users as [(typeof users)[0], (typeof users)[0]];
const alloc = users.map((w) => ({ address: addr(w), balance: 10n ** 21n }));

async function chain(): Promise<TestChain> {
  return TestChain.create(new MemoryState(), genesisSpec([addr(payer)], alloc));
}

describe("pooled EVMs (createEnv)", () => {
  it("hands a released EVM to the next use, two uses at once get two, and a fresh one is never pooled", async () => {
    const c = await chain();
    const config = evmConfigOf(defaultExecutorOptions);
    const open = (use: "pooled" | "fresh" = "pooled") =>
      createEnv(config, new StateOverlay(c.state), c.ctx(), undefined, use);
    const [a, b] = await Promise.all([open(), open()]);
    expect(a.evm).not.toBe(b.evm);
    a.release();
    a.release(); // idempotent: pooled once
    const again = await open();
    expect(again.evm).toBe(a.evm);
    const other = await open();
    expect(other.evm).not.toBe(a.evm);
    const fresh = await open("fresh");
    fresh.release();
    for (const env of [again, other, b]) env.release();
    const taken = await Promise.all(Array.from({ length: IDLE_EVMS_MAX + 2 }, () => open()));
    expect(taken.map((env) => env.evm)).not.toContain(fresh.evm);
    for (const env of taken) env.release();
  });

  it("holds no overlay while back in the pool (its state manager refuses)", async () => {
    const c = await chain();
    const env = await createEnv(evmConfigOf(defaultExecutorOptions), new StateOverlay(c.state), c.ctx());
    env.release();
    let err: unknown;
    try {
      void env.sm.overlay;
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExecutionError);
    expect((err as ExecutionError).code).toBe("EXEC_INTERNAL");
  });
});

describe("an EVM reused by eth_call", () => {
  it("reads each call's own state and block hashes", async () => {
    const c = await chain();
    const ex = c.executor;
    const before = evmPoolStats();
    const balance = async () =>
      BigInt(
        bytesToHex((await ex.call(c.state, { to: null, data: balanceOf(addr(payee)) }, c.callCtx())).output),
      );
    expect(await balance()).toBe(10n ** 21n);
    const pay = await signEth(payer, { to: addr(payee), nonce: 0, value: 5n, gasLimit: 21_000n });
    expect((await c.block([pay])).receipts[0]!.status).toBe(ReceiptStatus.Success);
    expect(await balance()).toBe(10n ** 21n + 5n);

    const parentHash = async (fill: number) => {
      const ctx = { ...c.callCtx(), getBlockHash: async () => new Uint8Array(32).fill(fill) };
      return bytesToHex((await ex.call(c.state, { to: null, data: PARENT_HASH }, ctx)).output);
    };
    expect(await parentHash(0xaa)).toBe(`0x${"aa".repeat(32)}`);
    expect(await parentHash(0xbb)).toBe(`0x${"bb".repeat(32)}`);
    // The calls above shared EVMs (the block took one too): the answers are each call's own.
    expect(evmPoolStats().reused - before.reused).toBeGreaterThanOrEqual(3);
  });

  it("answers to each call's own time budget", async () => {
    const c = await chain();
    const deploys = await Promise.all([
      signEth(payer, { to: null, nonce: 0, data: DEPLOY_ENDLESS, gasLimit: 200_000n }),
      signEth(payer, { to: null, nonce: 1, data: DEPLOY_SELF_CALLS, gasLimit: 500_000n }),
    ]);
    const [endless, selfCalls] = (await c.block(deploys)).receipts.map((r) => r.contractAddress!);
    const config = evmConfigOf(defaultExecutorOptions);
    const run = async (budgetMs: number, gasLimit: bigint, to = endless!) => {
      const watchdog = new CallWatchdog(budgetMs, defaultExecutorOptions.callYieldIntervalMs);
      const env = await createEnv(config, new StateOverlay(c.state), c.callCtx(), watchdog);
      try {
        return await runEvm(env, {
          from: addr(payer),
          to,
          value: 0n,
          input: new Uint8Array(0),
          gasLimit,
          intrinsic: 21_000n,
          gasPrice: 0n,
          salt: undefined,
          accessList: [],
          skipBalance: true,
        });
      } finally {
        env.release();
      }
    };
    // First use: a budget never reached (the loop ends when its gas does).
    const first = await run(600_000, 100_000n);
    expect(first).toMatchObject({ status: 0, error: "out of gas" });
    // The same EVM, a 50 ms budget and gas for tens of seconds: its own watchdog stops it, at a JUMPDEST in the
    // loop, and before a message in the loop-free call tree.
    for (const to of [endless!, selfCalls!]) {
      const before = evmPoolStats();
      let err: unknown;
      try {
        await run(50, 50_000_000n, to);
      } catch (e) {
        err = e;
      }
      expect(evmPoolStats().reused).toBe(before.reused + 1);
      expect((err as ExecutionError).code).toBe("EXEC_CALL_TIMEOUT");
    }
    // An EVM whose runs were aborted mid-frame serves the next use as the first did.
    const reused = evmPoolStats().reused;
    expect(await run(600_000, 100_000n)).toEqual(first);
    expect(evmPoolStats().reused).toBe(reused + 1);
  });
});
