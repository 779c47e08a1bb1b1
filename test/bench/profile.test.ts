import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { summarizeProfile } from "../../bench/profile.js";

/** A V8 .cpuprofile whose root has one child per frame, each sampled once for `ms`. */
function profileOf(frames: { fn: string; url: string; ms: number }[]) {
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
    startTime: 0,
    endTime: totalUs,
    samples: frames.map((_, i) => i + 2),
    timeDeltas: frames.map((f) => f.ms * 1000),
  };
}

describe("bench/profile: areas", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-profile-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

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
