export {
  Chain,
  type CommitListener,
  type CommittedBlock,
  pbftCrypto,
  TIMESTAMP_DRIFT_MS_MAX,
} from "./chain.js";
export { ChainError, type ChainErrorCode } from "./errors.js";
