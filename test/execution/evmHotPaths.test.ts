import { createCustomCommon, Hardfork, Mainnet } from "@ethereumjs/common";
import { createEVM, type EVM } from "@ethereumjs/evm";
import { Account, Address, bigIntToBytes, createZeroAddress, setLengthLeft } from "@ethereumjs/util";
import { describe, expect, it } from "vitest";
import {
  evmHotPathsActive,
  type FunctionsModule,
  fastEipLookup,
  installRunInterpreter,
  installWordHandlers,
  writeWord,
} from "../../src/execution/evmHotPaths.js";
import { importEvmFile, sourceFingerprint } from "../../src/execution/evmInternals.js";
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

  it("replace the stock functions: the EVM's handler table and prototype hold the copies", async () => {
    const fns = await importEvmFile<FunctionsModule>("opcodes/functions.js");
    expect(fns?.handlers?.get(0x52)?.name).toBe("mstore");
    for (const op of [0xa0, 0xa1, 0xa2, 0xa3, 0xa4]) expect(fns?.handlers?.get(op)?.name).toBe("log");
    const e = await evm();
    expect(String((e as unknown as { runInterpreter: unknown }).runInterpreter)).toContain("merged ??=");
  });

  it("install only over the functions they were copied from (by source fingerprint), all or nothing", () => {
    const stockMstore = () => 1;
    const stockLog = () => 2;
    const other = () => 3;
    const stock = { mstore: sourceFingerprint(stockMstore)!, log: sourceFingerprint(stockLog)! };
    const table = (mstore: () => number, logs: (() => number)[]) =>
      new Map<number, () => number>([
        [0x52, mstore],
        ...logs.map((f, i): [number, () => number] => [0xa0 + i, f]),
      ]);
    const logs = [stockLog, stockLog, stockLog, stockLog, stockLog];
    expect(installWordHandlers(null, stock)).toBe(false);
    expect(installWordHandlers({}, stock)).toBe(false);
    const changedMstore = table(other, logs);
    expect(installWordHandlers({ handlers: changedMstore }, stock)).toBe(false);
    expect(changedMstore.get(0x52)).toBe(other);
    expect(changedMstore.get(0xa0)).toBe(stockLog);
    const changedLog = table(stockMstore, [stockLog, stockLog, stockLog, stockLog, other]);
    expect(installWordHandlers({ handlers: changedLog }, stock)).toBe(false);
    expect(changedLog.get(0x52)).toBe(stockMstore);
    expect(changedLog.get(0xa0)).toBe(stockLog);
    const stockTable = table(stockMstore, logs);
    expect(installWordHandlers({ handlers: stockTable }, stock)).toBe(true);
    expect(stockTable.get(0x52)?.name).toBe("mstore");
    for (let op = 0xa0; op <= 0xa4; op++) expect(stockTable.get(op)?.name).toBe("log");

    const stockRun = async () => {};
    const runStock = sourceFingerprint(stockRun)!;
    const evmModule = (runInterpreter: unknown) => ({
      EVM: { prototype: { runInterpreter } },
      defaultBlock: () => ({}),
    });
    const interpreter = { Interpreter: class {} };
    const errors = {
      EVMError: { errorMessages: { REVERT: "revert", INVALID_EOF_FORMAT: "invalid EOF format" } },
    };
    const changed = evmModule(other);
    expect(installRunInterpreter(changed, interpreter, errors, runStock)).toBe(false);
    expect(changed.EVM.prototype.runInterpreter).toBe(other);
    expect(installRunInterpreter(null, interpreter, errors, runStock)).toBe(false);
    expect(installRunInterpreter({ defaultBlock: () => ({}) }, interpreter, errors, runStock)).toBe(false);
    expect(installRunInterpreter(evmModule(stockRun), null, errors, runStock)).toBe(false);
    expect(installRunInterpreter(evmModule(stockRun), interpreter, null, runStock)).toBe(false);
    expect(
      installRunInterpreter(
        { EVM: { prototype: { runInterpreter: stockRun } } },
        interpreter,
        errors,
        runStock,
      ),
    ).toBe(false);
    expect(installRunInterpreter(evmModule(stockRun), {}, errors, runStock)).toBe(false);
    expect(installRunInterpreter(evmModule(stockRun), interpreter, {}, runStock)).toBe(false);
    const installed = evmModule(stockRun);
    expect(installRunInterpreter(installed, interpreter, errors, runStock)).toBe(true);
    expect(installed.EVM.prototype.runInterpreter).not.toBe(stockRun);

    const notACommon = { isActivatedEIP: other };
    fastEipLookup(notACommon as never);
    expect(notACommon.isActivatedEIP).toBe(other);
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

  it("runInterpreter's result: gas, return data, logs cleared on failure, the merged runState on demand", async () => {
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

  it("runInterpreter fills a bare message's missing fields as the stock method does", async () => {
    const e = await evm();
    const internal = e as unknown as {
      _tx: unknown;
      runInterpreter(
        message: unknown,
      ): Promise<Record<string, unknown> & { runState: Record<string, unknown> }>;
    };
    internal._tx = { gasPrice: 3n, origin: undefined };
    const bare = await internal.runInterpreter({ code: Uint8Array.from([0x00]), gasLimit: 100n });
    const rs = bare.runState;
    const zero = createZeroAddress().toString();
    expect(String(rs.address)).toBe(zero);
    expect(String(rs.caller)).toBe(zero);
    expect(String(rs.origin)).toBe(zero);
    expect(bytesToHex(rs.callData as Uint8Array)).toBe("0x00");
    expect([rs.callValue, rs.isStatic, rs.isCreate, rs.depth, rs.gasPrice]).toEqual([
      0n,
      false,
      false,
      0,
      3n,
    ]);
    expect((rs.block as { header: { number: bigint } }).header.number).toBe(0n);
    expect(rs.blobVersionedHashes).toEqual([]);
    expect((rs.contract as Account).balance).toBe(0n);
    expect(bare.selfdestruct).toBeInstanceOf(Map);
    expect(bare.createdAddresses).toBeUndefined();

    // An existing account, the caller as origin, a static create with data, value and depth, the selfdestruct and
    // created-address sets carried through.
    const at = new Address(hexToBytes(`0x${"ab".repeat(20)}`));
    const caller = new Address(hexToBytes(`0x${"cd".repeat(20)}`));
    await e.stateManager.putAccount(at, new Account(0n, 5n));
    const selfdestruct = new Set<string>(["0x01"]);
    const createdAddresses = new Set<string>(["0x02"]);
    const full = await internal.runInterpreter({
      code: Uint8Array.from([0x00]),
      gasLimit: 100n,
      to: at,
      caller,
      data: Uint8Array.from([1, 2]),
      value: 7n,
      isStatic: true,
      isCreate: true,
      depth: 2,
      selfdestruct,
      createdAddresses,
      blobVersionedHashes: [new Uint8Array(32)],
    });
    expect(String(full.runState.address)).toBe(at.toString());
    expect(String(full.runState.origin)).toBe(caller.toString());
    expect([full.runState.isStatic, full.runState.isCreate, full.runState.depth]).toEqual([true, true, 2]);
    expect(full.runState.callValue).toBe(7n);
    expect((full.runState.blobVersionedHashes as unknown[]).length).toBe(1);
    expect((full.runState.contract as Account).balance).toBe(5n);
    expect(full.selfdestruct).toBe(selfdestruct);
    expect(full.createdAddresses).toBe(createdAddresses);
    expect(full.executionGasUsed).toBe(0n);
  });

  it("fastEipLookup answers as the stock lookup, also after the hardfork changes", () => {
    const fast = common();
    expect(Object.hasOwn(fast, "isActivatedEIP")).toBe(true); // replaced on this Common
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
