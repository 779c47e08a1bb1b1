import { RpcError } from "./errors.js";
import type { Right } from "./rights.js";

export interface RpcRateLimitOptions {
  /** Sustained JSON-RPC calls per second per client IP (each call of a batch counts). */
  requestsPerSecond: number;
  /** Bucket size: calls a client may make at once after being idle. */
  burst: number;
  /** Clients (IPs) tracked at most; the least recently seen is forgotten beyond that. */
  clientsMax: number;
}

/** JWT algorithms accepted for bearer tokens (as Besu): a shared secret, or an asymmetric key pair. */
export type JwtAlgorithm = "HS256" | "ES256" | "EdDSA";

export interface RpcJwtOptions {
  algorithm: JwtAlgorithm;
  /** HS256: the shared secret file (at least 32 bytes); ES256/EdDSA: the public key (SPKI PEM). */
  keyFile: string;
}

export interface RpcTlsOptions {
  /** The server certificate (PEM, may hold the chain) and its private key. */
  certFile: string;
  keyFile: string;
  /** The chain's CA (PEM) that client certificates must be signed by; required with clientCerts "required". */
  caFile: string | null;
  /** "required": a client without a certificate from caFile is refused during the TLS handshake. */
  clientCerts: "off" | "required";
  /** Rights per client certificate subject CN; "*" applies to any other CN the CA signed. */
  clientRights: Record<string, Right[]>;
}

/** Per-principal quotas (anonymous callers: per IP). */
export interface RpcQuotaOptions {
  filtersPerPrincipal: number;
  subscriptionsPerPrincipal: number;
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
  /** Bearer tokens; null = no tokens. */
  jwt: RpcJwtOptions | null;
  /** HTTPS/WSS; null = plain HTTP/WS. */
  tls: RpcTlsOptions | null;
  /** Serve a non-loopback address without auth (node.json rpc.insecure or --rpc-insecure); warned at every start. */
  insecure: boolean;
  /** Accepted Host header names (DNS rebinding guard); "*" accepts any. */
  allowedHosts: string[];
  /** Open TCP connections (HTTP and WebSocket) at most; beyond, new connections are dropped by the kernel accept. */
  maxConnections: number;
  /** An HTTP request (receiving it and answering it) taking longer gets -32000 "request timed out". */
  requestTimeoutMs: number;
  quotas: RpcQuotaOptions;
  /** Notifications waiting to be written to one WebSocket at most; beyond, the connection is closed (1008). */
  wsMaxQueuedNotifications: number;
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
  jwt: null,
  tls: null,
  insecure: false,
  allowedHosts: ["localhost", "127.0.0.1", "::1"],
  maxConnections: 1024,
  requestTimeoutMs: 60_000,
  quotas: { filtersPerPrincipal: 1000, subscriptionsPerPrincipal: 1000 },
  wsMaxQueuedNotifications: 10_000,
};

/** node.json's `rpc.requestsPerSecond`: that rate per principal, bursts of twice as many. */
export function rateLimitOf(requestsPerSecond: number): RpcRateLimitOptions {
  return {
    ...(defaultRpcServerOptions.rateLimit as RpcRateLimitOptions),
    requestsPerSecond,
    burst: requestsPerSecond * 2,
  };
}

const LOOPBACK_NAMES = new Set(["localhost", "::1", "0:0:0:0:0:0:0:1"]);

/** True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return LOOPBACK_NAMES.has(h) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) || h.startsWith("::ffff:127.");
}

/** Whether callers must prove who they are (a token or a client certificate). */
export function authRequired(opts: Pick<RpcServerOptions, "jwt" | "tls">): boolean {
  return opts.jwt !== null || opts.tls?.clientCerts === "required";
}

/**
 * Refuse settings that would expose the node: RPC on a non-loopback address without auth (unless insecure), TLS
 * client certificates without a CA. The message names the setting to change.
 */
export function validateRpcServerOptions(opts: RpcServerOptions): void {
  if (!isLoopbackHost(opts.host) && !authRequired(opts) && !opts.insecure) {
    throw new RpcError(
      "RPC_CONFIG",
      `refusing to serve JSON-RPC on ${opts.host} (not a loopback address) without authentication: set rpc.auth.jwt ` +
        `(bearer tokens) or rpc.tls.clientCerts "required" in node.json, or bind rpc.host to 127.0.0.1; ` +
        `rpc.insecure: true (or --rpc-insecure) serves it to anyone who can reach the port`,
    );
  }
  if (opts.tls?.clientCerts === "required" && !opts.tls.caFile) {
    throw new RpcError("RPC_CONFIG", 'rpc.tls.clientCerts "required" needs rpc.tls.caFile (the chain\'s CA)');
  }
  for (const [key, value] of [
    ["maxConnections", opts.maxConnections],
    ["requestTimeoutMs", opts.requestTimeoutMs],
    ["wsMaxQueuedNotifications", opts.wsMaxQueuedNotifications],
    ["quotas.filtersPerPrincipal", opts.quotas.filtersPerPrincipal],
    ["quotas.subscriptionsPerPrincipal", opts.quotas.subscriptionsPerPrincipal],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new RpcError("RPC_CONFIG", `rpc option ${key} must be a positive integer, got ${value}`);
    }
  }
}
