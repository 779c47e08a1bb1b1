import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConsortNode } from "../../src/node/index.js";
import type { RpcCallRequest, RpcCallResult, RpcStateBlock } from "../../src/rpc/interface.js";
import { ReceiptStatus } from "../../src/types/index.js";
import { rpcRaw, rpcUrl, SingleNodeNet } from "../node/helpers.js";
import { FakeBackend } from "./fakeBackend.js";
import { type Harness, startHarness } from "./helpers.js";

/** JUMPDEST PUSH1 0 JUMP: loops until the gas is gone. */
const ENDLESS = "0x5b600056";
/** JUMPDEST GAS PUSH2 30000 LT PUSH1 0 JUMPI STOP: loops until less than 30000 gas is left, then succeeds. */
const ALMOST_ALL_GAS = "0x5b5a6175301060005700";
/** PUSH4 deadbeef PUSH1 0 MSTORE PUSH1 4 PUSH1 28 REVERT. */
const REVERT_DEADBEEF = "0x63deadbeef6000526004601cfd";

/** A backend whose calls block until released: the limiter is checked by state, never by timing. */
class GatedBackend extends FakeBackend {
  running = 0;
  maxRunning = 0;
  private readonly gates: (() => void)[] = [];

  override async call(_r: RpcCallRequest, _b: RpcStateBlock): Promise<RpcCallResult> {
    this.callCount++;
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    await new Promise<void>((resolve) => this.gates.push(resolve));
    this.running--;
    return { status: ReceiptStatus.Success, output: new Uint8Array(0), gasUsed: 21_000n };
  }

  get waiting(): number {
    return this.gates.length;
  }

  releaseAll(): void {
    for (const g of this.gates.splice(0)) g();
  }
}

describe("concurrent call executions are bounded", () => {
  let h: Harness;
  let backend: GatedBackend;
  beforeAll(async () => {
    backend = new GatedBackend();
    h = await startHarness({ maxConcurrentCalls: 1, maxQueuedCalls: 1 }, backend);
  });
  afterAll(async () => {
    backend.releaseAll();
    await h.close();
  });

  it("1 runs, 1 waits, the rest get -32005 at once; other methods stay answered; slots are handed over", async () => {
    const first = h.rpc("eth_call", [{ data: ENDLESS }], 1);
    const poll = async (f: () => boolean) => {
      for (let i = 0; i < 500 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
      expect(f()).toBe(true);
    };
    await poll(() => backend.running === 1);
    const second = h.rpc("eth_call", [{ data: ENDLESS }], 2);
    const refused = await Promise.all([3, 4].map((id) => h.rpc("eth_call", [{ data: ENDLESS }], id)));
    for (const r of refused) expect(r.error).toEqual({ code: -32005, message: "too many concurrent calls" });
    expect((await h.rpc("eth_blockNumber")).result).toBe("0x0");
    expect(backend.callCount).toBe(1); // the second waits for the slot
    backend.releaseAll();
    expect((await first).result).toBe("0x");
    await poll(() => backend.running === 1);
    backend.releaseAll();
    expect((await second).result).toBe("0x");
    expect(backend.callCount).toBe(2);
    expect(backend.maxRunning).toBe(1);
  });
});

/**
 * The production path (rpc → NodeRpcBackend → Executor) on a real node: the cap of a call without a gas field is
 * the block gas limit (genesis tx_gas_limit here: 1,000,000), lowered to the executor's maximum; geth's errors.
 */
describe("eth_call / eth_estimateGas caps and errors on a real node", () => {
  let net: SingleNodeNet;
  let node: ConsortNode;
  let url: string;
  beforeAll(async () => {
    net = await SingleNodeNet.create();
    await net.setGasLimits(1_000_000n);
    node = await net.start({ rpcOptions: { callTimeBudgetMs: 1000 } });
    url = rpcUrl(node);
  });
  afterAll(async () => {
    await node?.close();
    await net?.remove();
  });

  it("without a gas field an endless loop is out of gas at the block gas limit", async () => {
    expect((await rpcRaw(url, "eth_call", [{ data: ENDLESS }])).error).toEqual({
      code: -32000,
      message: "out of gas",
    });
    expect((await rpcRaw(url, "eth_estimateGas", [{ data: ENDLESS }])).error).toEqual({
      code: -32000,
      message: "gas required exceeds allowance (1000000)",
    });
  });

  it("a gas field is the cap (above the block gas limit too, up to the executor's 50M)", async () => {
    const withGas = await rpcRaw(url, "eth_estimateGas", [{ data: ENDLESS, gas: "0x186a0" }]);
    expect(withGas.error).toEqual({ code: -32000, message: "gas required exceeds allowance (100000)" });
    const above = await rpcRaw(url, "eth_call", [{ data: ALMOST_ALL_GAS, gas: "0x1e8480" }]);
    expect(above.result).toBe("0x"); // 2M gas: more than the 1M block gas limit, and it succeeds
  });

  it("the wall-clock budget stays as a safety net: a 50M-gas loop with a 1 s budget is aborted", async () => {
    const r = await rpcRaw(url, "eth_call", [{ data: ENDLESS, gas: "0x2faf080" }]);
    expect(r.error).toEqual({ code: -32000, message: "execution aborted (timeout = 1s)" });
  });

  it("invalid opcode is -32000 'invalid opcode: …' (geth's names); a revert is code 3 with its data", async () => {
    expect((await rpcRaw(url, "eth_call", [{ data: "0xfe" }])).error).toEqual({
      code: -32000,
      message: "invalid opcode: INVALID",
    });
    expect((await rpcRaw(url, "eth_call", [{ data: "0x60010c" }])).error).toEqual({
      code: -32000,
      message: "invalid opcode: opcode 0xc not defined",
    });
    expect((await rpcRaw(url, "eth_estimateGas", [{ data: "0xfe" }])).error).toEqual({
      code: -32000,
      message: "invalid opcode: INVALID",
    });
    const reverted = { code: 3, message: "execution reverted", data: "0xdeadbeef" };
    expect((await rpcRaw(url, "eth_call", [{ data: REVERT_DEADBEEF }])).error).toEqual(reverted);
    expect((await rpcRaw(url, "eth_estimateGas", [{ data: REVERT_DEADBEEF }])).error).toEqual(reverted);
  });

  it("eth_estimateGas of a loop that stops before the cap succeeds with what it needs", async () => {
    const r = await rpcRaw(url, "eth_estimateGas", [{ data: ALMOST_ALL_GAS }]);
    expect(BigInt(r.result as string)).toBeLessThanOrEqual(1_000_000n);
    // It needs at least 30000 gas left at the end: an estimate of intrinsic gas only would be wrong.
    expect(BigInt(r.result as string)).toBeGreaterThan(53_000n + 30_000n);
  });
});
