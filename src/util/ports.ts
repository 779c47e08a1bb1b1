import { createServer } from "node:net";

/** A free TCP port on 127.0.0.1 (bind port 0, read it, release it). For tests, benchmarks and testnet tools. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** The first of `count` consecutive free ports on 127.0.0.1 (random search, bounded attempts). */
async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral range (32768+): outgoing connections cannot grab them between check and listen.
    const base = 10_000 + Math.floor(Math.random() * (22_000 - count));
    const ok = await Promise.all(Array.from({ length: count }, (_, i) => portIsFree(base + i)));
    if (ok.every(Boolean)) return base;
  }
  throw new Error(`no run of ${count} free ports found on 127.0.0.1`);
}

/**
 * Port bases for a testnet of `nodes` nodes on 127.0.0.1: three runs of `nodes` free ports (JSON-RPC, P2P, metrics),
 * no two overlapping (each run found free alone, two could share ports, and a node would then fail to bind one).
 */
export async function freeTestnetPorts(
  nodes: number,
): Promise<{ rpcPortBase: number; p2pPortBase: number; metricsPortBase: number }> {
  const bases: number[] = [];
  for (let attempt = 0; bases.length < 3; attempt++) {
    if (attempt >= 50) throw new Error(`no three disjoint runs of ${nodes} free ports found on 127.0.0.1`);
    const base = await freePortRun(nodes);
    if (bases.every((b) => Math.abs(b - base) >= nodes)) bases.push(base);
  }
  const [rpcPortBase, p2pPortBase, metricsPortBase] = bases as [number, number, number];
  return { rpcPortBase, p2pPortBase, metricsPortBase };
}

/** The system errors a listen fails with, in an operator's words. */
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: "the port is in use by another program (another node, or an earlier run still going?)",
  EACCES: "permission denied (a port below 1024 needs privileges)",
  EADDRNOTAVAIL: "the address is not one of this machine's",
};

/** The system error code of a failed listen, on the error, its cause or in its message (libp2p wraps it); or null. */
export function listenFailureCode(err: unknown): string | null {
  const e = err as { code?: unknown; message?: unknown; cause?: unknown } | null;
  const text = `${e?.code ?? ""} ${e?.message ?? String(err)} ${e?.cause ?? ""}`;
  return Object.keys(LISTEN_FAILURES).find((code) => text.includes(code)) ?? null;
}

/** Why a server could not listen, in an operator's words (else the error's own message). */
export function listenFailureReason(err: unknown): string {
  const code = listenFailureCode(err);
  if (code !== null) return LISTEN_FAILURES[code]!;
  return err instanceof Error ? err.message : String(err);
}

/** Whether `port` can be bound on `host` now (another program listening there, on any address, makes it false). */
export function portIsFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}
