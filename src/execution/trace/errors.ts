import { ConsortError } from "../../util/errors.js";

export type TraceErrorCode =
  /** The trace grew past its bound (struct logs, output bytes): meta names the bound. */
  | "TRACE_LIMIT"
  /** A tracer name or option the node does not offer. */
  | "TRACE_UNSUPPORTED";

export class TraceError extends ConsortError<TraceErrorCode> {}
