import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { getCreateAddress, Interface, Wallet } from "ethers";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Readiness } from "../../src/metrics/index.js";
import { hasMetric, metricNamesInPromQL, type PromText, parsePromText } from "../metrics/promText.js";
import { launchChromium } from "./browser.js";
import {
  blockNumber,
  COMMITTEE,
  sendRaw,
  signTx,
  waitAllAtLeast,
  waitReceipts,
  wallets,
} from "./chainUtil.js";
import { ProcessTestnet, rpc, waitFor } from "./harness.js";

const ROOT = path.join(import.meta.dirname, "../..");
const DASHBOARD = path.join(ROOT, "docker/monitoring/grafana/dashboards/consort.json");
const run = promisify(execFile);

/**
 * Acceptance of issue 15 on ONE 4-validator testnet (to keep `npm test` short): /metrics on every node, the Grafana
 * dashboard's metrics, the web console in a real headless Chromium (screenshots into docs/console/ with
 * UPDATE_SCREENSHOTS=1), `consort status`, and last (it stops a node) /ready on a node that fell behind.
 */
describe("e2e: metrics, readiness, dashboard and web console on 4 validators", () => {
  let net: ProcessTestnet;
  let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
  let shotsDir: string;
  const nonces = new Map<number, number>();
  const sent: { hash: string; block: number }[] = [];

  const metricsUrlOf = (i: number): string => {
    const url = net.nodes[i]!.metricsUrl;
    if (!url) throw new Error(`node${i} has no metrics URL`);
    return url;
  };
  const metricsText = async (i: number): Promise<PromText> => {
    const res = await fetch(`${metricsUrlOf(i)}/metrics`, { signal: AbortSignal.timeout(10_000) });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return parsePromText(await res.text());
  };
  const readyOf = async (i: number): Promise<{ status: number; body: Readiness }> => {
    const res = await fetch(`${metricsUrlOf(i)}/ready`, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: (await res.json()) as Readiness };
  };
  /** Sends one transfer from dev account `from` through node `via`; resolves with its hash once committed there. */
  const transfer = async (from: number, via: number): Promise<string> => {
    const ws = wallets(net.testnet.accounts);
    const nonce = nonces.get(from) ?? 0;
    nonces.set(from, nonce + 1);
    const raw = await signTx(ws[from]!, { nonce, to: ws[(from + 1) % ws.length]!.address, value: 1000n });
    const url = net.nodes[via]!.rpcUrl;
    const hash = await sendRaw(url, raw);
    const [receipt] = await waitReceipts(url, [hash], 120_000);
    sent.push({ hash, block: Number(receipt!.blockNumber) });
    return hash;
  };

  beforeAll(async () => {
    shotsDir = process.env.UPDATE_SCREENSHOTS
      ? path.join(ROOT, "docs/console")
      : await mkdtemp(path.join(os.tmpdir(), "consort-shots-"));
    await mkdir(shotsDir, { recursive: true });
    net = await ProcessTestnet.create({ validators: 4 });
    await net.startAll(120_000);
    browser = await launchChromium();
  }, 900_000);

  afterAll(async () => {
    await browser?.close();
    await net?.close();
    if (!process.env.UPDATE_SCREENSHOTS && shotsDir) await rm(shotsDir, { recursive: true, force: true });
  }, 60_000);

  it("every node becomes ready; /metrics parses, height equals eth_blockNumber and rises, txpool and RPC metrics move", async () => {
    for (let i = 0; i < 4; i++) {
      await waitFor(`node${i} /ready`, async () => (await readyOf(i)).status === 200, 120_000);
      expect((await fetch(`${metricsUrlOf(i)}/health`)).status).toBe(200);
    }
    const before = await Promise.all([0, 1, 2, 3].map(metricsText));
    for (const m of before) {
      expect(m.value("ethereum_peer_count")).toBe(3);
      expect(m.value("ethereum_peer_limit")).toBe(3);
      expect(m.value("consort_consensus_validators")).toBe(4);
    }
    const rpcOkBefore = before[0]!.sum("consort_rpc_requests_total", {
      method: "eth_sendRawTransaction",
      status: "ok",
    });
    const txsBefore = before[0]!.value("consort_chain_transactions_total") ?? 0;

    for (let k = 0; k < 3; k++) await transfer(1, 0);
    const top = Math.max(...sent.map((s) => s.block));
    await waitAllAtLeast(
      net.nodes.map((n) => n.rpcUrl),
      top,
      60_000,
    );
    // A tx the pool must refuse (nonce already used): the refusal counter moves.
    const ws = wallets(net.testnet.accounts);
    const stale = await signTx(ws[1]!, { nonce: 0, to: ws[2]!.address, value: 1n });
    await expect(sendRaw(net.nodes[0]!.rpcUrl, stale)).rejects.toThrow(/nonce too low/);

    // The chain makes no empty blocks: once every node has the last tx, heights stand still and must match.
    const after = await Promise.all([0, 1, 2, 3].map(metricsText));
    for (let i = 0; i < 4; i++) {
      const height = after[i]!.value("ethereum_blockchain_height")!;
      expect(height).toBe(await blockNumber(net.nodes[i]!.rpcUrl));
      expect(height).toBeGreaterThan(before[i]!.value("ethereum_blockchain_height")!);
      expect(after[i]!.value("ethereum_best_known_block_number")).toBeGreaterThanOrEqual(height);
      expect(
        after[i]!.sum("consort_p2p_messages_total", { topic: "consensus", direction: "in" }),
      ).toBeGreaterThan(0);
    }
    const m0 = after[0]!;
    expect(m0.sum("consort_rpc_requests_total", { method: "eth_sendRawTransaction", status: "ok" })).toBe(
      rpcOkBefore + 3,
    );
    expect(m0.sum("consort_rpc_requests_total", { method: "eth_sendRawTransaction", status: "-32000" })).toBe(
      1,
    );
    // The stale tx, a client's (origin local). A transfer gossiped to node0 after node0 had committed its block
    // (fetched with the proposal) is refused for the same reason now and then: counted as origin peer.
    expect(
      m0.value("consort_txpool_refusals_total", { reason: "TXPOOL_NONCE_TOO_LOW", origin: "local" }),
    ).toBe(1);
    expect(m0.value("consort_chain_transactions_total")).toBe(txsBefore + 3);
    expect(m0.value("consort_chain_block_transactions_count")).toBeGreaterThan(0);
    expect(m0.sum("consort_execution_block_seconds_count")).toBeGreaterThan(0);
    expect(m0.value("consort_consensus_commit_latency_seconds_count")).toBeGreaterThan(0);
    expect(m0.value("consort_txpool_transactions")).toBe(0);
    expect(m0.value("consort_node_ready")).toBe(1);

    // The container healthcheck script, run against node0's ports as Docker runs it.
    const env = {
      ...process.env,
      CONSORT_METRICS_PORT: new URL(metricsUrlOf(0)).port,
      CONSORT_RPC_PORT: new URL(net.nodes[0]!.rpcUrl).port,
    };
    await run(process.execPath, [path.join(ROOT, "docker/healthcheck.mjs")], { env, timeout: 30_000 });
  });

  it("every metric the Grafana dashboard queries exists on a running node", async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, "utf8")) as {
      panels: { title: string; targets?: { expr: string }[] }[];
    };
    const names = new Set<string>();
    for (const p of dashboard.panels)
      for (const t of p.targets ?? []) for (const n of metricNamesInPromQL(t.expr)) names.add(n);
    expect(names.size).toBeGreaterThan(20);
    const text = await metricsText(0);
    const missing = [...names].filter((n) => !hasMetric(text, n));
    expect(missing).toEqual([]);
  });

  it("consort status shows every node of the testnet in one table", async () => {
    const { stdout } = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        path.join(ROOT, "src/cli/main.ts"),
        "status",
        "--dir",
        net.testnet.outDir,
        "--json",
      ],
      { timeout: 60_000 },
    );
    const rows = JSON.parse(stdout) as { node: string; height: number; peers: number; ready: boolean }[];
    const height = await blockNumber(net.nodes[0]!.rpcUrl);
    expect(rows.map((r) => r.node)).toEqual(["node0", "node1", "node2", "node3"]);
    for (const r of rows) expect(r).toMatchObject({ height, peers: 3, ready: true });
  });

  it("the web console in headless Chromium: live height, a block by number, a tx by hash, 4 sealers", async () => {
    // A token deploy and a transfer: a transaction with a log (Transfer) for the transaction page.
    const asset = JSON.parse(await readFile(path.join(ROOT, "contracts/build/Asset.json"), "utf8")) as {
      abi: unknown[];
      bytecode: string;
    };
    const token = new Interface(asset.abi as never);
    const deployer = wallets(net.testnet.accounts)[6]!;
    const tokenAddress = getCreateAddress({ from: deployer.address, nonce: 0 });
    const deploy = await signTx(deployer, {
      nonce: 0,
      data: token.encodeDeploy(["Consort Token", "CST", 1_000_000n]).replace("0x", asset.bytecode),
      gasLimit: 1_000_000n,
    });
    const tokenTransfer = await signTx(deployer, {
      nonce: 1,
      to: tokenAddress,
      data: token.encodeFunctionData("transfer", [wallets(net.testnet.accounts)[7]!.address, 42n]),
      gasLimit: 100_000n,
    });
    const url0 = net.nodes[0]!.rpcUrl;
    const tokenHashes = [await sendRaw(url0, deploy), await sendRaw(url0, tokenTransfer)];
    const tokenReceipts = await waitReceipts(url0, tokenHashes, 120_000);
    expect(tokenReceipts.map((r) => r.status)).toEqual(["0x1", "0x1"]);

    const page = await browser!.context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    const ui = `${net.nodes[0]!.rpcUrl}/ui/`;
    await page.goto(ui);
    const shownHeight = async () => Number(await page.locator("[data-testid=height]").first().textContent());
    await waitFor("the overview's height", async () => (await shownHeight()) > 0, 30_000);
    await waitFor(
      "the live indicator",
      async () => (await page.locator("#live").textContent()) === "live",
      30_000,
    );
    const h0 = await shownHeight();
    // New blocks reach the page over the WebSocket (eth_subscribe newHeads): no reload.
    for (let k = 0; k < 4; k++) await transfer(2 + (k % 2), k % 4);
    const last = sent[sent.length - 1]!;
    await waitFor("the height to rise on the page", async () => (await shownHeight()) >= last.block, 60_000);
    expect(await shownHeight()).toBeGreaterThan(h0);
    await page.locator("[data-testid=blocks-table] tbody tr").first().waitFor();
    expect(await page.locator("[data-testid=chart-block-time] rect").count()).toBeGreaterThan(0);
    await page.screenshot({ path: path.join(shotsDir, "overview.png"), fullPage: true });

    await search(page, String(last.block));
    await expect
      .poll(() => page.locator("[data-testid=block-title]").textContent())
      .toBe(`Block ${last.block}`);
    await page.locator(`a[href="#/tx/${last.hash}"]`).waitFor();
    await page.screenshot({ path: path.join(shotsDir, "block.png"), fullPage: true });

    await search(page, last.hash);
    await expect.poll(() => page.locator("[data-testid=tx-hash]").textContent()).toBe(last.hash);
    expect(await page.locator("[data-testid=tx-status]").textContent()).toBe("success");

    await search(page, tokenHashes[1]!);
    await expect.poll(() => page.locator("[data-testid=tx-hash]").textContent()).toBe(tokenHashes[1]);
    await expect.poll(() => page.locator(".log").count()).toBe(1);
    expect((await page.locator(".log").textContent())?.toLowerCase()).toContain(tokenAddress.toLowerCase());
    await page.screenshot({ path: path.join(shotsDir, "transaction.png"), fullPage: true });

    await page.goto(`${ui}#/validators`);
    const sealerRows = page.locator("[data-testid=validators-table] tr[data-role=sealer]");
    await expect.poll(() => sealerRows.count()).toBe(4);
    expect(await sealerRows.locator(".online").count()).toBe(4);
    await page.screenshot({ path: path.join(shotsDir, "validators.png"), fullPage: true });

    await page.goto(`${ui}#/blocks`);
    await page.locator("[data-testid=blocks-table] tbody tr").first().waitFor();
    await page.screenshot({ path: path.join(shotsDir, "blocks.png"), fullPage: true });

    const sender = wallets(net.testnet.accounts)[2]!.address;
    await search(page, sender);
    await page.locator(`a[href="#/tx/${sent[sent.length - 2]!.hash}"]`).waitFor();
    await page.screenshot({ path: path.join(shotsDir, "address.png"), fullPage: true });

    // One proposal by the chain's only governor (it executes at once): the page lists it from getProposalList.
    const governor = new Wallet(net.testnet.governors[0]!.privateKey!);
    const data = new Interface([
      "function createSetSysConfigProposal(string key, string value, uint256 blockNumberInterval)",
    ]).encodeFunctionData("createSetSysConfigProposal", ["tx_count_limit", "999", 0n]);
    const nonce = Number(await rpc<string>(url0, "eth_getTransactionCount", [governor.address, "pending"]));
    const proposal = await sendRaw(
      url0,
      await signTx(governor, { nonce, to: COMMITTEE, data, gasLimit: 500_000n }),
    );
    expect((await waitReceipts(url0, [proposal], 120_000))[0]!.status).toBe("0x1");
    await page.goto(`${ui}#/governance`);
    const proposals = page.locator("[data-testid=proposals-table]");
    await proposals.waitFor();
    expect(await proposals.locator("tbody tr").count()).toBe(1);
    expect(await proposals.locator("tbody").textContent()).toContain("tx_count_limit");
    await page.screenshot({ path: path.join(shotsDir, "governance.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("/ready is false on a node stopped behind and becomes true once it has caught up", async () => {
    await net.stop(3);
    for (let k = 0; k < 5; k++) await transfer(4, k % 3);
    const target = await blockNumber(net.nodes[0]!.rpcUrl);
    // Three of four validators are a quorum: the others stay ready.
    expect((await readyOf(0)).status).toBe(200);

    net.start(3);
    const answers: { status: number; body: Readiness }[] = [];
    await waitFor(
      "node3 /ready to answer 200",
      async () => {
        const r = await readyOf(3).catch(() => null); // not listening yet
        if (r) answers.push(r);
        return r?.status === 200;
      },
      120_000,
    );
    expect(answers[0]!.status).toBe(503);
    expect(answers[0]!.body.ready).toBe(false);
    expect(answers[0]!.body.reasons.length).toBeGreaterThan(0);
    expect(answers[0]!.body.height).toBeLessThan(target);
    const ready = answers[answers.length - 1]!.body;
    expect(ready.bestKnownHeight).toBeGreaterThanOrEqual(target);
    expect(ready.height).toBeGreaterThanOrEqual(target - 2); // metrics.readyLagBlocksMax
    await waitFor(
      "node3 at the others' head",
      async () => (await blockNumber(net.nodes[3]!.rpcUrl)) >= target,
      60_000,
    );
  });
});

async function search(page: Page, query: string): Promise<void> {
  await page.fill("#search-input", query);
  await page.click("#search button");
}
