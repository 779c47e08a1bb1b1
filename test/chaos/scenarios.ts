/**
 * The nemesis: each scenario injects its fault, holds it for `faultMs` (under the clients' load), then heals.
 * What a scenario itself expects (the chain halts in a 2–2 split, the majority goes on without one node, a node on
 * a full disk stops with a clear message) is returned as violations; the campaign then checks recovery and the
 * history for every scenario alike.
 */
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import type { Prng } from "../sim/prng.js";
import type { Checker } from "./checker.js";
import type { Cluster } from "./cluster.js";
import type { History } from "./history.js";
import type { Wire } from "./netns.js";
import type { LinkProxies } from "./proxy.js";
import { heightOf, rpcCall, sleep } from "./rpc.js";

export interface ScenarioContext {
  cluster: Cluster;
  wire: Wire;
  proxies: LinkProxies;
  history: History;
  checker: Checker;
  rng: Prng;
  /** The node whose data dir is a small tmpfs (full-disk scenario), or null. */
  diskNode: number | null;
  /** Stops early when the run is interrupted. */
  aborted: () => boolean;
}

export interface ScenarioOutcome {
  violations: string[];
  notes: Record<string, unknown>;
}

export interface Scenario {
  name: string;
  what: string;
  /** How long after healing every node must be past the height at healing (default RECOVERY_BOUND_MS). */
  recoveryBoundMs?: number;
  run(ctx: ScenarioContext, faultMs: number): Promise<ScenarioOutcome>;
}

/** The message a node must log when its disk is full (src/ledger: LEDGER_DISK_FULL). */
export const DISK_FULL_LOG = /no space left on the data directory/i;
/** How long a node has, once its disk is full and blocks keep coming, to stop. */
const DISK_STOP_WAIT_MS = 60_000;
const SPLIT_SETTLE_MS = 4000;

async function heights(ctx: ScenarioContext, nodes?: number[]): Promise<(number | null)[]> {
  const list = nodes ?? ctx.cluster.testnet.nodes.map((_, i) => i);
  return Promise.all(list.map((i) => heightOf(ctx.cluster.rpcUrl(i))));
}

const maxOf = (hs: (number | null)[]) => Math.max(-1, ...hs.filter((h): h is number => h !== null));

/** Holds for `ms`, in short steps so an interrupt is honoured. */
async function hold(ctx: ScenarioContext, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until && !ctx.aborted()) await sleep(Math.min(500, until - Date.now()));
}

async function leaderIndex(ctx: ScenarioContext): Promise<number> {
  for (let i = 0; i < ctx.cluster.size; i++) {
    try {
      const s = await rpcCall<{ leader: string | null }>(ctx.cluster.rpcUrl(i), "getConsensusStatus", [
        "group0",
        "",
      ]);
      const idx = ctx.cluster.testnet.nodes.findIndex((n) => n.nodeId === s.leader);
      if (idx >= 0) return idx;
    } catch {}
  }
  return 0;
}

/** The majority (all but `outside`) made progress while the fault held: checked between two height readings. */
async function majorityProgress(
  ctx: ScenarioContext,
  outside: number[],
  faultMs: number,
): Promise<{ before: number; after: number }> {
  const inside = ctx.cluster.testnet.nodes.map((_, i) => i).filter((i) => !outside.includes(i));
  const before = maxOf(await heights(ctx, inside));
  await hold(ctx, faultMs);
  const after = maxOf(await heights(ctx, inside));
  return { before, after };
}

async function isolateAndHeal(
  ctx: ScenarioContext,
  victim: number,
  faultMs: number,
): Promise<ScenarioOutcome> {
  await ctx.wire.isolate(victim);
  ctx.history.nemesis("isolate", { node: victim });
  const { before, after } = await majorityProgress(ctx, [victim], faultMs);
  await ctx.wire.heal();
  ctx.history.nemesis("heal");
  const violations =
    after > before || ctx.aborted()
      ? []
      : [`the other three made no progress in ${faultMs} ms with node${victim} isolated (height ${before})`];
  return { violations, notes: { victim, majorityHeights: [before, after] } };
}

const isolateLeader: Scenario = {
  name: "isolate-leader",
  what: "the current leader is cut from the other three, then healed",
  async run(ctx, faultMs) {
    return isolateAndHeal(ctx, await leaderIndex(ctx), faultMs);
  },
};

const isolateOne: Scenario = {
  name: "isolate-one",
  what: "a random node is cut from the other three, then healed",
  async run(ctx, faultMs) {
    return isolateAndHeal(ctx, ctx.rng.int(0, ctx.cluster.size - 1), faultMs);
  },
};

const split: Scenario = {
  name: "split-2-2",
  what: "two halves of two nodes: no quorum anywhere, the chain must halt; it must resume after healing",
  async run(ctx, faultMs) {
    const order = ctx.rng.shuffle([0, 1, 2, 3]);
    const sides = [order.slice(0, 2).sort(), order.slice(2).sort()];
    await ctx.wire.partition(sides[0]!, sides[1]!);
    ctx.history.nemesis("partition", { sides });
    // A block whose commit was already under way may still land: take the reference height after a settle time.
    await hold(ctx, Math.min(SPLIT_SETTLE_MS, faultMs / 2));
    const settled = maxOf(await heights(ctx));
    await hold(ctx, faultMs - Math.min(SPLIT_SETTLE_MS, faultMs / 2));
    const end = maxOf(await heights(ctx));
    await ctx.wire.heal();
    ctx.history.nemesis("heal");
    const violations =
      end > settled ? [`the chain advanced during a 2-2 split: height ${settled} -> ${end}`] : [];
    return { violations, notes: { sides, haltedAt: settled, heightAtHeal: end } };
  },
};

const flapping: Scenario = {
  name: "flapping",
  what: "links between random pairs cut and restored every 1-3 s",
  async run(ctx, faultMs) {
    const until = Date.now() + faultMs;
    let flaps = 0;
    while (Date.now() < until && !ctx.aborted()) {
      await ctx.wire.heal();
      const cuts = ctx.rng.int(1, 3);
      const pairs: [number, number][] = [];
      for (let k = 0; k < cuts; k++) {
        const a = ctx.rng.int(0, 3);
        const b = (a + ctx.rng.int(1, 3)) % 4;
        await ctx.wire.cut(a, b);
        pairs.push([a, b]);
      }
      flaps++;
      ctx.history.nemesis("flap", { cut: pairs });
      await hold(ctx, Math.min(ctx.rng.int(1000, 3000), until - Date.now()));
    }
    await ctx.wire.heal();
    ctx.history.nemesis("heal");
    return { violations: [], notes: { flaps } };
  },
};

const loss: Scenario = {
  name: "loss-5pct",
  what: "5 % of the packets dropped on every link, each direction (iptables statistic)",
  async run(ctx, faultMs) {
    await ctx.wire.loss(0.05);
    ctx.history.nemesis("loss", { probability: 0.05 });
    const { before, after } = await majorityProgress(ctx, [], faultMs);
    await ctx.wire.heal();
    ctx.history.nemesis("heal");
    return { violations: [], notes: { heights: [before, after] } };
  },
};

const slow: Scenario = {
  name: "slow-links",
  what: "every link delayed 200 ms each way (user-space proxies)",
  async run(ctx, faultMs) {
    ctx.proxies.delayMs = 200;
    ctx.history.nemesis("delay", { ms: 200 });
    const { before, after } = await majorityProgress(ctx, [], faultMs);
    ctx.proxies.delayMs = 0;
    ctx.history.nemesis("heal");
    const violations =
      after > before || ctx.aborted()
        ? []
        : [`no progress in ${faultMs} ms on 200 ms links (height ${before})`];
    return { violations, notes: { heights: [before, after] } };
  },
};

async function waitRpc(ctx: ScenarioContext, node: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !ctx.aborted()) {
    if ((await heightOf(ctx.cluster.rpcUrl(node), 1000)) !== null) return true;
    await sleep(300);
  }
  return false;
}

const killRandom: Scenario = {
  name: "kill-random",
  what: "SIGKILL of a random validator (f = 1) every few seconds under load, each restarted before the next",
  async run(ctx, faultMs) {
    const until = Date.now() + faultMs;
    let kills = 0;
    while (Date.now() < until && !ctx.aborted()) {
      const victim = ctx.rng.int(0, ctx.cluster.size - 1);
      await ctx.cluster.kill(victim);
      kills++;
      ctx.history.nemesis("kill", { node: victim });
      await hold(ctx, ctx.rng.int(1000, 3000));
      ctx.cluster.start(victim);
      ctx.history.nemesis("restart", { node: victim });
      // At most f down at once: the next victim only after this one answers again.
      await waitRpc(ctx, victim, 60_000);
      await hold(ctx, ctx.rng.int(1000, 3000));
    }
    return { violations: [], notes: { kills } };
  },
};

const killAll: Scenario = {
  name: "kill-all",
  what: "SIGKILL of all four at once, then restart",
  async run(ctx, faultMs) {
    const all = ctx.cluster.testnet.nodes.map((_, i) => i);
    await Promise.all(all.map((i) => ctx.cluster.kill(i)));
    ctx.history.nemesis("kill", { nodes: all });
    await hold(ctx, Math.min(faultMs, 3000));
    for (const i of all) ctx.cluster.start(i);
    ctx.history.nemesis("restart", { nodes: all });
    const up = await Promise.all(all.map((i) => waitRpc(ctx, i, 90_000)));
    const violations = up.every(Boolean) ? [] : ["not every node answered within 90 s of the restart"];
    return { violations, notes: {} };
  },
};

const wipe: Scenario = {
  name: "wipe-resync",
  what: "a node restarted with an empty data dir re-syncs the whole chain from its peers",
  // The wiped node replays the whole chain: its time grows with the chain, unlike the others' recovery.
  recoveryBoundMs: 300_000,
  async run(ctx, faultMs) {
    const victim = ctx.rng.int(0, ctx.cluster.size - 1);
    await ctx.cluster.kill(victim);
    await ctx.cluster.wipe(victim);
    ctx.checker.forget(victim);
    ctx.history.nemesis("kill+wipe", { node: victim });
    await hold(ctx, Math.min(faultMs, 3000));
    ctx.cluster.start(victim);
    ctx.history.nemesis("restart", { node: victim });
    return { violations: [], notes: { victim } };
  },
};

/** Fills the tmpfs with a filler file until ENOSPC. */
function fillDisk(dir: string): string {
  const file = path.join(dir, "chaos-filler");
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(1 << 20, 0xab);
  try {
    for (let i = 0; i < 100_000; i++) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
    // Fill the last partial megabyte too.
    try {
      for (let i = 0; i < 1024; i++) writeSync(fd, chunk.subarray(0, 1024));
    } catch {}
  } finally {
    closeSync(fd);
  }
  return file;
}

const diskFull: Scenario = {
  name: "disk-full",
  what: "one node's data dir (a small tmpfs) fills up: it stops with a clear message, the others go on, it recovers once space is freed",
  async run(ctx, faultMs) {
    const victim = ctx.diskNode;
    if (victim === null)
      return { violations: ["no tmpfs data dir was set up for the full-disk scenario"], notes: {} };
    const since = Date.now();
    const filler = fillDisk(ctx.cluster.dataDir(victim));
    ctx.history.nemesis("disk full", { node: victim });
    const others = ctx.cluster.testnet.nodes.map((_, i) => i).filter((i) => i !== victim);
    const before = maxOf(await heights(ctx, others));
    const deadline = Date.now() + Math.max(faultMs, DISK_STOP_WAIT_MS);
    while (ctx.cluster.crashesOf(victim, since).length === 0 && Date.now() < deadline && !ctx.aborted()) {
      await sleep(300);
    }
    const violations: string[] = [];
    const exit = ctx.cluster.crashesOf(victim, since)[0];
    const stoppedMs = exit ? exit.atMs - since : null;
    if (!exit) {
      violations.push(`node${victim} did not stop within ${DISK_STOP_WAIT_MS} ms of its disk filling up`);
      await ctx.cluster.kill(victim);
    } else {
      if (exit.code === 0 || exit.code === null)
        violations.push(
          `node${victim} stopped on a full disk with exit ${exit.signal ?? exit.code}, not an error code`,
        );
      await sleep(300); // the log pipe drains
      if (!DISK_FULL_LOG.test(ctx.cluster.logTail(victim, 20_000)))
        violations.push(
          `node${victim} stopped on a full disk without saying so: ${ctx.cluster.logTail(victim, 600)}`,
        );
    }
    await hold(ctx, Math.max(0, faultMs - (Date.now() - since)));
    const after = maxOf(await heights(ctx, others));
    if (after <= before && !ctx.aborted())
      violations.push(
        `the other three made no progress while node${victim}'s disk was full (height ${before})`,
      );
    rmSync(filler, { force: true });
    ctx.history.nemesis("space freed, restart", { node: victim, exit, stoppedMs });
    ctx.cluster.start(victim);
    return {
      violations,
      notes: { victim, stoppedMs, exitCode: exit?.code ?? null, others: [before, after] },
    };
  },
};

export const SCENARIOS: Scenario[] = [
  isolateLeader,
  split,
  isolateOne,
  flapping,
  loss,
  slow,
  killRandom,
  killAll,
  diskFull,
  wipe,
];

/** The short campaign for CI (≤ 3 minutes on 2 cores): one of each kind of fault. */
export const SHORT_SCENARIOS = ["isolate-leader", "split-2-2", "loss-5pct", "kill-all", "disk-full"];

export function scenarioByName(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new Error(`unknown scenario "${name}"; known: ${SCENARIOS.map((x) => x.name).join(", ")}`);
  return s;
}
