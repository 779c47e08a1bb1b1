import { expect } from "vitest";
import { CodecError } from "../../src/codec/index.js";

/** Runs `fn`, which must refuse with a CodecError, and returns the error (to check its code, meta and text). */
export function refusal(fn: () => unknown): CodecError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CodecError);
    return err as CodecError;
  }
  throw new Error("accepted, want a CodecError");
}
