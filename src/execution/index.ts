export { BLOOM_BYTES, bloomContains, logsBloom, mergeBlooms } from "./bloom.js";
export {
  ExecutionError,
  type ExecutionErrorCode,
  RETRYABLE_REJECT_CODES,
  type RejectCode,
} from "./errors.js";
export { proposerCoinbase } from "./evmEnv.js";
export { Executor } from "./executor.js";
export { REPRICED_PARAMS, type RepricedParam, SCHEDULE_EIPS } from "./gasSchedule.js";
export { type GenesisSpec, genesisState } from "./genesis.js";
export * as governance from "./governance/index.js";
export type {
  AccountState,
  BlockContext,
  CallRequest,
  CallResult,
  ConsensusNodes,
  ExecutedBlock,
  RejectedTx,
  StateChange,
  StateReader,
  SystemConfig,
  SystemConfigEntry,
} from "./interface.js";
export { intrinsicGas, intrinsicGasOf } from "./intrinsicGas.js";
export { defaultExecutorOptions, type ExecutorOptions } from "./options.js";
export { readAccount, readCode, readConsensusNodes, readStorage, readSystemConfig } from "./reads.js";
export { computeStateRoot, encodeStateChanges, KEY_PREFIX, ZERO_HASH } from "./stateLayout.js";
export {
  CONSENSUS_NODES_ABI,
  CONSENSUS_NODES_ADDRESS,
  DEFAULT_SYSTEM_CONFIG_VALUES,
  ONLY_COMMITTEE_REASON,
  SYSTEM_CONFIG_ABI,
  SYSTEM_CONFIG_ADDRESS,
  SYSTEM_CONFIG_RULES,
  validateSystemConfigValue,
} from "./systemContracts.js";
export {
  AccessListTracer,
  CallTracer,
  type CallTracerConfig,
  errorStringReason,
  gethErrorMessage,
  PrestateTracer,
  type ResultTracer,
  type StructLogBudget,
  StructLogger,
  type StructLoggerConfig,
  TraceError,
} from "./trace/index.js";
