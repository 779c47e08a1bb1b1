import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import cors from "@fastify/cors";
import websocket from "@fastify/websocket";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { WebSocket } from "ws";
import { consolePlugin } from "../console/index.js";
import type { ConsortMetrics } from "../metrics/index.js";
import { errorMessage } from "../util/errors.js";
import type { Logger } from "../util/logger.js";
import { CallLimiter } from "./callLimit.js";
import { type CallContext, type MethodDef, ReceiptWaiters } from "./context.js";
import { errorResponse, handleBody, type JsonRpcResponse } from "./dispatch.js";
import { JsonRpcCode } from "./errors.js";
import { formatEthHeader, type Json } from "./ethFormat.js";
import { ethMethods } from "./ethMethods.js";
import { FilterManager } from "./filters.js";
import { fiscoMethods } from "./fiscoMethods.js";
import type { RpcBackend, RpcNewBlockEvent } from "./interface.js";
import { blockLogs, type LogCriteria } from "./logs.js";
import { defaultRpcServerOptions, type RpcServerOptions } from "./options.js";
import { RateLimiter } from "./rateLimit.js";
import { SubscriptionHub, type WsSession } from "./subscriptions.js";

/** Messages a WebSocket client may have queued before the server closes it. */
const WS_PENDING_MAX = 256;
const RECEIPT_WAITERS_MAX = 10_000;
const WS_CLOSE_POLICY = 1008;
const WS_CLOSE_TRY_AGAIN = 1013;
/** An oversized HTTP body is read and dropped up to this many times maxBodyBytes, for at most OVERSIZED_DRAIN_MS. */
const OVERSIZED_DRAIN_FACTOR = 4;
const OVERSIZED_DRAIN_MS = 3_000;

/** The full method table: Ethereum (eth_/net_/web3_) and FISCO-style methods. */
export const rpcMethods: Record<string, MethodDef> = { ...ethMethods, ...fiscoMethods };

export interface RpcServerDeps {
  backend: RpcBackend;
  logger: Logger;
  metrics?: ConsortMetrics | null;
}

/**
 * JSON-RPC 2.0 over HTTP (POST /) and WebSocket (ws://host:port/, same methods plus eth_subscribe) on one fastify
 * server. Every JSON-RPC error is sent with HTTP 200.
 */
export class RpcServer {
  readonly opts: RpcServerOptions;
  private readonly backend: RpcBackend;
  private readonly logger: Logger;
  private readonly app: FastifyInstance;
  private readonly filters: FilterManager;
  private readonly hub: SubscriptionHub;
  private readonly receipts = new ReceiptWaiters(RECEIPT_WAITERS_MAX);
  private readonly limiter: RateLimiter | null;
  private readonly calls: CallLimiter;
  private readonly sockets = new Set<WebSocket>();
  private unsubscribers: (() => void)[] = [];
  private expireTimer: NodeJS.Timeout | null = null;
  private started = false;
  private readonly metrics: ConsortMetrics | null;

  constructor(opts: Partial<RpcServerOptions>, deps: RpcServerDeps) {
    this.opts = { ...defaultRpcServerOptions, ...opts };
    this.backend = deps.backend;
    this.logger = deps.logger;
    this.metrics = deps.metrics ?? null;
    this.filters = new FilterManager({
      maxFilters: this.opts.maxFilters,
      bufferMax: this.opts.filterBufferMax,
      idleTimeoutMs: this.opts.filterIdleTimeoutMs,
    });
    this.hub = new SubscriptionHub(this.opts.maxSubscriptionsPerConnection);
    this.limiter = this.opts.rateLimit ? new RateLimiter(this.opts.rateLimit) : null;
    this.calls = new CallLimiter(this.opts.maxConcurrentCalls, this.opts.maxQueuedCalls);
    this.app = Fastify({
      logger: false,
      bodyLimit: this.opts.maxBodyBytes,
      forceCloseConnections: true,
      return503OnClosing: false,
    });
  }

  /** Listen; resolves once the port is bound. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.setupRoutes();
    await this.app.listen({ host: this.opts.host, port: this.opts.port });
    this.unsubscribers.push(
      this.backend.onNewBlock((ev) => this.onNewBlock(ev)),
      this.backend.onPendingTransactions((hashes) => {
        try {
          this.filters.onPending(hashes);
          this.hub.onPending(hashes);
        } catch (err) {
          this.logger.error({ err: errorMessage(err) }, "pending transactions fan-out failed");
        }
      }),
    );
    const sweepMs = Math.max(1000, Math.min(60_000, Math.floor(this.opts.filterIdleTimeoutMs / 5)));
    this.expireTimer = setInterval(() => this.filters.expire(), sweepMs);
    this.expireTimer.unref();
    this.logger.info({ url: this.url }, "json-rpc listening");
  }

  /** Stop listening, close WebSockets, release waiters and timers. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const u of this.unsubscribers) u();
    this.unsubscribers = [];
    if (this.expireTimer) clearInterval(this.expireTimer);
    this.expireTimer = null;
    this.receipts.close();
    for (const s of this.sockets) s.terminate();
    this.sockets.clear();
    await this.app.close();
  }

  /** The bound address (port resolved when opts.port is 0). */
  address(): { host: string; port: number } {
    const a = this.app.server.address() as AddressInfo | null;
    return { host: this.opts.host, port: a?.port ?? this.opts.port };
  }

  /** http://host:port */
  get url(): string {
    const { host, port } = this.address();
    return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  }

  /** Gauges for metrics and tests. */
  stats(): { filters: number; wsConnections: number; subscriptions: number } {
    return {
      filters: this.filters.size,
      wsConnections: this.sockets.size,
      subscriptions: this.hub.subscriptionCount,
    };
  }

  get wsUrl(): string {
    return this.url.replace(/^http/, "ws");
  }

  private context(session: WsSession | null): CallContext {
    return {
      backend: this.backend,
      opts: this.opts,
      filters: this.filters,
      hub: this.hub,
      receipts: this.receipts,
      calls: this.calls,
      session,
      logger: this.logger,
      metrics: this.metrics,
    };
  }

  private onNewBlock(ev: RpcNewBlockEvent): void {
    try {
      this.receipts.onBlock(ev.block, ev.receipts);
      const logsFor = (c: LogCriteria): Json[] => {
        const out: Json[] = [];
        blockLogs(c, ev.block, ev.receipts, out, Number.MAX_SAFE_INTEGER);
        return out;
      };
      this.filters.onBlock(ev.block.hash, logsFor);
      this.hub.onBlock(formatEthHeader(ev.block, this.backend.blockGasLimit()), logsFor);
    } catch (err) {
      this.logger.error({ err: errorMessage(err) }, "new block fan-out failed");
    }
  }

  private async setupRoutes(): Promise<void> {
    const app = this.app;
    app.removeAllContentTypeParsers();
    app.addContentTypeParser("*", { parseAs: "string" }, (_req, body, done) => done(null, body));
    app.setErrorHandler(async (err: { code?: string; statusCode?: number; message?: string }, req, reply) => {
      let response: JsonRpcResponse;
      if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
        // Read (and drop) the rest of the body first: answering and closing while the client is still writing makes
        // the kernel reset the connection, and the client gets EPIPE/ECONNRESET instead of this JSON-RPC error.
        await drainRequest(req.raw, OVERSIZED_DRAIN_FACTOR * this.opts.maxBodyBytes, OVERSIZED_DRAIN_MS);
        response = errorResponse(
          null,
          JsonRpcCode.InvalidRequest,
          `request body too large: at most ${this.opts.maxBodyBytes} bytes`,
        );
      } else if (err.statusCode !== undefined && err.statusCode < 500) {
        response = errorResponse(
          null,
          JsonRpcCode.ParseError,
          `parse error: ${err.message ?? "bad request"}`,
        );
      } else {
        this.logger.error({ err: err.message, code: err.code }, "rpc request failed");
        response = errorResponse(null, JsonRpcCode.Internal, "internal error");
      }
      return sendJson(reply, response);
    });
    app.setNotFoundHandler((_req, reply) =>
      reply
        .code(404)
        .header("content-type", "application/json")
        .send(
          JSON.stringify(
            errorResponse(null, JsonRpcCode.InvalidRequest, "not found: send JSON-RPC to POST /"),
          ),
        ),
    );
    if (this.opts.corsOrigins.length > 0) {
      await app.register(cors, {
        origin: this.opts.corsOrigins.includes("*") ? true : this.opts.corsOrigins,
        methods: ["GET", "POST", "OPTIONS"],
      });
    }
    await app.register(websocket, {
      options: { maxPayload: this.opts.maxBodyBytes },
      // The plugin's default handler terminates the socket on any error. For a frame over maxPayload, ws has already
      // started a clean close (1009 "message too big"), which the client should receive instead of a reset (1006).
      errorHandler: (error, socket) => {
        this.logger.debug({ err: errorMessage(error) }, "websocket error");
        if (socket.readyState !== socket.CLOSING && socket.readyState !== socket.CLOSED) socket.terminate();
      },
    });
    app.post("/", (req, reply) => this.onHttp(req, reply));
    app.route({
      method: "GET",
      url: "/",
      handler: (_req, reply) =>
        sendJson(
          reply,
          errorResponse(
            null,
            JsonRpcCode.InvalidRequest,
            "send JSON-RPC with POST /, or open a WebSocket on /",
          ),
        ),
      wsHandler: (socket, req) => this.onWebSocket(socket, req.ip),
    });
    await app.register(consolePlugin, { prefix: "/ui" });
  }

  private async onHttp(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const text = typeof req.body === "string" ? req.body : "";
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (err) {
      return sendJson(
        reply,
        errorResponse(null, JsonRpcCode.ParseError, `parse error: ${errorMessage(err)}`),
      );
    }
    const response = await handleBody(
      body,
      { ip: req.ip, ctx: this.context(null) },
      rpcMethods,
      this.limiter,
    );
    if (response === undefined) return reply.code(200).send();
    return sendJson(reply, response, this.logger);
  }

  private onWebSocket(socket: WebSocket, ip: string): void {
    if (this.sockets.size >= this.opts.maxWsConnections) {
      socket.close(WS_CLOSE_TRY_AGAIN, "too many connections");
      return;
    }
    this.sockets.add(socket);
    const session: WsSession = {
      subscriptions: new Map(),
      send: (text) => {
        if (socket.readyState !== socket.OPEN) return;
        if (socket.bufferedAmount > this.opts.wsMaxBufferedBytes) {
          socket.close(WS_CLOSE_POLICY, "client too slow");
          return;
        }
        socket.send(text);
      },
    };
    this.hub.add(session);
    const ctx = this.context(session);
    let pending = 0;
    let chain: Promise<void> = Promise.resolve();
    socket.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
      if (pending >= WS_PENDING_MAX) {
        socket.close(WS_CLOSE_POLICY, "too many pending requests");
        return;
      }
      pending++;
      const text = Buffer.isBuffer(data)
        ? data.toString("utf8")
        : Array.isArray(data)
          ? Buffer.concat(data).toString("utf8")
          : Buffer.from(data).toString("utf8");
      chain = chain.then(async () => {
        try {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch (err) {
            session.send(
              JSON.stringify(
                errorResponse(null, JsonRpcCode.ParseError, `parse error: ${errorMessage(err)}`),
              ),
            );
            return;
          }
          const response = await handleBody(body, { ip, ctx }, rpcMethods, this.limiter);
          if (response !== undefined) session.send(stringifyResponse(response, this.logger));
        } catch (err) {
          this.logger.error({ err: errorMessage(err) }, "websocket message failed");
        } finally {
          pending--;
        }
      });
    });
    const cleanup = () => {
      this.hub.remove(session);
      this.sockets.delete(socket);
    };
    socket.on("close", cleanup);
    socket.on("error", (err) => {
      this.logger.debug({ err: errorMessage(err) }, "websocket error");
      cleanup();
    });
  }
}

/** JSON text of a response; a result that cannot be serialized (a backend bug) becomes -32603. */
function stringifyResponse(response: unknown, logger?: Logger): string {
  try {
    return JSON.stringify(response);
  } catch (err) {
    logger?.error({ err: errorMessage(err) }, "rpc response not serializable");
    const id =
      !Array.isArray(response) && typeof response === "object" && response
        ? (response as JsonRpcResponse).id
        : null;
    return JSON.stringify(errorResponse(id ?? null, JsonRpcCode.Internal, "internal error"));
  }
}

function sendJson(reply: FastifyReply, response: unknown, logger?: Logger): FastifyReply {
  return reply.code(200).header("content-type", "application/json").send(stringifyResponse(response, logger));
}

/**
 * Consume and discard what is left of a request body, bounded by bytes and time; resolves when the body ended or a
 * bound was reached (then the connection is closed as before).
 */
function drainRequest(raw: IncomingMessage, maxBytes: number, maxMs: number): Promise<void> {
  if (raw.complete || raw.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    let seenBytes = 0;
    const done = () => {
      clearTimeout(timer);
      raw.off("data", onData);
      raw.off("end", done);
      raw.off("error", done);
      raw.off("close", done);
      resolve();
    };
    const onData = (chunk: Buffer) => {
      seenBytes += chunk.length;
      if (seenBytes > maxBytes) done();
    };
    const timer = setTimeout(done, maxMs);
    raw.on("data", onData);
    raw.on("end", done);
    raw.on("error", done);
    raw.on("close", done);
    raw.resume();
  });
}
