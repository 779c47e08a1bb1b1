export { ConsensusPhaseTracker, type PhaseSink } from "./consensusPhases.js";
export type { MetricsErrorCode } from "./errors.js";
export { MetricsError } from "./errors.js";
export { instrumentExecutor, instrumentTransport, recordRpcCall, type TimedExecutor } from "./instrument.js";
export type { MetricsSources, Readiness } from "./interface.js";
export { type ConsortMetrics, createConsortMetrics } from "./metrics.js";
export {
  defaultMetricsServerOptions,
  type MetricsServerOptions,
  validateMetricsServerOptions,
} from "./options.js";
export { computeReadiness, type ReadinessInput } from "./readiness.js";
export { MetricsServer, type MetricsServerDeps } from "./server.js";
