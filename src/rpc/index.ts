export { JsonRpcCode, JsonRpcError, RpcError, type RpcErrorCode } from "./errors.js";
export { EMPTY_UNCLES_HASH, nodeIdToMiner, orBlooms } from "./ethFormat.js";
export type {
  RpcAccessListEntry,
  RpcAccessListResult,
  RpcBackend,
  RpcBlock,
  RpcCallRequest,
  RpcCallResult,
  RpcConsensusStatus,
  RpcNewBlockEvent,
  RpcNodeInfo,
  RpcPeer,
  RpcReceiptLookup,
  RpcStateBlock,
  RpcSyncStatus,
  RpcTracerSpec,
  RpcTxLocation,
  RpcTxLookup,
} from "./interface.js";
export {
  defaultRpcServerOptions,
  type RpcRateLimitOptions,
  type RpcServerOptions,
  rateLimitOf,
} from "./options.js";
export { decodeRevertReason } from "./revert.js";
export { RpcServer, rpcMethods } from "./server.js";
