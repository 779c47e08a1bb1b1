import { MetricsError } from "./errors.js";

export interface MetricsServerOptions {
  /** Loopback by default: metrics and health are for the operator's Prometheus, not the world. */
  host: string;
  /** 9545 (Besu's default); `consort testnet` gives node i 9545 + i. 0 picks a free port. */
  port: number;
  /** /ready tolerates this many blocks behind the best known height (a peer may be a commit ahead for a moment). */
  readyLagBlocksMax: number;
}

export const defaultMetricsServerOptions: MetricsServerOptions = {
  host: "127.0.0.1",
  port: 9545,
  readyLagBlocksMax: 2,
};

export function validateMetricsServerOptions(o: MetricsServerOptions): void {
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    throw new MetricsError("METRICS_OPTIONS", `metrics.port must be 0..65535, got ${o.port}`, {
      field: "port",
    });
  }
  if (!Number.isInteger(o.readyLagBlocksMax) || o.readyLagBlocksMax < 0) {
    throw new MetricsError("METRICS_OPTIONS", "metrics.readyLagBlocksMax must be a non-negative integer", {
      field: "readyLagBlocksMax",
    });
  }
  if (o.host.length === 0)
    throw new MetricsError("METRICS_OPTIONS", "metrics.host is empty", { field: "host" });
}
