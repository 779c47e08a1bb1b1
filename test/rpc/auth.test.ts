import "reflect-metadata";
import { createPrivateKey, createPublicKey, webcrypto, X509Certificate } from "node:crypto";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import tls from "node:tls";
import * as x509 from "@peculiar/x509";
import { decodeProtectedHeader, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Authenticator, type Credentials, generateTokenKey, issueToken } from "../../src/rpc/auth.js";
import { CA_CERT_FILE, CA_KEY_FILE, initCa, issueCertificate } from "../../src/rpc/ca.js";
import { checkHostAndOrigin, hostName } from "../../src/rpc/guard.js";
import type { Principal } from "../../src/rpc/principal.js";
import { RpcServer } from "../../src/rpc/server.js";
import { bytesToHex } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";
import { signEth, TOKEN_ADDRESS, TRANSFER_TOPIC } from "./fakeBackend.js";
import { eventually, type Harness, type RpcResponse, startHarness, WsClient } from "./helpers.js";
import { TestTokens } from "./tokens.js";

/** A filter or subscription id. */
const ID = /^0x[0-9a-f]+$/;

let h: Harness;
let tokens: TestTokens;
let submit: string;
let read: string;

beforeAll(async () => {
  tokens = await TestTokens.create();
  h = await startHarness({ jwt: tokens.jwt, corsOrigins: ["https://app.example"] });
  submit = await tokens.issue("acme", ["read", "submit"]);
  read = await tokens.issue("auditor", ["read"]);
});
afterAll(async () => {
  await h.close();
  await tokens.remove();
});

const call = (method: string, params: unknown[] = []) =>
  JSON.stringify({ jsonrpc: "2.0", id: 7, method, params });
const json = (token?: string) => ({
  "content-type": "application/json",
  ...(token ? { authorization: `Bearer ${token}` } : {}),
});

/** Status of a WebSocket upgrade: "open", or the HTTP status it was refused with. */
function upgrade(url: string, headers: Record<string, string> = {}): Promise<"open" | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once("open", () => {
      ws.close();
      resolve("open");
    });
    ws.once("unexpected-response", (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    ws.once("error", (err) => {
      if (!String(err.message).includes("Unexpected server response")) reject(err);
    });
  });
}

describe("bearer tokens", () => {
  it("no token, an expired or a forged one: HTTP 401 with a JSON-RPC error body; nothing executed", async () => {
    const before = h.server.stats().filters;
    const cases: [string | undefined, RegExp][] = [
      [undefined, /^unauthorized: missing credentials: send Authorization: Bearer <token>/],
      [await tokens.expired("acme", ["read"]), /^unauthorized: token expired$/],
      [
        await tokens.forged("acme", ["read", "submit", "admin"]),
        /^unauthorized: invalid token: signature verification failed/,
      ],
      ["not-a-jwt", /^unauthorized: invalid token/],
    ];
    for (const [token, message] of cases) {
      const r = await h.post(call("eth_newBlockFilter"), json(token));
      expect(r.status, String(token)).toBe(401);
      const body = r.json as RpcResponse;
      expect(body.jsonrpc).toBe("2.0");
      expect(body.error?.code).toBe(-40100);
      expect(body.error?.message).toMatch(message);
    }
    const malformed = await h.post(call("eth_chainId"), { ...json(), authorization: "Basic abc" });
    expect(malformed.status).toBe(401);
    expect(h.server.stats().filters).toBe(before);
  });

  it("a read token reads but a send is refused (HTTP 403); a submit token sends", async () => {
    const raw = bytesToHex(
      await signEth({ type: 0, nonce: 5, to: bytesToHex(TOKEN_ADDRESS), gasLimit: 21_000n, gasPrice: 0n }),
    );
    const readOk = await h.post(call("eth_blockNumber"), json(read));
    expect((readOk.json as RpcResponse).result).toBe("0x3");
    const refused = await h.post(call("eth_sendRawTransaction", [raw]), json(read));
    expect(refused.status).toBe(403);
    expect((refused.json as RpcResponse).error).toEqual({
      code: -40300,
      message:
        'permission denied: eth_sendRawTransaction needs the "submit" right; principal "auditor" holds read',
    });
    expect(h.backend.pool).toHaveLength(0);
    const sent = await h.post(call("eth_sendRawTransaction", [raw]), json(submit));
    expect(sent.status).toBe(200);
    expect((sent.json as RpcResponse).result).toMatch(/^0x[0-9a-f]{64}$/);
    expect(h.backend.pool).toHaveLength(1);
    h.backend.mine();
  });

  it("WebSocket: the token rides on the upgrade (header or ?token=); without one the upgrade is refused (401)", async () => {
    expect(await upgrade(h.wsUrl)).toBe(401);
    expect(await upgrade(`${h.wsUrl}/?token=${await tokens.forged("x", ["read"])}`)).toBe(401);
    expect(await upgrade(h.wsUrl, { authorization: `Bearer ${read}` })).toBe("open");
    const c = await WsClient.open(`${h.wsUrl}/?token=${read}`);
    try {
      expect((await c.call("eth_chainId")).result).toBe("0x4ee8");
      expect((await c.call("eth_sendRawTransaction", ["0x00"])).error.code).toBe(-40300);
    } finally {
      await c.close();
    }
  });
});

describe("the authenticator: what makes a token a principal", () => {
  let auth: Authenticator;
  let secret: Uint8Array;
  const creds = (authorization?: string, queryToken?: string): Credentials => ({
    authorization,
    queryToken,
    tlsSocket: null,
  });
  const nowS = () => Math.floor(Date.now() / 1000);
  /** A token with exactly these claims, signed with the node's secret. */
  const signed = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(secret);
  const refusal = async (c: Credentials, a = auth) => {
    try {
      return await a.authenticate(c);
    } catch (err) {
      return (err as Error).message;
    }
  };
  const rightsClaim = 'unauthorized: invalid token: the "rights" claim must list read, submit and/or admin';

  beforeAll(async () => {
    auth = await Authenticator.load(tokens.jwt, null);
    secret = new TextEncoder().encode((await readFile(tokens.secretFile, "utf8")).trim());
  });

  it("sub names the principal (1 to 128 characters), rights must be known ones, exp is when it stops", async () => {
    const exp = nowS() + 600;
    expect(
      await auth.authenticate(
        creds(`Bearer ${await signed({ sub: "a".repeat(128), rights: ["admin"], exp })}`),
      ),
    ).toEqual({
      id: "a".repeat(128),
      rights: new Set(["admin"]),
      via: "token",
      expiresAtMs: exp * 1000,
    });
    expect(
      (await auth.authenticate(creds(undefined, await signed({ sub: "b", rights: [], exp })))).rights,
    ).toEqual(new Set());
    const sub = "unauthorized: invalid token: sub must name the principal";
    expect(await refusal(creds(`Bearer ${await signed({ sub: "", rights: [], exp })}`))).toBe(sub);
    expect(await refusal(creds(`Bearer ${await signed({ sub: "a".repeat(129), rights: [], exp })}`))).toBe(
      sub,
    );
    expect(await refusal(creds(`Bearer ${await signed({ sub: 7, rights: [], exp })}`))).toMatch(
      /^unauthorized: invalid token: /,
    );
    expect(await refusal(creds(`Bearer ${await signed({ sub: "x", rights: ["read", "root"], exp })}`))).toBe(
      rightsClaim,
    );
    expect(await refusal(creds(`Bearer ${await signed({ sub: "x", rights: "read", exp })}`))).toBe(
      rightsClaim,
    );
    expect(await refusal(creds(`Bearer ${await signed({ sub: "x", exp })}`))).toBe(rightsClaim);
    expect(await refusal(creds(`Bearer ${await signed({ rights: ["read"], exp })}`))).toBe(
      'unauthorized: invalid token: missing required "sub" claim',
    );
    expect(await refusal(creds(`Bearer ${await signed({ sub: "x", rights: ["read"] })}`))).toBe(
      'unauthorized: invalid token: missing required "exp" claim',
    );
  });

  it("5 s of clock skew are tolerated; a token beyond 8192 characters is refused unread", async () => {
    const t = (exp: number) => signed({ sub: "x", rights: ["read"], exp });
    expect((await auth.authenticate(creds(`Bearer ${await t(nowS() - 3)}`))).id).toBe("x");
    expect(await refusal(creds(`Bearer ${await t(nowS() - 8)}`))).toBe("unauthorized: token expired");
    expect(await refusal(creds(`Bearer ${"a".repeat(8193)}`))).toBe("unauthorized: invalid token: too long");
    expect(await refusal(creds(`Bearer ${"a".repeat(8192)}`))).toMatch(
      /^unauthorized: invalid token: (?!too long)/,
    );
  });

  it("the Authorization header: Bearer in any case, one token, spaces around; it wins over ?token=", async () => {
    const good = await tokens.issue("header", ["read"]);
    const other = await tokens.issue("query", ["read"]);
    expect((await auth.authenticate(creds(`bearer   ${good}  `, other))).id).toBe("header");
    expect((await auth.authenticate(creds(`BEARER ${good}`))).id).toBe("header");
    expect((await auth.authenticate(creds(undefined, other))).id).toBe("query");
    const malformed = 'unauthorized: malformed Authorization header: expected "Bearer <token>"';
    for (const h of [`Bearer ${good} x`, `Bearer`, `xBearer ${good}`, `Basic ${good}`]) {
      expect(await refusal(creds(h)), h).toBe(malformed);
    }
  });

  it("without a token key or required client certificates: anyone is the anonymous principal", async () => {
    const open = await Authenticator.load(null, null);
    expect(open.required).toBe(false);
    expect(await open.authenticate(creds(undefined, "anything"))).toMatchObject({
      id: "anonymous",
      via: "none",
    });
    // Credentials it does not ask for are ignored, whatever their form (Basic auth for a proxy in front of it).
    expect(await open.authenticate(creds("Basic dXNlcjpwYXNz"))).toMatchObject({ id: "anonymous" });
    const tlsOnly = await Authenticator.load(null, {
      certFile: "",
      keyFile: "",
      caFile: null,
      clientCerts: "off",
      clientRights: {},
    });
    expect(tlsOnly.required).toBe(false);
    const mtls = await Authenticator.load(null, {
      certFile: "",
      keyFile: "",
      caFile: null,
      clientCerts: "required",
      clientRights: {},
    });
    expect(mtls.required).toBe(true);
    expect(await refusal(creds(undefined, "t"), mtls)).toBe(
      "unauthorized: bearer tokens are not enabled on this node (rpc.auth.jwt)",
    );
    expect(await refusal(creds(), mtls)).toBe(
      "unauthorized: missing credentials: a client certificate from the chain's CA is required",
    );
  });

  it("token keys: an HS256 secret under 32 bytes or an unreadable key file is a config error", async () => {
    const short = path.join(tokens.dir, "short.secret");
    await writeFile(short, `${"s".repeat(31)}\n`);
    await expect(Authenticator.load({ algorithm: "HS256", keyFile: short }, null)).rejects.toThrow(
      `${short}: an HS256 secret needs at least 32 bytes (consort token keygen makes one)`,
    );
    const ok = path.join(tokens.dir, "ok.secret");
    await writeFile(ok, `  ${"s".repeat(32)}\n`);
    const a = await Authenticator.load({ algorithm: "HS256", keyFile: ok }, null);
    const token = await new SignJWT({ sub: "x", rights: [], exp: nowS() + 60 })
      .setProtectedHeader({ alg: "HS256" })
      .sign(new TextEncoder().encode("s".repeat(32)));
    expect((await a.authenticate(creds(`Bearer ${token}`))).id).toBe("x");
    const missing = path.join(tokens.dir, "missing.pub");
    await expect(Authenticator.load({ algorithm: "ES256", keyFile: missing }, null)).rejects.toThrow(
      `cannot read the JWT public key file ${missing}: `,
    );
    await expect(Authenticator.load({ algorithm: "ES256", keyFile: ok }, null)).rejects.toThrow(
      `${ok}: not a ES256 public key (SPKI PEM): `,
    );
    await expect(
      issueToken({
        algorithm: "HS256",
        keyFile: tokens.secretFile,
        principal: "",
        rights: [],
        expiresInS: 1,
      }),
    ).rejects.toThrow("the principal must have 1 to 128 characters");
    const longest = "p".repeat(128);
    const t = await issueToken({
      algorithm: "HS256",
      keyFile: tokens.secretFile,
      principal: longest,
      rights: [],
      expiresInS: 60,
    });
    expect((await auth.authenticate(creds(`Bearer ${t}`))).id).toBe(longest);
    await expect(
      issueToken({
        algorithm: "HS256",
        keyFile: tokens.secretFile,
        principal: "p".repeat(129),
        rights: [],
        expiresInS: 1,
      }),
    ).rejects.toThrow("the principal must have 1 to 128 characters");
    await expect(
      issueToken({ algorithm: "ES256", keyFile: missing, principal: "p", rights: [], expiresInS: 1 }),
    ).rejects.toThrow(`cannot read the JWT signing key file ${missing}`);
    expect((await stat(tokens.secretFile)).mode & 0o777).toBe(0o600);
    expect(await readFile(tokens.secretFile, "utf8")).toMatch(/^[0-9a-f]{64}\n$/);
  });
});

describe("the web console under auth", () => {
  it("its static files load without a token; its JSON-RPC calls still need one", async () => {
    for (const file of ["", "app.js", "style.css"]) {
      const page = await fetch(`${h.url}/ui/${file}`);
      expect(page.status, file).toBe(200);
      await page.arrayBuffer();
    }
    // Only GETs of /ui/ are open: a POST there, or a call at /, is authenticated as usual.
    expect(
      (await fetch(`${h.url}/ui/`, { method: "POST", headers: json(), body: call("eth_chainId") })).status,
    ).toBe(401);
    expect((await h.post(call("eth_chainId"), json())).status).toBe(401);
    expect((await h.post(call("eth_chainId"), json(read))).status).toBe(200);
  });
});

describe("asymmetric token keys (the node holds only the public key)", () => {
  it.each(["ES256", "EdDSA"] as const)("%s: a token signed with the private key is accepted", async (alg) => {
    const base = path.join(tokens.dir, `key-${alg}`);
    const files = await generateTokenKey(alg, base);
    const s = await startHarness({ jwt: { algorithm: alg, keyFile: files.verifyKeyFile } });
    try {
      const token = await issueToken({
        algorithm: alg,
        keyFile: files.signingKeyFile,
        principal: "acme",
        rights: ["read"],
        expiresInS: 60,
      });
      expect(((await s.post(call("eth_chainId"), json(token))).json as RpcResponse).result).toBe("0x4ee8");
      // An HS256 token (another algorithm) is refused even if well signed.
      expect((await s.post(call("eth_chainId"), json(read))).status).toBe(401);
    } finally {
      await s.close();
    }
  });
});

describe("Host, Origin and content type", () => {
  it("a text/plain POST gets 415 and is not executed", async () => {
    const before = h.server.stats().filters;
    const r = await h.post(call("eth_newBlockFilter"), {
      "content-type": "text/plain",
      authorization: `Bearer ${read}`,
    });
    expect(r.status).toBe(415);
    expect((r.json as RpcResponse).error?.code).toBe(-32600);
    expect(h.server.stats().filters).toBe(before);
    const form = await h.post(call("eth_newBlockFilter"), {
      "content-type": "application/x-www-form-urlencoded",
      authorization: `Bearer ${read}`,
    });
    expect(form.status).toBe(415);
    expect(h.server.stats().filters).toBe(before);
  });

  it("a request with an unlisted Host is refused (403), before authentication", async () => {
    const { port } = h.server.address();
    const status = await new Promise<{ code: number; body: string }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port,
          method: "POST",
          path: "/",
          headers: { ...json(read), host: "attacker.example:8545" },
        },
        (res) => {
          let body = "";
          res.on("data", (d) => {
            body += d;
          });
          res.on("end", () => resolve({ code: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end(call("eth_chainId"));
    });
    expect(status.code).toBe(403);
    expect(JSON.parse(status.body).error.message).toMatch(
      /^forbidden: invalid host specified \(attacker\.example:8545\)/,
    );
  });

  it("a WebSocket upgrade from an unlisted Origin is refused; a listed one is accepted; CORS only for listed", async () => {
    const auth = { authorization: `Bearer ${read}` };
    expect(await upgrade(h.wsUrl, { ...auth, origin: "https://evil.example" })).toBe(403);
    expect(await upgrade(h.wsUrl, { ...auth, origin: "https://app.example" })).toBe("open");
    // A page this node served itself (the web console): its own origin is same-origin, never cross-site.
    const self = new URL(h.url).host;
    expect(await upgrade(h.wsUrl, { ...auth, origin: `http://${self}` })).toBe("open");
    expect(await upgrade(h.wsUrl, { ...auth, origin: `http://${self}.evil.example` })).toBe(403);
    // Plain HTTP from an unlisted origin gets no CORS grant (a browser cannot read it, nor send JSON past the
    // preflight); a listed origin is granted.
    const evil = await fetch(h.url, {
      method: "POST",
      headers: { ...json(read), origin: "https://evil.example" },
      body: call("eth_chainId"),
    });
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    const app = await fetch(h.url, {
      method: "POST",
      headers: { ...json(read), origin: "https://app.example" },
      body: call("eth_chainId"),
    });
    expect(app.headers.get("access-control-allow-origin")).toBe("https://app.example");
  });
});

describe("the Host and Origin rules", () => {
  it("hostName: the name without port or brackets, lower case; null for what is no host", () => {
    const cases: [string, string | null][] = [
      ["localhost", "localhost"],
      [" Node0.Example:8545 ", "node0.example"],
      ["127.0.0.1:8545", "127.0.0.1"],
      ["[::1]:8545", "::1"],
      ["[::1]", "::1"],
      ["[]:8545", null],
      ["[::1", null],
      ["::1", null], // bare IPv6: a Host header brackets it
      ["a:1:2", null],
      [":8545", null],
      ["", null],
      ["a".repeat(253), "a".repeat(253)],
      ["a".repeat(254), null],
    ];
    for (const [header, name] of cases) expect(hostName(header), header).toBe(name);
  });

  it("checkHostAndOrigin: the Host always, the Origin only of an upgrade; '*' allows any; same origin is allowed", () => {
    const hosts = ["localhost"];
    const origins = ["https://app.example"];
    const forbidden = (message: string) => ({ status: 403, code: -40300, message });
    expect(checkHostAndOrigin({ host: "localhost:8545" }, hosts, origins, false)).toBeNull();
    expect(checkHostAndOrigin({ host: "evil.example" }, hosts, origins, false)).toEqual(
      forbidden("forbidden: invalid host specified (evil.example); allowed: rpc.allowedHosts"),
    );
    expect(checkHostAndOrigin({}, hosts, origins, false)).toEqual(
      forbidden("forbidden: invalid host specified (none); allowed: rpc.allowedHosts"),
    );
    expect(checkHostAndOrigin({ host: "::1" }, ["::1"], origins, false)?.status).toBe(403);
    expect(checkHostAndOrigin({ host: `${"x".repeat(100)}.example` }, hosts, origins, false)?.message).toBe(
      `forbidden: invalid host specified (${"x".repeat(80)}); allowed: rpc.allowedHosts`,
    );
    expect(checkHostAndOrigin({ host: "evil.example" }, ["*"], origins, false)).toBeNull();
    expect(checkHostAndOrigin({}, ["*"], origins, false)).toBeNull();

    const evil = { host: "localhost:8545", origin: "https://evil.example" };
    expect(checkHostAndOrigin(evil, hosts, origins, false)).toBeNull(); // plain HTTP: CORS decides
    expect(checkHostAndOrigin(evil, hosts, origins, true)).toEqual(
      forbidden("forbidden: origin https://evil.example is not allowed (rpc.corsOrigins)"),
    );
    expect(
      checkHostAndOrigin({ ...evil, origin: `https://${"e".repeat(100)}` }, hosts, origins, true)?.message,
    ).toBe(`forbidden: origin https://${"e".repeat(72)} is not allowed (rpc.corsOrigins)`);
    expect(checkHostAndOrigin(evil, hosts, ["*"], true)).toBeNull();
    expect(checkHostAndOrigin({ ...evil, origin: "https://app.example" }, hosts, origins, true)).toBeNull();
    expect(checkHostAndOrigin({ host: "localhost:8545" }, hosts, origins, true)).toBeNull(); // no Origin sent
    for (const origin of ["http://localhost:8545", "HTTPS://LOCALHOST:8545"]) {
      expect(checkHostAndOrigin({ host: "LocalHost:8545", origin }, hosts, origins, true), origin).toBeNull();
    }
    for (const origin of ["ws://localhost:8545", "http://localhost:8546", "http://localhost"]) {
      expect(
        checkHostAndOrigin({ host: "localhost:8545", origin }, hosts, origins, true)?.status,
        origin,
      ).toBe(403);
    }
    expect(checkHostAndOrigin({ origin: "http://localhost" }, ["*"], [], true)?.status).toBe(403);
  });
});

describe("per-principal quotas and a slow WebSocket", () => {
  it("filters and subscriptions are counted per principal (over all its connections), with clear errors", async () => {
    const q = await startHarness({
      jwt: tokens.jwt,
      quotas: { filtersPerPrincipal: 2, subscriptionsPerPrincipal: 3 },
    });
    const other = await tokens.issue("other", ["read"]);
    try {
      const post = async (token: string) =>
        (await q.post(call("eth_newBlockFilter"), json(token))).json as RpcResponse;
      expect((await post(read)).result).toMatch(ID);
      expect((await post(read)).result).toMatch(ID);
      expect((await post(read)).error).toEqual({
        code: -32005,
        message:
          "too many filters installed by this principal (max 2): uninstall some with eth_uninstallFilter",
      });
      expect((await post(other)).result).toMatch(ID);
      const a = await WsClient.open(`${q.wsUrl}/?token=${read}`);
      const b = await WsClient.open(`${q.wsUrl}/?token=${read}`);
      try {
        expect((await a.call("eth_subscribe", ["newHeads"])).result).toMatch(ID);
        expect((await a.call("eth_subscribe", ["newHeads"])).result).toMatch(ID);
        const third = (await b.call("eth_subscribe", ["newHeads"])).result;
        expect(third).toMatch(ID);
        expect((await b.call("eth_subscribe", ["newHeads"])).error).toEqual({
          code: -32005,
          message: "too many subscriptions for this principal over all its connections (max 3)",
        });
        expect((await b.call("eth_unsubscribe", [third])).result).toBe(true);
        expect((await b.call("eth_subscribe", ["newHeads"])).result).toMatch(ID);
      } finally {
        await a.close();
        await b.close();
      }
    } finally {
      await q.close();
    }
  });

  it("a client over its notification bound is closed (1008) with the reason; others keep their notifications", async () => {
    const s = await startHarness({ wsMaxQueuedNotifications: 3 });
    try {
      const slow = await WsClient.open(s.wsUrl);
      const fine = await WsClient.open(s.wsUrl);
      await slow.call("eth_subscribe", ["logs", { address: bytesToHex(TOKEN_ADDRESS) }]);
      await fine.call("eth_subscribe", ["newHeads"]);
      const closed = new Promise<[number, string]>((resolve) =>
        slow.ws.on("close", (code, reason) => resolve([code, reason.toString()])),
      );
      // One block with 8 matching logs: 8 notifications written in one fan-out step, more than 3 unsent.
      for (let i = 0; i < 8; i++) {
        const raw = await signEth({
          type: 0,
          nonce: 5 + i,
          to: bytesToHex(TOKEN_ADDRESS),
          gasLimit: 60_000n,
          gasPrice: 0n,
        });
        const hash = (await s.rpc("eth_sendRawTransaction", [bytesToHex(raw)])).result;
        s.backend.outcomes.set(hash, {
          status: 1,
          logs: [{ address: TOKEN_ADDRESS, topics: [TRANSFER_TOPIC], data: new Uint8Array(0) }],
          output: new Uint8Array(0),
        });
      }
      const block = s.backend.mine();
      const [code, reason] = await closed;
      expect(code).toBe(1008);
      expect(reason).toMatch(/^client too slow: more than 3 messages/);
      const head = await fine.next((m) => m.method === "eth_subscription");
      expect(head.params.result.hash).toBe(bytesToHex(block.hash));
      await eventually(async () => s.server.stats().subscriptions === 1);
      await fine.close();
    } finally {
      await s.close();
    }
  });
});

describe("safe defaults", () => {
  it("refuses a non-loopback address without auth, naming the settings; insecure or a token key allows it", () => {
    const deps = { backend: h.backend, logger: silentLogger() };
    expect(() => new RpcServer({ host: "0.0.0.0" }, deps)).toThrow(
      /refusing to serve JSON-RPC on 0\.0\.0\.0 \(not a loopback address\) without authentication: set rpc\.auth\.jwt .* or bind rpc\.host to 127\.0\.0\.1; rpc\.insecure: true \(or --rpc-insecure\)/,
    );
    expect(() => new RpcServer({ host: "10.1.2.3" }, deps)).toThrow(/refusing/);
    expect(() => new RpcServer({ host: "0.0.0.0", insecure: true }, deps)).not.toThrow();
    expect(() => new RpcServer({ host: "0.0.0.0", jwt: tokens.jwt }, deps)).not.toThrow();
    expect(() => new RpcServer({ host: "127.0.0.2" }, deps)).not.toThrow();
    expect(() => new RpcServer({ host: "::1" }, deps)).not.toThrow();
  });
});

describe("client certificates to principals (a real TLS connection)", () => {
  let caDir: string;
  let server: tls.Server;
  let port: number;
  let auth: Authenticator;
  const sockets: tls.TLSSocket[] = [];

  /** A client certificate the chain's CA signs with this subject (ca.ts always writes a CN; another tool may not). */
  async function clientCert(subject: string): Promise<{ cert: string; key: string }> {
    const caCert = new x509.X509Certificate(await readFile(path.join(caDir, CA_CERT_FILE), "utf8"));
    const caPem = await readFile(path.join(caDir, CA_KEY_FILE), "utf8");
    const alg = { name: "ECDSA", namedCurve: "P-256" };
    const caKey = await webcrypto.subtle.importKey(
      "pkcs8",
      Buffer.from(caPem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64"),
      alg,
      false,
      ["sign"],
    );
    const keys = (await webcrypto.subtle.generateKey(alg, true, [
      "sign",
      "verify",
    ])) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: "01",
      subject,
      issuer: caCert.subject,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      publicKey: keys.publicKey,
      signingKey: caKey,
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      extensions: [new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth])],
    });
    const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)).toString("base64");
    return {
      cert: cert.toString("pem"),
      key: `-----BEGIN PRIVATE KEY-----\n${der}\n-----END PRIVATE KEY-----\n`,
    };
  }

  /** Connects with this client certificate; the server side authenticates its socket. */
  function principalOf(client: { cert: string; key: string }): Promise<Principal | string> {
    return new Promise((resolve, reject) => {
      server.once("secureConnection", (socket: tls.TLSSocket) => {
        sockets.push(socket);
        auth
          .authenticate({ authorization: undefined, queryToken: undefined, tlsSocket: socket })
          .then(resolve, (err: Error) => resolve(err.message));
      });
      const c = tls.connect({ port, host: "127.0.0.1", servername: "localhost", ca: caPem, ...client });
      c.on("error", reject);
      c.on("secureConnect", () => c.end());
    });
  }
  let caPem: string;

  beforeAll(async () => {
    caDir = path.join(tokens.dir, "tls-ca");
    await initCa(caDir, "chain-ca");
    caPem = await readFile(path.join(caDir, CA_CERT_FILE), "utf8");
    const node = await issueCertificate({ caDir, kind: "node", name: "node0", outDir: caDir });
    const opts = {
      certFile: node.certFile,
      keyFile: node.keyFile,
      caFile: path.join(caDir, CA_CERT_FILE),
      clientCerts: "required" as const,
      clientRights: { acme: ["read" as const, "submit" as const] },
    };
    auth = await Authenticator.load(null, opts);
    server = tls.createServer({
      cert: await readFile(node.certFile),
      key: await readFile(node.keyFile),
      ca: caPem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('the CN is the principal with its rights, or none (no "*" entry); a certificate without a CN is refused', async () => {
    const acme = await issueCertificate({ caDir, kind: "client", name: "acme", outDir: caDir, validDays: 5 });
    const acmeCert = await readFile(acme.certFile, "utf8");
    expect(await principalOf({ cert: acmeCert, key: await readFile(acme.keyFile, "utf8") })).toEqual({
      id: "acme",
      rights: new Set(["read", "submit"]),
      via: "certificate",
      expiresAtMs: Date.parse(new X509Certificate(acmeCert).validTo),
    });
    const bob = await issueCertificate({ caDir, kind: "client", name: "bob", outDir: caDir });
    expect(
      await principalOf({
        cert: await readFile(bob.certFile, "utf8"),
        key: await readFile(bob.keyFile, "utf8"),
      }),
    ).toMatchObject({ id: "bob", rights: new Set(), via: "certificate" });
    expect(await principalOf(await clientCert("O=acme"))).toBe(
      "unauthorized: missing credentials: a client certificate from the chain's CA is required",
    );
    expect(await principalOf(await clientCert("CN=acme, O=other"))).toMatchObject({ id: "acme" });
  });
});

describe("token key files, issued tokens and config errors", () => {
  it("keygen: secret and private keys 0600, the right curves; issued tokens are typed JWT; RPC_CONFIG errors", async () => {
    const dir = path.join(tokens.dir, "keygen");
    await mkdir(dir);
    const hs = await generateTokenKey("HS256", path.join(dir, "hs.secret"));
    expect(hs).toEqual({
      signingKeyFile: path.join(dir, "hs.secret"),
      verifyKeyFile: path.join(dir, "hs.secret"),
    });
    expect((await stat(hs.signingKeyFile)).mode & 0o777).toBe(0o600);
    expect(await readFile(hs.signingKeyFile, "utf8")).toMatch(/^[0-9a-f]{64}\n$/);
    for (const [alg, type, curve] of [
      ["ES256", "ec", "prime256v1"],
      ["EdDSA", "ed25519", undefined],
    ] as const) {
      const files = await generateTokenKey(alg, path.join(dir, alg));
      expect(files).toEqual({
        signingKeyFile: path.join(dir, `${alg}.key`),
        verifyKeyFile: path.join(dir, `${alg}.pub`),
      });
      expect((await stat(files.signingKeyFile)).mode & 0o777, alg).toBe(0o600);
      const pub = createPublicKey(await readFile(files.verifyKeyFile, "utf8"));
      expect(pub.asymmetricKeyType, alg).toBe(type);
      expect(pub.asymmetricKeyDetails?.namedCurve, alg).toBe(curve);
      const priv = createPrivateKey(await readFile(files.signingKeyFile, "utf8"));
      expect(priv.asymmetricKeyType, alg).toBe(type);
    }
    const token = await issueToken({
      algorithm: "HS256",
      keyFile: hs.signingKeyFile,
      principal: "p",
      rights: ["read"],
      expiresInS: 60,
    });
    expect(decodeProtectedHeader(token)).toEqual({ alg: "HS256", typ: "JWT" });

    const missing = path.join(dir, "missing.secret");
    const config = (message: string) => expect.objectContaining({ code: "RPC_CONFIG", message });
    await expect(Authenticator.load({ algorithm: "HS256", keyFile: missing }, null)).rejects.toEqual(
      config(expect.stringContaining(`cannot read the JWT secret file ${missing}: `)),
    );
    await expect(
      issueToken({ algorithm: "HS256", keyFile: missing, principal: "p", rights: [], expiresInS: 1 }),
    ).rejects.toEqual(config(expect.stringContaining(`cannot read the JWT signing key file ${missing}: `)));
    await expect(
      issueToken({ algorithm: "ES256", keyFile: missing, principal: "p", rights: [], expiresInS: 1 }),
    ).rejects.toEqual(config(expect.stringContaining(`cannot read the JWT signing key file ${missing}: `)));
    await expect(
      issueToken({
        algorithm: "HS256",
        keyFile: hs.signingKeyFile,
        principal: "",
        rights: [],
        expiresInS: 1,
      }),
    ).rejects.toEqual(config("the principal must have 1 to 128 characters"));
    const short = path.join(dir, "short.secret");
    await writeFile(short, "s".repeat(31));
    await expect(Authenticator.load({ algorithm: "HS256", keyFile: short }, null)).rejects.toEqual(
      config(`${short}: an HS256 secret needs at least 32 bytes (consort token keygen makes one)`),
    );
    await expect(
      Authenticator.load({ algorithm: "ES256", keyFile: hs.signingKeyFile }, null),
    ).rejects.toEqual(
      config(expect.stringContaining(`${hs.signingKeyFile}: not a ES256 public key (SPKI PEM): `)),
    );
  });
});
