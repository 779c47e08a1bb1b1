/** PBFT: the pure core (ordering of opaque blocks), its wire codec and its errors. */
export * from "./core/index.js";
export type { PbftErrorCode } from "./errors.js";
export { PbftError } from "./errors.js";
export {
  type ConsensusGossipCheckOptions,
  type ConsensusGossipView,
  consensusGossipCheck,
} from "./gossipCheck.js";
export {
  decodePbftMessage,
  encodePbftMessage,
  PBFT_PROTO,
  PBFT_WIRE_BYTES_MAX,
  PBFT_WIRE_VERSION,
} from "./wire.js";
