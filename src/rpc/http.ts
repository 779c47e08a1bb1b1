import type { IncomingMessage } from "node:http";
import type { FastifyReply } from "fastify";
import { errorMessage } from "../util/errors.js";
import type { Logger } from "../util/logger.js";
import { errorResponse, type JsonRpcResponse } from "./dispatch.js";
import { JsonRpcCode } from "./errors.js";

/** The handler's answer, or -32000 "request timed out" after timeoutMs (the work itself is bounded elsewhere). */
export async function withTimeout(
  work: Promise<JsonRpcResponse | JsonRpcResponse[] | undefined>,
  timeoutMs: number,
): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<JsonRpcResponse>((resolve) => {
    timer = setTimeout(
      () => resolve(errorResponse(null, JsonRpcCode.Server, `request timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** JSON text of a response; a result that cannot be serialized (a backend bug) becomes -32603. */
export function stringifyResponse(response: unknown, logger?: Logger): string {
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

export function sendJson(
  reply: FastifyReply,
  response: unknown,
  logger?: Logger,
  status = 200,
): FastifyReply {
  return reply
    .code(status)
    .header("content-type", "application/json")
    .send(stringifyResponse(response, logger));
}

/**
 * Consume and discard what is left of a request body, bounded by bytes and time; resolves when the body ended or a
 * bound was reached (then the connection is closed as before).
 */
export function drainRequest(raw: IncomingMessage, maxBytes: number, maxMs: number): Promise<void> {
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
