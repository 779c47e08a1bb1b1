import type { Connection, Stream } from "@libp2p/interface";
import type { NodeId } from "../types/index.js";
import { ConsortError, errorMessage } from "../util/errors.js";
import { bytesToHex } from "../util/hex.js";
import type { PeerAdmission } from "./admission.js";
import { NetworkError } from "./errors.js";
import {
  decodeResponse,
  encodeErrorResponse,
  encodeFrame,
  encodeResponse,
  ResponseStatus,
  readFrame,
  sendFrame,
  writeFrame,
} from "./framing.js";
import type { GossipService } from "./gossip.js";
import {
  PROTOCOL_NAMES,
  type ProtocolName,
  type RequestHandler,
  type RequestOptions,
  TOPIC_NAMES,
  type TopicName,
} from "./interface.js";
import { directProtocolId, protocolId } from "./names.js";
import { nodeIdToPeerId } from "./peerId.js";
import { requireStarted, type TransportContext, type TransportNode } from "./transportContext.js";

const DIRECT_TIMEOUT_MS_DEFAULT = 5_000;
/** Bound on the whole serving of one inbound request (read + handler + write). */
const INBOUND_REQUEST_TIMEOUT_MS = 30_000;
/** Bound on reading one inbound direct message. */
const INBOUND_DIRECT_TIMEOUT_MS = 10_000;

/**
 * The stream protocols: length-prefixed request/response (one stream per request, bounded in flight) and direct
 * messages (one gossip-topic payload to one member, delivered through the gossip handlers).
 */
export class StreamService {
  private readonly requestHandlers = new Map<ProtocolName, RequestHandler>();

  constructor(
    private readonly ctx: TransportContext,
    private readonly admission: PeerAdmission,
    private readonly gossip: GossipService,
  ) {}

  private streamOpts(): { maxInboundStreams: number; maxOutboundStreams: number } {
    return {
      maxInboundStreams: this.ctx.opts.streamsPerConnectionMax,
      maxOutboundStreams: this.ctx.opts.streamsPerConnectionMax,
    };
  }

  /** Registers the request protocols with handlers and the direct-message protocol on a node being started. */
  async registerProtocols(node: TransportNode): Promise<void> {
    const chainId = this.ctx.opts.chainId;
    const streamOpts = this.streamOpts();
    for (const name of this.requestHandlers.keys()) {
      await node.handle(protocolId(chainId, name), this.requestStreamHandler(name), streamOpts);
    }
    await node.handle(
      directProtocolId(chainId),
      (stream, connection) => {
        this.serveDirect(stream, connection).catch((err: unknown) =>
          this.onServeFailure(stream, "direct", err),
        );
      },
      streamOpts,
    );
  }

  /** After start: registers the request protocols whose handle() call came while the node was starting. */
  async registerLateProtocols(node: TransportNode): Promise<void> {
    const chainId = this.ctx.opts.chainId;
    const served = new Set(node.getProtocols());
    for (const name of this.requestHandlers.keys()) {
      const id = protocolId(chainId, name);
      if (!served.has(id)) await node.handle(id, this.requestStreamHandler(name), this.streamOpts());
    }
  }

  // ---------------------------------------------------------------- direct messages

  async sendDirect(
    nodeId: NodeId,
    topic: TopicName,
    data: Uint8Array,
    opts: RequestOptions = { timeoutMs: DIRECT_TIMEOUT_MS_DEFAULT },
  ): Promise<void> {
    const topicIndex = TOPIC_NAMES.indexOf(topic);
    if (topicIndex < 0)
      throw new NetworkError("NETWORK_INVALID_OPTIONS", `unknown topic ${String(topic)}`, { topic });
    if (data.length > this.ctx.opts.gossipMessageBytesMax) {
      throw new NetworkError("NETWORK_OVERSIZE", "direct message over the size bound", {
        topic,
        bytes: data.length,
        bytesMax: this.ctx.opts.gossipMessageBytesMax,
      });
    }
    const meta = { nodeId: bytesToHex(nodeId), topic };
    await this.withStream(
      nodeId,
      directProtocolId(this.ctx.opts.chainId),
      opts.timeoutMs,
      meta,
      async (stream, signal) => {
        await writeFrame(stream, encodeFrame(Uint8Array.of(topicIndex), data), signal);
      },
    );
  }

  private async serveDirect(stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer;
    const from = this.admission.member(peer.toString());
    if (from === undefined) {
      stream.abort(new Error("not admitted"));
      return;
    }
    const timer = setTimeout(
      () => stream.abort(new Error("direct message timeout")),
      INBOUND_DIRECT_TIMEOUT_MS,
    );
    try {
      let frame: Uint8Array;
      try {
        frame = await readFrame(stream, this.ctx.opts.gossipMessageBytesMax + 1);
      } catch (err) {
        this.onBadFrame(from, "direct", err);
        stream.abort(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      await stream.close().catch(() => undefined);
      const topic = TOPIC_NAMES[frame[0] ?? 255];
      if (topic === undefined) {
        this.admission.penalize(from, "direct: unknown topic", this.ctx.opts.malformedFramePoints);
        return;
      }
      const delivery = await this.gossip.deliver(topic, from, frame.subarray(1));
      if (delivery.verdict === "reject") this.gossip.rejectGossip(topic, peer, `direct: ${delivery.reason}`);
    } finally {
      clearTimeout(timer);
    }
  }

  // ---------------------------------------------------------------- request / response

  handle(protocol: ProtocolName, handler: RequestHandler): void {
    if (!PROTOCOL_NAMES.includes(protocol)) {
      throw new NetworkError("NETWORK_INVALID_OPTIONS", `unknown protocol ${String(protocol)}`, { protocol });
    }
    const fresh = !this.requestHandlers.has(protocol);
    this.requestHandlers.set(protocol, handler);
    const node = this.ctx.node();
    if (fresh && node !== null) {
      node
        .handle(
          protocolId(this.ctx.opts.chainId, protocol),
          this.requestStreamHandler(protocol),
          this.streamOpts(),
        )
        .catch((err: unknown) =>
          this.ctx.log.error({ protocol, err: errorMessage(err) }, "could not register protocol"),
        );
    }
  }

  async request(
    nodeId: NodeId,
    protocol: ProtocolName,
    request: Uint8Array,
    opts: RequestOptions,
  ): Promise<Uint8Array> {
    const limits = this.ctx.opts;
    const meta = { nodeId: bytesToHex(nodeId), protocol };
    if (request.length > limits.requestBytesMax) {
      throw new NetworkError("NETWORK_OVERSIZE", "request over the size bound", {
        ...meta,
        bytes: request.length,
        bytesMax: limits.requestBytesMax,
      });
    }
    const id = protocolId(limits.chainId, protocol);
    return this.withStream(nodeId, id, opts.timeoutMs, meta, async (stream, signal) => {
      stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, limits.responseBytesMax + 1024);
      // Listen first, send, and close our side only once answered: a responder that answers early (busy,
      // oversize) must neither leave us stuck on a full send window nor have its answer dropped by our close.
      const reading = readFrame(stream, limits.responseBytesMax + 1);
      reading.catch(() => undefined); // awaited below; do not report it unhandled if sending throws first
      sendFrame(stream, encodeFrame(request));
      const frame = await reading;
      if (stream.writeBufferLength > 0) stream.abort(new Error("answered before the request was sent"));
      else await stream.close({ signal }).catch(() => undefined);
      return decodeResponse(frame, meta);
    });
  }

  /**
   * Opens a stream on an existing connection and runs `body` under a timeout. Maps libp2p failures to typed
   * errors: timeout, not connected, unsupported protocol, stream error.
   */
  private async withStream<T>(
    nodeId: NodeId,
    protocol: string,
    timeoutMs: number,
    meta: Record<string, unknown>,
    body: (stream: Stream, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const node = requireStarted(this.ctx);
    const peerId = nodeIdToPeerId(nodeId);
    if (!this.admission.isAdmitted(peerId.toString())) {
      throw new NetworkError("NETWORK_NOT_CONNECTED", "no open connection to that node", meta);
    }
    const signal = AbortSignal.timeout(timeoutMs);
    let stream: Stream | undefined;
    const onAbort = () => stream?.abort(new NetworkError("NETWORK_TIMEOUT", "request timed out", meta));
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      stream = await node.dialProtocol(peerId, protocol, { signal });
      return await body(stream, signal);
    } catch (err) {
      if (signal.aborted) {
        throw new NetworkError("NETWORK_TIMEOUT", `no answer within ${timeoutMs} ms`, { ...meta, timeoutMs });
      }
      stream?.abort(err instanceof Error ? err : new Error(String(err)));
      if (err instanceof NetworkError) throw err;
      const name = err instanceof Error ? err.name : "";
      if (name === "UnsupportedProtocolError") {
        throw new NetworkError(
          "NETWORK_UNSUPPORTED_PROTOCOL",
          "the remote does not serve that protocol",
          meta,
        );
      }
      if (stream === undefined) {
        throw new NetworkError(
          "NETWORK_NOT_CONNECTED",
          `could not open a stream: ${errorMessage(err)}`,
          meta,
          {
            cause: err,
          },
        );
      }
      throw new NetworkError("NETWORK_STREAM_ERROR", `stream failed: ${errorMessage(err)}`, meta, {
        cause: err,
      });
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  private requestStreamHandler(name: ProtocolName) {
    return (stream: Stream, connection: Connection): void => {
      this.serveRequest(name, stream, connection).catch((err: unknown) =>
        this.onServeFailure(stream, name, err),
      );
    };
  }

  /** Last resort: serving a stream threw (a bug); never let it become an unhandled rejection. */
  private onServeFailure(stream: Stream, what: string, err: unknown): void {
    this.ctx.log.error({ what, err: errorMessage(err) }, "serving an inbound stream failed");
    stream.abort(err instanceof Error ? err : new Error(String(err)));
  }

  private async serveRequest(name: ProtocolName, stream: Stream, connection: Connection): Promise<void> {
    const from = this.admission.member(connection.remotePeer.toString());
    const handler = this.requestHandlers.get(name);
    if (from === undefined || handler === undefined) {
      stream.abort(new Error("not admitted"));
      return;
    }
    if (this.ctx.counters.requestsInFlight >= this.ctx.opts.inboundRequestsMax) {
      this.ctx.counters.requestsDropped++;
      this.ctx.log.debug(
        { protocol: name, dropped: this.ctx.counters.requestsDropped },
        "inbound request queue full",
      );
      await this.respond(stream, encodeErrorResponse(ResponseStatus.Busy, "busy"));
      return;
    }
    this.ctx.counters.requestsInFlight++;
    const timer = setTimeout(
      () => stream.abort(new Error("inbound request timeout")),
      INBOUND_REQUEST_TIMEOUT_MS,
    );
    try {
      let request: Uint8Array;
      try {
        request = await readFrame(stream, this.ctx.opts.requestBytesMax);
      } catch (err) {
        this.onBadFrame(from, name, err);
        if (err instanceof NetworkError && err.code === "NETWORK_OVERSIZE") {
          await this.respond(
            stream,
            encodeErrorResponse(
              ResponseStatus.Oversize,
              `request over ${this.ctx.opts.requestBytesMax} bytes`,
            ),
          );
        } else {
          stream.abort(err instanceof Error ? err : new Error(String(err)));
        }
        return;
      }
      let response: Uint8Array;
      try {
        response = await handler(from, request);
      } catch (err) {
        const message = err instanceof ConsortError ? `${err.code}: ${err.message}` : errorMessage(err);
        this.ctx.log.debug(
          { protocol: name, peer: connection.remotePeer.toString(), err: message },
          "request failed",
        );
        await this.respond(stream, encodeErrorResponse(ResponseStatus.Error, message));
        return;
      }
      if (response.length > this.ctx.opts.responseBytesMax) {
        this.ctx.log.warn(
          { protocol: name, bytes: response.length },
          "response over the size bound: not sent",
        );
        await this.respond(stream, encodeErrorResponse(ResponseStatus.Error, "response over the size bound"));
        return;
      }
      await this.respond(stream, encodeResponse(ResponseStatus.Ok, response));
    } finally {
      clearTimeout(timer);
      this.ctx.counters.requestsInFlight--;
    }
  }

  private async respond(stream: Stream, frame: ReturnType<typeof encodeResponse>): Promise<void> {
    try {
      await writeFrame(stream, frame);
    } catch (err) {
      this.ctx.log.debug({ err: errorMessage(err) }, "could not send a response");
      stream.abort(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** A malformed or oversized inbound frame costs points; a stream that merely broke does not. */
  private onBadFrame(from: NodeId, what: string, err: unknown): void {
    const malformed =
      err instanceof NetworkError && (err.code === "NETWORK_OVERSIZE" || err.meta.malformed === true);
    this.ctx.log.debug({ what, nodeId: bytesToHex(from), err: errorMessage(err) }, "bad inbound frame");
    if (malformed)
      this.admission.penalize(from, `${what}: malformed frame`, this.ctx.opts.malformedFramePoints);
  }
}
