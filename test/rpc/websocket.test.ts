import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { SubscriptionHub } from "../../src/rpc/subscriptions.js";
import { bytesToHex } from "../../src/util/hex.js";
import { decodeEthTx, signEth, TOKEN_ADDRESS, TRANSFER_TOPIC } from "./fakeBackend.js";
import { eventually, type Harness, startHarness, WsClient } from "./helpers.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ maxSubscriptionsPerConnection: 3, maxWsConnections: 4 });
});
afterAll(async () => {
  await h.close();
});

describe("WebSocket", () => {
  it("answers the same methods, single and batch, and malformed JSON", async () => {
    const c = await WsClient.open(h.wsUrl);
    try {
      expect((await c.call("eth_chainId")).result).toBe("0x4ee8");
      expect((await c.call("eth_nope")).error).toEqual({
        code: -32601,
        message: "the method eth_nope does not exist/is not available",
      });
      c.ws.send(JSON.stringify([{ jsonrpc: "2.0", id: 100, method: "eth_blockNumber" }]));
      const batch = await c.next((m) => Array.isArray(m));
      expect(batch[0].id).toBe(100);
      c.ws.send("{oops");
      expect((await c.next((m) => m.error?.code === -32700)).id).toBeNull();
      c.ws.send("[]");
      expect((await c.next((m) => m.error?.code === -32600)).error.message).toBe("empty batch");
    } finally {
      await c.close();
    }
  });

  it("newHeads is delivered when a block is committed; unsubscribe stops it", async () => {
    const c = await WsClient.open(h.wsUrl);
    try {
      const sub = (await c.call("eth_subscribe", ["newHeads"])).result;
      expect(sub).toMatch(/^0x[0-9a-f]+$/);
      const block = h.backend.mine();
      const note = await c.next((m) => m.method === "eth_subscription");
      expect(note.params.subscription).toBe(sub);
      expect(note.params.result.hash).toBe(bytesToHex(block.hash));
      expect(note.params.result.number).toBe(`0x${block.header.number.toString(16)}`);
      expect(note.params.result.baseFeePerGas).toBe("0x0");
      expect(note.params.result).not.toHaveProperty("transactions");
      expect((await c.call("eth_unsubscribe", [sub])).result).toBe(true);
      expect((await c.call("eth_unsubscribe", [sub])).result).toBe(false);
      h.backend.mine();
      // delivered everything for that block, then a round trip: no notification was queued before the answer
      await h.server.settled();
      await c.call("eth_blockNumber");
      expect(c.messages.filter((m) => m.method === "eth_subscription")).toHaveLength(0);
    } finally {
      await c.close();
    }
  });

  it("logs subscription filters by address and topics; pending transactions are announced", async () => {
    const c = await WsClient.open(h.wsUrl);
    try {
      const logsSub = (
        await c.call("eth_subscribe", [
          "logs",
          { address: bytesToHex(TOKEN_ADDRESS), topics: [bytesToHex(TRANSFER_TOPIC)] },
        ])
      ).result;
      const otherSub = (await c.call("eth_subscribe", ["logs", { address: `0x${"99".repeat(20)}` }])).result;
      const pendingSub = (await c.call("eth_subscribe", ["newPendingTransactions"])).result;
      const raw = await signEth({
        type: 2,
        nonce: 5,
        to: bytesToHex(TOKEN_ADDRESS),
        gasLimit: 60_000n,
        maxFeePerGas: 0n,
        maxPriorityFeePerGas: 0n,
      });
      const tx = decodeEthTx(raw);
      h.backend.outcomes.set(bytesToHex(tx.hash), {
        status: 1,
        logs: [{ address: TOKEN_ADDRESS, topics: [TRANSFER_TOPIC], data: new Uint8Array(0) }],
        output: new Uint8Array(0),
      });
      const hash = (await c.call("eth_sendRawTransaction", [bytesToHex(raw)])).result;
      const pending = await c.next((m) => m.params?.subscription === pendingSub);
      expect(pending.params.result).toBe(hash);
      h.backend.mine();
      const log = await c.next((m) => m.params?.subscription === logsSub);
      expect(log.params.result.transactionHash).toBe(hash);
      expect(log.params.result.logIndex).toBe("0x0");
      expect(log.params.result.removed).toBe(false);
      await c.call("eth_blockNumber");
      expect(c.messages.some((m) => m.params?.subscription === otherSub)).toBe(false);
      // limit: 3 per connection
      const fourth = await c.call("eth_subscribe", ["newHeads"]);
      expect(fourth.error.code).toBe(-32005);
      const bad = await c.call("eth_subscribe", ["syncing"]);
      expect(bad.error.code).toBe(-32602);
    } finally {
      await c.close();
    }
  });

  it("eth_subscribe over HTTP is refused", async () => {
    const r = await h.rpc("eth_subscribe", ["newHeads"]);
    expect(r.error).toEqual({ code: -32601, message: "notifications not supported" });
  });

  it("enforces maxWsConnections and survives abrupt disconnects", async () => {
    const clients = await Promise.all([1, 2, 3, 4].map(() => WsClient.open(h.wsUrl)));
    const extra = new WebSocket(h.wsUrl);
    const code = await new Promise<number>((resolve) => extra.on("close", (c) => resolve(c)));
    expect(code).toBe(1013);
    for (const c of clients) c.ws.terminate();
    await eventually(async () => h.server.stats().wsConnections === 0 || undefined);
    h.backend.mine();
    const again = await WsClient.open(h.wsUrl);
    expect((await again.call("eth_chainId")).result).toBe("0x4ee8");
    await again.close();
  });

  it("stop() removes the backend listeners", async () => {
    const h2 = await startHarness();
    expect(h2.backend.listenerCount).toBe(2);
    await h2.close();
    expect(h2.backend.listenerCount).toBe(0);
  });

  it("an oversized WebSocket message closes that socket (1009), the server keeps serving", async () => {
    const small = await startHarness({ maxBodyBytes: 1024 });
    try {
      const c = await WsClient.open(small.wsUrl);
      const closed = new Promise<number>((resolve) => c.ws.on("close", (code) => resolve(code)));
      c.ws.send(
        JSON.stringify({ jsonrpc: "2.0", id: 1, method: "web3_sha3", params: [`0x${"ab".repeat(2048)}`] }),
      );
      expect(await closed).toBe(1009);
      const again = await WsClient.open(small.wsUrl);
      expect((await again.call("eth_chainId")).result).toBe("0x4ee8");
      await again.close();
    } finally {
      await small.close();
    }
  });
});

describe("WebSocket: requests of a closed connection", () => {
  /** A sync send behind a nonce gap: it waits `waitMs` for a receipt, holding the requests queued behind it. */
  const gapped = async (waitMs: number, nonce = 50) => {
    const raw = await signEth({
      type: 2,
      nonce,
      to: `0x${"11".repeat(20)}`,
      gasLimit: 21_000n,
      maxFeePerGas: 0n,
      maxPriorityFeePerGas: 0n,
    });
    return {
      jsonrpc: "2.0",
      id: 100,
      method: "eth_sendRawTransactionSync",
      params: [bytesToHex(raw), waitMs],
    };
  };
  const subscribe = (id: number) => ({ jsonrpc: "2.0", id, method: "eth_subscribe", params: ["newHeads"] });
  const call = (id: number) => ({
    jsonrpc: "2.0",
    id,
    method: "eth_call",
    params: [{ to: `0x${"22".repeat(20)}`, data: "0x" }, "latest"],
  });

  it("subscriptions that complete after the close never count against the principal's quota", async () => {
    const q = await startHarness({ quotas: { filtersPerPrincipal: 1000, subscriptionsPerPrincipal: 3 } });
    try {
      // Queued behind the waiting send (separate messages), and inside the same batch (one message).
      for (const body of [
        [await gapped(300), subscribe(1), subscribe(2), subscribe(3), call(4)].map((m) => JSON.stringify(m)),
        [JSON.stringify([await gapped(300, 51), subscribe(1), subscribe(2), subscribe(3), call(4)])],
      ]) {
        const calls = q.backend.callCount;
        const c = await WsClient.open(q.wsUrl);
        for (const text of body) c.ws.send(text);
        await new Promise((r) => setTimeout(r, 50));
        await c.close();
        await new Promise((r) => setTimeout(r, 500)); // the send's wait is over, and what followed it has run
        expect(q.server.stats()).toMatchObject({ wsConnections: 0, subscriptions: 0 });
        expect(q.backend.callCount).toBe(calls); // a message still queued at the close never runs
      }
      const fresh = await WsClient.open(q.wsUrl);
      for (let i = 0; i < 3; i++)
        expect((await fresh.call("eth_subscribe", ["newHeads"])).result).toMatch(/^0x/);
      await fresh.close();
    } finally {
      await q.close();
    }
  });

  it("messages queued behind a slow one are bounded in bytes, not only in count", async () => {
    const q = await startHarness({ maxBodyBytes: 1024 * 1024 });
    try {
      const c = await WsClient.open(q.wsUrl);
      const closed = new Promise<[number, string]>((resolve) =>
        c.ws.on("close", (code, reason) => resolve([code, reason.toString()])),
      );
      c.ws.send(JSON.stringify(await gapped(5_000)));
      // 17 messages of ~1 MiB: past 16 MiB unanswered, far below the 256-message count.
      const big = JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "eth_chainId",
        params: ["a".repeat(1_000_000)],
      });
      for (let i = 0; i < 17 && c.ws.readyState === WebSocket.OPEN; i++) c.ws.send(big);
      const [code, reason] = await closed;
      expect(code).toBe(1008);
      expect(reason).toContain("too many pending requests");
      expect(c.messages.filter((m) => m.id === 1)).toHaveLength(0); // nothing queued behind the send ran
    } finally {
      await q.close();
    }
  });
});

describe("SubscriptionHub", () => {
  it("refuses a session it no longer holds (a request that outlived its connection), counting nothing", () => {
    const hub = new SubscriptionHub(10, 2);
    const session = { subscriptions: new Map(), quotaKey: "ip:1", send: () => {} };
    hub.add(session);
    hub.subscribe(session, { kind: "newHeads" });
    hub.remove(session);
    expect(() => hub.subscribe(session, { kind: "newHeads" })).toThrow("the connection is closed");
    const next = { subscriptions: new Map(), quotaKey: "ip:1", send: () => {} };
    hub.add(next);
    hub.subscribe(next, { kind: "newHeads" });
    hub.subscribe(next, { kind: "newHeads" }); // the quota of 2 is whole again
    expect(hub.subscriptionCount).toBe(2);
  });
});
