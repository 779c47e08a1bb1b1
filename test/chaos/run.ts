/**
 * `npm run chaos` — the fault campaign (see docs/reliability.md).
 *
 *   npm run chaos                                  every scenario once
 *   npm run chaos -- --short                       the CI campaign (≤ 3 minutes)
 *   npm run chaos -- --scenario split-2-2 --seed 7 one scenario (repeatable flag, or a comma list)
 *   npm run chaos -- --minutes 30                  every scenario, again and again, for at least 30 minutes
 *   npm run chaos -- --cleanup                     remove namespaces left by earlier runs (killed with SIGKILL)
 *
 * Two processes: this one (in the root namespace) builds the namespaces and always removes them — on success, on
 * failure, on SIGINT/SIGTERM — and runs the campaign as a child inside the hub namespace (`ip netns exec`), where
 * the clients, checker and proxies reach the nodes at their private addresses. Running the clients inside our own
 * namespace, rather than giving the root namespace a veth and a route into the subnet, keeps the root namespace
 * untouched: no address, route or rule of ours there, so the subnet cannot clash with or leak to the host's networks.
 * Exit code: 0 all scenarios passed, 1 a check failed, 2 the harness could not run, 130 interrupted.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Campaign, type CampaignOptions, readVerdict, type Verdict } from "./campaign.js";
import { cleanupLeftovers, createNetwork, destroyNetwork, type NetNames, netNames } from "./netns.js";
import { markdownReport } from "./report.js";
import { SCENARIOS, SHORT_SCENARIOS } from "./scenarios.js";

const DEFAULT_PREFIX = "chaos";
const INNER_ENV = "CONSORT_CHAOS_INNER";
const THIS_FILE = fileURLToPath(import.meta.url);
const INNER_STOP_GRACE_MS = 20_000;

const USAGE = `npm run chaos -- [--short] [--scenario NAME]... [--seed N] [--minutes M] [--fault-seconds S]
                    [--clients N] [--log-level info] [--out DIR] [--prefix chaos] [--cleanup [--force]]
       npm run chaos -- --report .data/chaos/<run>/verdict.json   (markdown tables for docs/reliability.md)
scenarios: ${SCENARIOS.map((s) => s.name).join(", ")}
short campaign: ${SHORT_SCENARIOS.join(", ")}`;

function parse() {
  const { values } = parseArgs({
    options: {
      scenario: { type: "string", multiple: true },
      seed: { type: "string" },
      minutes: { type: "string", default: "0" },
      "fault-seconds": { type: "string" },
      clients: { type: "string", default: "8" },
      "log-level": { type: "string", default: "info" },
      out: { type: "string", default: ".data/chaos" },
      prefix: { type: "string", default: DEFAULT_PREFIX },
      short: { type: "boolean", default: false },
      cleanup: { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
      report: { type: "string" },
    },
    strict: true,
  });
  const num = (name: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new Error(`--${name} must be a number in [${min}, ${max}]`);
    return n;
  };
  const scenarios = (values.scenario ?? []).flatMap((s) => s.split(",")).filter(Boolean);
  if (!/^[a-z]{1,8}$/.test(values.prefix)) throw new Error("--prefix must be 1-8 lowercase letters");
  return {
    report: values.report,
    help: values.help,
    cleanup: values.cleanup,
    force: values.force,
    prefix: values.prefix,
    scenarios:
      scenarios.length > 0 ? scenarios : values.short ? SHORT_SCENARIOS : SCENARIOS.map((s) => s.name),
    seed: values.seed === undefined ? Date.now() % 1_000_000 : num("seed", values.seed, 0, 2 ** 31),
    minutes: num("minutes", values.minutes, 0, 24 * 60),
    faultMs: num("fault-seconds", values["fault-seconds"] ?? (values.short ? "8" : "30"), 1, 3600) * 1000,
    clients: num("clients", values.clients, 1, 9), // dev accounts 1..9 (genesis funds 10)
    logLevel: values["log-level"],
    out: values.out,
  };
}

type Args = ReturnType<typeof parse>;

function requireTools(): void {
  if (process.getuid?.() !== 0)
    throw new Error("the chaos campaign needs root (network namespaces, iptables, tmpfs)");
  for (const tool of ["ip", "iptables", "mount"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0)
      throw new Error(`${tool} is not installed (Debian: apt-get install -y iproute2 iptables)`);
  }
}

/** Root-namespace side: namespaces up, the campaign as a child in the hub, namespaces down whatever happens. */
async function outer(args: Args): Promise<number> {
  if (args.cleanup) {
    const removed = cleanupLeftovers(args.prefix, args.force);
    console.log(removed.length > 0 ? `removed ${removed.join(", ")}` : "nothing to clean up");
    return 0;
  }
  requireTools();
  const stale = cleanupLeftovers(args.prefix);
  if (stale.length > 0) console.log(`chaos: removed leftovers of earlier runs: ${stale.join(", ")}`);
  const names = netNames(args.prefix, process.pid, 4);
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const runDir = path.resolve(args.out, `${stamp}-${names.hub.replace(/-hub$/, "")}-seed${args.seed}`);
  let child: ReturnType<typeof spawn> | null = null;
  let signalled: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    signalled = signal;
    if (!child) return;
    child.kill(signal);
    setTimeout(() => child?.kill("SIGKILL"), INNER_STOP_GRACE_MS).unref();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    createNetwork(names);
    console.log(
      `chaos: seed ${args.seed}, scenarios ${args.scenarios.join(", ")}; namespaces ${names.hub}, …`,
    );
    const payload = JSON.stringify({ names, runDir, args });
    child = spawn("ip", ["netns", "exec", names.hub, process.execPath, "--import", "tsx", THIS_FILE], {
      stdio: "inherit",
      env: { ...process.env, [INNER_ENV]: payload },
    });
    const code = await new Promise<number>((resolve) =>
      child!.once("exit", (c, s) => resolve(c ?? (s ? 128 + 9 : 2))),
    );
    return signalled ? 130 : code;
  } finally {
    destroyNetwork(names);
    console.log(`chaos: namespaces removed; history and verdict in ${runDir}`);
  }
}

/** Hub-namespace side: the campaign itself. */
async function inner(payload: string): Promise<number> {
  const { names, runDir, args } = JSON.parse(payload) as { names: NetNames; runDir: string; args: Args };
  const opts: CampaignOptions = {
    names,
    runDir,
    scenarios: args.scenarios,
    seed: args.seed,
    minutes: args.minutes,
    faultMs: args.faultMs,
    clients: args.clients,
    logLevel: args.logLevel,
  };
  const campaign = new Campaign(opts);
  const stop = () => campaign.interrupt();
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  const verdict = await campaign.run();
  printTable(verdict);
  if (verdict.interrupted) return 130;
  if (verdict.error && verdict.rows.length === 0) return 2;
  return verdict.ok ? 0 : 1;
}

function printTable(v: Verdict): void {
  console.log(
    `\nchaos verdict: ${v.ok ? "PASS" : "FAIL"} (commit ${v.commit}, seed ${v.seed}, ${(v.wallMs / 1000).toFixed(0)} s)`,
  );
  console.log(
    "| scenario | ok | duration s | fault s | txs submitted | txs acknowledged | txs lost | recovery s | height |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const r of v.rows) {
    const rec = r.recoveryMs === null ? "-" : (r.recoveryMs / 1000).toFixed(1);
    console.log(
      `| ${r.scenario} | ${r.ok ? "yes" : "NO"} | ${(r.durationMs / 1000).toFixed(0)} | ${(r.faultMs / 1000).toFixed(0)} | ${r.submitted} | ${r.acknowledged} | ${r.lost} | ${rec} | ${r.height} |`,
    );
  }
  console.log(`total: ${v.acknowledged} acknowledged, ${v.lost} lost, final height ${v.finalHeight}`);
}

async function main(): Promise<number> {
  const payload = process.env[INNER_ENV];
  if (payload) return inner(payload);
  let args: Args;
  try {
    args = parse();
  } catch (err) {
    console.error(`chaos: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    console.log(USAGE);
    return 0;
  }
  if (args.report) {
    console.log(markdownReport(readVerdict(args.report)));
    return 0;
  }
  if (!existsSync(path.resolve("package.json"))) {
    console.error("chaos: run from the repository root (npm run chaos)");
    return 2;
  }
  return outer(args);
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(2);
  },
);
