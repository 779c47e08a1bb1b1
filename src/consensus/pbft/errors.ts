import { ConsortError } from "../../util/errors.js";

export type PbftErrorCode =
  | "PBFT_WIRE_TOO_LARGE"
  | "PBFT_WIRE_DECODE"
  | "PBFT_WIRE_VERSION"
  | "PBFT_WIRE_UNKNOWN_TYPE"
  | "PBFT_WIRE_INVALID_FIELD";

/** Typed errors of the PBFT module (wire decoding of peer bytes). */
export class PbftError extends ConsortError<PbftErrorCode> {}
