/**
 * One campaign, run inside the hub namespace: a 4-validator testnet of real processes, the clients, then each
 * scenario in turn: fault → heal → recovery (progress within RECOVERY_BOUND_MS) → clients stop → checker. Writes
 * history.jsonl as it goes and verdict.json at the end (also when interrupted).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { loadGenesis } from "../../src/config/index.js";
import { hexToBytes } from "../../src/util/hex.js";
import { Prng } from "../sim/prng.js";
import { Checker } from "./checker.js";
import { Workload } from "./client.js";
import { Cluster, mountTmpfs, unmount } from "./cluster.js";
import { History } from "./history.js";
import { type NetNames, Wire } from "./netns.js";
import { LinkProxies } from "./proxy.js";
import { heightOf, sleep } from "./rpc.js";
import { type Scenario, type ScenarioContext, scenarioByName } from "./scenarios.js";

/** The chain must make progress (every node past the height at healing) within this time after healing. */
export const RECOVERY_BOUND_MS = 60_000;
const QUIESCE_BOUND_MS = 60_000;
/** Quiet: every node at one height for this long (a view timeout: a pending tx's round has had time to finish). */
const QUIET_MS = 3000;
const STARTUP_BOUND_MS = 120_000;
const DISK_TMPFS_MB = 256;

export interface CampaignOptions {
  names: NetNames;
  runDir: string;
  scenarios: string[];
  seed: number;
  /** Run the scenario list again and again until this much time has passed (0: once). */
  minutes: number;
  faultMs: number;
  clients: number;
  logLevel: string;
}

export interface ScenarioRow {
  scenario: string;
  ok: boolean;
  startedAtMs: number;
  durationMs: number;
  faultMs: number;
  submitted: number;
  acknowledged: number;
  lost: number;
  recoveryMs: number | null;
  height: number;
  violations: string[];
  notes: Record<string, unknown>;
}

export interface Verdict {
  ok: boolean;
  interrupted: boolean;
  commit: string;
  seed: number;
  startedAt: string;
  wallMs: number;
  acknowledged: number;
  lost: number;
  finalHeight: number;
  rows: ScenarioRow[];
  error?: string;
}

function gitCommit(): string {
  try {
    const head = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "--untracked-files=no"], {
      encoding: "utf8",
    }).trim();
    return dirty ? `${head}+dirty` : head;
  } catch {
    return "unknown";
  }
}

export class Campaign {
  private readonly history: History;
  private readonly rng: Prng;
  private interrupted = false;
  private cluster: Cluster | null = null;
  private proxies: LinkProxies | null = null;
  private workload: Workload | null = null;
  private diskDir: string | null = null;
  private readonly rows: ScenarioRow[] = [];
  private readonly startedMs = Date.now();

  constructor(private readonly opts: CampaignOptions) {
    mkdirSync(opts.runDir, { recursive: true });
    this.history = new History(path.join(opts.runDir, "history.jsonl"));
    this.rng = new Prng(opts.seed);
  }

  interrupt(): void {
    this.interrupted = true;
  }

  async run(): Promise<Verdict> {
    let error: string | undefined;
    let finalHeight = -1;
    try {
      finalHeight = await this.runScenarios();
    } catch (err) {
      error = err instanceof Error ? (err.stack ?? err.message) : String(err);
      console.error(`chaos: campaign error: ${error}`);
    } finally {
      await this.teardown();
    }
    const acknowledged = this.history.acknowledged.size;
    const lost = this.rows.reduce((sum, r) => sum + r.lost, 0);
    const verdict: Verdict = {
      ok: !error && !this.interrupted && this.rows.length > 0 && this.rows.every((r) => r.ok),
      interrupted: this.interrupted,
      commit: gitCommit(),
      seed: this.opts.seed,
      startedAt: new Date(this.startedMs).toISOString(),
      wallMs: Date.now() - this.startedMs,
      acknowledged,
      lost,
      finalHeight,
      rows: this.rows,
      error,
    };
    writeFileSync(path.join(this.opts.runDir, "verdict.json"), `${JSON.stringify(verdict, null, 2)}\n`);
    // A passing run keeps its history, verdict and node logs; the chain data goes. A failing run keeps everything.
    if (verdict.ok && this.cluster) {
      for (let i = 0; i < this.cluster.size; i++)
        rmSync(this.cluster.dataDir(i), { recursive: true, force: true });
    }
    return verdict;
  }

  private async runScenarios(): Promise<number> {
    const { opts } = this;
    const scenarios = opts.scenarios.map(scenarioByName);
    const cluster = await Cluster.create(path.join(opts.runDir, "testnet"), opts.names, opts.logLevel);
    this.cluster = cluster;
    const genesis = await loadGenesis(cluster.testnet.genesisFile);
    const diskNode = scenarios.some((s) => s.name === "disk-full") ? cluster.size - 1 : null;
    if (diskNode !== null) {
      this.diskDir = cluster.dataDir(diskNode);
      mkdirSync(this.diskDir, { recursive: true });
      mountTmpfs(this.diskDir, DISK_TMPFS_MB);
    }
    this.proxies = new LinkProxies(cluster.size);
    await this.proxies.start();
    const urls = cluster.testnet.nodes.map((_, i) => cluster.rpcUrl(i));
    const checker = new Checker(urls, genesis.sealers);
    const workload = new Workload(
      urls,
      this.history,
      opts.clients,
      `chaos-${process.pid}-${opts.seed}`,
      genesis.chainId,
      cluster.testnet.accounts.map((a) => hexToBytes(a.privateKey)),
    );
    this.workload = workload;
    console.log(`chaos: starting 4 validators in ${opts.names.nodes.join(", ")} (run dir ${opts.runDir})`);
    for (let i = 0; i < cluster.size; i++) cluster.start(i);
    await this.waitAll("every node answers JSON-RPC", STARTUP_BOUND_MS, async () =>
      (await this.heights()).every((h) => h !== null),
    );
    workload.start();
    await this.waitAll(
      "the first blocks",
      STARTUP_BOUND_MS,
      async () => Math.min(...this.known(await this.heights())) >= 2,
    );
    const ctx: ScenarioContext = {
      cluster,
      wire: new Wire(opts.names),
      proxies: this.proxies,
      history: this.history,
      checker,
      rng: this.rng,
      diskNode,
      aborted: () => this.interrupted,
    };
    let round = 0;
    do {
      for (const scenario of scenarios) {
        if (this.interrupted) break;
        if (round > 0 && Date.now() - this.startedMs > opts.minutes * 60_000) break;
        this.rows.push(await this.runOne(scenario, ctx, workload, checker));
      }
      round++;
    } while (!this.interrupted && Date.now() - this.startedMs < opts.minutes * 60_000);
    return this.rows.at(-1)?.height ?? -1;
  }

  private async runOne(
    scenario: Scenario,
    ctx: ScenarioContext,
    workload: Workload,
    checker: Checker,
  ): Promise<ScenarioRow> {
    const cluster = ctx.cluster;
    this.history.scenario = scenario.name;
    const startedAt = Date.now();
    const submittedBefore = workload.submitted;
    const ackedBefore = this.history.acknowledged.size;
    console.log(`chaos: ${scenario.name}: ${scenario.what}`);
    const outcome = await scenario.run(ctx, this.opts.faultMs);
    const violations = [...outcome.violations];
    const healedAt = Date.now();
    // Every node runs again after healing (a node that crashed on its own is a violation, and is restarted).
    for (let i = 0; i < cluster.size; i++) {
      const allowed = scenario.name === "disk-full" && i === ctx.diskNode;
      const crashes = cluster.crashesOf(i, startedAt).filter(() => !allowed);
      for (const c of crashes)
        violations.push(`node${i} exited on its own (${c.signal ?? c.code}): ${cluster.logTail(i, 800)}`);
      if (!cluster.running(i)) cluster.start(i);
    }
    const recoveryMs = await this.recovery(
      healedAt,
      scenario.recoveryBoundMs ?? RECOVERY_BOUND_MS,
      violations,
    );
    await workload.stop();
    const quiet = await this.quiesce(violations);
    const check = quiet
      ? await checker.check(this.history.acknowledged.values())
      : { ok: false, height: -1, violations: [], lost: 0, misplaced: 0, checkedBlocks: 0 };
    violations.push(...check.violations);
    if (this.interrupted) violations.push("interrupted before the checks finished");
    else workload.start();
    const row: ScenarioRow = {
      scenario: scenario.name,
      ok: violations.length === 0,
      startedAtMs: startedAt - this.startedMs,
      durationMs: Date.now() - startedAt,
      faultMs: healedAt - startedAt,
      submitted: workload.submitted - submittedBefore,
      acknowledged: this.history.acknowledged.size - ackedBefore,
      lost: check.lost + check.misplaced,
      recoveryMs,
      height: check.height,
      violations,
      notes: { ...outcome.notes, checkedBlocks: check.checkedBlocks },
    };
    this.history.record({ type: "check", scenario: scenario.name, ok: row.ok, detail: row });
    console.log(
      `chaos: ${scenario.name}: ${row.ok ? "OK" : "FAILED"} in ${(row.durationMs / 1000).toFixed(1)} s: ` +
        `${row.acknowledged} acked, ${row.lost} lost, recovery ${recoveryMs ?? "-"} ms, height ${row.height}`,
    );
    for (const v of violations.slice(0, 20)) console.log(`    ! ${v.slice(0, 600)}`);
    return row;
  }

  /** Time from healing until every node is past the highest height seen at healing (a new block everywhere). */
  private async recovery(healedAt: number, boundMs: number, violations: string[]): Promise<number | null> {
    const target = Math.max(-1, ...this.known(await this.heights())) + 1;
    const deadline = healedAt + boundMs;
    while (Date.now() < deadline && !this.interrupted) {
      const hs = await this.heights();
      if (hs.every((h) => h !== null && h >= target)) return Date.now() - healedAt;
      await sleep(250);
    }
    if (!this.interrupted)
      violations.push(
        `no progress to height ${target} on every node within ${boundMs} ms of healing: ${JSON.stringify(await this.heights())}`,
      );
    return null;
  }

  /**
   * After the clients stop: wait until every node is at one height, and it has held for QUIET_MS. One equal sample
   * is not enough: txs submitted before the stop (their receipts not yet seen) still commit for a while, and the
   * checker's own height read then catches one node a few ms behind the others (the 30-minute run at 9e22919 failed
   * its split-2-2 check that way: 2382, 2382, 2381, 2382, read 14 ms before node2 committed 2382).
   */
  private async quiesce(violations: string[]): Promise<boolean> {
    const deadline = Date.now() + QUIESCE_BOUND_MS;
    let heldHeight: number | null = null;
    let heldSinceMs = 0;
    while (Date.now() < deadline && !this.interrupted) {
      const hs = await this.heights();
      const h = hs[0] ?? null;
      if (h === null || !hs.every((x) => x === h)) heldHeight = null;
      else if (heldHeight !== h) {
        heldHeight = h;
        heldSinceMs = Date.now();
      } else if (Date.now() - heldSinceMs >= QUIET_MS) return true;
      await sleep(300);
    }
    if (!this.interrupted)
      violations.push(
        `nodes did not reach one height within ${QUIESCE_BOUND_MS} ms: ${JSON.stringify(await this.heights())}`,
      );
    return false;
  }

  private heights(): Promise<(number | null)[]> {
    const cluster = this.cluster!;
    return Promise.all(cluster.testnet.nodes.map((_, i) => heightOf(cluster.rpcUrl(i))));
  }

  private known(hs: (number | null)[]): number[] {
    return hs.filter((h): h is number => h !== null);
  }

  private async waitAll(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (this.interrupted) throw new Error(`interrupted while waiting for ${what}`);
      const crash = this.cluster?.exits.find((e) => !e.expected);
      if (crash)
        throw new Error(
          `node${crash.node} exited (${crash.signal ?? crash.code}): ${this.cluster!.logTail(crash.node)}`,
        );
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(300);
    }
  }

  private async teardown(): Promise<void> {
    await this.workload?.stop();
    await this.cluster?.close();
    await this.proxies?.close();
    if (this.diskDir) unmount(this.diskDir);
  }
}

/** Reads a verdict back (for the docs table). */
export function readVerdict(file: string): Verdict {
  return JSON.parse(readFileSync(file, "utf8")) as Verdict;
}
