import { createCustomCommon, Hardfork, Mainnet } from "@ethereumjs/common";
import { createEVM, type EVM } from "@ethereumjs/evm";
import { Address, bigIntToBytes, setLengthLeft } from "@ethereumjs/util";
import { describe, expect, it } from "vitest";
import { evmHotPathsActive, fastEipLookup, writeWord } from "../../src/execution/evmHotPaths.js";
import { consortEvmParams, SCHEDULE_EIPS } from "../../src/execution/gasSchedule.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";

/**
 * The copies of @ethereumjs/evm code in src/execution/evmHotPaths.ts (runInterpreter without its per-call merge,
 * MSTORE and LOG without setLengthLeft's spreads, isActivatedEIP on a Set) must be installed on the pinned
 * version and give exactly what the stock code gives. The EVMs here run real bytecode.
 */

const WORDS = [
  0n,
  1n,
  0x80n,
  255n,
  256n,
  (1n << 64n) - 1n,
  1n << 64n,
  (1n << 128n) + 5n,
  0xdeadbeefn << 100n,
  1n << 255n,
  (1n << 256n) - 1n,
  0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20n,
];

function common() {
  const c = createCustomCommon({ chainId: 1 }, Mainnet, { hardfork: "cancun", eips: [...SCHEDULE_EIPS] });
  fastEipLookup(c);
  return c;
}

async function evm(): Promise<EVM> {
  return createEVM({ common: common(), params: consortEvmParams() });
}

const push32 = (word: bigint) => [0x7f, ...setLengthLeft(bigIntToBytes(word), 32)];
const push1 = (byte: number) => [0x60, byte];

async function runCode(code: number[], gasLimit = 1_000_000n) {
  return (await evm()).runCode({ code: Uint8Array.from(code), gasLimit });
}

describe("EVM hot paths", () => {
  it("are installed on this @ethereumjs/evm (pinned while they exist)", () => {
    expect(evmHotPathsActive).toEqual({ runInterpreter: true, wordHandlers: true });
  });

  it("writeWord gives setLengthLeft(bigIntToBytes(word), 32) for words across the whole range", () => {
    const out = new Uint8Array(32);
    const view = new DataView(out.buffer);
    const random = Array.from({ length: 200 }, (_, i) => {
      const bytes = Math.floor((i * 37) % 33); // 0..32 significant bytes
      let w = 0n;
      for (let b = 0; b < bytes; b++) w = (w << 8n) | BigInt((i * 131 + b * 17) & 0xff);
      return w;
    });
    for (const word of [...WORDS, ...random]) {
      out.fill(0xaa); // a previous word's bytes must not survive
      writeWord(word, view);
      expect(bytesToHex(out)).toBe(bytesToHex(setLengthLeft(bigIntToBytes(word), 32)));
    }
  });

  it("MSTORE writes each word's 32 big-endian bytes, aligned or not, over earlier memory", async () => {
    for (const word of WORDS) {
      // MSTORE(0, ~0) then MSTORE(5, word): bytes 0..4 stay 0xff, 5..36 are the word; RETURN(0, 64).
      const code = [
        ...push32((1n << 256n) - 1n),
        ...push1(0),
        0x52,
        ...push32(word),
        ...push1(5),
        0x52,
        ...push1(64),
        ...push1(0),
        0xf3,
      ];
      const res = await runCode(code);
      expect(res.exceptionError).toBeUndefined();
      const expected = new Uint8Array(64);
      expected.fill(0xff, 0, 32);
      expected.set(setLengthLeft(bigIntToBytes(word), 32), 5);
      expect(bytesToHex(res.returnValue)).toBe(bytesToHex(expected));
    }
  });

  it("LOG0..LOG4 carry each topic padded to 32 bytes, in order, each its own array, and the data", async () => {
    for (let n = 0; n <= 4; n++) {
      const topics = WORDS.slice(n, n + n).reverse(); // pushed last-first: topic 0 is on top of the stack
      const code = [
        ...push32(0x1234n),
        ...push1(0),
        0x52, // memory[0..32) = 0x…1234
        ...topics.flatMap(push32),
        ...push1(2), // length
        ...push1(30), // offset: the last two bytes, 0x12 0x34
        0xa0 + n,
        0x00,
      ];
      const res = await runCode(code);
      expect(res.exceptionError).toBeUndefined();
      const [log] = res.logs ?? [];
      const [, logTopics, data] = log as [Uint8Array, Uint8Array[], Uint8Array];
      expect(logTopics.map(bytesToHex)).toEqual(
        [...topics].reverse().map((t) => bytesToHex(setLengthLeft(bigIntToBytes(t), 32))),
      );
      expect(new Set(logTopics).size).toBe(n);
      expect(bytesToHex(data)).toBe("0x1234");
    }
  });

  it("runInterpreter's result: gas, return data, logs cleared on failure, and the merged runState on demand", async () => {
    // REVERT(0, 0) after LOG0: reverted, its gas kept, no logs.
    const reverted = await runCode([...push1(0), ...push1(0), 0xa0, ...push1(0), ...push1(0), 0xfd]);
    expect(reverted.exceptionError?.error).toBe("revert");
    expect(reverted.logs).toEqual([]);
    expect(reverted.executionGasUsed).toBeLessThan(1_000_000n);
    // INVALID: all gas used; the run state (merged from the interpreter's state, result and env) names the opcode.
    const invalid = await runCode([...push1(1), 0xfe], 50_000n);
    expect(invalid.exceptionError?.error).toBe("invalid opcode");
    expect(invalid.executionGasUsed).toBe(50_000n);
    const runState = invalid.runState as unknown as Record<string, unknown>;
    expect(runState.opCode).toBe(0xfe);
    expect(runState.depth).toBe(0); // from the env
    expect(runState.logs).toEqual([]); // from the (cleared) result
    expect((invalid.runState as unknown) === runState).toBe(true); // merged once
    // A spread of the result still carries the run state (the EVM spreads results on some create paths).
    expect(({ ...invalid }.runState as unknown as { opCode: number }).opCode).toBe(0xfe);
    // Success: the returned word.
    const ok = await runCode([...push32(7n), ...push1(0), 0x52, ...push1(32), ...push1(0), 0xf3]);
    expect(ok.exceptionError).toBeUndefined();
    expect(bytesToHex(ok.returnValue)).toBe(bytesToHex(setLengthLeft(bigIntToBytes(7n), 32)));
  });

  it("a call through runCall: value transfer, nested CALL's return and the caller's view of it", async () => {
    const e = await evm();
    const callee = new Address(hexToBytes(`0x${"ca".repeat(20)}`));
    // callee: return CALLER padded (MSTORE of a 20-byte word).
    await e.stateManager.putCode(
      callee,
      Uint8Array.from([0x33, ...push1(0), 0x52, ...push1(32), ...push1(0), 0xf3]),
    );
    const caller = new Address(hexToBytes(`0x${"01".repeat(20)}`));
    const res = await e.runCall({ caller, to: callee, gasLimit: 100_000n });
    expect(res.execResult.exceptionError).toBeUndefined();
    expect(bytesToHex(res.execResult.returnValue)).toBe(bytesToHex(setLengthLeft(caller.bytes, 32)));
  });

  it("fastEipLookup answers as the stock lookup, also after the hardfork changes", () => {
    const fast = common();
    const stock = createCustomCommon({ chainId: 1 }, Mainnet, {
      hardfork: "cancun",
      eips: [...SCHEDULE_EIPS],
    });
    for (const hardfork of [Hardfork.Cancun, Hardfork.Berlin, Hardfork.Prague, Hardfork.Cancun]) {
      fast.setHardfork(hardfork);
      stock.setHardfork(hardfork);
      for (let eip = 0; eip < 8_200; eip++) {
        if (fast.isActivatedEIP(eip) !== stock.isActivatedEIP(eip)) {
          throw new Error(
            `EIP ${eip} at ${hardfork}: ${fast.isActivatedEIP(eip)} vs ${stock.isActivatedEIP(eip)}`,
          );
        }
      }
    }
    expect(fast.isActivatedEIP(1153)).toBe(true);
  });
});
