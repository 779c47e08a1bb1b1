import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { errorMessage } from "../util/errors.js";
import type { Logger } from "../util/logger.js";
import { listenFailureReason } from "../util/ports.js";
import { MetricsError } from "./errors.js";
import type { Readiness } from "./interface.js";
import {
  defaultMetricsServerOptions,
  type MetricsServerOptions,
  validateMetricsServerOptions,
} from "./options.js";

export interface MetricsServerDeps {
  register: Registry;
  readiness(): Readiness;
  logger: Logger;
}

/**
 * The operator's port (its own, loopback by default): GET /metrics (Prometheus text), /health (200 while the process
 * serves: liveness), /ready (200 when synced and a quorum of validators is reachable, else 503; JSON body says why).
 * Plain node:http: three read-only routes need no framework, and it stays up even if the RPC server is busy.
 */
export class MetricsServer {
  readonly opts: MetricsServerOptions;
  private server: Server | null = null;

  constructor(
    opts: Partial<MetricsServerOptions>,
    private readonly deps: MetricsServerDeps,
  ) {
    this.opts = { ...defaultMetricsServerOptions, ...opts };
    validateMetricsServerOptions(this.opts);
  }

  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => void this.handle(req, res));
    // Scrapes are small GETs: bound how long a client may hold a connection.
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    server.keepAliveTimeout = 5_000;
    server.maxHeadersCount = 50;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) =>
        reject(
          new MetricsError(
            "METRICS_LISTEN",
            `metrics server cannot listen on ${this.opts.host}:${this.opts.port}: ${listenFailureReason(err)} (metrics.host, metrics.port in node.json)`,
            {
              err: errorMessage(err),
            },
          ),
        ),
      );
      server.listen({ host: this.opts.host, port: this.opts.port }, () => resolve());
    });
    this.server = server;
    this.deps.logger.info({ url: `${this.url}/metrics` }, "metrics listening");
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  address(): { host: string; port: number } {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return { host: this.opts.host, port: a?.port ?? this.opts.port };
  }

  get url(): string {
    const { host, port } = this.address();
    return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "text/plain", "GET only\n");
      const path = (req.url ?? "/").split("?")[0];
      switch (path) {
        case "/metrics":
          return send(res, 200, this.deps.register.contentType, await this.deps.register.metrics());
        case "/health":
          return send(res, 200, "application/json", `${JSON.stringify({ status: "ok" })}\n`);
        case "/ready": {
          const r = this.deps.readiness();
          return send(res, r.ready ? 200 : 503, "application/json", `${JSON.stringify(r)}\n`);
        }
        default:
          return send(res, 404, "text/plain", "not found: GET /metrics, /health or /ready\n");
      }
    } catch (err) {
      this.deps.logger.error({ err: errorMessage(err) }, "metrics request failed");
      send(res, 500, "text/plain", "internal error\n");
    }
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": contentType, "cache-control": "no-store" });
  res.end(res.req.method === "HEAD" ? undefined : body);
}
