import http from "node:http";

export interface RpcErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

export class RpcCallError extends Error {
  constructor(
    readonly method: string,
    readonly body: RpcErrorBody,
  ) {
    super(`${method}: ${body.message} (${body.code})`);
  }
}

/**
 * A small JSON-RPC client over node:http with a keep-alive agent: `connectionsMax` sockets at most, reused between
 * requests, so C workers keep C connections open (what the issue asks for; undici's fetch hides its pool).
 */
export class RpcClient {
  private readonly agent: http.Agent;
  private readonly host: string;
  private readonly port: number;
  private readonly path: string;
  private id = 0;

  constructor(
    readonly url: string,
    connectionsMax = 1,
    private readonly timeoutMs = 30_000,
  ) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = Number(u.port || 80);
    this.path = u.pathname || "/";
    this.agent = new http.Agent({
      keepAlive: true,
      maxSockets: connectionsMax,
      maxFreeSockets: connectionsMax,
    });
  }

  /** One call; throws RpcCallError with the node's error (code, message) or a transport error. */
  async call<T = unknown>(method: string, params: unknown[] = []): Promise<T> {
    const body = await this.post(JSON.stringify({ jsonrpc: "2.0", id: ++this.id, method, params }));
    const parsed = JSON.parse(body) as { result?: T; error?: RpcErrorBody };
    if (parsed.error) throw new RpcCallError(method, parsed.error);
    return parsed.result as T;
  }

  /** A JSON-RPC batch; results in request order, errors as RpcCallError values (not thrown). */
  async batch<T = unknown>(calls: { method: string; params: unknown[] }[]): Promise<(T | RpcCallError)[]> {
    if (calls.length === 0) return [];
    const base = this.id;
    this.id += calls.length;
    const req = calls.map((c, i) => ({
      jsonrpc: "2.0",
      id: base + i + 1,
      method: c.method,
      params: c.params,
    }));
    const parsed = JSON.parse(await this.post(JSON.stringify(req))) as {
      id: number;
      result?: T;
      error?: RpcErrorBody;
    }[];
    if (!Array.isArray(parsed))
      throw new Error(`batch answer is not an array: ${JSON.stringify(parsed).slice(0, 200)}`);
    const byId = new Map(parsed.map((r) => [r.id, r]));
    return calls.map((c, i) => {
      const r = byId.get(base + i + 1);
      if (!r) return new RpcCallError(c.method, { code: -1, message: "missing from batch answer" });
      if (r.error) return new RpcCallError(c.method, r.error);
      return r.result as T;
    });
  }

  close(): void {
    this.agent.destroy();
  }

  private post(payload: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.host,
          port: this.port,
          path: this.path,
          method: "POST",
          agent: this.agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            if ((res.statusCode ?? 0) >= 400 && !text.startsWith("{") && !text.startsWith("[")) {
              reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`));
            } else resolve(text);
          });
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error(`timeout after ${this.timeoutMs} ms`)));
      req.on("error", reject);
      req.end(payload);
    });
  }
}

export const hexToNumber = (q: string): number => Number.parseInt(q, 16);

/** The receipt of `hash`, polled every `pollMs` until it exists; throws after `timeoutMs`. */
export async function waitForReceipt<R = unknown>(
  rpc: RpcClient,
  hash: string,
  pollMs: number,
  timeoutMs: number,
): Promise<R> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const receipt = await rpc.call<R | null>("eth_getTransactionReceipt", [hash]);
    if (receipt !== null) return receipt;
    if (performance.now() > deadline) throw new Error(`no receipt for ${hash} within ${timeoutMs} ms`);
    await new Promise<void>((resolve) => setTimeout(resolve, pollMs));
  }
}
