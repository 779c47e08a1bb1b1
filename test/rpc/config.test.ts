import { describe, expect, it } from "vitest";
import { parseNodeConfig } from "../../src/config/index.js";
import { handleBody } from "../../src/rpc/dispatch.js";
import { RateLimiter } from "../../src/rpc/rateLimit.js";
import { ALL_RIGHTS } from "../../src/rpc/rights.js";
import { rpcMethods } from "../../src/rpc/server.js";
import type { RpcResponse } from "./helpers.js";

describe("node.json rpc access settings", () => {
  it("defaults: no auth, no TLS, loopback Host names, quotas", () => {
    const c = parseNodeConfig({ dataDir: "data" }, "/etc/consort/node.json");
    expect(c.rpc.security).toEqual({
      jwt: null,
      tls: null,
      insecure: false,
      allowedHosts: ["localhost", "127.0.0.1", "::1"],
      maxConnections: 1024,
      quotas: { filtersPerPrincipal: 1000, subscriptionsPerPrincipal: 1000 },
    });
  });

  it("reads auth, tls, hosts and quotas, resolving files against node.json's folder", () => {
    const c = parseNodeConfig(
      {
        dataDir: "data",
        rpc: {
          host: "0.0.0.0",
          auth: { jwt: { algorithm: "ES256", keyFile: "keys/jwt.pub" } },
          tls: { certFile: "tls/n.crt", keyFile: "tls/n.key", caFile: "tls/ca.crt", clientCerts: "required" },
          allowedHosts: ["RPC.Example"],
          maxConnections: 10,
          quotas: { filters: 5, subscriptions: 6 },
        },
      },
      "/etc/consort/node.json",
    );
    expect(c.rpc.security.jwt).toEqual({ algorithm: "ES256", keyFile: "/etc/consort/keys/jwt.pub" });
    expect(c.rpc.security.tls).toEqual({
      certFile: "/etc/consort/tls/n.crt",
      keyFile: "/etc/consort/tls/n.key",
      caFile: "/etc/consort/tls/ca.crt",
      clientCerts: "required",
      clientRights: { "*": ["read", "submit"] },
    });
    expect(c.rpc.security.allowedHosts).toEqual(["rpc.example"]);
    expect(c.rpc.security.quotas).toEqual({ filtersPerPrincipal: 5, subscriptionsPerPrincipal: 6 });
  });

  it.each([
    [
      { auth: { jwt: { algorithm: "none", keyFile: "k" } } },
      "rpc.auth.jwt.algorithm: expected HS256|ES256|EdDSA",
    ],
    [{ auth: { jwt: { algorithm: "HS256" } } }, "rpc.auth.jwt.keyFile: expected a string"],
    [{ auth: { token: "x" } }, "rpc.auth.token: unknown field"],
    [
      { tls: { certFile: "c", keyFile: "k", clientCerts: "maybe" } },
      "rpc.tls.clientCerts: expected off|required",
    ],
    [
      { tls: { certFile: "c", keyFile: "k", clientRights: { a: ["root"] } } },
      "rpc.tls.clientRights.a[0]: expected read|submit|admin",
    ],
    [{ quotas: { filters: 0 } }, "rpc.quotas.filters: must be >= 1"],
  ])("refuses %j naming the field", (rpc, message) => {
    expect(() => parseNodeConfig({ dataDir: "d", rpc }, "node.json")).toThrowError(
      expect.objectContaining({ code: "CONFIG_INVALID", message: expect.stringContaining(message) }),
    );
  });
});

describe("per-principal accounting in the dispatcher", () => {
  const ctxOf = (quotaKey: string, expiresAtMs: number | null = null) =>
    ({
      principal: { id: quotaKey, rights: new Set(ALL_RIGHTS), via: "token", expiresAtMs },
      quotaKey,
      opts: { maxBatchSize: 10, rateLimit: { requestsPerSecond: 1, burst: 2, clientsMax: 10 } },
      backend: { chainId: 20200n },
    }) as never;
  const chainId = { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] };

  it("rate limits count per principal: one principal over its bucket does not slow another", async () => {
    const limiter = new RateLimiter({ requestsPerSecond: 1, burst: 2, clientsMax: 10 }, () => 0);
    const a = ctxOf("token:a");
    const b = ctxOf("token:b");
    for (let i = 0; i < 2; i++) {
      expect(((await handleBody(chainId, { ctx: a }, rpcMethods, limiter)) as RpcResponse).result).toBe(
        "0x4ee8",
      );
    }
    expect(
      ((await handleBody(chainId, { ctx: a }, rpcMethods, limiter)) as RpcResponse).error?.message,
    ).toMatch(/^Over QPS limit: at most 1 requests per second \(burst 2\) per principal/);
    expect(((await handleBody(chainId, { ctx: b }, rpcMethods, limiter)) as RpcResponse).result).toBe(
      "0x4ee8",
    );
  });

  it("a credential that expired during a WebSocket session is refused on the next call (-40100)", async () => {
    const r = (await handleBody(
      chainId,
      { ctx: ctxOf("token:a", Date.now() - 1000) },
      rpcMethods,
      null,
    )) as RpcResponse;
    expect(r.error).toEqual({ code: -40100, message: "unauthorized: token expired" });
  });
});
