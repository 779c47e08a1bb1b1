import { describe, expect, it } from "vitest";
import { ExecutionError, Executor, readAccount } from "../../src/execution/index.js";
import { ReceiptStatus } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import { addr, genesisSpec, MemoryState, signEth, TestChain, wallets } from "./helpers.js";

/** JUMPDEST PUSH1 0 JUMP: loops until the gas is gone. */
const ENDLESS = hexToBytes("0x5b600056");
/** JUMPDEST GAS PUSH2 30000 LT PUSH1 0 JUMPI STOP: loops until less than 30000 gas is left, then succeeds. */
const ALMOST_ALL_GAS = hexToBytes("0x5b5a6175301060005700");
/** Init code deploying ENDLESS as runtime code: PUSH4 5b600056 PUSH1 0 MSTORE PUSH1 4 PUSH1 28 RETURN. */
const DEPLOY_ENDLESS = hexToBytes("0x635b6000566000526004601cf3");
/** PUSH4 deadbeef PUSH1 0 MSTORE PUSH1 4 PUSH1 28 REVERT: reverts with 4 bytes of data. */
const REVERT_DEADBEEF = hexToBytes("0x63deadbeef6000526004601cfd");

/**
 * Init code of a contract whose code is 50 times `PUSH1 0 DUP1 DUP1 DUP1 DUP1 ADDRESS GAS CALL POP`: it calls itself
 * without any loop (no JUMPDEST), a call tree bounded only by gas (tens of seconds for 50M gas).
 */
const SELF_CALLS = "600080808080305af150".repeat(50);
const DEPLOY_SELF_CALLS = hexToBytes(`0x6101f4600e6000396101f46000f3${SELF_CALLS}`);

const users = wallets(2, 7);
const [admin] = users as [(typeof users)[0]];
const alloc = users.map((w) => ({ address: addr(w), balance: 10n ** 21n }));

function executor(callTimeBudgetMs: number, callGasLimitMax = 50_000_000n): Executor {
  return new Executor({ callTimeBudgetMs, callGasLimitMax }, { logger: silentLogger() });
}

async function chainWithEndlessContract(): Promise<{ chain: TestChain; contract: Uint8Array }> {
  const chain = await TestChain.create(new MemoryState(), genesisSpec([addr(admin)], alloc));
  const deploy = await signEth(admin, { to: null, nonce: 0, data: DEPLOY_ENDLESS, gasLimit: 200_000n });
  const out = await chain.block([deploy]);
  expect(out.receipts[0]!.status).toBe(ReceiptStatus.Success);
  return { chain, contract: out.receipts[0]!.contractAddress! };
}

/** The value or the error of `f` (no timing: budgets are checked by their error, never by the clock). */
async function settle<T>(f: () => Promise<T>): Promise<{ value: T | undefined; err: unknown }> {
  try {
    return { value: await f(), err: undefined };
  } catch (err) {
    return { value: undefined, err };
  }
}

describe("eth_call time budget", () => {
  it("aborts an endless loop (creation and contract call) with EXEC_CALL_TIMEOUT, geth's message", async () => {
    const { chain, contract } = await chainWithEndlessContract();
    const ex = executor(150);
    for (const to of [null, contract]) {
      const r = await settle(() =>
        ex.call(chain.state, { to, data: to === null ? ENDLESS : new Uint8Array(0) }, chain.callCtx()),
      );
      expect(r.err).toBeInstanceOf(ExecutionError);
      expect((r.err as ExecutionError).code).toBe("EXEC_CALL_TIMEOUT");
      expect((r.err as ExecutionError).message).toBe("execution aborted (timeout = 150ms)");
    }
    // The same call with a budget that is never reached burns all its gas: out of gas, status 0.
    const slow = await executor(60_000).call(
      chain.state,
      { to: contract, gasLimit: 300_000n },
      chain.callCtx(),
    );
    expect(slow).toMatchObject({ status: 0, error: "out of gas", gasUsed: 300_000n });
  });

  it("aborts a loop-free self-call tree too (checked at each message), yielding meanwhile", async () => {
    const { chain } = await chainWithEndlessContract();
    const deploy = await signEth(admin, { to: null, nonce: 1, data: DEPLOY_SELF_CALLS, gasLimit: 500_000n });
    const out = await chain.block([deploy]);
    expect(out.receipts[0]!.status).toBe(ReceiptStatus.Success);
    const order: string[] = [];
    setImmediate(() => order.push("event loop"));
    const r = await settle(() =>
      executor(200).call(chain.state, { to: out.receipts[0]!.contractAddress! }, chain.callCtx()),
    );
    order.push("call");
    expect((r.err as ExecutionError).code).toBe("EXEC_CALL_TIMEOUT");
    expect(order).toEqual(["event loop", "call"]);
  });

  it("yields to the event loop while a long call runs (a macrotask queued first runs before it ends)", async () => {
    const order: string[] = [];
    // The EVM itself only awaits promises (microtasks) on an in-memory state: without the watchdog's yields this
    // setImmediate could not run before the call ends.
    setImmediate(() => order.push("event loop"));
    const r = await settle(() =>
      executor(400).call(
        new MemoryState(),
        { to: null, data: ENDLESS },
        {
          number: 1,
          timestampMs: 1_700_000_000_000,
          coinbase: new Uint8Array(20),
          chainId: 1n,
          gasLimit: 30_000_000n,
          parentStateRoot: new Uint8Array(32),
        },
      ),
    );
    order.push("call");
    expect((r.err as ExecutionError).code).toBe("EXEC_CALL_TIMEOUT");
    expect(order).toEqual(["event loop", "call"]);
  });

  it("estimateGas stops at the budget instead of bisecting a near-endless loop", async () => {
    const { chain } = await chainWithEndlessContract();
    const r = await settle(() =>
      executor(150).estimateGas(chain.state, { to: null, data: ALMOST_ALL_GAS }, chain.callCtx()),
    );
    expect((r.err as ExecutionError).code).toBe("EXEC_CALL_TIMEOUT");
    // A small cap finishes: the loop succeeds once it leaves 30000 gas.
    const ok = await executor(60_000, 200_000n).call(
      chain.state,
      { to: null, data: ALMOST_ALL_GAS },
      chain.callCtx(),
    );
    expect(ok.status).toBe(1);
  });

  it("the per-call option overrides the default budget", async () => {
    const { chain } = await chainWithEndlessContract();
    const r = await settle(() =>
      executor(60_000).call(chain.state, { to: null, data: ENDLESS }, chain.callCtx(), { timeBudgetMs: 100 }),
    );
    expect((r.err as ExecutionError).message).toBe("execution aborted (timeout = 100ms)");
  });
});

describe("call errors", () => {
  it("reports out of gas, invalid opcode (geth's names) and revert with its data", async () => {
    const { chain } = await chainWithEndlessContract();
    const ex = executor(60_000);
    const ctx = chain.callCtx();
    const oog = await ex.call(chain.state, { to: null, data: ENDLESS, gasLimit: 100_000n }, ctx);
    expect(oog).toMatchObject({ status: 0, error: "out of gas", gasUsed: 100_000n });
    expect(oog.output.length).toBe(0);
    const invalid = await ex.call(chain.state, { to: null, data: hexToBytes("0xfe") }, ctx);
    expect(invalid).toMatchObject({ status: 0, error: "invalid opcode: INVALID" });
    const undefinedOp = await ex.call(chain.state, { to: null, data: hexToBytes("0x60010c") }, ctx);
    expect(undefinedOp).toMatchObject({ status: 0, error: "invalid opcode: opcode 0xc not defined" });
    const reverted = await ex.call(chain.state, { to: null, data: REVERT_DEADBEEF }, ctx);
    expect(reverted.status).toBe(0);
    expect(reverted.error).toBe("revert");
    expect(bytesToHex(reverted.output)).toBe("0xdeadbeef");
    expect(ex.callGasLimitMax).toBe(50_000_000n);
  });

  it("with the default budget an endless loop ends out of gas at its cap: the gas bounds it, not the clock", async () => {
    const { chain, contract } = await chainWithEndlessContract();
    const ex = new Executor({ callGasLimitMax: 5_000_000n }, { logger: silentLogger() });
    const r = await ex.call(chain.state, { to: contract }, chain.callCtx());
    expect(r).toMatchObject({ status: 0, error: "out of gas", gasUsed: 5_000_000n });
  });
});

describe("block execution ignores the call budget", () => {
  it("runs a long loop to out of gas even with a 1 ms call budget, deterministically", async () => {
    const roots: string[] = [];
    const receipts: string[] = [];
    for (const budget of [1, 60_000]) {
      const { chain, contract } = await chainWithEndlessContract();
      const ex = executor(budget);
      const tx = await signEth(admin, { to: contract, nonce: 1, gasLimit: 3_000_000n });
      const out = await ex.executeBlock(chain.state, chain.ctx(), [tx], "build");
      expect(out.rejected).toEqual([]);
      expect(out.receipts[0]).toMatchObject({ status: ReceiptStatus.Failed, gasUsed: 3_000_000n });
      // The sender's nonce moved: the tx was applied, not dropped.
      await chain.state.apply(out.stateChanges);
      expect((await readAccount(chain.state, addr(admin))).nonce).toBe(2n);
      roots.push(bytesToHex(out.stateRoot));
      receipts.push(bytesToHex(out.receiptRoot));
    }
    expect(roots[0]).toBe(roots[1]);
    expect(receipts[0]).toBe(receipts[1]);
  });
});
