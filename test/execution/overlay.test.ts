import { describe, expect, it } from "vitest";
import { computeStateRoot, encodeStateChanges, ZERO_HASH } from "../../src/execution/index.js";
import { StateOverlay } from "../../src/execution/overlay.js";
import { bytesToHex } from "../../src/util/hex.js";
import { MemoryState } from "./helpers.js";

const v = (n: number) => Uint8Array.of(n);

async function parent(): Promise<MemoryState> {
  const s = new MemoryState();
  await s.apply([
    [Uint8Array.of(0x01, 0xaa), v(1)],
    [Uint8Array.of(0x01, 0xbb), v(2)],
  ]);
  return s;
}

describe("StateOverlay", () => {
  it("reads through, journals writes, and reverts nested checkpoints", async () => {
    const o = new StateOverlay(await parent());
    expect(await o.get("01aa")).toEqual(v(1));
    expect(await o.get("01cc")).toBeNull();
    o.checkpoint();
    o.put("01aa", v(10));
    o.checkpoint();
    o.put("01aa", v(11));
    o.put("01cc", v(3));
    o.revert();
    expect(await o.get("01aa")).toEqual(v(10));
    expect(await o.get("01cc")).toBeNull();
    o.checkpoint();
    o.put("01bb", null);
    o.commit();
    o.commit();
    expect(o.depth).toBe(0);
    expect(await o.get("01bb")).toBeNull();
    const changes = await o.changes();
    expect(changes.map(([k, val]) => [bytesToHex(k), val === null ? null : bytesToHex(val)])).toEqual([
      ["0x01aa", "0x0a"],
      ["0x01bb", null],
    ]);
  });

  it("leaves out writes equal to the parent value, whether or not the key was read first", async () => {
    const o = new StateOverlay(await parent());
    o.checkpoint();
    o.put("01aa", v(1)); // same as parent, never read before
    o.put("01dd", null); // delete of an absent key
    o.put("01bb", v(5));
    o.commit();
    const changes = await o.changes();
    expect(changes.map(([k]) => bytesToHex(k))).toEqual(["0x01bb"]);
  });

  it("the state root is a hash chain over the canonical encoding; puts and deletes differ", () => {
    const put = computeStateRoot(ZERO_HASH, [[Uint8Array.of(1), new Uint8Array(0)]]);
    const del = computeStateRoot(ZERO_HASH, [[Uint8Array.of(1), null]]);
    expect(bytesToHex(put)).not.toBe(bytesToHex(del));
    expect(bytesToHex(computeStateRoot(put, []))).not.toBe(bytesToHex(computeStateRoot(del, [])));
    expect(encodeStateChanges([])).toEqual(Uint8Array.of(0xc0));
  });
});
