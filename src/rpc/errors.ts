import { ConsortError } from "../util/errors.js";

/** JSON-RPC error codes used by the server (documented in docs/rpc.md). */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  Internal: -32603,
  /** geth's generic server error: rejected transactions, unavailable state, node holds no keys, … */
  Server: -32000,
  /** EIP-1474 "resource not found" (e.g. filter not found is -32000 in geth; we keep geth's). */
  ResourceNotFound: -32001,
  /** EIP-1474 "limit exceeded": rate limit (FISCO: -40011 "Over QPS limit"), too many filters/subscriptions. */
  LimitExceeded: -32005,
  /** Execution reverted (eth_call / eth_estimateGas), with `data` = revert bytes. */
  ExecutionReverted: 3,
  /** FISCO-style: the group in params is not this node's group. */
  GroupNotFound: -40001,
  /** No valid credentials (missing, expired or forged token; no client certificate): HTTP 401. Besu's code. */
  Unauthorized: -40100,
  /** The principal lacks the method's right, or the request's Host/Origin is not allowed: HTTP 403. */
  Forbidden: -40300,
  /** EIP-7966: the transaction was accepted but not committed within the wait (`data` = its hash). */
  TransactionWaitTimeout: 4,
} as const;

export type RpcErrorCode =
  /** Rejected transactions: keep geth's wording in the message. */
  | "RPC_NONCE_TOO_LOW"
  | "RPC_NONCE_TOO_HIGH"
  | "RPC_ALREADY_KNOWN"
  | "RPC_TXPOOL_FULL"
  | "RPC_INSUFFICIENT_FUNDS"
  | "RPC_UNDERPRICED"
  | "RPC_INVALID_CHAIN_ID"
  | "RPC_INVALID_TRANSACTION"
  | "RPC_GAS_LIMIT"
  /** State of an old block is not kept. */
  | "RPC_STATE_UNAVAILABLE"
  /** Something asked for does not exist (filter, block in a range, …). */
  | "RPC_NOT_FOUND"
  /** Feature not offered (eth_sendTransaction: the node holds no keys). */
  | "RPC_UNSUPPORTED"
  /** Params are well-formed but refused (range too large, unknown group, …). */
  | "RPC_INVALID_PARAMS"
  | "RPC_LIMIT_EXCEEDED"
  | "RPC_EXECUTION_REVERTED"
  /** eth_call / estimateGas stopped by an exceptional halt (out of gas, invalid opcode, …): geth's -32000. */
  | "RPC_EXECUTION_FAILED"
  | "RPC_GROUP_NOT_FOUND"
  | "RPC_TIMEOUT"
  /** Missing, expired or forged credentials. */
  | "RPC_UNAUTHORIZED"
  /** The principal lacks the right the method needs. */
  | "RPC_FORBIDDEN"
  /** The server's own settings are unusable (unsafe bind without auth, unreadable key file, …): never sent to clients. */
  | "RPC_CONFIG"
  /** The server could not listen on its address (port in use, no permission): never sent to clients. */
  | "RPC_LISTEN"
  /** A synchronous send (eth_sendRawTransactionSync, rpc.syncSend) waited past its timeout (EIP-7966 code 4). */
  | "RPC_TX_WAIT_TIMEOUT"
  /** rpc.syncSend: the transaction was committed and failed (`data` = its hash). */
  | "RPC_TX_FAILED";

const CODE_TO_JSONRPC: Record<RpcErrorCode, number> = {
  RPC_NONCE_TOO_LOW: JsonRpcCode.Server,
  RPC_NONCE_TOO_HIGH: JsonRpcCode.Server,
  RPC_ALREADY_KNOWN: JsonRpcCode.Server,
  RPC_TXPOOL_FULL: JsonRpcCode.Server,
  RPC_INSUFFICIENT_FUNDS: JsonRpcCode.Server,
  RPC_UNDERPRICED: JsonRpcCode.Server,
  RPC_INVALID_CHAIN_ID: JsonRpcCode.Server,
  RPC_INVALID_TRANSACTION: JsonRpcCode.Server,
  RPC_GAS_LIMIT: JsonRpcCode.Server,
  RPC_STATE_UNAVAILABLE: JsonRpcCode.Server,
  RPC_NOT_FOUND: JsonRpcCode.Server,
  RPC_UNSUPPORTED: JsonRpcCode.Server,
  RPC_INVALID_PARAMS: JsonRpcCode.InvalidParams,
  RPC_LIMIT_EXCEEDED: JsonRpcCode.LimitExceeded,
  RPC_EXECUTION_REVERTED: JsonRpcCode.ExecutionReverted,
  RPC_EXECUTION_FAILED: JsonRpcCode.Server,
  RPC_GROUP_NOT_FOUND: JsonRpcCode.GroupNotFound,
  RPC_TIMEOUT: JsonRpcCode.Server,
  RPC_UNAUTHORIZED: JsonRpcCode.Unauthorized,
  RPC_FORBIDDEN: JsonRpcCode.Forbidden,
  RPC_CONFIG: JsonRpcCode.Internal,
  RPC_LISTEN: JsonRpcCode.Internal,
  RPC_TX_WAIT_TIMEOUT: JsonRpcCode.TransactionWaitTimeout,
  RPC_TX_FAILED: JsonRpcCode.Server,
};

/**
 * A typed error the RPC layer (and backends) throw for client-visible failures. `data` (hex string) is sent as the
 * JSON-RPC error's `data` (revert bytes).
 */
export class RpcError extends ConsortError<RpcErrorCode> {
  readonly data: string | undefined;

  constructor(code: RpcErrorCode, message: string, meta: Record<string, unknown> = {}, data?: string) {
    super(code, message, meta);
    this.data = data;
  }

  get jsonRpcCode(): number {
    return CODE_TO_JSONRPC[this.code];
  }
}

/** An error already in JSON-RPC terms: thrown by param validation and the dispatcher. */
export class JsonRpcError extends Error {
  readonly code: number;
  readonly data: unknown;

  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = "JsonRpcError";
    this.code = code;
    this.data = data;
  }
}

export function invalidParams(message: string): JsonRpcError {
  return new JsonRpcError(JsonRpcCode.InvalidParams, `invalid params: ${message}`);
}

export function methodNotFound(method: string): JsonRpcError {
  return new JsonRpcError(JsonRpcCode.MethodNotFound, `the method ${method} does not exist/is not available`);
}
