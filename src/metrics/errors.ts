import { ConsortError } from "../util/errors.js";

export type MetricsErrorCode =
  /** Bad metrics options at startup (meta.field names the option). */
  | "METRICS_OPTIONS"
  /** The metrics port could not be bound (in use, no permission). */
  | "METRICS_LISTEN";

export class MetricsError extends ConsortError<MetricsErrorCode> {}
