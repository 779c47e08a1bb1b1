import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LOAD_WINDOWS_FILE, readLoadWindows, recordLoadWindow } from "../../bench/lib/loadWindows.js";
import { summarizeProfile } from "../../bench/profile.js";

/** A V8 .cpuprofile whose root has one child per frame, each sampled once for `ms`, from `startUs` on. */
function profileOf(frames: { fn: string; url: string; ms: number }[], startUs = 0) {
  const nodes = [
    {
      id: 1,
      callFrame: { functionName: "(root)", url: "", lineNumber: -1 },
      children: frames.map((_, i) => i + 2),
    },
    ...frames.map((f, i) => ({ id: i + 2, callFrame: { functionName: f.fn, url: f.url, lineNumber: 0 } })),
  ];
  const totalUs = frames.reduce((sum, f) => sum + f.ms * 1000, 0);
  return {
    nodes,
    startTime: startUs,
    endTime: startUs + totalUs,
    samples: frames.map((_, i) => i + 2),
    timeDeltas: frames.map((f) => f.ms * 1000),
  };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "consort-profile-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("bench/profile: areas", () => {
  it("counts our modules whether the node runs the sources or the compiled dist/, and no dependency's dist/", async () => {
    const file = path.join(dir, "CPU.cpuprofile");
    const profile = profileOf([
      { fn: "onHttp", url: "file:///srv/consort/dist/rpc/server.js", ms: 4 },
      { fn: "onHttp", url: "file:///work/main/src/rpc/server.ts", ms: 2 },
      { fn: "executeBlock", url: "file:///srv/consort/dist/execution/executor.js", ms: 3 },
      { fn: "commit", url: "file:///srv/consort/dist/chain/chain.js", ms: 1 },
      // A dependency's own dist/rpc/ is not our RPC.
      { fn: "decode", url: "file:///srv/consort/node_modules/some-lib/dist/rpc/decode.js", ms: 5 },
    ]);
    await writeFile(file, JSON.stringify(profile));
    const areas = Object.fromEntries(summarizeProfile(file).areas.map((a) => [a.area, a.selfMs]));
    expect(areas).toEqual({
      "rpc (fastify, JSON)": 6,
      "execution (EVM, state)": 3,
      "chain / sync / node": 1,
      "other JS": 5,
    });
  });
});

describe("bench/profile: load windows", () => {
  // Samples are stamped at the end of their delta: start-up ends at 1,010 ms, the load at 1,017, shutdown at 1,018.
  const life = [
    { fn: "compileSourceTextModule", url: "node:internal/modules/esm/utils", ms: 10 },
    { fn: "onHttp", url: "file:///srv/consort/dist/rpc/server.js", ms: 4 },
    { fn: "executeBlock", url: "file:///srv/consort/dist/execution/executor.js", ms: 3 },
    { fn: "close", url: "file:///srv/consort/dist/chain/chain.js", ms: 1 },
  ];

  it("counts only the samples inside the windows; without windows, the whole life", async () => {
    const file = path.join(dir, "CPU.cpuprofile");
    await writeFile(file, JSON.stringify(profileOf(life, 1_000_000)));
    const windowed = summarizeProfile(file, 30, [{ startUs: 1_010_001, endUs: 1_017_000 }]);
    expect(windowed.totalMs).toBe(7);
    expect(Object.fromEntries(windowed.areas.map((a) => [a.area, a.selfMs]))).toEqual({
      "rpc (fastify, JSON)": 4,
      "execution (EVM, state)": 3,
    });
    expect(summarizeProfile(file, 30, [{ startUs: 1_014_001, endUs: 1_014_500 }]).totalMs).toBe(0);
    const whole = summarizeProfile(file);
    expect(whole.totalMs).toBe(18);
    expect(whole.top.map((t) => t.name)).toContain("compileSourceTextModule");
  });

  it("keeps the windows a benchmark records beside its profiles, and refuses a malformed list", async () => {
    expect(readLoadWindows(dir)).toBeNull();
    recordLoadWindow(dir, {
      target: "consort4",
      workload: "transfer",
      round: 1,
      pids: [7],
      startUs: 5,
      endUs: 9,
    });
    recordLoadWindow(dir, {
      target: "consort4",
      workload: "erc20",
      round: 1,
      pids: [7],
      startUs: 12,
      endUs: 20,
    });
    expect(readLoadWindows(dir)?.map((w) => [w.workload, w.startUs, w.endUs])).toEqual([
      ["transfer", 5, 9],
      ["erc20", 12, 20],
    ]);
    expect(() =>
      recordLoadWindow(dir, { target: "consort4", workload: "x", round: 1, pids: [7], startUs: 9, endUs: 9 }),
    ).toThrow(RangeError);
    await writeFile(path.join(dir, LOAD_WINDOWS_FILE), JSON.stringify([{ target: "consort4", startUs: 1 }]));
    expect(() => readLoadWindows(dir)).toThrow(/not a list of load windows/);
  });
});
