import { describe, expect, it } from "vitest";
import { ConsortError, isDiskFull } from "../../src/util/errors.js";

describe("isDiskFull", () => {
  it("recognises ENOSPC from node:fs, LevelDB's IO error text and a wrapped cause", () => {
    const fsError = Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    const levelError = new Error("IO error: /data/ledger/000005.log: No space left on device");
    const wrapped = new ConsortError("LEDGER_X", "write failed", {}, { cause: levelError });
    expect(isDiskFull(fsError)).toBe(true);
    expect(isDiskFull(levelError)).toBe(true);
    expect(isDiskFull(wrapped)).toBe(true);
    expect(isDiskFull(new ConsortError("LEDGER_DISK_FULL", "no space left on the data directory"))).toBe(
      true,
    );
  });

  it("is false for other errors", () => {
    expect(isDiskFull(Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" }))).toBe(false);
    expect(isDiskFull(new Error("IO error: lock held"))).toBe(false);
    expect(isDiskFull("ENOSPC")).toBe(false);
    expect(isDiskFull(undefined)).toBe(false);
  });
});
