export { isTxPoolPenalty, TxPoolError, type TxPoolErrorCode } from "./errors.js";
export { effectiveGasPrice, INITCODE_BYTES_MAX, intrinsicGas, TX_CREATE_GAS, TX_GAS } from "./gas.js";
export type {
  AddResult,
  TxAddedListener,
  TxOrigin,
  TxPoolChainReader,
  TxPoolDeps,
  TxPoolInterface,
  TxPoolStateReader,
  TxPoolStats,
} from "./interface.js";
export {
  defaultTxPoolOptions,
  resolveTxPoolOptions,
  type TxPoolOptions,
  type TxPoolOptionsInput,
} from "./options.js";
export { TxPool } from "./txPool.js";
