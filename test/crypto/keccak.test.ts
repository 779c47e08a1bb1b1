import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { keccak_256 } from "@noble/hashes/sha3.js";
import { describe, expect, it } from "vitest";
import { KECCAK_BACKEND, KECCAK256_EMPTY, keccak256 } from "../../src/crypto/index.js";
import { bytesToHex } from "../../src/util/hex.js";

const utf8 = (s: string) => new TextEncoder().encode(s);
const ABC = "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45";

describe("keccak256 (WebAssembly)", () => {
  it("runs on WebAssembly here", () => {
    expect(KECCAK_BACKEND).toBe("wasm");
  });

  it("falls back to @noble/hashes where WebAssembly is unavailable (node --jitless), with the same digests", async () => {
    const fixture = fileURLToPath(new URL("../fixtures/keccakBackend.ts", import.meta.url));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--jitless", "--import", "tsx", fixture],
      {
        timeout: 60_000,
      },
    );
    expect(JSON.parse(stdout.trim().split("\n").pop()!)).toEqual({ backend: "noble", abc: ABC });
  });

  it("gives Ethereum's keccak-256 for known inputs (not NIST SHA3-256)", () => {
    expect(bytesToHex(KECCAK256_EMPTY)).toBe(
      "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    );
    expect(bytesToHex(keccak256(utf8("abc")))).toBe(ABC);
    // The ERC20 Transfer event topic, as every Solidity toolchain computes it.
    expect(bytesToHex(keccak256(utf8("Transfer(address,address,uint256)")))).toBe(
      "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
    );
  });

  it("agrees with @noble/hashes for every length around the 136-byte rate and beyond the WASM buffer", () => {
    const lengths = [1, 31, 32, 33, 135, 136, 137, 271, 272, 273, 1000, 16_383, 16_384, 16_385, 70_000];
    for (const length of lengths) {
      const data = new Uint8Array(length).map((_, i) => (i * 31 + length) & 0xff);
      expect(bytesToHex(keccak256(data)), `length ${length}`).toBe(bytesToHex(keccak_256(data)));
    }
  });

  it("hashes a view into a larger buffer by its own bytes only", () => {
    const backing = new Uint8Array(64).map((_, i) => i);
    const view = backing.subarray(10, 42);
    expect(bytesToHex(keccak256(view))).toBe(bytesToHex(keccak_256(backing.slice(10, 42))));
  });

  it("returns a fresh array each time: an earlier digest is not overwritten by the next call", () => {
    const first = keccak256(utf8("first"));
    const copy = first.slice();
    const second = keccak256(utf8("second"));
    expect(first).toEqual(copy);
    expect(first).not.toEqual(second);
    expect(first.length).toBe(32);
  });
});
