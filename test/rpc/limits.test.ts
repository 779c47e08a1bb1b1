import { describe, expect, it } from "vitest";
import { type Harness, type RpcResponse, startHarness, WsClient } from "./helpers.js";

describe("server limits", () => {
  it("an HTTP request that takes longer than requestTimeoutMs is answered -32000 'request timed out'", async () => {
    const h: Harness = await startHarness({ requestTimeoutMs: 200 });
    try {
      h.backend.getBalance = () => new Promise(() => {}); // a read that never finishes
      const r = await h.rpc("eth_getBalance", [`0x${"11".repeat(20)}`, "latest"]);
      expect(r.error).toEqual({ code: -32000, message: "request timed out after 200 ms" });
      expect((await h.rpc("eth_chainId")).result).toBe("0x4ee8");
    } finally {
      await h.close();
    }
  });

  it("a batch nobody will read stops: after its timeout, or when the client went away, no further call starts", async () => {
    const h: Harness = await startHarness({ requestTimeoutMs: 200 });
    try {
      // The first call of each batch is slow (400 ms); the eth_calls behind it are counted by the backend.
      h.backend.getBalance = () => new Promise((resolve) => setTimeout(() => resolve(0n), 400));
      const batch = JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "eth_getBalance", params: [`0x${"11".repeat(20)}`, "latest"] },
        ...[2, 3].map((id) => ({
          jsonrpc: "2.0",
          id,
          method: "eth_call",
          params: [{ to: `0x${"22".repeat(20)}`, data: "0x" }, "latest"],
        })),
      ]);
      const calls = h.backend.callCount;
      const timedOut = await h.post(batch);
      expect(timedOut.json).toMatchObject({
        error: { code: -32000, message: "request timed out after 200 ms" },
      });
      // The client that gives up first: its connection closes at 50 ms.
      await fetch(h.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: batch,
        signal: AbortSignal.timeout(50),
      }).catch(() => {});
      await new Promise((r) => setTimeout(r, 700)); // both slow calls have ended
      expect(h.backend.callCount).toBe(calls);
      // A batch that is read runs whole.
      const whole = await fetch(h.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: batch
          .replace('"eth_getBalance"', '"eth_chainId"')
          .replace(/"params":\["0x1{40}","latest"\]/, '"params":[]'),
      });
      expect(await whole.json()).toHaveLength(3);
      expect(h.backend.callCount).toBe(calls + 2);
    } finally {
      await h.close();
    }
  });

  it("caps open connections (HTTP and WebSocket): beyond maxConnections a new one is dropped", async () => {
    const h = await startHarness({ maxConnections: 2 });
    try {
      const a = await WsClient.open(h.wsUrl);
      const b = await WsClient.open(h.wsUrl);
      const refused = await fetch(h.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      }).then(
        (res) => `HTTP ${res.status}`,
        (err: Error) => `error ${err.message}`,
      );
      expect(refused).toMatch(/^error /);
      await a.close();
      // Once a connection closed, a new one is served again (the server notices the close asynchronously).
      let answer: RpcResponse | null = null;
      for (let i = 0; i < 100 && !answer; i++) {
        answer = await h.rpc("eth_chainId").catch(() => null);
        if (!answer) await new Promise((r) => setTimeout(r, 20));
      }
      expect(answer?.result).toBe("0x4ee8");
      await b.close();
    } finally {
      await h.close();
    }
  });
});
