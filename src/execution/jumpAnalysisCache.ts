import type { EVM } from "@ethereumjs/evm";
import { importEvmFile } from "./evmInternals.js";

/**
 * @ethereumjs/evm analyses a contract's code before running it, on every call: each byte's opcode entry, the value of
 * every PUSH as a bigint, the JUMPDEST map (`Interpreter._getValidJumpDestinations`). For an ERC20 transfer that is
 * ~6 % of a node's main thread and much of its garbage (an array and a bigint per PUSH, per call), and a block calls
 * the same few contracts again and again. The result depends only on the code and on the EVM (its opcode table and
 * its active EIPs), and the interpreter only reads it, so it is remembered per (EVM, code object): an EVM serves
 * one block or call at a time and forgets its analyses between them (evmEnv.ts), and the state gives the same code
 * object for a code hash throughout one.
 *
 * Bounded per EVM by the bytes of code it remembers (CODE_BYTES_CACHED_MAX): an analysis takes up to ~40× its code
 * (a pointer per byte, a bigint per PUSH), and a block that calls thousands of distinct large contracts (a cold CALL
 * costs 2,600 gas) would otherwise keep gigabytes until it ends. Past the bound, code is analysed per call as before.
 *
 * The Interpreter is not exported by the package (its `exports` map), so its prototype is reached through the file
 * next to the package's entry point (evmInternals.ts) and patched once. @ethereumjs/evm is pinned exactly in
 * package.json while this patch exists; when the method is missing or changes arity, nothing is patched and the EVM
 * analyses as before (`jumpAnalysisCacheActive` says which).
 */

interface Analysis {
  jumps: Uint8Array;
  pushes: Record<number, bigint>;
  opcodesCached: unknown[];
}

interface InterpreterPrototype {
  _getValidJumpDestinations(this: { _evm: EVM }, code: Uint8Array): Analysis;
}

/** Bytes of code whose analyses one EVM keeps: ~20 contracts of the 24 KiB maximum, hundreds of typical ones. */
export const CODE_BYTES_CACHED_MAX = 512 * 1024;

interface EvmCache {
  analyses: WeakMap<Uint8Array, Analysis>;
  codeBytes: number;
}

const byEvm = new WeakMap<EVM, EvmCache>();
const counters = { analysed: 0, reused: 0, uncached: 0 };

/**
 * Since the process started: analyses run and kept (one per EVM and code object), answered from the cache, and run
 * without keeping them (the EVM's bound was reached).
 */
export function jumpAnalysisStats(): { analysed: number; reused: number; uncached: number } {
  return { ...counters };
}

async function interpreterPrototype(): Promise<InterpreterPrototype | null> {
  const mod = await importEvmFile<{ Interpreter?: { prototype: InterpreterPrototype } }>("interpreter.js");
  return mod?.Interpreter?.prototype ?? null;
}

function install(proto: InterpreterPrototype | null): boolean {
  const stock = proto?._getValidJumpDestinations;
  if (proto === null || typeof stock !== "function" || stock.length !== 1) return false;
  proto._getValidJumpDestinations = function cachedJumpDestinations(code) {
    let cache = byEvm.get(this._evm);
    if (cache === undefined) {
      cache = { analyses: new WeakMap(), codeBytes: 0 };
      byEvm.set(this._evm, cache);
    }
    const known = cache.analyses.get(code);
    if (known !== undefined) {
      counters.reused++;
      return known;
    }
    const analysis = stock.call(this, code);
    if (cache.codeBytes + code.length > CODE_BYTES_CACHED_MAX) {
      counters.uncached++;
      return analysis;
    }
    counters.analysed++;
    cache.codeBytes += code.length;
    cache.analyses.set(code, analysis);
    return analysis;
  };
  return true;
}

/**
 * Forgets what `evm` remembered: a pooled EVM (evmEnv.ts) starts each block or call as a fresh one did, so its
 * CODE_BYTES_CACHED_MAX bound still counts one block's code.
 */
export function forgetJumpAnalyses(evm: EVM): void {
  byEvm.delete(evm);
}

/** True when the interpreter's code analysis is remembered per (EVM, code); false: the stock per-call analysis. */
export const jumpAnalysisCacheActive: boolean = install(await interpreterPrototype());
