import { ALL_RIGHTS, type Right } from "./rights.js";

/** Who a call comes from: a member agency or an application, with the rights it was given. */
export interface Principal {
  /** JWT `sub`, a client certificate's subject CN, or "anonymous" on a server without auth. */
  readonly id: string;
  readonly rights: ReadonlySet<Right>;
  readonly via: "none" | "token" | "certificate";
  /** When the credential stops being valid (a token's exp), or null. */
  readonly expiresAtMs: number | null;
}

/** The caller on a server without auth (the local dev chain): every right, keyed per IP for rate limits. */
export const ANONYMOUS: Principal = Object.freeze({
  id: "anonymous",
  rights: new Set<Right>(ALL_RIGHTS),
  via: "none",
  expiresAtMs: null,
});

/** Rate limits and quotas count per principal; anonymous callers are told apart by IP only. */
export function quotaKey(principal: Principal, ip: string): string {
  return principal.via === "none" ? `ip:${ip}` : `${principal.via}:${principal.id}`;
}

export function describeRights(rights: ReadonlySet<Right>): string {
  return rights.size === 0 ? "no rights" : [...rights].join(", ");
}
