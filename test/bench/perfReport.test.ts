import { describe, expect, it } from "vitest";
import { jsFunctionName, parsePerfScript, summarizePerf } from "../../bench/perfReport.js";

// `perf script -F comm,pid,time,ip,sym`, as it prints: names padded on the left, frames indented by a tab, leaf first.
const SCRIPT = [
  "      MainThread  4001 100.001000: ",
  "\t          1a2b3c Builtins_LoadIC",
  "\t    7f0011223344 JS:+'admitNow file:///srv/consort/dist/txpool/txPool.js:129:19",
  "\t    7f0011223355 JS:^admitNow file:///srv/consort/dist/txpool/txPool.js:129:19",
  "\t    7f0011223366 JS:*onHttp file:///srv/consort/dist/rpc/server.js:311:17",
  "",
  "      MainThread  4002 100.002000: ",
  "\t    7f0011223377 JS:~executeBlock file:///srv/consort/dist/execution/executor.js:49:23",
  "",
  "        V8Worker  4001 100.003000: ",
  "\t          954f3b v8::internal::OptimizedCompilationJob::ExecuteJob",
  "",
  "  npm exec tsx be  4100 100.004000: ",
  "\t          111111 [unknown]",
  "",
  "         swapper     0 100.009000: ",
  "\tffffffff8224379b pv_native_safe_halt",
  "",
].join("\n");

describe("bench/perfReport", () => {
  it("reads each sample's thread (names with spaces too), time and frames", () => {
    const samples = parsePerfScript(SCRIPT);
    expect(samples.map((s) => [s.comm, s.pid, s.timeS, s.frames.length])).toEqual([
      ["MainThread", 4001, 100.001, 4],
      ["MainThread", 4002, 100.002, 1],
      ["V8Worker", 4001, 100.003, 1],
      ["npm exec tsx be", 4100, 100.004, 1],
      ["swapper", 0, 100.009, 1],
    ]);
    expect(samples[2]!.frames[0]).toBe("v8::internal::OptimizedCompilationJob::ExecuteJob");
  });

  it("names a JS function one way whatever tier compiled it; other frames are not JS", () => {
    expect(jsFunctionName("JS:+'admitNow file:///srv/consort/dist/txpool/txPool.js:129:19")).toBe(
      "admitNow dist/txpool/txPool.js:129:19",
    );
    expect(
      jsFunctionName(
        "JS:~run file:///srv/consort/node_modules/@ethereumjs/evm/dist/esm/interpreter.js:69:14",
      ),
    ).toBe("run node_modules/@ethereumjs/evm/dist/esm/interpreter.js:69:14");
    expect(jsFunctionName("Builtins_LoadIC")).toBeNull();
  });

  it("shares by thread, idle included, and main-thread JS inclusive (a function counted once per sample)", () => {
    const s = summarizePerf(parsePerfScript(SCRIPT), null, 10);
    expect(s.samples).toBe(5);
    expect(s.byThread).toEqual([
      { thread: "MainThread", pct: 40 },
      { thread: "V8Worker", pct: 20 },
      { thread: "npm exec tsx be", pct: 20 },
      { thread: "idle (swapper)", pct: 20 },
    ]);
    expect(s.mainThreadJs).toEqual([
      { fn: "admitNow dist/txpool/txPool.js:129:19", pct: 50 },
      { fn: "onHttp dist/rpc/server.js:311:17", pct: 50 },
      { fn: "executeBlock dist/execution/executor.js:49:23", pct: 50 },
    ]);
  });

  it("counts only the samples inside the load windows (µs on the same clock as perf's seconds)", () => {
    const window = { pids: [4001, 4002], startUs: 100_001_500, endUs: 100_003_000 };
    const s = summarizePerf(parsePerfScript(SCRIPT), [window], 10);
    expect(s.samples).toBe(2);
    expect(s.byThread.map((t) => t.thread)).toEqual(["MainThread", "V8Worker"]);
    expect(s.mainThreadJs).toEqual([{ fn: "executeBlock dist/execution/executor.js:49:23", pct: 100 }]);
  });

  it("keeps the JS of other processes' main threads (the benchmark's client) out of the nodes' table", () => {
    const window = { pids: [4002], startUs: 100_000_000, endUs: 100_010_000 };
    const s = summarizePerf(parsePerfScript(SCRIPT), [window], 10);
    expect(s.samples).toBe(5);
    expect(s.byThread.map((t) => t.thread)).toEqual([
      "MainThread (not a node)",
      "MainThread",
      "V8Worker (not a node)",
      "npm exec tsx be (not a node)",
      "idle (swapper)",
    ]);
    expect(s.mainThreadJs).toEqual([{ fn: "executeBlock dist/execution/executor.js:49:23", pct: 100 }]);
  });
});
