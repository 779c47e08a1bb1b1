import type { ParamsDict } from "@ethereumjs/common";
import { paramsEVM } from "@ethereumjs/evm";

/**
 * Consort's gas schedule: Ethereum's (Cancun) with the operations that are slow in this EVM (@ethereumjs/evm, in
 * JavaScript) priced up, so that no pattern of work runs much slower per gas than a plain loop. A block's gas limit
 * then bounds its CPU time whatever its transactions do (docs/limits.md: the table, the measurements, the reasons).
 *
 * Part of consensus: every node must execute with the same schedule, or their state roots differ. It is fixed in
 * code (like FISCO BCOS's VMSchedule in bcos-executor), not configurable; changing it is a protocol change.
 *
 * Kept unchanged on purpose: intrinsic gas (a transfer is 21,000), SLOAD/SSTORE, memory, LOG, and every opcode a
 * plain token transfer runs except KECCAK256 (see `keccak256Gas` below).
 */

/** One repriced parameter of @ethereumjs/evm's `paramsEVM`. */
export interface RepricedParam {
  /** The parameter's name in paramsEVM (set in every EIP entry that defines it). */
  name: string;
  /** Its value on Ethereum (Cancun). */
  ethereum: number;
  /** Its value on Consort. */
  consort: number;
}

export const REPRICED_PARAMS: readonly RepricedParam[] = [
  // A message (CALL, STATICCALL, DELEGATECALL, CALLCODE, and so every precompile call) costs ~40 µs of CPU here
  // whatever it does: back to Ethereum's pre-Berlin base of 700 (EIP-150 priced calls up for the same reason).
  { name: "callGas", ethereum: 0, consort: 700 },
  { name: "staticcallGas", ethereum: 0, consort: 700 },
  { name: "delegatecallGas", ethereum: 0, consort: 700 },
  { name: "callcodeGas", ethereum: 0, consort: 700 },
  // KECCAK256 in JavaScript: ~5 µs a 136-byte block. The one change a token transfer sees (its mapping slots).
  { name: "keccak256Gas", ethereum: 30, consort: 150 },
  { name: "keccak256WordGas", ethereum: 6, consort: 24 },
  // alt_bn128 (noble-curves): back to the Byzantium prices of EIP-196/197 (EIP-1108 lowered them for native code).
  { name: "bn254MulGas", ethereum: 6000, consort: 40000 },
  { name: "bn254PairingGas", ethereum: 45000, consort: 150000 },
  { name: "bn254PairingWordGas", ethereum: 34000, consort: 100000 },
  // blake2f: ~0.37 µs a round in JavaScript.
  { name: "blake2RoundGas", ethereum: 1, consort: 6 },
];

/**
 * EIPs activated on top of the hardfork. EIP-7883 (Ethereum's own modexp repricing, Osaka): minimum 500 instead of
 * 200 and 3× the per-exponent-bit cost of small operands, which is what makes a modexp with a tiny modulus and a
 * long exponent slow here.
 */
export const SCHEDULE_EIPS: readonly number[] = [7883];

/** paramsEVM with the repriced values, for `createEVM({ params })` (and the precompile worker's Common). */
export function consortEvmParams(): ParamsDict {
  const params = JSON.parse(JSON.stringify(paramsEVM)) as ParamsDict;
  for (const p of REPRICED_PARAMS) {
    let found = false;
    for (const entry of Object.values(params)) {
      if (p.name in entry) {
        entry[p.name] = p.consort;
        found = true;
      }
    }
    // A renamed parameter in a new @ethereumjs/evm would silently drop the repricing: refuse to run instead.
    if (!found) throw new Error(`gas schedule: no EVM parameter named ${p.name}`);
  }
  return params;
}
