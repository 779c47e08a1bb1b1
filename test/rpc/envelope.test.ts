import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type Harness, type RpcResponse, startHarness } from "./helpers.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ maxBodyBytes: 1024 * 1024, maxBatchSize: 200 });
});
afterAll(async () => {
  await h.close();
});

async function stillAlive() {
  const r = await h.rpc("eth_chainId");
  expect(r.result).toBe("0x4ee8");
}

describe("JSON-RPC envelope", () => {
  it("echoes id with its JSON type", async () => {
    expect((await h.rpc("eth_chainId", [], "abc")).id).toBe("abc");
    expect((await h.rpc("eth_chainId", [], 7)).id).toBe(7);
    expect((await h.rpc("eth_chainId", [], null)).id).toBeNull();
    const r = await h.post(JSON.stringify({ jsonrpc: "2.0", id: "0x1", method: "eth_chainId" }));
    expect(r.json).toEqual({ jsonrpc: "2.0", id: "0x1", result: "0x4ee8" });
  });

  it("unknown method: -32601 with geth's exact wording, HTTP 200, no result key", async () => {
    const r = await h.post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_nope", params: [] }));
    expect(r.status).toBe(200);
    expect(r.json).toEqual({
      jsonrpc: "2.0",
      id: 1,
      error: { code: -32601, message: "the method eth_nope does not exist/is not available" },
    });
  });

  it("success responses have no error key", async () => {
    const r = await h.rpc("eth_blockNumber");
    expect(r).not.toHaveProperty("error");
    expect(r.result).toBe("0x3");
  });

  it("malformed JSON → -32700; a non-JSON content type → HTTP 415, not executed; empty body → -32700", async () => {
    const bad = await h.post("{not json");
    expect(bad.status).toBe(200);
    expect((bad.json as RpcResponse).error?.code).toBe(-32700);
    const txt = await h.post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId" }), {
      "content-type": "text/plain",
    });
    expect(txt.status).toBe(415);
    expect((txt.json as RpcResponse).error?.message).toMatch(
      /unsupported content type text\/plain: send application\/json/,
    );
    expect((txt.json as RpcResponse).result).toBeUndefined();
    const charset = await h.post(JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId" }), {
      "content-type": "application/json; charset=utf-8",
    });
    expect((charset.json as RpcResponse).result).toBe("0x4ee8");
    const empty = await h.post("");
    expect((empty.json as RpcResponse).error?.code).toBe(-32700);
    // fetch sends a string body as text/plain
    const none = await fetch(h.url, { method: "POST", body: "hello" });
    expect(none.status).toBe(415);
  });

  it("invalid requests → -32600", async () => {
    for (const body of [
      "1",
      '"x"',
      "null",
      JSON.stringify({ jsonrpc: "2.0", id: 1 }),
      JSON.stringify({ jsonrpc: "1.0", id: 1, method: "eth_chainId" }),
      JSON.stringify({ jsonrpc: "2.0", id: { a: 1 }, method: "eth_chainId" }),
      JSON.stringify({ jsonrpc: "2.0", id: 1, method: 5 }),
    ]) {
      const r = await h.post(body);
      expect(r.status, body).toBe(200);
      expect((r.json as RpcResponse).error?.code, body).toBe(-32600);
    }
  });

  it("empty batch → a single -32600", async () => {
    const r = await h.post("[]");
    expect(r.json).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "empty batch" } });
  });

  it("batches: order kept, mixed errors, notifications omitted", async () => {
    const r = await h.post(
      JSON.stringify([
        { jsonrpc: "2.0", id: 1, method: "eth_chainId" },
        { jsonrpc: "2.0", id: 2, method: "nope" },
        { jsonrpc: "2.0", method: "eth_chainId" },
        5,
        { jsonrpc: "2.0", id: "x", method: "eth_blockNumber" },
      ]),
    );
    const out = r.json as RpcResponse[];
    expect(out.map((x) => x.id)).toEqual([1, 2, null, "x"]);
    expect(out[0]!.result).toBe("0x4ee8");
    expect(out[1]!.error?.code).toBe(-32601);
    expect(out[2]!.error?.code).toBe(-32600);
  });

  it("a 100-call batch (ethers' default) works", async () => {
    const batch = Array.from({ length: 100 }, (_, i) => ({
      jsonrpc: "2.0",
      id: i,
      method: "eth_blockNumber",
    }));
    const out = (await h.post(JSON.stringify(batch))).json as RpcResponse[];
    expect(out).toHaveLength(100);
    expect(out.every((x) => x.result === "0x3")).toBe(true);
  });

  it("a 10,000-call batch is refused with one well-formed error", async () => {
    const batch = Array.from({ length: 10_000 }, (_, i) => ({
      jsonrpc: "2.0",
      id: i,
      method: "eth_chainId",
    }));
    const r = await h.post(JSON.stringify(batch));
    expect(r.status).toBe(200);
    expect((r.json as RpcResponse).error?.code).toBe(-32600);
    expect((r.json as RpcResponse).error?.message).toMatch(/batch too large: 10000 calls, at most 200/);
    await stillAlive();
  });

  it("oversized body → JSON-RPC error, not a crash", async () => {
    const big = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "eth_sendRawTransaction",
      params: [`0x${"ab".repeat(600_000)}`],
    });
    const r = await h.post(big);
    expect(r.status).toBe(200);
    expect((r.json as RpcResponse).error?.code).toBe(-32600);
    expect((r.json as RpcResponse).error?.message).toMatch(/too large/);
    await stillAlive();
  });

  it("10k-deep nested JSON in params and as the body does not crash", async () => {
    const deep = `${"[".repeat(10_000)}${"]".repeat(10_000)}`;
    const r1 = await h.post(`{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"topics":${deep}}]}`);
    expect((r1.json as RpcResponse).error?.code).toBe(-32602);
    const r2 = await h.post(`{"jsonrpc":"2.0","id":1,"method":"eth_call","params":${deep}}`);
    expect((r2.json as RpcResponse).error?.code).toBe(-32602);
    const r3 = await h.post(deep); // a batch of one invalid call
    expect((r3.json as RpcResponse[])[0]!.error?.code).toBe(-32600);
    await stillAlive();
  });

  it("bad params → -32602 naming the param and why", async () => {
    const cases: [string, unknown[], RegExp][] = [
      [
        "eth_getBlockByNumber",
        ["bogus", false],
        /param 0 \(block tag\): expected a hex quantity or one of latest\|earliest\|pending\|safe\|finalized/,
      ],
      [
        "eth_getBlockByNumber",
        [`0x${"f".repeat(1000)}`, false],
        /param 0 \(block tag\): block number too large/,
      ],
      [
        "eth_getBlockByNumber",
        ["0x1", "yes"],
        /param 1 \(full transactions\): expected a boolean, got string/,
      ],
      ["eth_getBlockByNumber", [], /missing value for required argument 0 \(block tag\)/],
      ["eth_getBalance", [123], /param 0 \(address\): expected a 20-byte hex string, got number/],
      ["eth_getBalance", ["0x1234"], /param 0 \(address\): expected a 0x-prefixed 20-byte hex string/],
      [
        "eth_getStorageAt",
        [`0x${"11".repeat(20)}`, `0x${"f".repeat(1000)}`],
        /param 1 \(storage slot\): storage key too long \(want at most 32 bytes\)/,
      ],
      ["eth_getTransactionByHash", [{}], /param 0 \(transaction hash\)/],
      ["eth_chainId", [1, 2], /too many arguments, want at most 0/],
      ["eth_call", [{ to: "0x12", data: "0x" }], /param 0 \(transaction\): field to:/],
      ["eth_call", [{ to: `0x${"11".repeat(20)}`, value: `0x${"f".repeat(1000)}` }], /field value/],
      [
        "eth_sendRawTransaction",
        ["0xabc"],
        /param 0 \(signed transaction\): expected 0x-prefixed even-length hex data/,
      ],
      ["eth_getLogs", [{ address: [1] }], /param 0 \(filter\): field address\[0\]/],
      ["eth_getLogs", [{ fromBlock: "soon" }], /field fromBlock/],
      ["eth_getBlockByNumber", { a: 1 } as unknown as unknown[], /params must be an array/],
    ];
    for (const [method, params, re] of cases) {
      const r = await h.rpc(method, params);
      expect(r.error?.code, method).toBe(-32602);
      expect(r.error?.message, `${method} ${JSON.stringify(params).slice(0, 50)}`).toMatch(re);
    }
    await stillAlive();
  });

  it("invalid raw transactions are -32000 with a message, never -32603", async () => {
    const r = await h.rpc("eth_sendRawTransaction", ["0x02deadbeef"]);
    expect(r.error?.code).toBe(-32000);
    expect(r.error?.message).toMatch(/invalid transaction/);
  });

  it("GET / and other paths answer, never 500", async () => {
    const g = await fetch(h.url);
    expect(g.status).toBe(200);
    expect(((await g.json()) as RpcResponse).error?.code).toBe(-32600);
    const other = await fetch(`${h.url}/foo`, { method: "POST", body: "{}" });
    expect(other.status).toBe(404);
    await stillAlive();
  });
});

describe("rate limit", () => {
  it("answers -32005 'Over QPS limit' beyond the bucket, then recovers", async () => {
    const rl = await startHarness({ rateLimit: { requestsPerSecond: 1, burst: 5, clientsMax: 10 } });
    try {
      const results: RpcResponse[] = [];
      for (let i = 0; i < 8; i++) results.push(await rl.rpc("eth_chainId"));
      const limited = results.filter((r) => r.error);
      expect(limited.length).toBeGreaterThanOrEqual(2);
      expect(limited[0]!.error?.code).toBe(-32005);
      expect(limited[0]!.error?.message).toMatch(/^Over QPS limit/);
      expect(limited[0]!.id).toBe(1);
      const batch = Array.from({ length: 50 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "eth_chainId" }));
      const b = await rl.post(JSON.stringify(batch));
      expect((b.json as RpcResponse).error?.code).toBe(-32005);
      // The bucket refills at 1 call/s: poll until a call gets through again (bounded).
      const recovered = await eventually(async () => (await rl.rpc("eth_chainId")).result, 10_000);
      expect(recovered).toBe("0x4ee8");
    } finally {
      await rl.close();
    }
  });
});

describe("CORS and internal errors", () => {
  it("CORS preflight is answered when corsOrigins is set", async () => {
    const c = await startHarness({ corsOrigins: ["https://remix.example"] });
    try {
      const res = await fetch(c.url, {
        method: "OPTIONS",
        headers: {
          origin: "https://remix.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type",
        },
      });
      expect(res.status).toBeLessThan(300);
      expect(res.headers.get("access-control-allow-origin")).toBe("https://remix.example");
    } finally {
      await c.close();
    }
  });

  it("a backend that throws a plain Error gives -32603 'internal error' without a stack", async () => {
    const c = await startHarness();
    try {
      c.backend.getBalance = async () => {
        throw new Error("disk on fire at /secret/path");
      };
      const r = await c.rpc("eth_getBalance", [`0x${"11".repeat(20)}`, "latest"]);
      expect(r.error).toEqual({ code: -32603, message: "internal error" });
      c.backend.getSystemConfig = async () => ({ value: 1n as unknown as string, enableNumber: 0 });
      const s = await c.rpc("getSystemConfigByKey", ["group0", "", "x"]);
      expect(s.error).toEqual({ code: -32603, message: "internal error" });
      expect((await c.rpc("eth_chainId")).result).toBe("0x4ee8");
    } finally {
      await c.close();
    }
  });
});
