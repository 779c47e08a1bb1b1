import type { Stream } from "@libp2p/interface";
import { Uint8ArrayList } from "uint8arraylist";
import { NetworkError } from "./errors.js";

/**
 * Wire format of the request/response and direct protocols: each side sends exactly one frame, a varint length
 * prefix (it-length-prefixed) then the body, bounded on both sides.
 * - request: the request bytes;
 * - response: one status byte, then the response bytes (OK) or a UTF-8 message (errors);
 * - direct: one topic byte (index in TOPIC_NAMES), then the message bytes.
 */
export const ResponseStatus = {
  Ok: 0,
  /** The handler threw; the body is its message. */
  Error: 1,
  /** The request frame was over the responder's bound. */
  Oversize: 2,
  /** The responder's inbound queue was full. */
  Busy: 3,
} as const;
export type ResponseStatus = (typeof ResponseStatus)[keyof typeof ResponseStatus];

/** Remote error messages are cut to this many bytes. */
export const ERROR_MESSAGE_BYTES_MAX = 512;

/** Unsigned LEB128 varint (the it-length-prefixed / multiformats prefix), for lengths up to 2^53. */
export function encodeVarint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** A frame ready to send: the varint length prefix, then the parts (not copied). */
export function encodeFrame(...parts: Uint8Array[]): Uint8ArrayList {
  const body = new Uint8ArrayList(...parts);
  return new Uint8ArrayList(encodeVarint(body.byteLength), body);
}

export function encodeResponse(status: ResponseStatus, body: Uint8Array): Uint8ArrayList {
  return encodeFrame(Uint8Array.of(status), body);
}

export function encodeErrorResponse(status: ResponseStatus, message: string): Uint8ArrayList {
  const bytes = new TextEncoder().encode(message);
  return encodeResponse(status, bytes.subarray(0, ERROR_MESSAGE_BYTES_MAX));
}

/** Varint prefixes longer than this are malformed (7 bytes cover any length up to 2^49). */
const PREFIX_BYTES_MAX = 7;

/**
 * Reads exactly one frame of at most `bytesMax` body bytes, from data already buffered on the stream or still
 * to come. Throws NETWORK_OVERSIZE as soon as the prefix announces more (the body is not read),
 * NETWORK_STREAM_ERROR on a malformed prefix, a reset or an early end. Event-based rather than the stream's async
 * iterator: the iterator returns nothing when the remote already finished before we started reading.
 */
export function readFrame(stream: Stream, bytesMax: number): Promise<Uint8Array> {
  return new Promise<Uint8Array>((resolve, reject) => {
    const buf = new Uint8ArrayList();
    let settled = false;
    const finish = (err: NetworkError | null, frame?: Uint8Array): void => {
      if (settled) return;
      settled = true;
      stream.removeEventListener("message", onMessage);
      stream.removeEventListener("end", onEnd);
      stream.removeEventListener("close", onClose);
      if (err !== null) reject(err);
      else resolve(frame!);
    };
    const parse = (): void => {
      let length = 0;
      let prefix = 0;
      for (;;) {
        if (prefix >= buf.byteLength) return; // need more bytes
        if (prefix >= PREFIX_BYTES_MAX) {
          finish(
            new NetworkError("NETWORK_STREAM_ERROR", "malformed frame length prefix", { malformed: true }),
          );
          return;
        }
        const byte = buf.get(prefix);
        length += (byte & 0x7f) * 2 ** (7 * prefix);
        prefix++;
        if ((byte & 0x80) === 0) break;
      }
      if (length > bytesMax) {
        finish(
          new NetworkError("NETWORK_OVERSIZE", "frame over the size bound", { bytes: length, bytesMax }),
        );
        return;
      }
      if (buf.byteLength >= prefix + length) finish(null, buf.subarray(prefix, prefix + length));
    };
    const onMessage = (evt: { data: Uint8Array | Uint8ArrayList }): void => {
      buf.append(evt.data);
      parse();
    };
    const onEnd = (): void => {
      finish(new NetworkError("NETWORK_STREAM_ERROR", "stream ended before a full frame", {}));
    };
    const onClose = (evt: { error?: Error }): void => {
      const reason = evt.error === undefined ? "closed" : evt.error.name;
      finish(
        new NetworkError("NETWORK_STREAM_ERROR", `stream closed before a full frame (${reason})`, { reason }),
      );
    };
    stream.addEventListener("message", onMessage);
    stream.addEventListener("end", onEnd);
    stream.addEventListener("close", onClose);
    // Adding the "message" listener dispatches buffered data (in a microtask); "end" may already be past.
    if (stream.readableEnded && stream.readBufferLength === 0) onEnd();
    const finished = stream.status === "closed" || stream.status === "aborted" || stream.status === "reset";
    if (finished && stream.readBufferLength === 0) onClose({});
  });
}

/** Sends one frame without closing (the caller closes once it has read the answer). */
export function sendFrame(stream: Stream, frame: Uint8ArrayList): void {
  // The frame is sent whole: let the write buffer hold it instead of resetting the stream.
  if (stream.maxWriteBufferLength === undefined || stream.maxWriteBufferLength < frame.byteLength) {
    stream.maxWriteBufferLength = frame.byteLength + 1024;
  }
  stream.send(frame);
}

/** Sends one frame and closes our writing side (resolves once flushed). */
export async function writeFrame(stream: Stream, frame: Uint8ArrayList, signal?: AbortSignal): Promise<void> {
  sendFrame(stream, frame);
  await stream.close(signal === undefined ? undefined : { signal });
}

/** Decodes a response frame into its bytes, or the typed error it carries. */
export function decodeResponse(frame: Uint8Array, meta: Record<string, unknown>): Uint8Array {
  if (frame.length === 0) throw new NetworkError("NETWORK_STREAM_ERROR", "empty response frame", meta);
  const status = frame[0];
  const body = frame.subarray(1);
  switch (status) {
    case ResponseStatus.Ok:
      return body;
    case ResponseStatus.Error:
      return throwRemote("NETWORK_REMOTE_ERROR", "remote handler failed", body, meta);
    case ResponseStatus.Oversize:
      return throwRemote("NETWORK_OVERSIZE", "the remote refused an oversized request", body, meta);
    case ResponseStatus.Busy:
      return throwRemote("NETWORK_REMOTE_BUSY", "the remote is busy", body, meta);
    default:
      throw new NetworkError("NETWORK_STREAM_ERROR", "unknown response status", { ...meta, status });
  }
}

function throwRemote(
  code: "NETWORK_REMOTE_ERROR" | "NETWORK_OVERSIZE" | "NETWORK_REMOTE_BUSY",
  message: string,
  body: Uint8Array,
  meta: Record<string, unknown>,
): never {
  const remoteMessage = new TextDecoder("utf-8", { fatal: false }).decode(body);
  throw new NetworkError(code, `${message}: ${remoteMessage}`, { ...meta, remote: true, remoteMessage });
}
