export { AccessListTracer } from "./accessListTracer.js";
export { CallTracer, type CallTracerConfig } from "./callTracer.js";
export { TraceError, type TraceErrorCode } from "./errors.js";
export { errorStringReason, gethErrorMessage } from "./gethWording.js";
export { PrestateTracer } from "./prestateTracer.js";
export { traceBlockTxs } from "./replay.js";
export { type StructLogBudget, StructLogger, type StructLoggerConfig } from "./structLogger.js";
export type { EvmTracer, ResultTracer, TopCall } from "./tracer.js";
