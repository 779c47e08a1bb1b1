import { describe, expect, it } from "vitest";
import { shapeDiff, shapeOf } from "./shape.js";

/** The shape comparison behind the fake-vs-real contract test (backendContract.test.ts). */
describe("the shape comparison itself", () => {
  it("finds an added field, bytes shown as hex, a number for a bigint and a null for a value", () => {
    const base = { a: new Uint8Array(2), b: 1n, c: [{ d: 1 }], e: null as unknown };
    expect(shapeDiff(shapeOf(base), shapeOf({ ...base }))).toEqual([]);
    expect(shapeDiff(shapeOf(base), shapeOf({ ...base, extra: 1 }))).toEqual([
      "$.extra: only in the real backend",
    ]);
    expect(shapeDiff(shapeOf({ ...base, a: "0x0000" }), shapeOf(base))).toEqual([
      "$.a: string (fake) vs bytes (real)",
    ]);
    expect(shapeDiff(shapeOf(base), shapeOf({ ...base, b: 1 }))).toEqual([
      "$.b: bigint (fake) vs number (real)",
    ]);
    expect(shapeDiff(shapeOf(base), shapeOf({ ...base, c: [{ d: 1n }] }))).toEqual([
      "$.c[].d: number (fake) vs bigint (real)",
    ]);
    expect(shapeDiff(shapeOf(base), shapeOf({ ...base, e: 0 }))).toEqual([
      "$.e: null (fake) vs number (real)",
    ]);
    // Bytes serialised the way a plain object of indexes would be ({"0":…}) are an object, not bytes.
    expect(shapeDiff(shapeOf(base), shapeOf({ ...base, a: { ...new Uint8Array(2) } }))).toEqual([
      "$.a: bytes (fake) vs object (real)",
    ]);
  });

  it("merges array elements: how many of each kind does not matter, a field some elements lack does", () => {
    const withLogs = { logs: [{ topics: [new Uint8Array(32)] }], status: 1 };
    const noLogs = { logs: [], status: 0 };
    expect(shapeDiff(shapeOf([withLogs, noLogs, noLogs]), shapeOf([withLogs]))).toEqual([]);
    expect(shapeDiff(shapeOf([noLogs]), shapeOf([withLogs]))).toEqual([]);
    expect(shapeDiff(shapeOf([withLogs, { ...noLogs, extra: 1 }]), shapeOf([withLogs, noLogs]))).toEqual([
      "$[].extra: only in the fake",
    ]);
    expect(
      shapeDiff(shapeOf([{ to: null }, { to: new Uint8Array(20) }]), shapeOf([{ to: new Uint8Array(20) }])),
    ).toEqual(["$[].to: bytes | null (fake) vs bytes (real)"]);
  });
});
