/**
 * The chaos network: one Linux network namespace per validator, joined by veth pairs to a bridge that lives in a
 * "hub" namespace this run made. Nothing is created in the root namespace (no interface, route or rule), so no
 * packet of ours can leave the machine: every address below exists only inside these namespaces.
 *
 *   hub namespace ── bridge br0: 10.213.0.1 (clients, checker, proxies)
 *                                10.213.0.100+i ("relay address of node i": proxies speak for node i from it)
 *   node i namespace ── eth0: 10.213.0.10+i (its RPC on :8545, libp2p on :30300)
 *
 * Node i reaches node j only through the proxy of the pair (i → j), which listens on relay(j):40000+i and dials
 * node j from relay(i). So, inside node i's namespace, everything about peer j carries the address relay(j): a
 * partition is "drop relay(j)" in i's namespace and "drop relay(i)" in j's, with real iptables rules. Direct
 * node-to-node packets are refused for good (addresses learned through identify would bypass the proxies).
 */
import { execFile, execFileSync } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const SUBNET_PREFIX = "10.213.0";
export const HUB_ADDRESS = `${SUBNET_PREFIX}.1`;
export const RPC_PORT = 8545;
export const P2P_PORT = 30300;
const PROXY_PORT_BASE = 40000;
/** The relay addresses are 10.213.0.100..: inside one /27, so one rule matches "all peers". */
const RELAY_NET = `${SUBNET_PREFIX}.96/27`;
/** Our own iptables chain in each node namespace: the nemesis adds to it, heal flushes it. */
const CHAOS_CHAIN = "CHAOS";

export const nodeAddress = (i: number): string => `${SUBNET_PREFIX}.${10 + i}`;
export const relayAddress = (i: number): string => `${SUBNET_PREFIX}.${100 + i}`;
/** Where node `from` dials node `to`: the proxy of that directed pair. */
export const proxyEndpoint = (from: number, to: number) => ({
  host: relayAddress(to),
  port: PROXY_PORT_BASE + from,
});

export interface NetNames {
  prefix: string;
  hub: string;
  nodes: string[];
}

/** Names unique to this run: `<prefix><pid>-hub`, `<prefix><pid>-n<i>` (parallel runs and leftovers never collide). */
export function netNames(prefix: string, pid: number, count: number): NetNames {
  const base = `${prefix}${pid}`;
  return { prefix, hub: `${base}-hub`, nodes: Array.from({ length: count }, (_, i) => `${base}-n${i}`) };
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
}

async function runAsync(cmd: string, args: string[]): Promise<void> {
  await execFileAsync(cmd, args);
}

/** Builds the hub, the bridge, and one namespace per node with its veth on the bridge. Undone by destroyNetwork. */
export function createNetwork(names: NetNames): void {
  run("ip", ["netns", "add", names.hub]);
  const hub = (...args: string[]) => run("ip", ["-n", names.hub, ...args]);
  hub("link", "set", "lo", "up");
  hub("link", "add", "br0", "type", "bridge");
  hub("addr", "add", `${HUB_ADDRESS}/24`, "dev", "br0");
  names.nodes.forEach((_, i) => {
    hub("addr", "add", `${relayAddress(i)}/24`, "dev", "br0");
  });
  hub("link", "set", "br0", "up");
  names.nodes.forEach((ns, i) => {
    run("ip", ["netns", "add", ns]);
    const node = (...args: string[]) => run("ip", ["-n", ns, ...args]);
    // Both ends are born inside our namespaces: nothing ever appears in the root namespace.
    node("link", "add", "eth0", "type", "veth", "peer", "name", `p${i}`, "netns", names.hub);
    node("addr", "add", `${nodeAddress(i)}/24`, "dev", "eth0");
    node("link", "set", "lo", "up");
    node("link", "set", "eth0", "up");
    hub("link", "set", `p${i}`, "master", "br0");
    hub("link", "set", `p${i}`, "up");
    const ipt = (...args: string[]) => run("ip", ["netns", "exec", ns, "iptables", "-w", ...args]);
    ipt("-N", CHAOS_CHAIN);
    ipt("-A", "INPUT", "-j", CHAOS_CHAIN);
    ipt("-A", "OUTPUT", "-j", CHAOS_CHAIN);
    names.nodes.forEach((_, j) => {
      if (j !== i) ipt("-A", "OUTPUT", "-d", nodeAddress(j), "-p", "tcp", "-j", "REJECT");
    });
  });
}

/** Our namespaces of any run with this prefix, and the pid that made them (parsed from the name). */
export function listNamespaces(prefix: string): { name: string; pid: number }[] {
  let out = "";
  try {
    out = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  } catch {
    return [];
  }
  const re = new RegExp(`^(${escapeRegExp(prefix)}(\\d+)-(?:hub|n\\d+))\\b`);
  return out
    .split("\n")
    .map((line) => re.exec(line.trim()))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[1]!, pid: Number(m[2]) }));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Kills whatever still runs inside one of our namespaces (only processes we started live there), then deletes it. */
export function deleteNamespace(name: string): void {
  let pids: number[] = [];
  try {
    pids = execFileSync("ip", ["netns", "pids", name], { encoding: "utf8" })
      .split("\n")
      .map(Number)
      .filter((p) => Number.isInteger(p) && p > 0 && p !== process.pid);
  } catch {}
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  try {
    run("ip", ["netns", "del", name]);
  } catch {}
}

export function destroyNetwork(names: NetNames): void {
  for (const ns of [...names.nodes, names.hub]) deleteNamespace(ns);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes the namespaces of earlier runs with this prefix whose process is gone (all of them with `force`). */
export function cleanupLeftovers(prefix: string, force = false): string[] {
  const removed: string[] = [];
  for (const { name, pid } of listNamespaces(prefix)) {
    if (!force && pid !== process.pid && pidAlive(pid)) continue;
    if (pid === process.pid) continue;
    deleteNamespace(name);
    removed.push(name);
  }
  return removed;
}

/** The nemesis's hands on the wire: iptables in the node namespaces, all inside our own CHAOS chain. */
export class Wire {
  constructor(private readonly names: NetNames) {}

  private ipt(node: number, ...args: string[]): Promise<void> {
    return runAsync("ip", ["netns", "exec", this.names.nodes[node]!, "iptables", "-w", ...args]);
  }

  /** Both directions between a and b are silently dropped (a real partition: no RST, connections just stall). */
  async cut(a: number, b: number): Promise<void> {
    for (const [self, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      await this.ipt(self, "-A", CHAOS_CHAIN, "-s", relayAddress(peer), "-j", "DROP");
      await this.ipt(self, "-A", CHAOS_CHAIN, "-d", relayAddress(peer), "-j", "DROP");
    }
  }

  /** Cuts every link between the two sides. */
  async partition(sideA: number[], sideB: number[]): Promise<void> {
    for (const a of sideA) for (const b of sideB) await this.cut(a, b);
  }

  async isolate(node: number): Promise<void> {
    const others = this.names.nodes.map((_, i) => i).filter((i) => i !== node);
    await this.partition([node], others);
  }

  /** Random drop of peer traffic in each namespace, in and out: `probability` on each link, each direction. */
  async loss(probability: number): Promise<void> {
    const p = probability.toFixed(4);
    for (let i = 0; i < this.names.nodes.length; i++) {
      for (const dir of ["-s", "-d"]) {
        await this.ipt(
          i,
          "-A",
          CHAOS_CHAIN,
          dir,
          RELAY_NET,
          "-m",
          "statistic",
          "--mode",
          "random",
          "--probability",
          p,
          "-j",
          "DROP",
        );
      }
    }
  }

  /** Removes every fault rule (the permanent "no direct node-to-node traffic" rules stay). */
  async heal(): Promise<void> {
    for (let i = 0; i < this.names.nodes.length; i++) await this.ipt(i, "-F", CHAOS_CHAIN);
  }

  /** The rules in force (for the history). */
  async rules(node: number): Promise<string> {
    const { stdout } = await execFileAsync("ip", [
      "netns",
      "exec",
      this.names.nodes[node]!,
      "iptables",
      "-S",
      CHAOS_CHAIN,
    ]);
    return stdout.trim();
  }
}
