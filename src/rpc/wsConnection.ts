import type { WebSocket } from "ws";
import { errorMessage } from "../util/errors.js";
import type { Logger } from "../util/logger.js";
import type { CallContext, MethodDef } from "./context.js";
import { errorResponse, handleBody } from "./dispatch.js";
import { JsonRpcCode } from "./errors.js";
import { stringifyResponse } from "./http.js";
import type { RateLimiter } from "./rateLimit.js";
import type { SubscriptionHub, WsSession } from "./subscriptions.js";

/** Messages a WebSocket client may have queued before the server closes it. */
const WS_PENDING_MAX = 256;
/**
 * Bytes of those messages at most (or maxBodyBytes, if larger): each may be maxBodyBytes, and behind one slow request
 * 256 messages of 5 MiB would hold 1.3 GB per connection.
 */
const WS_PENDING_BYTES_MAX = 16 * 1024 * 1024;
const WS_CLOSE_POLICY = 1008;

export interface WsConnectionDeps {
  hub: SubscriptionHub;
  limits: { wsMaxQueuedNotifications: number; wsMaxBufferedBytes: number; maxBodyBytes: number };
  /** Whose subscription quota this connection counts against. */
  quotaKey: string;
  /** The call context of this connection's session. */
  context(session: WsSession): CallContext;
  methods: Record<string, MethodDef>;
  limiter: RateLimiter | null;
  logger: Logger;
  /** Told once the socket closed or failed. */
  onClose(): void;
}

/**
 * One WebSocket connection: its session in the subscription hub (closed when the client reads too slowly), and its
 * requests answered in order, bounded in count and bytes; what is still queued when it closes never runs, and a
 * running batch starts no more calls.
 */
export function serveWebSocket(socket: WebSocket, deps: WsConnectionDeps): void {
  const { hub, limits, logger } = deps;
  let queued = 0;
  const session: WsSession = {
    subscriptions: new Map(),
    quotaKey: deps.quotaKey,
    send: (text) => {
      if (socket.readyState !== socket.OPEN) return;
      if (queued >= limits.wsMaxQueuedNotifications || socket.bufferedAmount > limits.wsMaxBufferedBytes) {
        // Over the bound: drop the client's subscriptions (closing tells it why) rather than buffer without end.
        hub.remove(session);
        socket.close(
          WS_CLOSE_POLICY,
          `client too slow: more than ${limits.wsMaxQueuedNotifications} messages or ${limits.wsMaxBufferedBytes} bytes unsent; subscriptions dropped`,
        );
        return;
      }
      queued++;
      socket.send(text, () => {
        queued--;
      });
    },
  };
  hub.add(session);
  const ctx = deps.context(session);
  const closed = new AbortController();
  let pending = 0;
  let pendingBytes = 0;
  const pendingBytesMax = Math.max(WS_PENDING_BYTES_MAX, limits.maxBodyBytes); // one message always fits
  let chain: Promise<void> = Promise.resolve();
  socket.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : data.byteLength;
    if (pending >= WS_PENDING_MAX || pendingBytes + bytes > pendingBytesMax) {
      socket.close(
        WS_CLOSE_POLICY,
        `too many pending requests (at most ${WS_PENDING_MAX} or ${pendingBytesMax} bytes unanswered)`,
      );
      return;
    }
    pending++;
    pendingBytes += bytes;
    chain = chain.then(async () => {
      try {
        // Closed meanwhile: nobody reads the answer, and a queued eth_subscribe must not run.
        if (socket.readyState !== socket.OPEN) return;
        const text = Buffer.isBuffer(data)
          ? data.toString("utf8")
          : Array.isArray(data)
            ? Buffer.concat(data).toString("utf8")
            : Buffer.from(data).toString("utf8");
        let body: unknown;
        try {
          body = JSON.parse(text);
        } catch (err) {
          session.send(
            JSON.stringify(errorResponse(null, JsonRpcCode.ParseError, `parse error: ${errorMessage(err)}`)),
          );
          return;
        }
        const response = await handleBody(body, { ctx, signal: closed.signal }, deps.methods, deps.limiter);
        if (response !== undefined) session.send(stringifyResponse(response, logger));
      } catch (err) {
        logger.error({ err: errorMessage(err) }, "websocket message failed");
      } finally {
        pending--;
        pendingBytes -= bytes;
      }
    });
  });
  const cleanup = () => {
    closed.abort();
    hub.remove(session);
    deps.onClose();
  };
  socket.on("close", cleanup);
  socket.on("error", (err) => {
    logger.debug({ err: errorMessage(err) }, "websocket error");
    cleanup();
  });
}
