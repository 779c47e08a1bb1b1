import { recordRpcCall } from "../metrics/index.js";
import { AssertionError, ConsortError, errorMessage } from "../util/errors.js";
import type { CallContext, MethodDef } from "./context.js";
import { JsonRpcCode, JsonRpcError, methodNotFound, RpcError } from "./errors.js";
import { parseParams } from "./params.js";
import { describeRights } from "./principal.js";
import type { RateLimiter } from "./rateLimit.js";

type Id = string | number | null;

export interface JsonRpcResponse {
  jsonrpc: "2.0";
  id: Id;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

const METHOD_NAME_MAX = 128;

export function errorResponse(id: Id, code: number, message: string, data?: unknown): JsonRpcResponse {
  const error: JsonRpcResponse["error"] = { code, message };
  if (data !== undefined) error.data = data;
  return { jsonrpc: "2.0", id, error };
}

/** Map anything thrown by a handler to a JSON-RPC error (no stack traces; unexpected errors are logged). */
export function toErrorResponse(id: Id, err: unknown, ctx: CallContext, method: string): JsonRpcResponse {
  if (err instanceof JsonRpcError) return errorResponse(id, err.code, err.message, err.data);
  if (err instanceof RpcError) return errorResponse(id, err.jsonRpcCode, err.message, err.data);
  if (err instanceof ConsortError) return errorResponse(id, JsonRpcCode.Server, err.message);
  ctx.logger.error(
    { method, err: errorMessage(err), stack: err instanceof Error ? err.stack : undefined },
    err instanceof AssertionError ? "rpc handler broke an invariant" : "rpc handler failed",
  );
  return errorResponse(id, JsonRpcCode.Internal, "internal error");
}

/** Who is calling: the per-call context (its principal and quota key). */
export interface Caller {
  ctx: CallContext;
  /**
   * Aborted when nobody will read the answer (the request timed out, the client went away): a batch stops starting
   * its calls then, instead of running up to maxBatchSize of them (each a sync send of up to its wait) for nobody.
   */
  signal?: AbortSignal;
}

/**
 * Handle a parsed JSON-RPC body (single call or batch). Returns the response to send, or undefined when there is
 * nothing to send (only notifications).
 */
export async function handleBody(
  body: unknown,
  caller: Caller,
  methods: Record<string, MethodDef>,
  limiter: RateLimiter | null,
): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
  const { ctx } = caller;
  if (Array.isArray(body)) {
    if (body.length === 0) return errorResponse(null, JsonRpcCode.InvalidRequest, "empty batch");
    if (body.length > ctx.opts.maxBatchSize) {
      return errorResponse(
        null,
        JsonRpcCode.InvalidRequest,
        `batch too large: ${body.length} calls, at most ${ctx.opts.maxBatchSize} per batch`,
      );
    }
    if (limiter && !limiter.take(ctx.quotaKey, body.length)) return overLimit(null, ctx);
    const batchCaller: Caller = { ...caller, ctx: { ...ctx, batchHead: ctx.backend.headNumber() } };
    const out: JsonRpcResponse[] = [];
    for (const item of body) {
      if (caller.signal?.aborted) break;
      const r = await handleCall(item, batchCaller, methods);
      if (r) out.push(r);
    }
    return out.length > 0 ? out : undefined;
  }
  if (limiter && !limiter.take(ctx.quotaKey, 1)) {
    return overLimit(isObject(body) && isValidId(body.id) ? (body.id as Id) : null, ctx);
  }
  return handleCall(body, caller, methods);
}

function overLimit(id: Id, ctx: CallContext): JsonRpcResponse {
  const rl = ctx.opts.rateLimit;
  return errorResponse(
    id,
    JsonRpcCode.LimitExceeded,
    `Over QPS limit: at most ${rl?.requestsPerSecond} requests per second (burst ${rl?.burst}) per principal`,
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isValidId(id: unknown): boolean {
  return id === null || typeof id === "string" || (typeof id === "number" && Number.isFinite(id));
}

async function handleCall(
  call: unknown,
  caller: Caller,
  methods: Record<string, MethodDef>,
): Promise<JsonRpcResponse | undefined> {
  if (!isObject(call))
    return errorResponse(null, JsonRpcCode.InvalidRequest, "invalid request: expected an object");
  const hasId = "id" in call;
  if (hasId && !isValidId(call.id)) {
    return errorResponse(
      null,
      JsonRpcCode.InvalidRequest,
      "invalid request: id must be a string, a number or null",
    );
  }
  const id = hasId ? (call.id as Id) : null;
  if (call.jsonrpc !== "2.0") {
    return errorResponse(id, JsonRpcCode.InvalidRequest, 'invalid request: jsonrpc must be "2.0"');
  }
  if (typeof call.method !== "string" || call.method.length === 0) {
    return errorResponse(
      id,
      JsonRpcCode.InvalidRequest,
      "invalid request: method must be a non-empty string",
    );
  }
  const name = call.method;
  const def = Object.hasOwn(methods, name) ? methods[name] : undefined;
  const startedMs = performance.now();
  let response: JsonRpcResponse;
  if (!def) {
    response = toErrorResponse(id, methodNotFound(name.slice(0, METHOD_NAME_MAX)), caller.ctx, name);
  } else if (!mayCall(caller.ctx, def)) {
    response = errorResponse(id, JsonRpcCode.Forbidden, forbiddenMessage(caller.ctx, name, def));
  } else if (credentialExpired(caller.ctx)) {
    response = errorResponse(id, JsonRpcCode.Unauthorized, "unauthorized: token expired");
  } else {
    try {
      const args = parseParams(def.params, call.params);
      const result = await def.handler(args, caller.ctx);
      response = { jsonrpc: "2.0", id, result: result === undefined ? null : result };
    } catch (err) {
      response = toErrorResponse(id, err, caller.ctx, name);
    }
  }
  const m = caller.ctx.metrics;
  if (m)
    recordRpcCall(
      m,
      def ? name : "unknown",
      response.error?.code ?? null,
      (performance.now() - startedMs) / 1000,
    );
  return hasId ? response : undefined;
}

/** Fail closed: a method whose right is not one the principal holds (or not a right at all) is refused. */
function mayCall(ctx: CallContext, def: MethodDef): boolean {
  return ctx.principal.rights.has(def.right);
}

function forbiddenMessage(ctx: CallContext, name: string, def: MethodDef): string {
  return `permission denied: ${name.slice(0, METHOD_NAME_MAX)} needs the "${def.right}" right; principal "${ctx.principal.id}" holds ${describeRights(ctx.principal.rights)}`;
}

/** A WebSocket outlives the token it was opened with: each call checks the expiry again. */
function credentialExpired(ctx: CallContext): boolean {
  const exp = ctx.principal.expiresAtMs;
  return exp !== null && Date.now() > exp;
}

/**
 * HTTP status for a response: 401 / 403 when the (single) call, or every call of a batch, was refused for
 * credentials / rights; 200 otherwise (every other JSON-RPC error is sent with 200).
 */
export function httpStatusOf(response: JsonRpcResponse | JsonRpcResponse[]): number {
  const list = Array.isArray(response) ? response : [response];
  if (list.length === 0) return 200;
  if (list.every((r) => r.error?.code === JsonRpcCode.Unauthorized)) return 401;
  if (
    list.every((r) => r.error?.code === JsonRpcCode.Forbidden || r.error?.code === JsonRpcCode.Unauthorized)
  ) {
    return 403;
  }
  return 200;
}
