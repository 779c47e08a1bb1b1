import { ed25519 } from "@noble/curves/ed25519.js";
import { Libp2pTransport, type Libp2pTransportInit, type NetworkKey } from "../../src/network/index.js";
import { nodeIdToPeerId } from "../../src/network/peerId.js";
import type { TransportNode } from "../../src/network/transportContext.js";
import type { NodeId } from "../../src/types/index.js";
import { captureLogger, type LogEntry } from "../fixtures/logger.js";

export const CHAIN_ID = 20200n;

export function makeKey(): NetworkKey {
  const seed = ed25519.utils.randomSecretKey();
  return { seed, nodeId: ed25519.getPublicKey(seed) };
}

// The recording logger lives in test/fixtures/logger.ts (shared with the driver tests and the simulator).
export { captureLogger, type LogEntry };

/** Polls `cond` every 25 ms until true; throws after `timeoutMs` with `what`. */
export async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  const deadline = start + timeoutMs;
  if (process.env.NET_TEST_TIMING) process.stdout.write(`waitFor ${what}\n`);
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  if (process.env.NET_TEST_TIMING) process.stdout.write(`  ${what}: ${Date.now() - start} ms\n`);
}

/** Options for fast tests: loopback port 0, quick redials and heartbeats. */
export const FAST: Partial<Libp2pTransportInit> = {
  listenAddresses: ["/ip4/127.0.0.1/tcp/0"],
  reconnectIntervalMs: 100,
  reconnectBackoffMinMs: 100,
  reconnectBackoffMaxMs: 800,
  gossipHeartbeatMs: 200,
  dialTimeoutMs: 2_000,
  inboundConnectionThreshold: 1_000,
};

export interface TestNode {
  key: NetworkKey;
  transport: Libp2pTransport;
  log: ReturnType<typeof captureLogger>;
}

/** Creates and starts `count` transports that allow each other (plus `extraAllowed`), without static peers. */
export async function startNodes(
  count: number,
  opts: Partial<Libp2pTransportInit> = {},
  keys: NetworkKey[] = Array.from({ length: count }, makeKey),
  extraAllowed: NodeId[] = [],
): Promise<TestNode[]> {
  const allowed = [...keys.map((k) => k.nodeId), ...extraAllowed];
  const nodes = keys.map((key) => {
    const log = captureLogger();
    const transport = new Libp2pTransport(
      { ...FAST, ...opts, chainId: CHAIN_ID, key, allowedNodes: allowed },
      { logger: log },
    );
    return { key, transport, log };
  });
  await Promise.all(nodes.map((n) => n.transport.start()));
  return nodes;
}

/** Gives every node every other node's address as a static peer, then waits for the full mesh. */
export async function connectAll(nodes: TestNode[]): Promise<void> {
  for (const n of nodes) {
    n.transport.setStaticPeers(nodes.filter((m) => m !== n).flatMap((m) => m.transport.listenAddresses()));
  }
  await waitFor("full mesh", () => nodes.every((n) => n.transport.peerCount() === nodes.length - 1));
}

export function hasNode(list: NodeId[], nodeId: NodeId): boolean {
  return list.some((x) => x.length === nodeId.length && x.every((b, i) => b === nodeId[i]));
}

/** The libp2p node under a started transport (to open raw streams, as a peer that misbehaves would). */
export function libp2pOf(n: TestNode): TransportNode {
  return (n.transport as unknown as { node: TransportNode }).node;
}

/** A raw stream from `from` to `to` on `protocol`, over their existing connection. */
export function openRawStream(from: TestNode, to: TestNode, protocol: string) {
  return libp2pOf(from).dialProtocol(nodeIdToPeerId(to.key.nodeId), protocol);
}
