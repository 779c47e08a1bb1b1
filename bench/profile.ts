/**
 * Summarizes V8 .cpuprofile files (from `node --cpu-prof`, or `npm run bench -- --profile DIR`): top functions by
 * self time, and self time grouped by area (RPC, codec, crypto, txpool, consensus, EVM, storage, network, GC, idle).
 *   npx tsx bench/profile.ts DIR_OR_FILES… [--top 30] [--workload NAME] [--whole]
 * A folder written by a benchmark's --profile is summarized over its load windows only (bench/lib/loadWindows.ts).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { CliError, intFlag, parseFlags } from "../src/cli/args.js";
import { LOAD_WINDOWS_FILE, type LoadWindow, readLoadWindows } from "./lib/loadWindows.js";
import { runIfScript } from "./lib/script.js";

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  busyMs: number;
  top: { name: string; where: string; area: string; selfMs: number; pct: number }[];
  areas: { area: string; selfMs: number; pctOfBusy: number }[];
}

/**
 * Our own modules under `dirs` (e.g. "rpc" or "chain|sync|node"), from the TypeScript sources (tsx) or the compiled
 * `dist/` (npm start, the bench, docker). Paths of dependencies start with "~/" by then (node_modules is cut).
 */
function ours(dirs: string): string {
  return `^[^~ ]\\S*\\/(?:src|dist)\\/(?:${dirs})\\/`;
}

/** An area's pattern: our modules under `dirs`, or what else matches `others` (a regex source). */
function area(dirs: string, others: string | null = null): RegExp {
  return new RegExp(others === null ? ours(dirs) : `${ours(dirs)}|${others}`);
}

/** Ordered: first match wins. Matched against "url functionName". */
const AREAS: [string, RegExp][] = [
  ["idle", /^\s*\(idle\)|\(program\)$/],
  ["GC", /\(garbage collector\)/],
  [
    "module loading, worker messages (postMessage)",
    /modules\/|postMessage|MessageChannel|receiveMessageOnPort|makeAsyncRequest|makeSyncRequest|waitForWorker|compileSourceTextModule|wrapSafe|cjs-module-lexer|\/tsx\/|source_map|readFileUtf8|compileForInternalLoader|oninit/,
  ],
  [
    "rpc (fastify, JSON)",
    area(
      "rpc",
      String.raw`fastify|find-my-way|avvio|light-my-request|fast-json-stringify|secure-json-parse|JSON\.parse|JSON\.stringify|\/ws\/`,
    ),
  ],
  ["codec (RLP, protobuf)", area("codec", String.raw`protobufjs|@ethereumjs\/rlp`)],
  [
    "crypto (keccak, secp256k1, ed25519)",
    area(
      "crypto",
      String.raw`@noble\/|secp256k1|keccak|ed25519|internal\/crypto|getKeyObjectHandle|verifyOneShot|signOneShot`,
    ),
  ],
  ["txpool", area("txpool")],
  ["consensus (PBFT)", area("consensus")],
  [
    "execution (EVM, state)",
    area("execution", String.raw`@ethereumjs\/(evm|vm|statemanager|util|common|tx|mpt|trie)`),
  ],
  [
    "storage (LevelDB)",
    area("ledger", "classic-level|abstract-level|level-transcoder|module-error|maybe-combine-errors"),
  ],
  ["chain / sync / node", area("chain|sync|node")],
  [
    "network (libp2p)",
    area("network", "libp2p|@chainsafe|multiformats|uint8arraylist|it-|yamux|noise|gossipsub|protons"),
  ],
  ["logging (pino)", /pino|sonic-boom|thread-stream/],
  ["socket writes (HTTP replies, libp2p)", /writev|writeBuffer/],
  ["node internals (streams, net, timers)", /^node:|internal\//],
];

/**
 * Self time by function and area. With `windows`, only the samples taken inside them count (a sample is stamped
 * startTime + the deltas up to it, and stands for the delta before it); without, the profile's whole life.
 */
export function summarizeProfile(
  file: string,
  topN = 30,
  windows: readonly Pick<LoadWindow, "startUs" | "endUs">[] | null = null,
): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  let atUs = prof.startTime;
  let countedUs = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const deltaUs = prof.timeDeltas[i] ?? 0;
    atUs += deltaUs;
    if (windows !== null && !windows.some((w) => atUs >= w.startUs && atUs <= w.endUs)) continue;
    const id = prof.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + deltaUs);
    countedUs += deltaUs;
  }
  const totalUs = windows === null ? prof.endTime - prof.startTime : countedUs;
  const byFn = new Map<string, { name: string; where: string; area: string; us: number }>();
  const byArea = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (!n) continue;
    const fn = n.callFrame.functionName || "(anonymous)";
    const url = n.callFrame.url.replace(/^file:\/\//, "").replace(/.*\/node_modules\//, "~/");
    const where = url ? `${url.replace(/.*\/work\/main\//, "")}:${n.callFrame.lineNumber + 1}` : "";
    const probe = `${url} ${fn}`;
    const area =
      url === "" && /^\((idle|program)\)$/.test(fn)
        ? "idle"
        : (AREAS.find(([, re]) => re.test(probe))?.[0] ?? "other JS");
    const key = `${fn} ${where}`;
    const e = byFn.get(key) ?? { name: fn, where, area, us: 0 };
    e.us += us;
    byFn.set(key, e);
    if (area === "idle") idleUs += us;
    byArea.set(area, (byArea.get(area) ?? 0) + us);
  }
  const busyUs = Math.max(1, totalUs - idleUs);
  return {
    file,
    totalMs: Math.round(totalUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    top: [...byFn.values()]
      .filter((e) => !/^\((idle|program)\)$/.test(e.name))
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((e) => ({
        name: e.name,
        where: e.where,
        area: e.area,
        selfMs: Math.round(e.us / 1000),
        pct: (100 * e.us) / busyUs,
      })),
    areas: [...byArea.entries()]
      .filter(([a]) => a !== "idle")
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: Math.round(us / 1000), pctOfBusy: (100 * us) / busyUs })),
  };
}

/**
 * The profiles under a folder: per folder holding .cpuprofile files, the largest one (node writes one per thread;
 * the loader worker's is small, the main thread's large).
 */
function mainThreadProfiles(dir: string): string[] {
  const out: string[] = [];
  const entries = readdirSync(dir, { withFileTypes: true });
  const profiles = entries
    .filter((e) => e.isFile() && e.name.endsWith(".cpuprofile"))
    .map((e) => path.join(dir, e.name))
    .sort((a, b) => statSync(b).size - statSync(a).size);
  if (profiles[0]) out.push(profiles[0]);
  for (const e of entries) if (e.isDirectory()) out.push(...mainThreadProfiles(path.join(dir, e.name)));
  return out;
}

const USAGE = `npx tsx bench/profile.ts DIR_OR_FILES… [--top 30] [--workload NAME] [--whole]

  A folder from \`npm run bench -- --profile DIR\` lists its load windows (${LOAD_WINDOWS_FILE}): each profile is then
  summarized over the load only (--workload: one workload's windows), not the node's start-up and setup.
  --whole    the profiles' whole life`;

/** The windows that count for `files` given in `dir`, or null (the whole profile). */
function windowsFor(dir: string | null, workload: string | undefined, whole: boolean): LoadWindow[] | null {
  if (whole || dir === null) return null;
  const windows = readLoadWindows(dir);
  if (windows === null) return null;
  const chosen = workload === undefined ? windows : windows.filter((w) => w.workload === workload);
  if (chosen.length === 0) {
    const known = [...new Set(windows.map((w) => w.workload))].join(", ");
    throw new CliError("CLI_USAGE", `no load window of workload ${workload} in ${dir} (it has: ${known})`);
  }
  return chosen;
}

function describeWindows(windows: readonly LoadWindow[] | null): string {
  if (windows === null) return "whole profile";
  const seconds = windows.reduce((s, w) => s + (w.endUs - w.startUs) / 1e6, 0);
  const names = [...new Set(windows.map((w) => `${w.target}/${w.workload}`))].join(", ");
  return `load windows only: ${windows.length} (${names}), ${seconds.toFixed(1)} s`;
}

function main(argv: string[]): void {
  const { values, positionals } = parseFlags(
    argv,
    { top: { type: "string", default: "30" }, workload: { type: "string" }, whole: { type: "boolean" } },
    USAGE,
  );
  const topN = intFlag("top", values.top, 1, 10_000);
  if (positionals.length === 0) throw new CliError("CLI_USAGE", `no profile given\n\nusage:\n${USAGE}`);
  for (const p of positionals) {
    const isDir = statSync(p).isDirectory();
    const windows = windowsFor(isDir ? p : null, values.workload, values.whole === true);
    console.log(`\n# ${p}: ${describeWindows(windows)}`);
    for (const f of isDir ? mainThreadProfiles(p) : [p]) printSummary(f, summarizeProfile(f, topN, windows));
  }
}

function printSummary(f: string, s: ProfileSummary): void {
  console.log(
    `\n## ${path.relative(process.cwd(), f)}: ${s.totalMs} ms profiled, ${s.busyMs} ms busy (not idle)\n`,
  );
  console.log("| area | self ms | % of busy |\n|---|---|---|");
  for (const a of s.areas) console.log(`| ${a.area} | ${a.selfMs} | ${a.pctOfBusy.toFixed(1)} |`);
  console.log("\n| function | where | area | self ms | % of busy |\n|---|---|---|---|---|");
  for (const t of s.top)
    console.log(`| ${t.name} | ${t.where} | ${t.area} | ${t.selfMs} | ${t.pct.toFixed(1)} |`);
}

runIfScript(import.meta.url, main);
