import { ConsortError } from "../util/errors.js";

export type CodecErrorCode =
  /** The bytes end before the value does (protobuf/RLP length past the end, empty input). */
  | "CODEC_TRUNCATED"
  /** Not a valid encoding (bad wire type, bad RLP, wrong field count, invalid UTF-8 …). */
  | "CODEC_MALFORMED"
  /** Input or a field is larger than the codec's bound. */
  | "CODEC_TOO_LARGE"
  /** A field has a wrong length or an out-of-range value (hash not 32 B, status not 0/1 …). */
  | "CODEC_INVALID_FIELD"
  /** A required field is absent. */
  | "CODEC_MISSING_FIELD"
  /** Decodes, but not the one canonical encoding of the value (leading zeros, unknown fields …). */
  | "CODEC_NON_CANONICAL"
  /** Transaction type byte we do not accept. */
  | "CODEC_UNSUPPORTED_TYPE"
  /** Signature malformed, high-s, or recovery failed. */
  | "CODEC_INVALID_SIGNATURE"
  /** Transaction for another chain than the one required. */
  | "CODEC_WRONG_CHAIN_ID"
  /** A block's stored sender differs from the recovered one. */
  | "CODEC_SENDER_MISMATCH";

export class CodecError extends ConsortError<CodecErrorCode> {}
