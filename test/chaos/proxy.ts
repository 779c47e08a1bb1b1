/**
 * User-space TCP proxies between nodes (tc netem is not available here): one per directed pair (i → j), listening
 * on relay(j):40000+i in the hub namespace and dialing node j from relay(i). `delayMs` holds every chunk that long
 * in each direction, in order; 0 forwards at once. Bytes held are bounded: reading pauses above the bound.
 */
import net from "node:net";
import { nodeAddress, P2P_PORT, proxyEndpoint, relayAddress } from "./netns.js";

const HELD_BYTES_MAX = 8 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 10_000;

class DelayedPipe {
  private heldBytes = 0;

  constructor(
    private readonly from: net.Socket,
    private readonly to: net.Socket,
    private readonly delayMs: () => number,
  ) {
    from.on("data", (chunk: Buffer) => this.forward(chunk));
  }

  private forward(chunk: Buffer): void {
    const delay = this.delayMs();
    if (delay <= 0 && this.heldBytes === 0) {
      this.to.write(chunk);
      return;
    }
    this.heldBytes += chunk.length;
    if (this.heldBytes > HELD_BYTES_MAX) this.from.pause();
    // Same delay for every chunk of a pipe: timers of equal duration fire in order, so the byte stream stays ordered.
    setTimeout(
      () => {
        this.heldBytes -= chunk.length;
        if (!this.to.destroyed) this.to.write(chunk);
        if (this.heldBytes <= HELD_BYTES_MAX / 2 && this.from.isPaused()) this.from.resume();
      },
      Math.max(delay, 0),
    );
  }
}

export class LinkProxies {
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  /** Added to every chunk in each direction (a 200 ms link: 400 ms more per round trip). */
  delayMs = 0;

  constructor(private readonly nodeCount: number) {}

  async start(): Promise<void> {
    for (let from = 0; from < this.nodeCount; from++) {
      for (let to = 0; to < this.nodeCount; to++) {
        if (from !== to) this.servers.push(await this.listen(from, to));
      }
    }
  }

  private listen(from: number, to: number): Promise<net.Server> {
    const { host, port } = proxyEndpoint(from, to);
    const server = net.createServer((client) => this.accept(client, from, to));
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port }, () => resolve(server));
    });
  }

  private accept(client: net.Socket, from: number, to: number): void {
    const upstream = net.connect({
      host: nodeAddress(to),
      port: P2P_PORT,
      localAddress: relayAddress(from),
      timeout: CONNECT_TIMEOUT_MS,
    });
    upstream.once("connect", () => upstream.setTimeout(0));
    upstream.once("timeout", () => upstream.destroy());
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      this.sockets.add(s);
      s.once("close", () => {
        this.sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
      s.on("error", () => {});
    }
    new DelayedPipe(client, upstream, () => this.delayMs);
    new DelayedPipe(upstream, client, () => this.delayMs);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
  }
}
