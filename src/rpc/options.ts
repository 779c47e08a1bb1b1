export interface RpcRateLimitOptions {
  /** Sustained JSON-RPC calls per second per client IP (each call of a batch counts). */
  requestsPerSecond: number;
  /** Bucket size: calls a client may make at once after being idle. */
  burst: number;
  /** Clients (IPs) tracked at most; the least recently seen is forgotten beyond that. */
  clientsMax: number;
}

export interface RpcServerOptions {
  host: string;
  /** 0 = any free port (tests); see RpcServer.address(). */
  port: number;
  /** Allowed CORS origins ("*" for any); [] disables CORS. */
  corsOrigins: string[];
  /** HTTP body and WebSocket message size limit. */
  maxBodyBytes: number;
  /** Calls per batch at most (ethers batches up to 100). */
  maxBatchSize: number;
  /** null disables rate limiting. */
  rateLimit: RpcRateLimitOptions | null;
  maxWsConnections: number;
  maxSubscriptionsPerConnection: number;
  /** Installed filters (eth_newFilter & co) at most, over all clients. */
  maxFilters: number;
  /** A filter not polled for this long is removed. */
  filterIdleTimeoutMs: number;
  /** eth_getLogs and eth_getFilterLogs refuse wider block ranges (never truncate). */
  getLogsMaxBlockRange: number;
  /** eth_getLogs refuses results with more logs than this. */
  getLogsMaxResults: number;
  /** Buffered items per filter/subscription (pending hashes, block hashes); oldest dropped beyond. */
  filterBufferMax: number;
  /** A WebSocket whose unsent data exceeds this is closed (slow consumer). */
  wsMaxBufferedBytes: number;
  /** FISCO sendTransaction waits for the receipt at most this long. */
  sendTransactionWaitMs: number;
  /**
   * true: eth_sendRawTransaction answers once the transaction is committed (as FISCO BCOS's does), with an error
   * carrying the hash when it failed or was not committed within syncSendWaitMs. false (default): geth's behaviour.
   */
  syncSend: boolean;
  /** eth_sendRawTransactionSync's default wait (EIP-7966) and rpc.syncSend's wait; a client may ask for up to sendTransactionWaitMs. */
  syncSendWaitMs: number;
  /** Accept legacy transactions without a chain id (pre-EIP-155, replayable on any chain) over RPC; geth's default is false. */
  allowUnprotectedTxs: boolean;
  /** debug_trace* struct logs per transaction at most (a longer trace without "limit" is refused). */
  traceStructLogsMax: number;
  /** eth_call / eth_estimateGas / FISCO call executing at once at most (they run on the node's thread). */
  maxConcurrentCalls: number;
  /** Calls waiting for a free execution slot at most; beyond, -32005 "too many concurrent calls". */
  maxQueuedCalls: number;
}

export const defaultRpcServerOptions: RpcServerOptions = {
  host: "127.0.0.1",
  port: 8545,
  corsOrigins: [],
  maxBodyBytes: 5 * 1024 * 1024,
  maxBatchSize: 1000,
  rateLimit: { requestsPerSecond: 10_000, burst: 20_000, clientsMax: 10_000 },
  maxWsConnections: 1000,
  maxSubscriptionsPerConnection: 100,
  maxFilters: 10_000,
  filterIdleTimeoutMs: 5 * 60_000,
  getLogsMaxBlockRange: 10_000,
  getLogsMaxResults: 10_000,
  filterBufferMax: 10_000,
  wsMaxBufferedBytes: 16 * 1024 * 1024,
  sendTransactionWaitMs: 30_000,
  syncSend: false,
  syncSendWaitMs: 10_000,
  allowUnprotectedTxs: false,
  traceStructLogsMax: 100_000,
  maxConcurrentCalls: 4,
  maxQueuedCalls: 16,
};
