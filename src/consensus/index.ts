/** Consensus module public surface (see pbft/). */

export type { ConsensusChain, ConsensusLimits, ConsensusPool } from "./interface.js";
export {
  type ConsensusDriverOptions,
  ConsensusOptionsError,
  type ConsensusOptionsErrorCode,
  type ConsensusTiming,
  defaultConsensusDriverOptions,
  resolveConsensusTiming,
} from "./options.js";
export * from "./pbft/index.js";
