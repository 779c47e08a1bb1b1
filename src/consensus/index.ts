/** Consensus module public surface (see pbft/). */

export {
  HardStateLog,
  HardStateLogError,
  type HardStateLogErrorCode,
  LEGACY_HARD_STATE_FILE,
  readHardStateLog,
} from "./hardStateLog.js";
export type {
  ConsensusChain,
  ConsensusClock,
  ConsensusLimits,
  ConsensusPool,
  HardStateStore,
} from "./interface.js";
export {
  type ConsensusDriverOptions,
  ConsensusOptionsError,
  type ConsensusOptionsErrorCode,
  type ConsensusTiming,
  defaultConsensusDriverOptions,
  resolveConsensusTiming,
} from "./options.js";
export * from "./pbft/index.js";
