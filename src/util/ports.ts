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
export async function freePortRun(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    // Below Linux's ephemeral range (32768+): outgoing connections cannot grab them between check and listen.
    const base = 10_000 + Math.floor(Math.random() * (22_000 - count));
    const ok = await Promise.all(Array.from({ length: count }, (_, i) => portIsFree(base + i)));
    if (ok.every(Boolean)) return base;
  }
  throw new Error(`no run of ${count} free ports found on 127.0.0.1`);
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}
