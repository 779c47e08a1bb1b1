import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createConsortMetrics, instrumentExecutor, instrumentTransport } from "../../src/metrics/index.js";
import type { GossipHandler, RequestHandler, Transport } from "../../src/network/index.js";
import { parsePromText } from "./promText.js";

/** The transport methods the decorator wraps, recording what reaches the real implementation. */
function recordingTransport() {
  const calls: string[] = [];
  const handlers = new Map<string, GossipHandler[]>();
  let served: RequestHandler | null = null;
  const t = {
    publish: async (topic: string, data: Uint8Array) => void calls.push(`publish ${topic} ${data.length}`),
    sendDirect: async (_n: Uint8Array, topic: string, data: Uint8Array) =>
      void calls.push(`direct ${topic} ${data.length}`),
    subscribe: (topic: string, h: GossipHandler) => {
      handlers.set(topic, [...(handlers.get(topic) ?? []), h]);
      return () => undefined;
    },
    request: async () => new Uint8Array(10),
    handle: (_p: string, h: RequestHandler) => {
      served = h;
    },
    penalize: (_n: Uint8Array, reason: string, points: number) =>
      void calls.push(`penalize ${reason} ${points}`),
  };
  const deliver = (topic: string, data: Uint8Array) =>
    (handlers.get(topic) ?? []).map((h) => h(new Uint8Array(32), data));
  return {
    transport: t as unknown as Transport,
    calls,
    deliver,
    serve: (req: Uint8Array) => served!(new Uint8Array(32), req),
  };
}

describe("instrumentTransport", () => {
  it("counts messages and bytes by topic and direction, once per delivery, and passes everything through", async () => {
    const metrics = createConsortMetrics(new Registry(), { processMetrics: false });
    const { transport, calls, deliver, serve } = recordingTransport();
    instrumentTransport(transport, metrics);
    const verdicts: string[] = [];
    transport.subscribe("txs", () => {
      verdicts.push("a");
      return "accept";
    });
    transport.subscribe("txs", () => {
      verdicts.push("b");
      return "reject";
    });
    expect(deliver("txs", new Uint8Array(100))).toEqual(["accept", "reject"]);
    await transport.publish("consensus", new Uint8Array(7));
    await transport.sendDirect(new Uint8Array(32), "consensus", new Uint8Array(5));
    expect(
      (await transport.request(new Uint8Array(32), "blocks", new Uint8Array(3), { timeoutMs: 1 })).length,
    ).toBe(10);
    transport.handle("txs", async () => new Uint8Array(4));
    await serve(new Uint8Array(2));
    transport.penalize(new Uint8Array(32), "bad block", 50);
    expect(verdicts).toEqual(["a", "b"]);
    expect(calls).toEqual(["publish consensus 7", "direct consensus 5", "penalize bad block 50"]);

    const t = parsePromText(await metrics.register.metrics());
    const msgs = (topic: string, direction: string) =>
      t.value("consort_p2p_messages_total", { topic, direction });
    const bytes = (topic: string, direction: string) =>
      t.value("consort_p2p_message_bytes_total", { topic, direction });
    expect([msgs("txs", "in"), bytes("txs", "in")]).toEqual([1, 100]);
    expect([msgs("consensus", "out"), bytes("consensus", "out")]).toEqual([2, 12]);
    expect([bytes("req_blocks", "out"), bytes("req_blocks", "in")]).toEqual([3, 10]);
    expect([bytes("req_txs", "in"), bytes("req_txs", "out")]).toEqual([2, 4]);
    expect(t.value("consort_p2p_penalties_total")).toBe(1);
    expect(t.value("consort_p2p_penalty_points_total")).toBe(50);
  });
});

describe("instrumentExecutor", () => {
  it("times executeBlock by mode and returns its result (or its error) unchanged", async () => {
    const metrics = createConsortMetrics(new Registry(), { processMetrics: false });
    const executor = {
      executeBlock: async (_state: unknown, _ctx: unknown, txs: number[], mode: "build" | "verify") => {
        if (txs.length === 0) throw new Error("empty");
        return { mode, count: txs.length };
      },
    };
    instrumentExecutor(executor, metrics);
    expect(await executor.executeBlock(null, null, [1, 2], "build")).toEqual({ mode: "build", count: 2 });
    expect(await executor.executeBlock(null, null, [1], "verify")).toEqual({ mode: "verify", count: 1 });
    await expect(executor.executeBlock(null, null, [], "verify")).rejects.toThrow("empty");
    const t = parsePromText(await metrics.register.metrics());
    expect(t.value("consort_execution_block_seconds_count", { mode: "build" })).toBe(1);
    expect(t.value("consort_execution_block_seconds_count", { mode: "verify" })).toBe(2);
  });
});
