import WebSocket from "ws";
import type { RpcServerOptions } from "../../src/rpc/options.js";
import { RpcServer } from "../../src/rpc/server.js";
import { silentLogger } from "../../src/util/logger.js";
import { FakeBackend } from "./fakeBackend.js";

/** JSON-RPC messages in tests are untyped JSON. */
// biome-ignore lint/suspicious/noExplicitAny: test-only alias for parsed JSON
export type AnyJson = any;

export interface Harness {
  server: RpcServer;
  backend: FakeBackend;
  url: string;
  wsUrl: string;
  /** POST a JSON-RPC call; returns the parsed response body. */
  rpc(method: string, params?: unknown[], id?: unknown): Promise<RpcResponse>;
  /** POST a raw body; returns HTTP status and the text. */
  post(
    body: string,
    headers?: Record<string, string>,
  ): Promise<{ status: number; text: string; json: unknown }>;
  close(): Promise<void>;
}

export interface RpcResponse {
  jsonrpc: string;
  id: unknown;
  result?: AnyJson;
  error?: { code: number; message: string; data?: unknown };
}

export async function startHarness(
  opts: Partial<RpcServerOptions> = {},
  backend?: FakeBackend,
): Promise<Harness> {
  const b = backend ?? (await FakeBackend.withChain());
  const server = new RpcServer({ port: 0, ...opts }, { backend: b, logger: silentLogger() });
  await server.start();
  const url = server.url;
  const post = async (
    body: string,
    headers: Record<string, string> = { "content-type": "application/json" },
  ) => {
    const res = await fetch(url, { method: "POST", body, headers });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, text, json };
  };
  return {
    server,
    backend: b,
    url,
    wsUrl: server.wsUrl,
    post,
    async rpc(method, params = [], id = 1) {
      const r = await post(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
      if (r.status !== 200) throw new Error(`HTTP ${r.status}: ${r.text}`);
      return r.json as RpcResponse;
    },
    close: () => server.stop(),
  };
}

/**
 * Poll `probe` until it returns something other than undefined/false (or stops throwing); fails after `timeoutMs`.
 * Instead of fixed sleeps: waits only as long as needed.
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 5000,
  intervalMs = 20,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) {
      throw new Error(
        `condition not met within ${timeoutMs} ms${last ? ` (last error: ${String(last)})` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A WebSocket client that collects messages and lets tests await the next one matching a predicate. */
export class WsClient {
  readonly messages: AnyJson[] = [];
  private waiters: { pred: (m: AnyJson) => boolean; resolve: (m: AnyJson) => void }[] = [];
  private nextId = 1;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data) => {
      const m = JSON.parse(data.toString());
      this.messages.push(m);
      this.waiters = this.waiters.filter((w) => {
        if (w.pred(m)) {
          w.resolve(m);
          return false;
        }
        return true;
      });
    });
  }

  static open(url: string): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const c = new WsClient(ws);
      ws.once("open", () => resolve(c));
      ws.once("error", reject);
    });
  }

  next(pred: (m: AnyJson) => boolean, timeoutMs = 5000): Promise<AnyJson> {
    const found = this.messages.find(pred);
    if (found) {
      this.messages.splice(this.messages.indexOf(found), 1);
      return Promise.resolve(found);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("timed out waiting for a websocket message")),
        timeoutMs,
      );
      this.waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          this.messages.splice(this.messages.indexOf(m), 1);
          resolve(m);
        },
      });
    });
  }

  async call(method: string, params: unknown[] = []): Promise<AnyJson> {
    const id = this.nextId++;
    this.ws.send(JSON.stringify({ jsonrpc: "2.0", id, method, params }));
    return this.next((m) => m.id === id);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) return resolve();
      this.ws.once("close", () => resolve());
      this.ws.close();
    });
  }
}
