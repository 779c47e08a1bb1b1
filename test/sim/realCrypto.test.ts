/** The production path: real Ed25519 (node:crypto) signatures (every message goes through the protobuf codec anyway). */
import { describe, expect, it } from "vitest";
import { formatFailure, runSeed } from "./campaign.js";

describe("sim with Ed25519 and the wire codec", () => {
  it.each([
    [4, 1],
    [4, 2],
    [4, 3],
    [7, 4],
    [7, 5],
  ])(
    "n=%i seed %i",
    async (n, seed) => {
      const r = await runSeed(seed, n, { crypto: "ed25519" });
      expect(r.ok, formatFailure(r)).toBe(true);
      expect(Math.min(...r.heights.filter((_h, i) => i < n))).toBeGreaterThan(0);
    },
    120_000,
  );
});
