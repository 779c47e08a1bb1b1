import * as lp from "it-length-prefixed";
import { describe, expect, it } from "vitest";
import { NetworkError } from "../../src/network/errors.js";
import {
  decodeResponse,
  encodeErrorResponse,
  encodeFrame,
  encodeResponse,
  encodeVarint,
  ResponseStatus,
} from "../../src/network/framing.js";

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
