import { bytesToHex } from "../util/hex.js";
import {
  type CallContext,
  method,
  paramFailAt,
  parseCallParam,
  resolveBlockNumber,
  resolveStateBlock,
} from "./context.js";
import { RpcError } from "./errors.js";
import type { RpcTracerSpec } from "./interface.js";
import { p } from "./params.js";

/**
 * geth's debug_trace* methods: the struct logger (no tracer), callTracer and prestateTracer, in geth's output
 * format. Every replay holds one call execution slot (maxConcurrentCalls) and is bounded like a call (the
 * executor's time budget); struct logs are bounded by traceStructLogsMax. A transaction is replayed on its parent
 * block's state, so only blocks within ledger.stateHistoryBlocks can be traced.
 */

const TRACERS = ["callTracer", "prestateTracer"];
const STRUCT_LOGGER_KEYS = new Set([
  "enableMemory",
  "disableStack",
  "disableStorage",
  "enableReturnData",
  "limit",
  "debug",
  "timeout",
  "tracer",
  "tracerConfig",
  "reexec",
  "stateOverrides",
  "blockOverrides",
]);

function fail(index: number, why: string): never {
  paramFailAt(index, "trace config", why);
}

function bool(cfg: Record<string, unknown>, key: string, index: number): boolean {
  const v = cfg[key];
  if (v === undefined || v === null) return false;
  if (typeof v !== "boolean") fail(index, `${key} must be a boolean`);
  return v;
}

/** geth's TraceConfig → the tracer to run. Unknown tracers and options we cannot honour are refused. */
export function parseTraceConfig(v: unknown, index: number, ctx: CallContext): RpcTracerSpec {
  if (v === undefined || v === null) return structLogger({}, index, ctx);
  if (typeof v !== "object" || Array.isArray(v)) fail(index, "expected an object");
  const cfg = v as Record<string, unknown>;
  for (const key of Object.keys(cfg)) if (!STRUCT_LOGGER_KEYS.has(key)) fail(index, `unknown field "${key}"`);
  if (cfg.stateOverrides !== undefined || cfg.blockOverrides !== undefined) {
    throw new RpcError("RPC_UNSUPPORTED", "state and block overrides are not supported");
  }
  const tracer = cfg.tracer;
  if (tracer === undefined || tracer === null || tracer === "") return structLogger(cfg, index, ctx);
  if (typeof tracer !== "string") fail(index, "tracer must be a string");
  const tc = cfg.tracerConfig ?? {};
  if (typeof tc !== "object" || tc === null || Array.isArray(tc))
    fail(index, "tracerConfig must be an object");
  const tracerConfig = tc as Record<string, unknown>;
  switch (tracer) {
    case "callTracer":
      if (bool(tracerConfig, "withLog", index)) {
        throw new RpcError(
          "RPC_UNSUPPORTED",
          "callTracer's withLog is not supported: read the logs from the receipt",
        );
      }
      return { tracer: "callTracer", onlyTopCall: bool(tracerConfig, "onlyTopCall", index) };
    case "prestateTracer":
      if (bool(tracerConfig, "diffMode", index)) {
        throw new RpcError("RPC_UNSUPPORTED", "prestateTracer's diffMode is not supported");
      }
      return { tracer: "prestateTracer" };
    default:
      throw new RpcError(
        "RPC_UNSUPPORTED",
        `tracer "${tracer.slice(0, 64)}" is not supported: use ${TRACERS.join(" or ")}, or no tracer for the struct logger`,
      );
  }
}

function structLogger(cfg: Record<string, unknown>, index: number, ctx: CallContext): RpcTracerSpec {
  const limit = cfg.limit ?? 0;
  if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 0) {
    fail(index, "limit must be a non-negative integer");
  }
  return {
    tracer: "structLogger",
    enableMemory: bool(cfg, "enableMemory", index),
    enableReturnData: bool(cfg, "enableReturnData", index),
    disableStack: bool(cfg, "disableStack", index),
    disableStorage: bool(cfg, "disableStorage", index),
    limit,
    maxLogs: ctx.opts.traceStructLogsMax,
  };
}

async function traceBlock(ctx: CallContext, n: number, spec: RpcTracerSpec) {
  if (n === 0) throw new RpcError("RPC_NOT_FOUND", "genesis is not traceable"); // geth: -32000
  const results = await ctx.calls.run(() => ctx.backend.traceBlock(n, spec));
  if (results === null) throw new RpcError("RPC_NOT_FOUND", `block #${n} not found`);
  return results.map((r) => ({ txHash: bytesToHex(r.txHash), result: r.result }));
}

export const debugMethods = {
  debug_traceTransaction: method(
    [p.hash("transaction hash"), p.any("trace config", true)] as const,
    async ([hash, config], ctx) => {
      const spec = parseTraceConfig(config, 1, ctx);
      const result = await ctx.calls.run(() => ctx.backend.traceTransaction(hash, spec));
      if (result === null) throw new RpcError("RPC_NOT_FOUND", "transaction not found");
      return result;
    },
  ),
  debug_traceCall: method(
    [p.object("transaction"), p.optBlockTag(), p.any("trace config", true)] as const,
    async ([obj, tag, config], ctx) => {
      const spec = parseTraceConfig(config, 2, ctx);
      const req = parseCallParam(obj, ctx.backend.chainId);
      const block = await resolveStateBlock(ctx, tag);
      return ctx.calls.run(() => ctx.backend.traceCall(req, block, spec));
    },
  ),
  debug_traceBlockByNumber: method(
    [p.blockTag("block number"), p.any("trace config", true)] as const,
    async ([tag, config], ctx) => {
      const n = resolveBlockNumber(ctx, tag);
      if (n > ctx.backend.headNumber()) throw new RpcError("RPC_NOT_FOUND", `block #${n} not found`);
      return traceBlock(ctx, n, parseTraceConfig(config, 1, ctx));
    },
  ),
  debug_traceBlockByHash: method(
    [p.hash("block hash"), p.any("trace config", true)] as const,
    async ([hash, config], ctx) => {
      const b = await ctx.backend.getBlock(hash, false);
      if (!b) throw new RpcError("RPC_NOT_FOUND", `block ${bytesToHex(hash)} not found`);
      return traceBlock(ctx, b.header.number, parseTraceConfig(config, 1, ctx));
    },
  ),
};
