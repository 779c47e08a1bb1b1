import { readFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import cors from "@fastify/cors";
import websocket from "@fastify/websocket";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import type { WebSocket } from "ws";
import { consolePlugin } from "../console/index.js";
import type { ConsortMetrics } from "../metrics/index.js";
import { errorMessage } from "../util/errors.js";
import type { Logger } from "../util/logger.js";
import { listenFailureReason } from "../util/ports.js";
import { Authenticator } from "./auth.js";
import { CallLimiter } from "./callLimit.js";
import { type CallContext, type MethodDef, ReceiptWaiters } from "./context.js";
import { debugMethods } from "./debugMethods.js";
import { Delivery } from "./delivery.js";
import { errorResponse, handleBody, httpStatusOf, type JsonRpcResponse } from "./dispatch.js";
import { JsonRpcCode, RpcError } from "./errors.js";
import { ethMethods } from "./ethMethods.js";
import { FilterManager } from "./filters.js";
import { fiscoGroupMethods } from "./fiscoGroupMethods.js";
import { fiscoMethods } from "./fiscoMethods.js";
import { governanceMethods } from "./governanceMethods.js";
import { checkHostAndOrigin } from "./guard.js";
import { drainRequest, sendJson, withTimeout } from "./http.js";
import type { RpcBackend } from "./interface.js";
import {
  authRequired,
  defaultRpcServerOptions,
  isLoopbackHost,
  type RpcServerOptions,
  validateRpcServerOptions,
} from "./options.js";
import { ANONYMOUS, type Principal, quotaKey } from "./principal.js";
import { RateLimiter } from "./rateLimit.js";
import {
  DEBUG_RIGHTS,
  ETH_RIGHTS,
  FISCO_GROUP_RIGHTS,
  FISCO_RIGHTS,
  GOVERNANCE_RIGHTS,
  withRights,
} from "./rights.js";
import { SubscriptionHub, type WsSession } from "./subscriptions.js";
import { serveWebSocket } from "./wsConnection.js";

const RECEIPT_WAITERS_MAX = 10_000;
/** Of those, one principal's (anonymous: one IP's) at most. */
const RECEIPT_WAITERS_PER_PRINCIPAL_MAX = 1_000;
const WS_CLOSE_TRY_AGAIN = 1013;
/** An oversized HTTP body is read and dropped up to this many times maxBodyBytes, for at most OVERSIZED_DRAIN_MS. */
const OVERSIZED_DRAIN_FACTOR = 4;
const OVERSIZED_DRAIN_MS = 3_000;

/** The full method table: Ethereum (eth_/net_/web3_, debug_), FISCO-style and governance methods, each with its right (rights.ts). */
export const rpcMethods: Record<string, MethodDef> = {
  ...withRights(ethMethods, ETH_RIGHTS),
  ...withRights(fiscoMethods, FISCO_RIGHTS),
  ...withRights(fiscoGroupMethods, FISCO_GROUP_RIGHTS),
  ...withRights(debugMethods, DEBUG_RIGHTS),
  ...withRights(governanceMethods, GOVERNANCE_RIGHTS),
};

export interface RpcServerDeps {
  backend: RpcBackend;
  logger: Logger;
  metrics?: ConsortMetrics | null;
}

/**
 * JSON-RPC 2.0 over HTTP(S) (POST /) and WebSocket (ws[s]://host:port/, same methods plus eth_subscribe) on one
 * fastify server. Before any JSON-RPC is read, a request passes the Host/Origin guard and authentication (a bearer
 * token or a client certificate → a principal); each call then needs the right its method declares (rights.ts).
 * JSON-RPC errors are sent with HTTP 200, except 401 (credentials) and 403 (rights, Host, Origin) and 415 (body type).
 */
export class RpcServer {
  readonly opts: RpcServerOptions;
  private readonly backend: RpcBackend;
  private readonly logger: Logger;
  private app: FastifyInstance | null = null;
  private auth: Authenticator | null = null;
  private readonly filters: FilterManager;
  private readonly hub: SubscriptionHub;
  private readonly receipts = new ReceiptWaiters(RECEIPT_WAITERS_MAX, RECEIPT_WAITERS_PER_PRINCIPAL_MAX);
  private readonly delivery: Delivery;
  private readonly limiter: RateLimiter | null;
  private readonly calls: CallLimiter;
  private readonly sockets = new Set<WebSocket>();
  private readonly principals = new WeakMap<IncomingMessage, Principal>();
  private readonly allowedHosts: string[];
  private unsubscribers: (() => void)[] = [];
  private expireTimer: NodeJS.Timeout | null = null;
  private started = false;
  private readonly metrics: ConsortMetrics | null;

  /** Throws RPC_CONFIG for unsafe settings (a non-loopback address without auth, …) before anything listens. */
  constructor(opts: Partial<RpcServerOptions>, deps: RpcServerDeps) {
    this.opts = { ...defaultRpcServerOptions, ...opts };
    validateRpcServerOptions(this.opts);
    this.backend = deps.backend;
    this.logger = deps.logger;
    const bindName = this.opts.host.toLowerCase();
    this.allowedHosts =
      bindName === "0.0.0.0" || bindName === "::" || this.opts.allowedHosts.includes(bindName)
        ? this.opts.allowedHosts
        : [...this.opts.allowedHosts, bindName];
    this.metrics = deps.metrics ?? null;
    this.filters = new FilterManager({
      maxFilters: this.opts.maxFilters,
      maxPerOwner: this.opts.quotas.filtersPerPrincipal,
      bufferMax: this.opts.filterBufferMax,
      idleTimeoutMs: this.opts.filterIdleTimeoutMs,
    });
    this.hub = new SubscriptionHub(
      this.opts.maxSubscriptionsPerConnection,
      this.opts.quotas.subscriptionsPerPrincipal,
    );
    this.delivery = new Delivery({
      filters: this.filters,
      hub: this.hub,
      receipts: this.receipts,
      blockGasLimit: () => this.backend.blockGasLimit(),
      logger: this.logger,
    });
    this.limiter = this.opts.rateLimit ? new RateLimiter(this.opts.rateLimit) : null;
    this.calls = new CallLimiter(this.opts.maxConcurrentCalls, this.opts.maxQueuedCalls);
  }

  /** Load keys and certificates, listen; resolves once the port is bound. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.auth = await Authenticator.load(this.opts.jwt, this.opts.tls);
    this.app = Fastify({
      logger: false,
      bodyLimit: this.opts.maxBodyBytes,
      forceCloseConnections: true,
      return503OnClosing: false,
      requestTimeout: this.opts.requestTimeoutMs,
      ...(this.opts.tls ? { https: await this.tlsOptions() } : {}),
    });
    this.app.server.maxConnections = this.opts.maxConnections;
    await this.setupRoutes(this.app);
    try {
      await this.app.listen({ host: this.opts.host, port: this.opts.port });
    } catch (err) {
      throw new RpcError(
        "RPC_LISTEN",
        `JSON-RPC cannot listen on ${this.opts.host}:${this.opts.port}: ${listenFailureReason(err)} (rpc.host, rpc.port in node.json)`,
        { err: errorMessage(err) },
      );
    }
    this.unsubscribers.push(
      this.backend.onNewBlock((ev) => this.delivery.onBlock(ev)),
      this.backend.onPendingTransactions((hashes) => this.delivery.onPending(hashes)),
    );
    const sweepMs = Math.max(1000, Math.min(60_000, Math.floor(this.opts.filterIdleTimeoutMs / 5)));
    this.expireTimer = setInterval(() => this.filters.expire(), sweepMs);
    this.expireTimer.unref();
    if (!isLoopbackHost(this.opts.host) && !authRequired(this.opts)) {
      this.logger.warn(
        { host: this.opts.host },
        "json-rpc serves a non-loopback address WITHOUT authentication (rpc.insecure / --rpc-insecure): anyone who can reach the port may submit transactions and read node state",
      );
    }
    this.logger.info(
      {
        url: this.url,
        auth: this.opts.jwt ? `jwt ${this.opts.jwt.algorithm}` : "none",
        clientCerts: this.opts.tls?.clientCerts ?? "off",
      },
      "json-rpc listening",
    );
  }

  /** Stop listening, close WebSockets, release waiters and timers. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    for (const u of this.unsubscribers) u();
    this.unsubscribers = [];
    this.delivery.stop();
    if (this.expireTimer) clearInterval(this.expireTimer);
    this.expireTimer = null;
    this.receipts.close();
    for (const s of this.sockets) s.terminate();
    this.sockets.clear();
    await this.app?.close();
  }

  /** Resolves once every committed block and pending transaction seen so far reached filters and subscriptions. */
  settled(): Promise<void> {
    return this.delivery.settled();
  }

  /** The bound address (port resolved when opts.port is 0). */
  address(): { host: string; port: number } {
    const a = this.app?.server.address() as AddressInfo | null | undefined;
    return { host: this.opts.host, port: a?.port ?? this.opts.port };
  }

  /** http(s)://host:port */
  get url(): string {
    const { host, port } = this.address();
    return `${this.opts.tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  }

  /** Gauges for metrics and tests. */
  stats(): { filters: number; wsConnections: number; subscriptions: number; queuedEvents: number } {
    return {
      filters: this.filters.size,
      wsConnections: this.sockets.size,
      subscriptions: this.hub.subscriptionCount,
      queuedEvents: this.delivery.queued,
    };
  }

  get wsUrl(): string {
    return this.url.replace(/^http/, "ws");
  }

  private async tlsOptions() {
    const tls = this.opts.tls!;
    const read = async (file: string, what: string) => {
      try {
        return await readFile(file);
      } catch (err) {
        throw new RpcError("RPC_CONFIG", `cannot read rpc.tls.${what} ${file}: ${errorMessage(err)}`);
      }
    };
    const requireCerts = tls.clientCerts === "required";
    return {
      cert: await read(tls.certFile, "certFile"),
      key: await read(tls.keyFile, "keyFile"),
      ...(tls.caFile ? { ca: await read(tls.caFile, "caFile") } : {}),
      // With client certificates required, one not signed by the chain's CA fails the handshake itself.
      requestCert: requireCerts,
      rejectUnauthorized: requireCerts,
      minVersion: "TLSv1.2" as const,
    };
  }

  private context(session: WsSession | null, principal: Principal, key: string): CallContext {
    return {
      backend: this.backend,
      opts: this.opts,
      filters: this.filters,
      hub: this.hub,
      receipts: this.receipts,
      calls: this.calls,
      session,
      principal,
      quotaKey: key,
      logger: this.logger,
      metrics: this.metrics,
    };
  }

  /**
   * Host/Origin guard, then authentication; a refused request gets its HTTP status and a JSON-RPC error body. Stays
   * synchronous when no auth is configured (the dev chain): no extra turn of the event loop per request.
   */
  private admit(req: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void {
    const refusal = checkHostAndOrigin(
      req.headers,
      this.allowedHosts,
      this.opts.corsOrigins,
      req.headers.upgrade !== undefined,
    );
    if (refusal) {
      sendJson(reply, errorResponse(null, refusal.code, refusal.message), undefined, refusal.status);
      return;
    }
    const auth = this.auth!;
    // The console's static files hold no chain data: they load without credentials, and the page then sends the
    // caller's token (or the browser its client certificate) with every JSON-RPC call, which is checked as usual.
    if (!auth.required || isConsoleAsset(req)) {
      this.principals.set(req.raw, ANONYMOUS);
      done();
      return;
    }
    const query = req.query as Record<string, unknown> | undefined;
    auth
      .authenticate({
        authorization: req.headers.authorization,
        queryToken: typeof query?.token === "string" ? query.token : undefined,
        tlsSocket: this.opts.tls ? (req.raw.socket as TLSSocket) : null,
      })
      .then(
        (principal) => {
          this.principals.set(req.raw, principal);
          done();
        },
        (err: unknown) => {
          if (!(err instanceof RpcError) || err.code !== "RPC_UNAUTHORIZED") {
            done(err instanceof Error ? err : new Error(errorMessage(err)));
            return;
          }
          reply.header("www-authenticate", 'Bearer realm="consort"');
          sendJson(reply, errorResponse(null, JsonRpcCode.Unauthorized, err.message), undefined, 401);
        },
      );
  }

  private async setupRoutes(app: FastifyInstance): Promise<void> {
    app.removeAllContentTypeParsers();
    // Only JSON bodies: a text/plain or form POST (which a web page may send without a CORS preflight) gets 415.
    app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) =>
      done(null, body),
    );
    app.setErrorHandler(async (err: { code?: string; statusCode?: number; message?: string }, req, reply) => {
      let response: JsonRpcResponse;
      let status = 200;
      if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
        // Read (and drop) the rest of the body first: answering and closing while the client is still writing makes
        // the kernel reset the connection, and the client gets EPIPE/ECONNRESET instead of this JSON-RPC error.
        await drainRequest(req.raw, OVERSIZED_DRAIN_FACTOR * this.opts.maxBodyBytes, OVERSIZED_DRAIN_MS);
        response = errorResponse(
          null,
          JsonRpcCode.InvalidRequest,
          `request body too large: at most ${this.opts.maxBodyBytes} bytes`,
        );
      } else if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || err.code === "FST_ERR_CTP_EMPTY_TYPE") {
        status = 415;
        response = errorResponse(
          null,
          JsonRpcCode.InvalidRequest,
          `unsupported content type ${String(req.headers["content-type"] ?? "(none)").slice(0, 80)}: send application/json`,
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
      return sendJson(reply, response, undefined, status);
    });
    app.setNotFoundHandler((_req, reply) =>
      sendJson(
        reply,
        errorResponse(null, JsonRpcCode.InvalidRequest, "not found: send JSON-RPC to POST /"),
        undefined,
        404,
      ),
    );
    if (this.opts.corsOrigins.length > 0) {
      await app.register(cors, {
        origin: this.opts.corsOrigins.includes("*") ? true : this.opts.corsOrigins,
        methods: ["GET", "POST", "OPTIONS"],
        allowedHeaders: ["content-type", "authorization"],
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
    // Before body parsing and the WebSocket upgrade: a refused request is never executed. Added after the websocket
    // plugin, whose own onRequest hook marks upgrades so that a refused upgrade's socket is closed after the answer.
    app.addHook("onRequest", (req, reply, done) => this.admit(req, reply, done));
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
      wsHandler: (socket, req) => this.onWebSocket(socket, req),
    });
    await app.register(consolePlugin, { prefix: "/ui" });
  }

  private principalOf(req: FastifyRequest): Principal {
    const p = this.principals.get(req.raw);
    if (!p) throw new RpcError("RPC_UNAUTHORIZED", "unauthorized: request was not authenticated");
    return p;
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
    const principal = this.principalOf(req);
    const ctx = this.context(null, principal, quotaKey(principal, req.ip));
    const response = await withTimeout(
      handleBody(
        body,
        { ctx, signal: Array.isArray(body) ? closeSignal(reply) : undefined },
        rpcMethods,
        this.limiter,
      ),
      this.opts.requestTimeoutMs,
    );
    if (response === undefined) return reply.code(200).send();
    return sendJson(reply, response, this.logger, httpStatusOf(response));
  }

  private onWebSocket(socket: WebSocket, req: FastifyRequest): void {
    if (this.sockets.size >= this.opts.maxWsConnections) {
      socket.close(WS_CLOSE_TRY_AGAIN, "too many connections");
      return;
    }
    const principal = this.principalOf(req);
    this.sockets.add(socket);
    serveWebSocket(socket, {
      hub: this.hub,
      limits: this.opts,
      quotaKey: quotaKey(principal, req.ip),
      context: (session) => this.context(session, principal, session.quotaKey),
      methods: rpcMethods,
      limiter: this.limiter,
      logger: this.logger,
      onClose: () => this.sockets.delete(socket),
    });
  }
}

/**
 * Aborted when the response closes: once an answer is written (the timeout's too) or the client went away, nobody
 * reads what the rest of a batch would give. Batches only: a single call (a submission) pays no listener.
 */
function closeSignal(reply: FastifyReply): AbortSignal {
  const abandoned = new AbortController();
  reply.raw.once("close", () => abandoned.abort());
  return abandoned.signal;
}

/** A GET of the web console's static files (/ui/…), not a WebSocket upgrade. */
function isConsoleAsset(req: FastifyRequest): boolean {
  return req.method === "GET" && req.headers.upgrade === undefined && /^\/ui(\/|$)/.test(req.url);
}
