import { decodeTransaction } from "../../src/codec/index.js";
import { hexToBytes } from "../../src/util/hex.js";
import { benchSender, randomAddress, signLegacyTx } from "./ethTx.js";

/** Signed transfers one calibration round decodes. */
export const CALIBRATION_TXS_DEFAULT = 500;
/** Rounds; the fastest counts (the others carry the JIT's warm-up and the neighbours' bursts). */
const CALIBRATION_ROUNDS = 5;
const CALIBRATION_CHAIN_ID = 20200n;

export interface Calibration {
  /** The fastest round's µs per transaction (lower is a faster machine). */
  usPerTx: number;
  txs: number;
  rounds: number;
}

/**
 * How fast this machine runs Consort's own per-transaction code right now, on this thread: signed legacy
 * transfers decoded and their senders recovered (`decodeTransaction`: RLP, keccak in WebAssembly, the native
 * secp256k1 binding), the work every node does for every transaction it admits.
 *
 * Why: the shared VM this project is measured on gave the same build 1.9 ms of CPU per consort4 transfer in one hour
 * and 3.2 ms in another, with no steal time in /proc/stat to show for it, while anvil's 1-s blocks hid it from the
 * ratio's other side. A figure taken beside each run says which kind of hour the run had.
 */
export function calibrate(txs = CALIBRATION_TXS_DEFAULT): Calibration {
  if (!Number.isSafeInteger(txs) || txs < 1) throw new RangeError(`calibration txs must be ≥ 1, got ${txs}`);
  const sender = benchSender("calibration", 0);
  const raws = Array.from({ length: txs }, (_, i) => {
    const fields = {
      chainId: CALIBRATION_CHAIN_ID,
      nonce: BigInt(i),
      gasPrice: 0n,
      gasLimit: 21_000n,
      to: randomAddress(),
      value: 1n,
      data: "0x",
    };
    return signLegacyTx(fields, sender.privateKey).raw;
  });
  const bytes = raws.map((raw) => hexToBytes(raw));
  let bestMs = Number.POSITIVE_INFINITY;
  for (let round = 0; round < CALIBRATION_ROUNDS; round++) {
    const t0 = performance.now();
    for (const raw of bytes) {
      const tx = decodeTransaction(raw, { chainId: CALIBRATION_CHAIN_ID });
      if (tx.sender.length !== 20) throw new Error("calibration: no sender recovered");
    }
    bestMs = Math.min(bestMs, performance.now() - t0);
  }
  return { usPerTx: Math.round((bestMs * 1000 * 10) / txs) / 10, txs, rounds: CALIBRATION_ROUNDS };
}
