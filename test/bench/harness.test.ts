import { Transaction as EthTx } from "ethers";
import { describe, expect, it } from "vitest";
import { machineInfo, runBench } from "../../bench/lib/bench.js";
import { calibrate } from "../../bench/lib/calibration.js";
import { readCpuMs } from "../../bench/lib/cpu.js";
import { assetDeployData, benchSender, erc20TransferData, signLegacyTx } from "../../bench/lib/ethTx.js";
import { renderReport } from "../../bench/lib/report.js";
import { median, percentile } from "../../bench/lib/stats.js";
import { renderSvg } from "../../bench/lib/svg.js";
import { submitUrlsFor } from "../../bench/lib/targets.js";

describe("bench helpers", () => {
  it("calibrates the machine on decoding and recovering signed transfers", () => {
    const c = calibrate(20);
    expect(c).toMatchObject({ txs: 20, rounds: 5 });
    expect(c.usPerTx).toBeGreaterThan(0);
    expect(Number.isFinite(c.usPerTx)).toBe(true);
    expect(() => calibrate(0)).toThrow(RangeError);
  });

  it("percentile and median", () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile([], 50)).toBeNaN();
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 2, 3])).toBe(2.5);
  });

  it("signs EIP-155 legacy txs that ethers parses to the same sender, hash and fields", () => {
    const s = benchSender("test", 0);
    const to = benchSender("test", 1).address;
    const tx = signLegacyTx(
      { chainId: 20200n, nonce: 7n, gasPrice: 0n, gasLimit: 21_000n, to, value: 5n, data: "0x" },
      s.privateKey,
    );
    const parsed = EthTx.from(tx.raw);
    expect(parsed.from?.toLowerCase()).toBe(s.address);
    expect(parsed.hash).toBe(tx.hash);
    expect(parsed.chainId).toBe(20200n);
    expect(parsed.nonce).toBe(7);
    expect(parsed.to?.toLowerCase()).toBe(to);
    expect(parsed.value).toBe(5n);
  });

  it("ABI-encodes transfer and the Asset constructor", () => {
    const to = "0x00000000000000000000000000000000000000aa";
    expect(erc20TransferData(to, 1n)).toBe(`0xa9059cbb${"0".repeat(62)}aa${"0".repeat(63)}1`);
    const data = assetDeployData("0x6000", "Bench", "BNCH", 10n);
    // code, 3 head words, name (length + 1 word), symbol (length + 1 word)
    expect((data.length - 2) / 2).toBe(2 + 32 * 3 + 64 + 64);
  });

  it("reads a process's CPU time from /proc, and null for a pid that does not exist", () => {
    const before = readCpuMs(process.pid);
    expect(before).not.toBeNull();
    const spinUntil = performance.now() + 60;
    while (performance.now() < spinUntil) {
      // burn ~60 ms of CPU: at 10 ms per tick the counter must move
    }
    expect(readCpuMs(process.pid)!).toBeGreaterThan(before!);
    expect(readCpuMs(2 ** 31 - 1)).toBeNull();
  });

  it("sends to every endpoint round-robin, or to the first one only (--submit-to)", () => {
    const urls = ["http://a", "http://b", "http://c", "http://d"];
    expect(submitUrlsFor(urls)).toEqual(urls);
    expect(submitUrlsFor(urls, "all")).toEqual(urls);
    expect(submitUrlsFor(urls, "one")).toEqual(["http://a"]);
  });

  it("renders an SVG with one polyline per series", () => {
    const svg = renderSvg("t", "s", [
      {
        title: "p",
        yLabel: "y",
        series: [
          {
            name: "a",
            points: [
              { x: 0, y: 1 },
              { x: 1, y: 2 },
            ],
          },
          { name: "b", points: [{ x: 0, y: 3 }] },
        ],
      },
    ]);
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg.match(/<polyline/g)?.length).toBe(2);
  });
});

describe("bench harness against a 1-validator Consort", () => {
  it("submits, commits and measures 200 txs per workload", { timeout: 180_000 }, async () => {
    const report = await runBench({
      targets: ["consort1"],
      workloads: ["transfer", "erc20", "native"],
      n: 200,
      concurrency: 8,
      senders: 8,
      repeat: 1,
      progress: false,
      machine: machineInfo(),
    });
    expect(report.runs.map((r) => r.workload)).toEqual(["transfer", "erc20", "native"]);
    for (const run of report.runs) {
      expect(run.error).toBeNull();
      const r = run.result!;
      expect(r.accepted).toBe(200);
      expect(r.committed).toBe(200);
      expect(r.errors).toEqual({});
      expect(r.timedOut).toBe(false);
      expect(r.failedReceipts).toBe(0);
      expect(r.receiptsChecked).toBeGreaterThan(0);
      expect(r.committedTps).toBeGreaterThan(0);
      expect(r.latency.p50Ms).toBeGreaterThan(0);
      expect(r.latency.p99Ms).toBeGreaterThanOrEqual(r.latency.p50Ms);
      expect(r.blocks.count).toBeGreaterThan(0);
      expect(r.series.reduce((a, p) => a + p.committed, 0)).toBe(200);
      expect(run.peakRssKb.length).toBe(1);
      expect(run.peakRssKb[0]).toBeGreaterThan(10_000);
      // A node that committed 200 txs used some CPU for them, and not 10 s per tx.
      expect(run.cpuMsPerTx?.chain).toBeGreaterThan(0);
      expect(run.cpuMsPerTx?.chain).toBeLessThan(10_000);
      expect(run.cpuMsPerTx?.client).toBeGreaterThan(0);
    }
    const text = renderReport(report);
    expect(text).toContain("| transfer | consort1");
    expect(text).toContain("rounds=1, submit to=all");
    expect(renderReport({ ...report, config: { ...report.config, submitTo: "one" } })).toContain(
      "submit to=one",
    );
  });
});
