import { createCustomCommon, Mainnet } from "@ethereumjs/common";
import { createEVM, type EVM } from "@ethereumjs/evm";
import { describe, expect, it } from "vitest";
import { consortEvmParams, SCHEDULE_EIPS } from "../../src/execution/gasSchedule.js";
import {
  CODE_BYTES_CACHED_MAX,
  jumpAnalysisCacheActive,
  jumpAnalysisStats,
} from "../../src/execution/jumpAnalysisCache.js";

/**
 * The interpreter's code analysis (opcode entries, PUSH values, JUMPDEST map) is remembered per (EVM, code object)
 * instead of being redone on every call (src/execution/jumpAnalysisCache.ts). Per EVM, because the analysis holds
 * the EVM's own opcode entries: a block's EVM counts JUMPDESTs for its yielder, a call's EVM for its deadline.
 */

// A loop: i = 3; do { i -= 1 } while (i != 0) — three JUMPDESTs, one JUMPI back.
const LOOP = Uint8Array.from([0x60, 0x03, 0x5b, 0x60, 0x01, 0x90, 0x03, 0x80, 0x60, 0x02, 0x57, 0x00]);

/** An EVM whose JUMPDEST counts into `jumpdests` (as the node's yielder and call watchdog hook it). */
async function countingEvm(): Promise<{ evm: EVM; jumpdests: { count: number } }> {
  const jumpdests = { count: 0 };
  const common = createCustomCommon({ chainId: 1 }, Mainnet, {
    hardfork: "cancun",
    eips: [...SCHEDULE_EIPS],
  });
  const evm = await createEVM({
    common,
    params: consortEvmParams(),
    customOpcodes: [
      {
        opcode: 0x5b,
        opcodeName: "JUMPDEST",
        baseFee: 1,
        logicFunction: () => {
          jumpdests.count++;
        },
      },
    ],
  });
  return { evm, jumpdests };
}

async function run(evm: EVM, code: Uint8Array) {
  const result = await evm.runCode({ code, gasLimit: 100_000n });
  expect(result.exceptionError).toBeUndefined();
  return result.executionGasUsed;
}

describe("jump analysis cache", () => {
  it("is installed on this @ethereumjs/evm (pinned while the patch exists)", () => {
    expect(jumpAnalysisCacheActive).toBe(true);
  });

  it("analyses a code object once per EVM, and the cached analysis runs the code the same way", async () => {
    const { evm, jumpdests } = await countingEvm();
    const before = jumpAnalysisStats();
    const gasFirst = await run(evm, LOOP);
    const gasAgain = await run(evm, LOOP);
    const after = jumpAnalysisStats();
    expect(after.analysed - before.analysed).toBe(1);
    expect(after.reused - before.reused).toBe(1);
    expect(gasAgain).toBe(gasFirst);
    expect(jumpdests.count).toBe(6);
  });

  it("keeps analyses apart per EVM: each EVM's own JUMPDEST runs", async () => {
    const a = await countingEvm();
    const b = await countingEvm();
    const before = jumpAnalysisStats();
    await run(a.evm, LOOP);
    await run(b.evm, LOOP);
    expect(jumpAnalysisStats().analysed - before.analysed).toBe(2);
    expect(a.jumpdests.count).toBe(3);
    expect(b.jumpdests.count).toBe(3);
  });

  it("keys by the code object: equal bytes in another array are analysed again", async () => {
    const { evm } = await countingEvm();
    const before = jumpAnalysisStats();
    await run(evm, LOOP);
    await run(evm, LOOP.slice());
    expect(jumpAnalysisStats().analysed - before.analysed).toBe(2);
  });

  it("keeps at most CODE_BYTES_CACHED_MAX of code per EVM: past it, code is analysed per call", async () => {
    const { evm, jumpdests } = await countingEvm();
    // The loop, then STOPs up to 24 KiB (the largest deployable code): distinct code objects, same behaviour.
    const big = () => {
      const code = new Uint8Array(24 * 1024);
      code.set(LOOP);
      return code;
    };
    const fitting = Math.floor(CODE_BYTES_CACHED_MAX / (24 * 1024));
    const codes = Array.from({ length: fitting + 2 }, big);
    const before = jumpAnalysisStats();
    for (const code of codes) await run(evm, code);
    const kept = jumpAnalysisStats();
    expect(kept.analysed - before.analysed).toBe(fitting);
    expect(kept.uncached - before.uncached).toBe(2);
    // A kept one is reused; one past the bound is analysed again on its next call, and runs the same.
    await run(evm, codes[0]!);
    await run(evm, codes[fitting + 1]!);
    const after = jumpAnalysisStats();
    expect(after.reused - kept.reused).toBe(1);
    expect(after.uncached - kept.uncached).toBe(1);
    expect(jumpdests.count).toBe(3 * (codes.length + 2));
  });
});
