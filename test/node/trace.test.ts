import { ContractFactory, Interface, JsonRpcProvider, type Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArtifact } from "../../contracts/artifacts.js";
import type { ConsortNode } from "../../src/node/index.js";
import { pollReceipt, rpcRaw, rpcUrl, SingleNodeNet } from "./helpers.js";

/**
 * debug_trace* on a real node, against geth's documented output (eth/tracers/logger and native/call.go): a
 * transaction whose nested call reverts with Error("value too large"), traced with the struct logger and callTracer.
 */

const callee = loadArtifact("Callee");
const caller = loadArtifact("Caller");
const calleeIface = new Interface(callee.abi as never);
const callerIface = new Interface(caller.abi as never);
const HEX = /^0x[0-9a-f]*$/;
const QUANTITY = /^0x(0|[1-9a-f][0-9a-f]*)$/;
const WORD = /^0x[0-9a-f]{64}$/;
const GAS_LIMIT = 300_000n;
/** Error("value too large"), as the contracts revert with it. */
const REVERT_DATA = calleeIface.encodeErrorResult("Error", ["value too large"]).toLowerCase();

let net: SingleNodeNet;
let node: ConsortNode;
let url: string;
let provider: JsonRpcProvider;
let wallet: Wallet;
let calleeAddress: string;
let callerAddress: string;
let txHash: string;
let gasUsed: bigint;
let blockNumber: number;
const input = callerIface.encodeFunctionData("forward", [150n]);

async function trace<T>(method: string, params: unknown[]): Promise<T> {
  const r = await rpcRaw(url, method, params);
  if (r.error) throw new Error(`${method}: ${r.error.message}`);
  return r.result as T;
}

beforeAll(async () => {
  net = await SingleNodeNet.create();
  node = await net.start();
  url = rpcUrl(node);
  provider = new JsonRpcProvider(url, undefined, { cacheTimeout: -1, staticNetwork: true });
  wallet = net.accounts[2]!.connect(provider);
  const c1 = await new ContractFactory(callee.abi as never, callee.bytecode, wallet).deploy({
    gasLimit: 1_000_000n,
  });
  expect((await pollReceipt(provider, c1.deploymentTransaction()!.hash)).status).toBe(1);
  calleeAddress = (await c1.getAddress()).toLowerCase();
  const c2 = await new ContractFactory(caller.abi as never, caller.bytecode, wallet).deploy(calleeAddress, {
    gasLimit: 1_000_000n,
  });
  expect((await pollReceipt(provider, c2.deploymentTransaction()!.hash)).status).toBe(1);
  callerAddress = (await c2.getAddress()).toLowerCase();
  const tx = await wallet.sendTransaction({
    to: callerAddress,
    data: input,
    gasLimit: GAS_LIMIT,
    gasPrice: 0n,
  });
  txHash = tx.hash;
  const receipt = await pollReceipt(provider, txHash); // it reverts (status 0): ethers' wait() would throw CALL_EXCEPTION
  expect(receipt.status).toBe(0);
  gasUsed = receipt.gasUsed;
  blockNumber = receipt.blockNumber;
});

afterAll(async () => {
  provider?.destroy();
  await node?.close();
  await net?.remove();
});

interface CallFrame {
  [key: string]: unknown;
  calls?: CallFrame[];
}

describe("callTracer", () => {
  it("a reverted nested call: geth's frame fields, top gas/gasUsed = the tx's, revert data and reason on both", async () => {
    const top = await trace<CallFrame>("debug_traceTransaction", [txHash, { tracer: "callTracer" }]);
    const { calls, ...rest } = top;
    expect(rest).toEqual({
      from: wallet.address.toLowerCase(),
      gas: `0x${GAS_LIMIT.toString(16)}`,
      gasUsed: `0x${gasUsed.toString(16)}`,
      to: callerAddress,
      input,
      output: REVERT_DATA,
      error: "execution reverted",
      revertReason: "value too large",
      value: "0x0",
      type: "CALL",
    });
    expect(calls).toHaveLength(1);
    const inner = calls![0]!;
    expect(Object.keys(inner).sort()).toEqual(
      ["error", "from", "gas", "gasUsed", "input", "output", "revertReason", "to", "type", "value"].sort(),
    );
    expect(inner).toMatchObject({
      from: callerAddress,
      to: calleeAddress,
      input: calleeIface.encodeFunctionData("set", [150n]),
      output: REVERT_DATA,
      error: "execution reverted",
      revertReason: "value too large",
      value: "0x0",
      type: "CALL",
    });
    expect(inner.gas).toMatch(QUANTITY);
    expect(inner.gasUsed).toMatch(QUANTITY);
    expect(BigInt(inner.gasUsed as string)).toBeLessThan(BigInt(inner.gas as string));
    expect(BigInt(inner.gas as string)).toBeLessThan(GAS_LIMIT);
  });

  it("onlyTopCall drops the sub-calls; debug_traceCall traces a call the same way", async () => {
    const top = await trace<CallFrame>("debug_traceTransaction", [
      txHash,
      { tracer: "callTracer", tracerConfig: { onlyTopCall: true } },
    ]);
    expect(top.calls).toBeUndefined();
    expect(top.error).toBe("execution reverted");
    const call = await trace<CallFrame>("debug_traceCall", [
      { from: wallet.address, to: callerAddress, data: input, gas: "0x493e0" },
      "latest",
      { tracer: "callTracer" },
    ]);
    expect(call).toMatchObject({
      type: "CALL",
      to: callerAddress,
      gas: "0x493e0",
      revertReason: "value too large",
    });
    expect(call.calls![0]).toMatchObject({ to: calleeAddress, error: "execution reverted" });
  });
});

interface StructLog {
  pc: number;
  op: string;
  gas: number;
  gasCost: number;
  depth: number;
  stack?: string[];
  memory?: string[];
  returnData?: string;
  storage?: Record<string, string>;
  refund?: number;
  error?: string;
}

describe("struct logger", () => {
  it("geth's result and log fields; gas accounting consistent step by step and across the nested call", async () => {
    const r = await trace<{ gas: number; failed: boolean; returnValue: string; structLogs: StructLog[] }>(
      "debug_traceTransaction",
      [txHash],
    );
    expect(Object.keys(r).sort()).toEqual(["failed", "gas", "returnValue", "structLogs"]);
    expect(r.gas).toBe(Number(gasUsed));
    expect(r.failed).toBe(true);
    expect(r.returnValue).toBe(REVERT_DATA);
    const logs = r.structLogs;
    const intrinsic =
      21_000 + [...Buffer.from(input.slice(2), "hex")].reduce((g, b) => g + (b === 0 ? 4 : 16), 0);
    expect(logs[0]).toEqual({
      pc: 0,
      op: "PUSH1",
      gas: Number(GAS_LIMIT) - intrinsic,
      gasCost: 3,
      depth: 1,
      stack: [],
    });
    for (const log of logs) {
      for (const key of Object.keys(log)) {
        // No returnData unless asked for.
        expect(["pc", "op", "gas", "gasCost", "depth", "stack", "storage", "refund", "error"]).toContain(key);
      }
      expect(log.memory).toBeUndefined(); // enableMemory is off by default
      for (const v of log.stack!) expect(v).toMatch(QUANTITY);
    }
    // Consecutive steps of one frame: gas falls by the step's cost.
    for (let i = 0; i + 1 < logs.length; i++) {
      const [a, b] = [logs[i]!, logs[i + 1]!];
      if (a.depth === b.depth && a.op !== "CALL") expect(b.gas).toBe(a.gas - a.gasCost);
    }
    // The CALL's cost includes the gas it forwards; what the callee leaves comes back.
    const callAt = logs.findIndex((l) => l.op === "CALL" && l.depth === 1);
    const back = logs.findIndex((l, i) => i > callAt && l.depth === 1);
    const calleeLogs = logs.slice(callAt + 1, back);
    expect(calleeLogs.every((l) => l.depth === 2)).toBe(true);
    const frames = await trace<CallFrame>("debug_traceTransaction", [txHash, { tracer: "callTracer" }]);
    const inner = frames.calls![0]!;
    const call = logs[callAt]!;
    expect(calleeLogs[0]!.gas).toBe(Number(BigInt(inner.gas as string)));
    expect(logs[back]!.gas).toBe(
      call.gas - call.gasCost + Number(BigInt(inner.gas as string) - BigInt(inner.gasUsed as string)),
    );
    // SSTORE shows the contract's storage so far, as execution-apis and geth (0x-prefixed 32-byte words).
    const sstore = calleeLogs.find((l) => l.op === "SSTORE")!;
    expect(sstore.storage).toEqual({ [`0x${"0".repeat(64)}`]: `0x${(150).toString(16).padStart(64, "0")}` });
    for (const [k, v] of Object.entries(sstore.storage!)) {
      expect(k).toMatch(WORD);
      expect(v).toMatch(WORD);
    }
    expect(calleeLogs[calleeLogs.length - 1]!.op).toBe("REVERT");
    expect(logs[logs.length - 1]).toMatchObject({ op: "REVERT", depth: 1 });
    expect(logs.some((l) => l.error !== undefined)).toBe(false); // reverts are not step errors in geth
  });

  it("enableReturnData: each step carries what the frame's last sub-call returned, as geth", async () => {
    const r = await trace<{ structLogs: StructLog[] }>("debug_traceTransaction", [
      txHash,
      { enableReturnData: true },
    ]);
    const logs = r.structLogs;
    const callAt = logs.findIndex((l) => l.op === "CALL" && l.depth === 1);
    const back = logs.findIndex((l, i) => i > callAt && l.depth === 1);
    // Nothing before the call, nor inside the callee (it made no call); after it, the callee's revert data.
    expect(logs.slice(0, back).every((l) => l.returnData === undefined)).toBe(true);
    const after = logs.slice(back);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every((l) => l.returnData === REVERT_DATA)).toBe(true);

    // Init code that CALLs the identity precompile (0x04) with one word, then CREATEs a contract (its init code
    // returns one byte): after the call the steps carry the word; a successful creation leaves no return data.
    const word = "ab".repeat(32);
    const callIdentity = `7f${word}6000526020602060206000600060045af150`;
    const create = "6460016000f36000526005601b6000f0";
    const created = await trace<{ failed: boolean; structLogs: StructLog[] }>("debug_traceCall", [
      { from: wallet.address, data: `0x${callIdentity}${create}5000`, gas: "0x30d40" },
      "latest",
      { enableReturnData: true },
    ]);
    expect(created.failed).toBe(false);
    const w = `0x${word}`;
    expect(created.structLogs.map((l) => `${l.depth} ${l.op} ${l.returnData ?? "-"}`)).toEqual([
      "1 PUSH32 -",
      "1 PUSH1 -",
      "1 MSTORE -",
      ...Array(6).fill("1 PUSH1 -"),
      "1 GAS -",
      "1 CALL -",
      `1 POP ${w}`,
      `1 PUSH5 ${w}`,
      `1 PUSH1 ${w}`,
      `1 MSTORE ${w}`,
      ...Array(3).fill(`1 PUSH1 ${w}`),
      `1 CREATE ${w}`,
      "2 PUSH1 -",
      "2 PUSH1 -",
      "2 RETURN -",
      "1 POP -",
      "1 STOP -",
    ]);

    // A new frame starts with no return data, whatever an earlier frame at its depth saw: init code that creates
    // the same child twice, the child calling the identity precompile before it stops (52 bytes, appended at 0x18).
    const child = `7f${word}6000526020602060206000600060045af15000`;
    const twice = `60346018600039${"603460006000f050".repeat(2)}00`; // CODECOPY the child; CREATE, POP; twice; STOP
    const again = await trace<{ failed: boolean; structLogs: StructLog[] }>("debug_traceCall", [
      { from: wallet.address, data: `0x${twice}${child}`, gas: "0x30d40" },
      "latest",
      { enableReturnData: true },
    ]);
    expect(again.failed).toBe(false);
    const childSteps = again.structLogs.filter((l) => l.depth === 2);
    const childLine = (l: StructLog) => `${l.op} ${l.returnData ?? "-"}`;
    const oneChild = [
      "PUSH32 -",
      "PUSH1 -",
      "MSTORE -",
      ...Array(6).fill("PUSH1 -"),
      "GAS -",
      "CALL -",
      `POP ${w}`,
      `STOP ${w}`,
    ];
    expect(childSteps.map(childLine)).toEqual([...oneChild, ...oneChild]);
  });

  it("options: enableMemory adds 32-byte words, disableStack / disableStorage drop them, limit cuts", async () => {
    const r = await trace<{ structLogs: StructLog[] }>("debug_traceTransaction", [
      txHash,
      { enableMemory: true, disableStack: true, disableStorage: true, limit: 50 },
    ]);
    expect(r.structLogs).toHaveLength(50);
    expect(r.structLogs.every((l) => l.stack === undefined && l.storage === undefined)).toBe(true);
    const withMemory = r.structLogs.filter((l) => (l.memory?.length ?? 0) > 0);
    expect(withMemory.length).toBeGreaterThan(0);
    for (const w of withMemory[0]!.memory!) expect(w).toMatch(WORD);

    // execution-apis' format, as geth since go-ethereum#34093: no memory field while memory is empty; memory words
    // and SLOAD's and SSTORE's storage as 0x-prefixed 32-byte words. Init code: SSTORE(7, 0x2a), SLOAD(7),
    // SLOAD(8) (never written: zero), MSTORE(0, 1), STOP.
    const code = "0x602a6007556007545060085450600160005200";
    const steps = await trace<{ structLogs: StructLog[] }>("debug_traceCall", [
      { from: wallet.address, data: code, gas: "0x30d40" },
      "latest",
      { enableMemory: true, disableStack: true },
    ]);
    const word = (n: number) => `0x${n.toString(16).padStart(64, "0")}`;
    const shown = steps.structLogs.map((l) => ({ op: l.op, memory: l.memory, storage: l.storage }));
    expect(shown).toEqual([
      { op: "PUSH1" },
      { op: "PUSH1" },
      { op: "SSTORE", storage: { [word(7)]: word(0x2a) } },
      { op: "PUSH1" },
      { op: "SLOAD", storage: { [word(7)]: word(0x2a) } },
      { op: "POP" },
      { op: "PUSH1" },
      { op: "SLOAD", storage: { [word(7)]: word(0x2a), [word(8)]: word(0) } },
      { op: "POP" },
      { op: "PUSH1" },
      { op: "PUSH1" },
      { op: "MSTORE" },
      { op: "STOP", memory: [word(1)] },
    ]);
  });
});

describe("struct logger bounds", () => {
  it("a trace whose memory copies pass 64 MiB fails with TRACE_LIMIT, long before maxLogs steps", async () => {
    // Init code: touch memory at 32 KiB (1,024 words), then loop; ~1,600 steps of gas, each log copying 80 KB of
    // memory with enableMemory: ~130 MB without the byte bound, which stops it near 820 steps.
    const loop = "0x617fe051505b600556"; // PUSH2 0x7fe0 MLOAD POP JUMPDEST PUSH1 5 JUMP
    const r = await rpcRaw(url, "debug_traceCall", [
      { from: wallet.address, data: loop, gas: "0xfca2" },
      "latest",
      { enableMemory: true },
    ]);
    expect(r.error?.message).toMatch(/^trace too large: more than 64 MiB of struct logs/);
    // Without memory the same call is ~1,600 small logs: traced whole.
    const small = await trace<{ structLogs: StructLog[] }>("debug_traceCall", [
      { from: wallet.address, data: loop, gas: "0xfca2" },
      "latest",
      {},
    ]);
    expect(small.structLogs.length).toBeGreaterThan(1000);
  });

  it("a block trace's transactions share the 64 MiB: two of ~40 MiB each trace alone, not together", async () => {
    // ~500 loop steps each (80 KB of memory copied per step): two such failing creations in one block.
    const loop = "0x617fe051505b600556";
    let block: number | null = null;
    const hashes: string[] = [];
    for (let attempt = 0; attempt < 3 && block === null; attempt++) {
      const nonce = await provider.getTransactionCount(wallet.address, "pending");
      const raws = await Promise.all(
        [0, 1].map((i) =>
          wallet.signTransaction({
            data: loop,
            gasLimit: 0xeb72,
            gasPrice: 0,
            nonce: nonce + i,
            chainId: 20200,
          }),
        ),
      );
      // The second nonce first: it waits in the pool on the gap until the first arrives, and both become sealable
      // at once, so one block takes both (checked; otherwise tried again). Sent back to back in nonce order, a
      // loaded machine's leader sealed the first alone.
      const sent2 = await rpcRaw(url, "eth_sendRawTransaction", [raws[1]]);
      const sent = await rpcRaw(url, "eth_sendRawTransaction", [raws[0]]);
      const receipts = await Promise.all(
        [sent.result, sent2.result].map((h) => pollReceipt(provider, h as string)),
      );
      if (receipts[0]!.blockNumber === receipts[1]!.blockNumber) {
        block = receipts[0]!.blockNumber;
        hashes.push(...receipts.map((r) => r.hash));
      }
    }
    expect(block, "the two transactions never landed in one block").not.toBeNull();
    for (const hash of hashes) {
      const one = await trace<{ structLogs: StructLog[] }>("debug_traceTransaction", [
        hash,
        { enableMemory: true },
      ]);
      expect(one.structLogs.length).toBeGreaterThan(400);
    }
    const all = await rpcRaw(url, "debug_traceBlockByNumber", [
      `0x${block!.toString(16)}`,
      { enableMemory: true },
    ]);
    expect(all.error?.message).toMatch(/^trace too large: more than 64 MiB of struct logs/);
  });
});

describe("prestateTracer, block traces, access lists", () => {
  it("prestateTracer: the touched accounts as they were before the tx", async () => {
    const pre = await trace<Record<string, Record<string, unknown>>>("debug_traceTransaction", [
      txHash,
      { tracer: "prestateTracer" },
    ]);
    const sender = pre[wallet.address.toLowerCase()]!;
    expect(sender.balance).toMatch(QUANTITY);
    expect(sender.nonce).toBe(2); // two deploys before it
    expect(pre[callerAddress]!.code).toMatch(HEX);
    expect(pre[calleeAddress]!.storage).toEqual({ [`0x${"0".repeat(64)}`]: `0x${"0".repeat(64)}` });
  });

  it("debug_traceBlockByNumber of genesis: -32000, as geth (execution-apis trace-genesis)", async () => {
    expect((await rpcRaw(url, "debug_traceBlockByNumber", ["0x0"])).error).toEqual({
      code: -32000,
      message: "genesis is not traceable",
    });
  });

  it("debug_traceBlockByNumber: [{txHash, result}] for every tx of the block", async () => {
    const results = await trace<{ txHash: string; result: CallFrame }[]>("debug_traceBlockByNumber", [
      `0x${blockNumber.toString(16)}`,
      { tracer: "callTracer" },
    ]);
    expect(results.map((r) => r.txHash)).toContain(txHash);
    expect(results.find((r) => r.txHash === txHash)!.result.revertReason).toBe("value too large");
  });

  it("unknown transactions and tracers are clear errors", async () => {
    const missing = await rpcRaw(url, "debug_traceTransaction", [`0x${"ab".repeat(32)}`]);
    expect(missing.error).toEqual({ code: -32000, message: "transaction not found" });
    const bad = await rpcRaw(url, "debug_traceTransaction", [txHash, { tracer: "4byteTracer" }]);
    expect(bad.error?.message).toMatch(/tracer "4byteTracer" is not supported/);
  });

  it("eth_createAccessList lists the callee's slot (not the sender or recipient) and the gas with the list", async () => {
    const data = callerIface.encodeFunctionData("forward", [5n]);
    const r = await trace<{ accessList: { address: string; storageKeys: string[] }[]; gasUsed: string }>(
      "eth_createAccessList",
      [{ from: wallet.address, to: callerAddress, data }, "latest"],
    );
    expect(r.accessList).toEqual([{ address: calleeAddress, storageKeys: [`0x${"0".repeat(64)}`] }]);
    expect(r.gasUsed).toMatch(QUANTITY);
    // eth_estimateGas charges the list's intrinsic cost: a type-1 tx with the list and exactly the estimate succeeds.
    const estimate = await provider.estimateGas({
      from: wallet.address,
      to: callerAddress,
      data,
      type: 1,
      accessList: r.accessList,
    });
    const without = await provider.estimateGas({ from: wallet.address, to: callerAddress, data });
    expect(estimate).not.toBe(without);
    const tx = await wallet.sendTransaction({
      type: 1,
      to: callerAddress,
      data,
      gasLimit: estimate,
      gasPrice: 0n,
      accessList: r.accessList,
    });
    expect((await tx.wait(1, 30_000))?.status).toBe(1);
  });
});
