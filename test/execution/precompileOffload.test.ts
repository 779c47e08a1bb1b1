import { createCustomCommon, Mainnet } from "@ethereumjs/common";
import { getActivePrecompiles, NobleBN254, type PrecompileInput } from "@ethereumjs/evm";
import { describe, expect, it } from "vitest";
import { consortEvmParams, SCHEDULE_EIPS } from "../../src/execution/gasSchedule.js";
import { isHeavyCall, offloadedPrecompiles } from "../../src/execution/precompileOffload.js";
import { hexToBytes } from "../../src/util/hex.js";

/**
 * Long single precompile calls (modexp, bn256 pairing, blake2f) run in a worker thread so the event loop stays free
 * (issue 11): the results must be exactly the stock ones, wherever the call ran.
 */

// The Common as an EVM of the node has it: Consort's gas schedule (the worker must charge the same).
const common = createCustomCommon({ chainId: 1 }, Mainnet, {
  hardfork: "cancun",
  params: consortEvmParams(),
  eips: [...SCHEDULE_EIPS],
});
const stock = getActivePrecompiles(common);
const offloaded = new Map(
  offloadedPrecompiles("cancun", common).map((p) => [p.address.toString().slice(2), p.function]),
);
const evm = { _bn254: new NobleBN254() } as unknown as PrecompileInput["_EVM"];

const word = (v: bigint) => v.toString(16).padStart(64, "0");
const G1 = word(1n) + word(2n);
const G2 =
  "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2" +
  "1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed" +
  "090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b" +
  "12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa";
const blake2f = (rounds: number) =>
  hexToBytes(`0x${rounds.toString(16).padStart(8, "0")}${"11".repeat(64 + 128 + 16)}01`);
const at = (n: number) => n.toString(16).padStart(40, "0");

const cases: [string, string, Uint8Array, bigint][] = [
  ["blake2f, 50000 rounds", at(9), blake2f(50_000), 1_000_000n],
  ["blake2f, out of gas", at(9), blake2f(50_000), 40_000n],
  ["pairing, 2 pairs", at(8), hexToBytes(`0x${G1}${G2}${G1}${G2}`), 1_000_000n],
  ["pairing, a point off the curve", at(8), hexToBytes(`0x${word(1n)}${word(3n)}${G2}`), 1_000_000n],
  [
    "modexp, 64-byte operands",
    at(5),
    hexToBytes(
      `0x${word(64n)}${word(64n)}${word(64n)}${"ab".repeat(64)}${"ff".repeat(64)}${"c5".repeat(64)}`,
    ),
    1_000_000n,
  ],
];

describe("precompile offload", () => {
  it("sends only long calls to the worker", () => {
    expect(isHeavyCall(at(9), blake2f(12))).toBe(false);
    expect(isHeavyCall(at(9), blake2f(50_000))).toBe(true);
    expect(isHeavyCall(at(8), hexToBytes(`0x${G1}${G2}`))).toBe(true);
    expect(isHeavyCall(at(5), hexToBytes(`0x${word(32n)}${word(32n)}${word(32n)}`))).toBe(false);
    expect(isHeavyCall(at(5), hexToBytes(`0x${word(1n)}${word(33n)}${word(1n)}`))).toBe(true);
    expect(isHeavyCall(at(4), new Uint8Array(100_000))).toBe(false);
  });

  for (const [name, address, data, gasLimit] of cases) {
    it(`gives the stock result: ${name}`, async () => {
      const input = { data, gasLimit, common, _EVM: evm };
      const want = await stock.get(address)!(input);
      const got = await offloaded.get(address)!(input);
      expect(got.returnValue).toEqual(want.returnValue);
      expect(got.executionGasUsed).toBe(want.executionGasUsed);
      expect(got.exceptionError?.error).toBe(want.exceptionError?.error);
    });
  }

  it("keeps the event loop running during a long call", async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    try {
      const input = { data: blake2f(200_000), gasLimit: 2_000_000n, common, _EVM: evm };
      await offloaded.get(at(9))!(input);
      // Run inline, the call would return before any timer could fire.
      expect(ticks).toBeGreaterThan(0);
    } finally {
      clearInterval(timer);
    }
  });
});
