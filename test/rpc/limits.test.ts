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
