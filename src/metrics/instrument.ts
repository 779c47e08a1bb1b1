import type { GossipHandler, Transport } from "../network/index.js";
import type { ConsortMetrics } from "./metrics.js";

/**
 * Decorators applied by the composition root: they count at a module's public boundary, so the transport and the
 * executor (reworked by others) carry no metrics code. Each patches one instance, before other modules use it.
 */

/** Messages and bytes by topic (gossip and direct) or protocol (request/response, `req_<name>`), and penalties. */
export function instrumentTransport(transport: Transport, metrics: ConsortMetrics): void {
  const { messages, bytes, penalties, penaltyPoints } = metrics.p2p;
  const count = (topic: string, direction: "in" | "out", size: number) => {
    messages.inc({ topic, direction });
    bytes.inc({ topic, direction }, size);
  };
  // Several handlers may share a topic: the same buffer reaches each; count it once.
  const delivered = new WeakSet<Uint8Array>();
  const t = transport as {
    -readonly [K in keyof Transport]: Transport[K];
  };
  const publish = transport.publish.bind(transport);
  t.publish = (topic, data) => {
    count(topic, "out", data.length);
    return publish(topic, data);
  };
  const sendDirect = transport.sendDirect.bind(transport);
  t.sendDirect = (nodeId, topic, data, opts) => {
    count(topic, "out", data.length);
    return sendDirect(nodeId, topic, data, opts);
  };
  const subscribe = transport.subscribe.bind(transport);
  t.subscribe = (topic, handler) => {
    const counted: GossipHandler = (from, data) => {
      if (!delivered.has(data)) {
        delivered.add(data);
        count(topic, "in", data.length);
      }
      return handler(from, data);
    };
    return subscribe(topic, counted);
  };
  const request = transport.request.bind(transport);
  t.request = async (nodeId, protocol, req, opts) => {
    count(`req_${protocol}`, "out", req.length);
    const res = await request(nodeId, protocol, req, opts);
    count(`req_${protocol}`, "in", res.length);
    return res;
  };
  const handle = transport.handle.bind(transport);
  t.handle = (protocol, handler) =>
    handle(protocol, async (from, req) => {
      count(`req_${protocol}`, "in", req.length);
      const res = await handler(from, req);
      count(`req_${protocol}`, "out", res.length);
      return res;
    });
  const penalize = transport.penalize.bind(transport);
  t.penalize = (nodeId, reason, points) => {
    penalties.inc();
    penaltyPoints.inc(points);
    penalize(nodeId, reason, points);
  };
}

/** The executor as far as timing goes: `executeBlock(…, mode)` where the last argument is "build" or "verify". */
export interface TimedExecutor {
  // biome-ignore lint/suspicious/noExplicitAny: any argument list; only the last one (the mode) is read
  executeBlock(...args: any[]): Promise<unknown>;
}

/** consort_execution_block_seconds{mode}: wall time of every block execution (leader build, replica verify). */
export function instrumentExecutor(executor: TimedExecutor, metrics: ConsortMetrics): void {
  const executeBlock = executor.executeBlock.bind(executor);
  // biome-ignore lint/suspicious/noExplicitAny: forwards the original arguments unchanged
  executor.executeBlock = async (...args: any[]) => {
    const mode = args[args.length - 1] === "build" ? "build" : "verify";
    const end = metrics.chain.blockExecution.startTimer({ mode });
    try {
      return await executeBlock(...args);
    } finally {
      end();
    }
  };
}

/** One JSON-RPC call answered: `errorCode` null for a result. Unknown method names are folded into "unknown". */
export function recordRpcCall(
  metrics: ConsortMetrics,
  method: string,
  errorCode: number | null,
  seconds: number,
): void {
  metrics.rpc.requests.inc({ method, status: errorCode === null ? "ok" : String(errorCode) });
  metrics.rpc.duration.observe({ method }, seconds);
}
