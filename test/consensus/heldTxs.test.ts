import { describe, expect, it } from "vitest";
import { HeldTxs } from "../../src/consensus/heldTxs.js";
import type { Hash } from "../../src/types/index.js";
import { bytesToHex } from "../../src/util/hex.js";

/** The pool as HeldTxs uses it, recording each call as hex strings. */
function recordingPool() {
  const calls: { held: string[][]; released: string[][] } = { held: [], released: [] };
  return {
    calls,
    pool: {
      hold: (hashes: Hash[]) => void calls.held.push(hashes.map(bytesToHex)),
      releaseSealed: (hashes?: Hash[]) => void calls.released.push((hashes ?? []).map(bytesToHex)),
    },
  };
}

const hash = (n: number): Hash => new Uint8Array(32).fill(n);
const txs = (...ns: number[]) => ns.map((n) => ({ hash: hash(n) }));
const hex = (n: number) => bytesToHex(hash(n));

describe("HeldTxs", () => {
  it("holds nothing for a block without txs", () => {
    const { pool, calls } = recordingPool();
    new HeldTxs(pool).hold(1, hash(0xa1), []);
    expect(calls.held).toEqual([]);
  });

  it("a commit at h gives back the holds of the other blocks of h and below, and keeps those above h", () => {
    const { pool, calls } = recordingPool();
    const held = new HeldTxs(pool);
    held.hold(1, hash(0xa1), txs(1)); // block A at height 1 (it will commit)
    held.hold(1, hash(0xb1), txs(2)); // block B at height 1 (replaced)
    held.hold(2, hash(0xa2), txs(3)); // pipelined: executed on A, height 2
    held.releaseUpTo(1, hash(0xa1));
    expect(calls.released).toEqual([[hex(2)]]);
    held.releaseUpTo(2, hash(0xc2)); // another block committed height 2: A2's hold goes back now
    expect(calls.released).toEqual([[hex(2)], [hex(3)]]);
    held.releaseUpTo(2, hash(0xc2)); // nothing held any more
    expect(calls.released).toHaveLength(2);
  });

  it("after a view change (the pool released everything) nothing is given back twice", () => {
    const { pool, calls } = recordingPool();
    const held = new HeldTxs(pool);
    held.hold(1, hash(0xb1), txs(2));
    held.clear();
    held.releaseUpTo(1, hash(0xa1));
    expect(calls.released).toEqual([]);
  });
});
