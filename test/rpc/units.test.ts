import { AbiCoder, id } from "ethers";
import { describe, expect, it } from "vitest";
import { orBlooms } from "../../src/rpc/ethFormat.js";
import { p, parseParams } from "../../src/rpc/params.js";
import { RateLimiter } from "../../src/rpc/rateLimit.js";
import { decodeRevertReason, revertError } from "../../src/rpc/revert.js";
import { hexToBytes } from "../../src/util/hex.js";
import { errorStringData } from "./fakeBackend.js";

describe("revert decoding", () => {
  it("decodes Error(string), Panic(uint256), and leaves custom errors alone", () => {
    expect(decodeRevertReason(errorStringData("nope ✓"))).toBe("nope ✓");
    const panic = hexToBytes(`0x4e487b71${AbiCoder.defaultAbiCoder().encode(["uint256"], [0x11]).slice(2)}`);
    expect(decodeRevertReason(panic)).toBe("arithmetic underflow or overflow");
    expect(decodeRevertReason(hexToBytes(id("Foo()").slice(0, 10)))).toBeNull();
    expect(decodeRevertReason(new Uint8Array(0))).toBeNull();
    const e = revertError(errorStringData("x"));
    expect(e.jsonRpcCode).toBe(3);
    expect(e.message).toBe("execution reverted: x");
    expect(e.data).toMatch(/^0x08c379a0/);
  });

  it("never throws on truncated or lying Error(string) data", () => {
    const good = errorStringData("hello world");
    for (let n = 0; n < good.length; n++) expect(() => decodeRevertReason(good.subarray(0, n))).not.toThrow();
    const lying = new Uint8Array(good);
    lying[4 + 31] = 0xff; // offset far out of range
    expect(decodeRevertReason(lying)).toBeNull();
    const hugeLen = new Uint8Array(good);
    hugeLen.fill(0xff, 4 + 32, 4 + 64);
    expect(decodeRevertReason(hugeLen)).toBeNull();
  });
});

describe("RateLimiter", () => {
  it("refills over time, caps at burst, and bounds the number of tracked clients", () => {
    let now = 0;
    const rl = new RateLimiter({ requestsPerSecond: 10, burst: 5, clientsMax: 2 }, () => now);
    for (let i = 0; i < 5; i++) expect(rl.take("a")).toBe(true);
    expect(rl.take("a")).toBe(false);
    now = 100; // +1 token
    expect(rl.take("a")).toBe(true);
    expect(rl.take("a")).toBe(false);
    now = 100_000;
    expect(rl.take("a", 5)).toBe(true);
    expect(rl.take("a", 1)).toBe(false);
    rl.take("b");
    rl.take("c");
    expect(rl.clientCount).toBe(2);
  });
});

describe("params", () => {
  it("parses and names params", () => {
    const [tag, full] = parseParams([p.blockTag(), p.optBool("full", false)] as const, ["0x10"]);
    expect(tag).toBe(16);
    expect(full).toBe(false);
    expect(() => parseParams([p.blockTag()] as const, ["0x"])).toThrow(/param 0 \(block tag\)/);
    expect(() => parseParams([p.uint("n")] as const, [-1])).toThrow(/non-negative integer/);
    expect(() => parseParams([p.uint("n")] as const, [1.5])).toThrow(/non-negative integer/);
    expect(parseParams([p.quantity("q")] as const, [`0x${"0".repeat(100)}1`])[0]).toBe(1n);
  });

  it("orBlooms ORs byte-wise", () => {
    const a = new Uint8Array(256);
    const b = new Uint8Array(256);
    a[0] = 1;
    b[0] = 2;
    b[255] = 0x80;
    const o = orBlooms([a, b]);
    expect(o[0]).toBe(3);
    expect(o[255]).toBe(0x80);
  });
});
