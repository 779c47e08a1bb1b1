/** Simulation options: every run is a pure function of these (and the seed). */
export type ByzKind =
  | "silent"
  | "equivocate"
  | "conflictingVotes"
  | "badSignatures"
  | "replay"
  | "invalidBlock"
  | "garbage";

export const BYZ_KINDS: readonly ByzKind[] = [
  "silent",
  "equivocate",
  "conflictingVotes",
  "badSignatures",
  "replay",
  "invalidBlock",
  "garbage",
];

export interface NetworkFaults {
  loss: number;
  duplicate: number;
  delayMin: number;
  delayMax: number;
}

export interface ValidatorChange {
  /** The block at `height` changes the set; the new set is in force from height + 1. */
  height: number;
  /** Node indexes of the new set, in leader order. */
  validators: number[];
}

export type SimProfile = "standard" | "harsh";

export interface SimOptions {
  seed: number;
  /** Which random-fault generator drew these options (for the reproduce line). */
  profile: SimProfile;
  /** Initial validators (node indexes 0..n-1). */
  n: number;
  /** Extra nodes (observers at start, may be added by validatorChanges). */
  extraNodes: number;
  /** Byzantine behaviour per faulty validator; their indexes are chosen by the seed unless byzantineIndexes. */
  byzantine: ByzKind[];
  byzantineIndexes?: number[];
  faultTicks: number;
  livenessTicksMax: number;
  livenessBlocks: number;
  faults: NetworkFaults;
  /** Per-tick probability of a partition starting during the fault phase. */
  partitionRate: number;
  /** Per-tick, per-honest-node probability of a crash during the fault phase. */
  crashRate: number;
  /** Probability that an honest node crashes right after sending a Commit (same Ready). */
  crashAfterCommitRate: number;
  restartTicksMax: number;
  /** TEST ONLY: restart crashed nodes without their persisted hard state (breaks write-ahead). */
  dropPersistence: boolean;
  crypto: "fast" | "ed25519";
  validatorChanges: ValidatorChange[];
  viewTimeoutTicks: number;
  leaderPeriod: number;
  /** Pipelined PBFT in every driver (on: the simulator's chain builds and verifies on uncommitted parents). */
  pipeline: boolean;
  verbose: boolean;
  log: (line: string) => void;
}

export function defaultSimOptions(seed: number, n: number): SimOptions {
  return {
    seed,
    profile: "standard",
    n,
    extraNodes: 0,
    byzantine: [],
    faultTicks: 200,
    livenessTicksMax: 1500,
    livenessBlocks: 3,
    faults: { loss: 0, duplicate: 0, delayMin: 1, delayMax: 3 },
    partitionRate: 0,
    crashRate: 0,
    crashAfterCommitRate: 0,
    restartTicksMax: 30,
    dropPersistence: false,
    crypto: "fast",
    validatorChanges: [],
    viewTimeoutTicks: 25,
    leaderPeriod: 1,
    pipeline: true,
    verbose: false,
    log: () => {},
  };
}

/** A campaign seed: f Byzantine of random kinds plus random network faults, all drawn from the seed. */
export function randomFaultOptions(
  seed: number,
  n: number,
  pick: { float(): number; int(a: number, b: number): number },
): SimOptions {
  const f = Math.floor((n - 1) / 3);
  const o = defaultSimOptions(seed, n);
  o.byzantine = Array.from({ length: f }, () => BYZ_KINDS[pick.int(0, BYZ_KINDS.length - 1)]!);
  o.faults = {
    loss: pick.float() * 0.15,
    duplicate: pick.float() * 0.1,
    delayMin: 1,
    delayMax: pick.int(1, 6),
  };
  o.partitionRate = pick.float() < 0.5 ? 0.01 : 0;
  o.crashRate = pick.float() < 0.5 ? 0.003 : 0;
  o.crashAfterCommitRate = pick.float() < 0.3 ? 0.05 : 0;
  o.leaderPeriod = pick.int(1, 2);
  return o;
}

/** Harsher: up to 40% loss, 20% duplication, delays up to 12 ticks, short timeouts, frequent crashes. */
export function harshFaultOptions(
  seed: number,
  n: number,
  pick: { float(): number; int(a: number, b: number): number },
): SimOptions {
  const o = randomFaultOptions(seed, n, pick);
  o.profile = "harsh";
  o.faults = { loss: 0.1 + pick.float() * 0.3, duplicate: 0.2, delayMin: 1, delayMax: pick.int(2, 12) };
  o.partitionRate = 0.03;
  o.crashRate = 0.01;
  o.crashAfterCommitRate = 0.2;
  o.restartTicksMax = 10;
  o.viewTimeoutTicks = pick.int(8, 30);
  o.leaderPeriod = pick.int(1, 3);
  o.faultTicks = 300;
  o.livenessTicksMax = 3000;
  return o;
}
