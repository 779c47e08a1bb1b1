import { ConsortError } from "../util/errors.js";

/** The consensus driver's options: every default here, validated here (node.json only sets some of them). */
export interface ConsensusDriverOptions {
  /** One logical tick of the core. */
  tickMs: number;
  /** View-change timeout at view 0; the core doubles it per failed view (capped). At least 5 ticks. */
  viewTimeoutMs: number;
  /**
   * Once transactions are pending, the leader waits this long to gather more (unless a full block is ready).
   * 0 (default): it seals as soon as the previous block is committed and txs wait; under load, the txs that
   * arrived while the previous block was in consensus make the next block, so blocks still fill.
   */
  minSealTimeMs: number;
  /**
   * A leader starts building a block at least this long after the chain's previous proposal began (its own last
   * build, or the last proposal of another leader this node took for execution), unless a full block waits. On an
   * idle chain the previous proposal is long past, so a lone tx is sealed at once; under load it makes blocks of
   * the txs of this interval at least, not of the few that arrived while a fast round ran: each block costs the
   * same fixed work on every node (commit, roots, votes, signatures, disk syncs). A lone validator at ~2,000 tx/s
   * sealed blocks of ~40 txs every ~20 ms, spending a fifth more CPU per tx than with ~200-tx blocks; four
   * validators, whose leaders take turns, sealed a block per round (~120 ms under load) while each leader's own
   * previous build was four heights back. Unset (tests, the simulator): 0.
   */
  minBlockIntervalMs?: number;
  /** The hard state log (appended and fdatasynced before any vote leaves this node: hardStateLog.ts). */
  stateFile: string;
  /** Bound of the inbound event queue; peer messages beyond it are dropped (and counted). */
  queueMax: number;
  /**
   * The same in bytes of peer messages (a PrePrepare carries its block, up to the gossip bound): 10,000 of them
   * would be tens of GB while the loop waits for a commit. Default QUEUE_BYTES_MAX_DEFAULT.
   */
  queueBytesMax?: number;
  /**
   * Pipelined PBFT (a window of two heights, pbft/PROTOCOL.md): the next leader proposes h + 1 on its executed,
   * uncommitted block of h. Default PIPELINE_DEFAULT. Safe to mix across nodes (a node that does not pipeline
   * steps an early proposal once it gets to its height).
   */
  pipeline?: boolean;
}

export type ConsensusTiming = Required<
  Omit<ConsensusDriverOptions, "stateFile" | "pipeline" | "queueBytesMax">
>;

export const PIPELINE_DEFAULT = true;
export const QUEUE_BYTES_MAX_DEFAULT = 256 * 1024 * 1024;

export const defaultConsensusDriverOptions: ConsensusTiming = {
  tickMs: 100,
  viewTimeoutMs: 3000,
  minSealTimeMs: 0,
  minBlockIntervalMs: 100,
  queueMax: 10_000,
};

export type ConsensusOptionsErrorCode = "CONSENSUS_OPTIONS";

export class ConsensusOptionsError extends ConsortError<ConsensusOptionsErrorCode> {}

/** Inclusive ranges of each option (the node config checks the file against the same ones). */
export const CONSENSUS_OPTION_RANGES: Record<keyof ConsensusTiming, readonly [number, number]> = {
  tickMs: [10, 10_000],
  viewTimeoutMs: [100, 600_000],
  minSealTimeMs: [0, 10_000],
  minBlockIntervalMs: [0, 10_000],
  queueMax: [1, 10_000_000],
};

/** The defaults, overridden by the fields `set` gives (undefined = not set); throws CONSENSUS_OPTIONS naming the field. */
export function resolveConsensusTiming(set: Partial<ConsensusTiming>): ConsensusTiming {
  const opts = { ...defaultConsensusDriverOptions };
  for (const field of Object.keys(CONSENSUS_OPTION_RANGES) as (keyof ConsensusTiming)[]) {
    const v = set[field] ?? opts[field];
    const [min, max] = CONSENSUS_OPTION_RANGES[field];
    if (!Number.isSafeInteger(v) || v < min || v > max) {
      throw new ConsensusOptionsError(
        "CONSENSUS_OPTIONS",
        `must be an integer from ${min} to ${max}, got ${v}`,
        {
          field,
        },
      );
    }
    opts[field] = v;
  }
  // The view clock runs in ticks: a timeout of a few ticks would fire on rounding alone.
  if (opts.viewTimeoutMs < opts.tickMs * 5) {
    throw new ConsensusOptionsError(
      "CONSENSUS_OPTIONS",
      `must be at least 5 ticks (5 × consensus.tickMs = ${opts.tickMs * 5} ms)`,
      { field: "viewTimeoutMs" },
    );
  }
  // A leader waits up to minSealTimeMs + minBlockIntervalMs to fill a block: it must still propose well within the
  // view timeout, or every block it builds under load would be thrown away by a view change.
  if (opts.minSealTimeMs + opts.minBlockIntervalMs > opts.viewTimeoutMs / 2) {
    throw new ConsensusOptionsError(
      "CONSENSUS_OPTIONS",
      `minSealTimeMs + minBlockIntervalMs (${opts.minSealTimeMs + opts.minBlockIntervalMs} ms) must be at most half of viewTimeoutMs (${opts.viewTimeoutMs} ms)`,
      { field: "minBlockIntervalMs" },
    );
  }
  return opts;
}
