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

/** Runs `fn`, which must refuse with exactly this code, type, field and text. */
export function expectRefusal(fn: () => unknown, code: string, type: string, field: string, message: string) {
  const err = refusal(fn);
  expect({ code: err.code, type: err.meta.type, field: err.meta.field, message: err.message }).toEqual({
    code,
    type,
    field,
    message,
  });
}
