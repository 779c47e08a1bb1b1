import type { IncomingHttpHeaders } from "node:http";
import { JsonRpcCode } from "./errors.js";

/** A request refused before any JSON-RPC is read: its HTTP status and the JSON-RPC error of the body. */
export interface Refusal {
  status: number;
  code: number;
  message: string;
}

/** The host name of a Host header, without port or IPv6 brackets, lower case; null when malformed. */
export function hostName(header: string): string | null {
  const h = header.trim().toLowerCase();
  if (h.startsWith("[")) {
    const end = h.indexOf("]");
    return end > 1 ? h.slice(1, end) : null;
  }
  const colon = h.indexOf(":");
  if (colon >= 0 && h.indexOf(":", colon + 1) >= 0) return null; // bare IPv6 without brackets is not a Host
  const name = colon >= 0 ? h.slice(0, colon) : h;
  return name.length > 0 && name.length <= 253 ? name : null;
}

/**
 * DNS-rebinding and cross-site guards, as geth's `--http.vhosts` and `--ws.origins`: the Host header must name an
 * allowed host, and a WebSocket upgrade's Origin (when sent: browsers always do) must be an allowed origin. Plain HTTP
 * needs no Origin check: a cross-site page can only send JSON after a CORS preflight, which unlisted origins fail (and
 * the text/plain or form bodies that skip a preflight get 415); extensions such as wallets, which send an Origin
 * without being subject to CORS, keep working.
 */
export function checkHostAndOrigin(
  headers: IncomingHttpHeaders,
  allowedHosts: readonly string[],
  allowedOrigins: readonly string[],
  isUpgrade: boolean,
): Refusal | null {
  const host = headers.host === undefined ? null : hostName(headers.host);
  if (!allowedHosts.includes("*") && (host === null || !allowedHosts.includes(host))) {
    return {
      status: 403,
      code: JsonRpcCode.Forbidden,
      message: `forbidden: invalid host specified (${String(headers.host ?? "none").slice(0, 80)}); allowed: rpc.allowedHosts`,
    };
  }
  const origin = headers.origin;
  if (
    isUpgrade &&
    origin !== undefined &&
    !allowedOrigins.includes("*") &&
    !allowedOrigins.includes(origin) &&
    !isSameOrigin(origin, headers.host)
  ) {
    return {
      status: 403,
      code: JsonRpcCode.Forbidden,
      message: `forbidden: origin ${origin.slice(0, 80)} is not allowed (rpc.corsOrigins)`,
    };
  }
  return null;
}

/**
 * A page served by this node itself (the web console under /ui/): its Origin is this server's scheme and Host, which
 * passed the Host check above. Same-origin is never cross-site, so it needs no entry in rpc.corsOrigins.
 */
function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  const o = origin.toLowerCase();
  const h = host.toLowerCase();
  return o === `http://${h}` || o === `https://${h}`;
}
