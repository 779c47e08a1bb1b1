import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Executor, type ExecutorOptions, type StateReader } from "../../src/execution/index.js";
import type { RpcCallRequest, RpcCallResult, RpcStateBlock } from "../../src/rpc/interface.js";
import { silentLogger } from "../../src/util/logger.js";
import { CHAIN_ID, FakeBackend } from "./fakeBackend.js";
import { type Harness, startHarness } from "./helpers.js";

/** JUMPDEST PUSH1 0 JUMP: loops until the gas is gone. */
const ENDLESS = "0x5b600056";
/** JUMPDEST GAS PUSH2 30000 LT PUSH1 0 JUMPI STOP: loops until less than 30000 gas is left, then succeeds. */
const ALMOST_ALL_GAS = "0x5b5a6175301060005700";
/** PUSH4 deadbeef PUSH1 0 MSTORE PUSH1 4 PUSH1 28 REVERT. */
const REVERT_DEADBEEF = "0x63deadbeef6000526004601cfd";

const EMPTY_STATE: StateReader = { getState: async () => undefined };

/**
 * The fake chain with a real Executor behind `call`, wired like src/node/rpcBackend.ts: the requested gas (or the
 * block gas limit) lowered to the executor's cap, the EVM error and the gas limit used passed through.
 */
class ExecBackend extends FakeBackend {
  readonly executor: Executor;
  running = 0;
  maxRunning = 0;

  constructor(opts: Partial<ExecutorOptions>) {
    super();
    this.executor = new Executor(opts, { logger: silentLogger() });
  }

  override async call(request: RpcCallRequest, _block: RpcStateBlock): Promise<RpcCallResult> {
    this.callCount++;
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    try {
      const cap = this.executor.callGasLimitMax;
      let gasLimit = request.gasLimit ?? this.blockGasLimit();
      if (gasLimit > cap) gasLimit = cap;
      const r = await this.executor.call(
        EMPTY_STATE,
        { to: request.to, data: request.data, value: request.value, gasLimit },
        {
          number: this.headNumber() + 1,
          timestampMs: Date.now(),
          coinbase: new Uint8Array(20),
          chainId: CHAIN_ID,
          gasLimit: this.blockGasLimit(),
          parentStateRoot: new Uint8Array(32),
        },
      );
      return { status: r.status, output: r.output, gasUsed: r.gasUsed, error: r.error, gasLimit };
    } finally {
      this.running--;
    }
  }
}

describe("eth_call limits with a real EVM", () => {
  let h: Harness;
  let backend: ExecBackend;
  beforeAll(async () => {
    backend = new ExecBackend({ callTimeBudgetMs: 200, callGasLimitMax: 1_000_000_000n });
    h = await startHarness({ maxConcurrentCalls: 1, maxQueuedCalls: 1 }, backend);
  });
  afterAll(async () => {
    await h.close();
  });

  it("an endless loop ends with -32000 execution aborted (timeout), to null", async () => {
    const r = await h.rpc("eth_call", [{ to: null, data: ENDLESS }, "latest"]);
    expect(r.error).toEqual({ code: -32000, message: "execution aborted (timeout = 200ms)" });
  });

  it("eth_estimateGas of a near-endless loop ends with the timeout too", async () => {
    const r = await h.rpc("eth_estimateGas", [{ data: ALMOST_ALL_GAS }]);
    expect(r.error).toEqual({ code: -32000, message: "execution aborted (timeout = 200ms)" });
  });

  it("bounds concurrent executions: 1 runs, 1 waits, the rest get -32005; other methods stay answered", async () => {
    const before = backend.callCount;
    backend.maxRunning = 0;
    const calls = [1, 2, 3, 4].map((id) => h.rpc("eth_call", [{ data: ENDLESS }], id));
    let callsDone = false;
    const all = Promise.all(calls).then((rs) => {
      callsDone = true;
      return rs;
    });
    // Answered while the loops run: the executor yields to the event loop.
    const head = await h.rpc("eth_blockNumber");
    expect(head.result).toBe("0x0");
    expect(callsDone).toBe(false);
    const rs = await all;
    const limited = rs.filter((r) => r.error?.code === -32005);
    const aborted = rs.filter((r) => r.error?.code === -32000);
    expect(limited.length).toBe(2);
    expect(limited[0]!.error!.message).toBe("too many concurrent calls");
    expect(aborted.length).toBe(2);
    expect(backend.callCount - before).toBe(2);
    expect(backend.maxRunning).toBe(1);
  });

  it("a slot is released after an error: the next call runs", async () => {
    const r = await h.rpc("eth_call", [{ data: "0x600160005260206000f3" }]);
    expect(r.result).toBe(`0x${"00".repeat(31)}01`);
  });
});

describe("eth_call errors with a real EVM", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({}, new ExecBackend({ callTimeBudgetMs: 60_000, callGasLimitMax: 1_000_000n }));
  });
  afterAll(async () => {
    await h.close();
  });

  it("out of gas is -32000 'out of gas' without data", async () => {
    const r = await h.rpc("eth_call", [{ data: ENDLESS, gas: "0x30000" }]);
    expect(r.error).toEqual({ code: -32000, message: "out of gas" });
  });

  it("invalid opcode is -32000 'invalid opcode: …' (geth's names)", async () => {
    expect((await h.rpc("eth_call", [{ data: "0xfe" }])).error).toEqual({
      code: -32000,
      message: "invalid opcode: INVALID",
    });
    expect((await h.rpc("eth_call", [{ data: "0x60010c" }])).error).toEqual({
      code: -32000,
      message: "invalid opcode: opcode 0xc not defined",
    });
  });

  it("a revert is still code 3 with the revert data", async () => {
    const r = await h.rpc("eth_call", [{ data: REVERT_DEADBEEF }]);
    expect(r.error).toEqual({ code: 3, message: "execution reverted", data: "0xdeadbeef" });
    const e = await h.rpc("eth_estimateGas", [{ data: REVERT_DEADBEEF }]);
    expect(e.error).toEqual({ code: 3, message: "execution reverted", data: "0xdeadbeef" });
  });

  it("eth_estimateGas names the real per-call cap, not the block gas limit", async () => {
    const r = await h.rpc("eth_estimateGas", [{ data: ENDLESS }]);
    expect(r.error).toEqual({ code: -32000, message: "gas required exceeds allowance (1000000)" });
    const withGas = await h.rpc("eth_estimateGas", [{ data: ENDLESS, gas: "0x186a0" }]);
    expect(withGas.error).toEqual({ code: -32000, message: "gas required exceeds allowance (100000)" });
    const bad = await h.rpc("eth_estimateGas", [{ data: "0xfe" }]);
    expect(bad.error).toEqual({ code: -32000, message: "invalid opcode: INVALID" });
  });

  it("eth_estimateGas of a loop that stops before the cap stays below the cap", async () => {
    const r = await h.rpc("eth_estimateGas", [{ data: ALMOST_ALL_GAS }]);
    expect(BigInt(r.result)).toBeLessThanOrEqual(1_000_000n);
    // It needs at least 30000 gas left at the end: an estimate of intrinsic gas only would be wrong.
    expect(BigInt(r.result)).toBeGreaterThan(53_000n + 30_000n);
  });
});
