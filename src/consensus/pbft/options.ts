/**
 * PBFT options as the node configures them (everything but the node id), with cross-field validation.
 * Ticks are logical: the driver calls core.tick() every `tickMs` milliseconds.
 */
import { ConsortError } from "../../util/errors.js";
import { defaultPbftConfig, type PbftConfig } from "./core/index.js";

export type PbftOptions = Omit<PbftConfig, "nodeId"> & {
  /** Wall-clock length of one tick in the driver. */
  tickMs: number;
};

export const defaultPbftOptions: PbftOptions = { ...defaultPbftConfig, tickMs: 100 };

export type PbftOptionsErrorCode = "PBFT_OPTIONS_INVALID";

/** Throws PBFT_OPTIONS_INVALID naming the first bad field. */
export function validatePbftOptions(o: PbftOptions): void {
  const positive: (keyof PbftOptions)[] = [
    "leaderPeriod",
    "viewTimeoutTicks",
    "futureHeightWindow",
    "futureViewWindow",
    "futureBufferMax",
    "futurePerSenderMax",
    "resendTicks",
    "tickMs",
  ];
  for (const field of positive) {
    const v = o[field];
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) fail(field, "must be an integer >= 1");
  }
  for (const field of ["viewTimeoutDoublingsMax", "fetchCooldownTicks", "rejectionsMax"] as const) {
    if (!Number.isSafeInteger(o[field]) || o[field] < 0) fail(field, "must be an integer >= 0");
  }
  if (o.viewTimeoutDoublingsMax > 20) fail("viewTimeoutDoublingsMax", "must be <= 20");
  if (o.futurePerSenderMax > o.futureBufferMax) fail("futurePerSenderMax", "must be <= futureBufferMax");
  if (o.resendTicks >= o.viewTimeoutTicks) fail("resendTicks", "must be < viewTimeoutTicks");
}

function fail(field: string, why: string): never {
  throw new ConsortError<PbftOptionsErrorCode>("PBFT_OPTIONS_INVALID", `consensus.${field} ${why}`, {
    field: `consensus.${field}`,
  });
}
