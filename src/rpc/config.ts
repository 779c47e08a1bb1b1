import type { FieldReader } from "../config/validate.js";
import {
  defaultRpcServerOptions,
  type JwtAlgorithm,
  type RpcServerOptions,
  type RpcTlsOptions,
} from "./options.js";
import { ALL_RIGHTS, type Right } from "./rights.js";

/** The access-control part of node.json's `rpc` section, read by the rpc module itself. */
export type RpcSecuritySettings = Pick<
  RpcServerOptions,
  "jwt" | "tls" | "insecure" | "allowedHosts" | "maxConnections" | "quotas"
>;

/** Keys of node.json `rpc` this module reads (the node config lets them through). */
export const RPC_SECURITY_KEYS = [
  "auth",
  "tls",
  "insecure",
  "allowedHosts",
  "maxConnections",
  "quotas",
] as const;

const ALGORITHMS: readonly JwtAlgorithm[] = ["HS256", "ES256", "EdDSA"];
const algorithmPattern = {
  pattern: new RegExp(`^(${ALGORITHMS.join("|")})$`),
  patternHint: ALGORITHMS.join("|"),
};
const rightsPattern = {
  pattern: new RegExp(`^(${ALL_RIGHTS.join("|")})$`),
  patternHint: ALL_RIGHTS.join("|"),
};

/**
 * node.json:
 *   "rpc": { "auth": { "jwt": { "algorithm": "HS256", "keyFile": "rpc-jwt.secret" } },
 *            "tls": { "certFile": "tls/node0.crt", "keyFile": "tls/node0.key", "caFile": "tls/ca.crt",
 *                     "clientCerts": "required", "clientRights": { "*": ["read", "submit"] } },
 *            "allowedHosts": ["localhost", "127.0.0.1", "::1"], "maxConnections": 1024, "insecure": false,
 *            "quotas": { "filters": 1000, "subscriptions": 1000 } }
 * Relative file names are resolved against node.json's folder (`resolve`).
 */
export function parseRpcSecurity(rpc: FieldReader, resolve: (p: string) => string): RpcSecuritySettings {
  const d = defaultRpcServerOptions;
  const auth = rpc.section("auth", ["jwt"]);
  const jwtReader = auth.field("jwt");
  let jwt: RpcSecuritySettings["jwt"] = null;
  if (!jwtReader.isMissing) {
    const j = auth.section("jwt", ["algorithm", "keyFile"]);
    jwt = {
      algorithm: j.field("algorithm").optional((a) => a.string(algorithmPattern), "HS256") as JwtAlgorithm,
      keyFile: resolve(j.field("keyFile").string()),
    };
  }
  const tlsReader = rpc.field("tls");
  let tls: RpcTlsOptions | null = null;
  if (!tlsReader.isMissing) {
    const t = rpc.section("tls", ["certFile", "keyFile", "caFile", "clientCerts", "clientRights"]);
    const rightsReader = t.field("clientRights");
    const clientRights: Record<string, Right[]> = {};
    if (rightsReader.isMissing) clientRights["*"] = ["read", "submit"];
    else {
      for (const name of Object.keys(rightsReader.object())) {
        clientRights[name] = rightsReader
          .field(name)
          .array(3)
          .map((r) => r.string(rightsPattern) as Right);
      }
    }
    tls = {
      certFile: resolve(t.field("certFile").string()),
      keyFile: resolve(t.field("keyFile").string()),
      caFile: t.field("caFile").optional((f) => resolve(f.string()), null),
      clientCerts: t
        .field("clientCerts")
        .optional((c) => c.string({ pattern: /^(off|required)$/, patternHint: "off|required" }), "off") as
        | "off"
        | "required",
      clientRights,
    };
  }
  const quotas = rpc.section("quotas", ["filters", "subscriptions"]);
  return {
    jwt,
    tls,
    insecure: rpc.field("insecure").optional((b) => b.boolean(), false),
    allowedHosts: rpc
      .field("allowedHosts")
      .optional((h) => h.array(100).map((x) => x.string({ maxLength: 253 }).toLowerCase()), d.allowedHosts),
    maxConnections: rpc
      .field("maxConnections")
      .optional((n) => n.integer({ min: 1, max: 1_000_000 }), d.maxConnections),
    quotas: {
      filtersPerPrincipal: quotas
        .field("filters")
        .optional((n) => n.integer({ min: 1, max: 1_000_000 }), d.quotas.filtersPerPrincipal),
      subscriptionsPerPrincipal: quotas
        .field("subscriptions")
        .optional((n) => n.integer({ min: 1, max: 1_000_000 }), d.quotas.subscriptionsPerPrincipal),
    },
  };
}
