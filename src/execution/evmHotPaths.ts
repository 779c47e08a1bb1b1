import type { Common } from "@ethereumjs/common";
import { Account, BIGINT_0, createZeroAddress } from "@ethereumjs/util";
import { importEvmFile, sourceFingerprint } from "./evmInternals.js";

/**
 * Three places where @ethereumjs/evm spends a node's time on bookkeeping around an ERC20 transfer rather than on
 * running it (a lone validator's profile of ERC20 transfers, warm: GC 18 %, these three ~15 % of the rest):
 *
 * - `EVM.runInterpreter` returns, with every call, a `runState` merged from the interpreter's run state, result
 *   and environment (three object spreads, ~50 properties), which only a tracer or a failed call's opcode reads.
 *   The copy below is the stock method with that merge made on first read (a getter), same values.
 * - The MSTORE and LOG handlers pad each word with `setLengthLeft(bigIntToBytes(word), 32)`, whose padding spreads
 *   both byte arrays into a JS array; Solidity stores small words (pointers, addresses, amounts) all the time, and
 *   an ERC20 Transfer's topics are addresses. The handlers below write the word's 32 big-endian bytes straight
 *   into a scratch buffer (which `memory.write` copies; a topic gets a copy of its own).
 * - `Common.isActivatedEIP` scans the active-EIP array on every call (per opcode, in gas functions): a Set per
 *   array (fastEipLookup, on the Common each EVM is built with).
 *
 * The first two copy library code, so they are installed only when the stock function's source text is exactly
 * the one they were written from (sourceFingerprint; @ethereumjs/evm is pinned exactly in package.json), else that
 * path stays stock. `evmHotPathsActive` says which are in place; test/execution/evmHotPaths.test.ts checks them.
 */

/** Fingerprints of the @ethereumjs/evm 10.1.3 functions the copies below were made from. */
const STOCK_RUN_INTERPRETER = "1f4905264075376d";
const STOCK_WORD_HANDLERS = { mstore: "29edc93190b4e005", log: "edb80da68f1ea91c" };

const MSTORE = 0x52;
/** LOG0..LOG4 share one handler. */
const LOG_OPCODES = [0xa0, 0xa1, 0xa2, 0xa3, 0xa4];
const UINT64_LIMIT = 1n << 64n;

// biome-ignore lint/suspicious/noExplicitAny: the EVM's internal fields and message objects are untyped here
type Loose = any;

export interface EvmModule {
  EVM?: { prototype: { runInterpreter?: unknown } };
  defaultBlock?: () => unknown;
}
export interface InterpreterModule {
  Interpreter?: new (...args: Loose[]) => Loose;
}
export interface ErrorsModule {
  EVMError?: { errorMessages: { REVERT: string; INVALID_EOF_FORMAT: string } };
}
export interface FunctionsModule {
  handlers?: Map<number, (runState: Loose, common: Common) => unknown>;
}

/** A 32-byte big-endian word in `out` (for 0 ≤ word < 2^256, what setLengthLeft(bigIntToBytes(word), 32) gives). */
export function writeWord(word: bigint, out: DataView): void {
  if (word < UINT64_LIMIT) {
    out.setBigUint64(0, 0n);
    out.setBigUint64(8, 0n);
    out.setBigUint64(16, 0n);
    out.setBigUint64(24, word);
    return;
  }
  // setBigUint64 keeps the low 64 bits of what it is given.
  out.setBigUint64(0, word >> 192n);
  out.setBigUint64(8, word >> 128n);
  out.setBigUint64(16, word >> 64n);
  out.setBigUint64(24, word);
}

/**
 * Replaces MSTORE's and LOG's handlers in the EVM's handler table; false (nothing replaced) unless all are stock.
 * Exported for tests.
 */
export function installWordHandlers(
  fns: FunctionsModule | null,
  stock: { mstore: string; log: string } = STOCK_WORD_HANDLERS,
): boolean {
  const handlers = fns?.handlers;
  if (handlers === undefined || sourceFingerprint(handlers.get(MSTORE)) !== stock.mstore) return false;
  if (LOG_OPCODES.some((op) => sourceFingerprint(handlers.get(op)) !== stock.log)) return false;
  const word = new Uint8Array(32);
  const view = new DataView(word.buffer);
  handlers.set(MSTORE, function mstore(runState) {
    const [offset, value] = runState.stack.popN(2);
    writeWord(value, view);
    runState.memory.write(Number(offset), 32, word); // copies `word` into memory
  });
  const log = function log(runState: Loose) {
    const [memOffset, memLength] = runState.stack.popN(2);
    const topicsCount = runState.opCode - 0xa0;
    const topics: bigint[] = runState.stack.popN(topicsCount);
    const topicsBuf = topics.map((topic) => {
      writeWord(topic, view);
      return word.slice(); // the log keeps it
    });
    let mem = new Uint8Array(0);
    if (memLength !== BIGINT_0) mem = runState.memory.read(Number(memOffset), Number(memLength));
    runState.interpreter.log(mem, topicsCount, topicsBuf);
  };
  for (const op of LOG_OPCODES) handlers.set(op, log);
  return true;
}

/** Replaces EVM.prototype.runInterpreter; false (nothing replaced) unless stock. Exported for tests. */
export function installRunInterpreter(
  evmModule: EvmModule | null,
  interpreterModule: InterpreterModule | null,
  errorsModule: ErrorsModule | null,
  stock: string = STOCK_RUN_INTERPRETER,
): boolean {
  const proto = evmModule?.EVM?.prototype;
  const defaultBlock = evmModule?.defaultBlock;
  const Interpreter = interpreterModule?.Interpreter;
  const errors = errorsModule?.EVMError?.errorMessages;
  if (
    proto === undefined ||
    defaultBlock === undefined ||
    Interpreter === undefined ||
    errors === undefined
  ) {
    return false;
  }
  if (sourceFingerprint(proto.runInterpreter) !== stock) return false;
  // The stock method, line for line, but for `runState` (see above).
  proto.runInterpreter = async function runInterpreter(this: Loose, message: Loose, opts: Loose = {}) {
    let contract = await this.stateManager.getAccount(message.to ?? createZeroAddress());
    if (!contract) contract = new Account();
    const env = {
      address: message.to ?? createZeroAddress(),
      caller: message.caller ?? createZeroAddress(),
      callData: message.data ?? Uint8Array.from([0]),
      callValue: message.value ?? BIGINT_0,
      code: message.code,
      isStatic: message.isStatic ?? false,
      isCreate: message.isCreate ?? false,
      depth: message.depth ?? 0,
      gasPrice: this._tx.gasPrice,
      origin: this._tx.origin ?? message.caller ?? createZeroAddress(),
      block: this._block ?? defaultBlock(),
      contract,
      codeAddress: message.codeAddress,
      gasRefund: message.gasRefund,
      chargeCodeAccesses: message.chargeCodeAccesses,
      blobVersionedHashes: message.blobVersionedHashes ?? [],
      accessWitness: message.accessWitness,
      createdAddresses: message.createdAddresses,
      initialLogs: opts.initialLogs,
    };
    const interpreter = new Interpreter(
      this,
      this.stateManager,
      this.blockchain,
      env,
      message.gasLimit,
      this.journal,
      this.performanceLogger,
      this._optsCached.profiler,
    );
    if (message.selfdestruct) interpreter._result.selfdestruct = message.selfdestruct;
    if (message.createdAddresses) interpreter._result.createdAddresses = message.createdAddresses;
    const interpreterRes = await interpreter.run(message.code, opts);
    let result = interpreter._result;
    let gasUsed = message.gasLimit - interpreterRes.runState.gasLeft;
    if (interpreterRes.exceptionError) {
      const error = interpreterRes.exceptionError.error;
      if (error !== errors.REVERT && error !== errors.INVALID_EOF_FORMAT) gasUsed = message.gasLimit;
      // Clear the result on error
      result = { ...result, logs: [], selfdestruct: new Map(), createdAddresses: new Set() };
    }
    message.accessWitness?.commit();
    // The objects merged are done with (the interpreter has returned): merging on first read gives what the stock
    // method merged. An own, enumerable accessor, so a spread of the result still carries `runState`.
    const finalResult = result;
    let merged: unknown;
    const out = {
      ...result,
      get runState(): unknown {
        merged ??= { ...interpreterRes.runState, ...finalResult, ...interpreter._env };
        return merged;
      },
      set runState(value: unknown) {
        merged = value;
      },
      exceptionError: interpreterRes.exceptionError,
      gas: interpreterRes.runState?.gasLeft,
      executionGasUsed: gasUsed,
      gasRefund: interpreterRes.runState.gasRefund,
      stateGasSpilled: interpreterRes.runState.stateGasSpilled,
      returnValue: result.returnValue ?? new Uint8Array(0),
    };
    return out;
  };
  return true;
}

/**
 * `common.isActivatedEIP` answered from a Set of its active-EIP array, made again whenever the Common replaces that
 * array (a hardfork or EIP change; a copy of the Common shares this function and is checked the same way). Leaves
 * the Common as it is when its internals are not what this was written against.
 */
export function fastEipLookup(common: Common): void {
  type Internal = { _activatedEIPsCache?: unknown };
  if (!Array.isArray((common as unknown as Internal)._activatedEIPsCache)) return;
  let array: unknown = null;
  let set = new Set<number>();
  common.isActivatedEIP = function isActivatedEIP(this: Common, eip: number): boolean {
    const active = (this as unknown as Internal)._activatedEIPsCache as number[];
    if (active !== array) {
      array = active;
      set = new Set(active);
    }
    return set.has(eip);
  };
}

/** Which hot paths are patched on this @ethereumjs/evm (false: that path is the stock one). */
export const evmHotPathsActive: { runInterpreter: boolean; wordHandlers: boolean } = {
  runInterpreter: installRunInterpreter(
    await importEvmFile<EvmModule>("evm.js"),
    await importEvmFile<InterpreterModule>("interpreter.js"),
    await importEvmFile<ErrorsModule>("errors.js"),
  ),
  wordHandlers: installWordHandlers(await importEvmFile<FunctionsModule>("opcodes/functions.js")),
};
