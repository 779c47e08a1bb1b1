import type { Stream } from "@libp2p/interface";
import * as lp from "it-length-prefixed";
import { afterEach, describe, expect, it } from "vitest";
import { NetworkError } from "../../src/network/errors.js";
import {
  decodeResponse,
  encodeErrorResponse,
  encodeFrame,
  encodeResponse,
  encodeVarint,
  ResponseStatus,
  readFrame,
} from "../../src/network/framing.js";
import { connectAll, libp2pOf, openRawStream, startNodes, type TestNode, waitFor } from "./helpers.js";

describe("framing", () => {
  it("frames decode with it-length-prefixed (same varint prefix), including bodies over 4 MiB", () => {
    for (const size of [0, 1, 127, 128, 300, 16_384, 5 * 1024 * 1024]) {
      const body = new Uint8Array(size).fill(7);
      const frames = [...lp.decode([encodeFrame(body).subarray()], { maxDataLength: 8 * 1024 * 1024 })];
      expect(frames.length).toBe(1);
      expect(frames[0]!.byteLength).toBe(size);
    }
    expect([...encodeVarint(300)]).toEqual([0xac, 0x02]);
    expect([...encodeVarint(2 ** 32)]).toEqual([0x80, 0x80, 0x80, 0x80, 0x10]);
  });

  it("responses carry a status byte; error statuses become typed errors", () => {
    const ok = encodeResponse(ResponseStatus.Ok, Uint8Array.of(1, 2)).subarray();
    expect([...decodeResponse(ok.subarray(1), {})]).toEqual([1, 2]);
    const cases = [
      [ResponseStatus.Error, "NETWORK_REMOTE_ERROR"],
      [ResponseStatus.Oversize, "NETWORK_OVERSIZE"],
      [ResponseStatus.Busy, "NETWORK_REMOTE_BUSY"],
    ] as const;
    for (const [status, code] of cases) {
      const frame = encodeErrorResponse(status, "x".repeat(2000)).subarray().subarray(2);
      let err: unknown;
      try {
        decodeResponse(frame, { protocol: "blocks" });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NetworkError);
      expect((err as NetworkError).code).toBe(code);
      expect(String((err as NetworkError).meta.remoteMessage).length).toBe(512); // truncated
    }
    expect(() => decodeResponse(new Uint8Array(0), {})).toThrow(NetworkError);
    expect(() => decodeResponse(Uint8Array.of(99), {})).toThrow(/unknown response status/);
  });
});

describe("decodeResponse: what a responder's status byte means", () => {
  const fail = (frame: Uint8Array, meta: Record<string, unknown>): NetworkError => {
    try {
      decodeResponse(frame, meta);
    } catch (e) {
      return e as NetworkError;
    }
    throw new Error("expected a NetworkError");
  };

  it("each error status gives its code, text and the remote's message with the caller's meta", () => {
    const meta = { protocol: "blocks", nodeId: "ab" };
    const body = new TextEncoder().encode("déjà vu");
    const cases = [
      [ResponseStatus.Error, "NETWORK_REMOTE_ERROR", "remote handler failed"],
      [ResponseStatus.Oversize, "NETWORK_OVERSIZE", "the remote refused an oversized request"],
      [ResponseStatus.Busy, "NETWORK_REMOTE_BUSY", "the remote is busy"],
    ] as const;
    for (const [status, code, text] of cases) {
      const err = fail(Uint8Array.of(status, ...body), meta);
      expect([err.code, err.message]).toEqual([code, `${text}: déjà vu`]);
      expect(err.meta).toEqual({ ...meta, remote: true, remoteMessage: "déjà vu" });
    }
    // Bytes that are not UTF-8 do not throw: replaced.
    expect(fail(Uint8Array.of(ResponseStatus.Error, 0xff), {}).meta.remoteMessage).toBe("\ufffd");
    const unknown = fail(Uint8Array.of(4, 1, 2), meta);
    expect([unknown.code, unknown.message, unknown.meta]).toEqual([
      "NETWORK_STREAM_ERROR",
      "unknown response status",
      { ...meta, status: 4 },
    ]);
    const empty = fail(new Uint8Array(0), meta);
    expect([empty.code, empty.message, empty.meta]).toEqual([
      "NETWORK_STREAM_ERROR",
      "empty response frame",
      meta,
    ]);
    expect([...decodeResponse(Uint8Array.of(ResponseStatus.Ok), meta)]).toEqual([]);
  });

  it("an error message is cut to 512 bytes, not characters", () => {
    const frame = encodeErrorResponse(ResponseStatus.Error, "é".repeat(300)).subarray();
    expect(frame.length).toBe(2 + 1 + 512); // a two-byte prefix, the status, 512 bytes of 600
  });
});

/**
 * readFrame on real libp2p streams over loopback: `b` serves a test protocol whose handler reads one frame with
 * the bound of the case, and `a` writes whatever bytes the case needs (a well-formed frame or not).
 */
describe("readFrame on a libp2p stream", () => {
  const PROTOCOL = "/consort-test/frame/1";
  let nodes: TestNode[] = [];
  afterEach(async () => {
    await Promise.all(nodes.map((n) => n.transport.stop()));
    nodes = [];
  });

  /** Starts a and b; b answers each stream of PROTOCOL with what readFrame(stream, bytesMax) gave. */
  async function serve(
    bytesMax: number,
    delayMs = 0,
  ): Promise<{ a: TestNode; b: TestNode; read: () => Promise<Uint8Array | NetworkError> }> {
    nodes = await startNodes(2);
    const [a, b] = nodes as [TestNode, TestNode];
    await connectAll(nodes);
    const results: Promise<Uint8Array | NetworkError>[] = [];
    await libp2pOf(b).handle(PROTOCOL, (stream) => {
      const result = new Promise<void>((resolve) => setTimeout(resolve, delayMs)).then(() =>
        readFrame(stream, bytesMax).then(
          (frame) => Uint8Array.from(frame),
          (err: NetworkError) => err,
        ),
      );
      results.push(result);
    });
    return {
      a,
      b,
      read: async () => {
        await waitFor("stream served", () => results.length > 0);
        return results.shift()!;
      },
    };
  }

  const open = (a: TestNode, b: TestNode): Promise<Stream> => openRawStream(a, b, PROTOCOL);

  it("reads a frame at the bound, split over several messages, and ignores bytes after it", async () => {
    const { a, b, read } = await serve(300);
    const body = Uint8Array.from({ length: 300 }, (_, i) => i % 251);
    const frame = encodeFrame(body).subarray();
    let s = await open(a, b);
    s.send(frame.subarray(0, 1)); // the first byte of the two-byte prefix
    await new Promise((resolve) => setTimeout(resolve, 50));
    s.send(frame.subarray(1, 100));
    await new Promise((resolve) => setTimeout(resolve, 50));
    s.send(Uint8Array.of(...frame.subarray(100), 9, 9, 9)); // the rest, then bytes that are no part of it
    expect(await read()).toEqual(body);
    s.abort(new Error("done"));

    // A seven-byte prefix (six continuation bytes) is still well-formed: it announces 0 here.
    s = await open(a, b);
    s.send(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00));
    expect(await read()).toEqual(new Uint8Array(0));
    s.abort(new Error("done"));
  });

  it("stops listening once it has the frame: trailing bytes fill the stream's read buffer, which resets it", async () => {
    const { a, b, read } = await serve(64);
    const s = await open(a, b);
    s.send(encodeFrame(Uint8Array.of(1, 2, 3)).subarray());
    expect(await read()).toEqual(Uint8Array.of(1, 2, 3));
    // 5 MiB more that nobody reads: over libp2p's 4 MiB read buffer bound, b's stream is aborted (a peer cannot
    // make a finished read hold its bytes).
    for (let i = 0; i < 5; i++) s.send(new Uint8Array(1024 * 1024));
    await waitFor("the sender's stream reset by b", () => s.status === "reset", 5_000);
  });

  it("refuses a frame one byte over the bound as soon as its prefix is in, without its body", async () => {
    const { a, b, read } = await serve(300);
    const s = await open(a, b);
    s.send(encodeVarint(301)); // no body follows
    const err = await read();
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as NetworkError).code).toBe("NETWORK_OVERSIZE");
    expect((err as NetworkError).meta).toEqual({ bytes: 301, bytesMax: 300 });
    s.abort(new Error("done"));
  });

  it("a prefix longer than seven bytes is malformed; an early end or a reset is a stream error, not malformed", async () => {
    const { a, b, read } = await serve(1024);
    let s = await open(a, b);
    s.send(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00));
    let err = (await read()) as NetworkError;
    expect(err.code).toBe("NETWORK_STREAM_ERROR");
    expect(err.meta.malformed).toBe(true);
    s.abort(new Error("done"));

    s = await open(a, b);
    s.send(Uint8Array.of(10, 1, 2, 3)); // 10 announced, 3 sent, then our side closes
    await s.close();
    err = (await read()) as NetworkError;
    expect(err.code).toBe("NETWORK_STREAM_ERROR");
    expect(err.message).toBe("stream ended before a full frame");
    expect(err.meta.malformed).toBeUndefined();

    s = await open(a, b);
    s.send(Uint8Array.of(10, 1, 2, 3));
    await new Promise((resolve) => setTimeout(resolve, 50));
    s.abort(new Error("gone"));
    err = (await read()) as NetworkError;
    expect(err.code).toBe("NETWORK_STREAM_ERROR");
    expect(err.meta.malformed).toBeUndefined();
  });

  it("a frame the remote finished sending before the read started is still read; an empty finished stream is an error", async () => {
    const { a, b, read } = await serve(64, 300);
    let s = await open(a, b);
    s.send(encodeFrame(Uint8Array.of(4, 5, 6)).subarray());
    await s.close();
    expect(await read()).toEqual(Uint8Array.of(4, 5, 6));

    s = await open(a, b);
    await s.close(); // nothing sent
    const err = (await read()) as NetworkError;
    expect(err).toBeInstanceOf(NetworkError);
    expect(err.code).toBe("NETWORK_STREAM_ERROR");
  });
});
