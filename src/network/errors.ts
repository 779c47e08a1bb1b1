import { ConsortError } from "../util/errors.js";

/** Every typed error the network module throws. Callers key on `code`. */
export type NetworkErrorCode =
  /** The transport is not started (or already stopped). */
  | "NETWORK_NOT_STARTED"
  /** A request (or direct message) did not complete within its `timeoutMs`. */
  | "NETWORK_TIMEOUT"
  /** No open connection to that node (requests never dial: the static-peer dialer keeps the mesh up). */
  | "NETWORK_NOT_CONNECTED"
  /** A frame is larger than the bound (locally before sending, or the remote refused it). */
  | "NETWORK_OVERSIZE"
  /** The remote handler failed; `meta.remoteMessage` has its (truncated) message. */
  | "NETWORK_REMOTE_ERROR"
  /** The remote's inbound request queue was full: it dropped the request. */
  | "NETWORK_REMOTE_BUSY"
  /** The remote does not serve that protocol. */
  | "NETWORK_UNSUPPORTED_PROTOCOL"
  /** The stream broke or a frame was malformed (reset, truncated, unknown status). */
  | "NETWORK_STREAM_ERROR"
  /** Admission: the node is not in the allowed list, or it is banned. */
  | "NETWORK_REFUSED"
  /** A node ID is not a 32-byte Ed25519 key, or a peer ID does not embed one. */
  | "NETWORK_INVALID_PEER_ID"
  /** The node key's seed does not derive its nodeId. */
  | "NETWORK_INVALID_KEY"
  /** Bad option (multiaddr, bound, …); `meta.field` names it. */
  | "NETWORK_INVALID_OPTIONS"
  /** gossipsub refused to publish (e.g. duplicate). */
  | "NETWORK_PUBLISH_FAILED"
  /** A listen address could not be bound (port in use, no permission). */
  | "NETWORK_LISTEN";

export class NetworkError extends ConsortError<NetworkErrorCode> {}

/** What a gossip handler can tell gossipsub about a message (mapped to its TopicValidatorResult). */
export type GossipAction = "ignore" | "reject";

/**
 * Thrown by a gossip handler to give an explicit verdict:
 * - "ignore": do not deliver further nor forward; no blame (duplicate, stale, not useful now);
 * - "reject": invalid; not forwarded, and the peer that sent it is penalized.
 * Any other `ConsortError` thrown by a handler (e.g. a CodecError on malformed bytes) counts as "reject";
 * any non-typed error (a bug on our side) counts as "ignore" and is logged as an error.
 */
export class GossipValidationError extends ConsortError<"NETWORK_GOSSIP_IGNORE" | "NETWORK_GOSSIP_REJECT"> {
  readonly action: GossipAction;

  constructor(action: GossipAction, message: string, meta: Record<string, unknown> = {}) {
    super(action === "ignore" ? "NETWORK_GOSSIP_IGNORE" : "NETWORK_GOSSIP_REJECT", message, meta);
    this.action = action;
  }
}
