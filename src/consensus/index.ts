/** Consensus module public surface (see pbft/). */

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
