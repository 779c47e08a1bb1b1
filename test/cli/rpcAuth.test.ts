import { execFile } from "node:child_process";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { caCommand, tokenCommand } from "../../src/cli/rpcAuth.js";
import { defaultTestnetOptions, generateTestnet } from "../../src/cli/testnet.js";

const run = promisify(execFile);

/** Run a command in-process and return what it printed. */
async function cli(command: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => {
    lines.push(args.join(" "));
  });
  try {
    await command();
  } finally {
    log.mockRestore();
  }
  return lines.join("\n");
}
const MAIN = path.join(import.meta.dirname, "../../src/cli/main.ts");

/** Runs the real CLI entry point as an operator would (`consort <args>`). */
function consort(...args: string[]) {
  return run(process.execPath, ["--import", "tsx", MAIN, ...args], { timeout: 60_000 });
}

describe("consort token / ca / start with unsafe RPC settings", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-cli-rpc-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a node configured for 0.0.0.0 without auth refuses to start, naming the setting to change", async () => {
    const out = path.join(dir, "net");
    await generateTestnet({
      ...defaultTestnetOptions,
      outDir: out,
      validators: 1,
      rpcPortBase: 18700,
      p2pPortBase: 18710,
    });
    const file = path.join(out, "node0", "node.json");
    const cfg = JSON.parse(await readFile(file, "utf8"));
    cfg.rpc.host = "0.0.0.0";
    await writeFile(file, JSON.stringify(cfg));
    const failure = await consort("start", "--config", file).then(
      () => null,
      (err: { code?: number; stderr?: string }) => err,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toMatch(
      /consort: refusing to serve JSON-RPC on 0\.0\.0\.0 \(not a loopback address\) without authentication: set rpc\.auth\.jwt/,
    );
    expect(failure?.stderr).toMatch(/bind rpc\.host to 127\.0\.0\.1/);
  });

  it("token keygen + issue: a JWT with the principal, its rights and an expiry", async () => {
    const secret = path.join(dir, "jwt.secret");
    await cli(() => tokenCommand(["keygen", "--out", secret]));
    expect((await stat(secret)).mode & 0o777).toBe(0o600);
    // A second keygen onto it would void every token it signed: refused, the secret unchanged.
    const first = await readFile(secret, "utf8");
    await expect(tokenCommand(["keygen", "--out", secret])).rejects.toThrow(
      `${secret} already exists: a token signing key (every token signed with it would stop working) would be replaced`,
    );
    expect(await readFile(secret, "utf8")).toBe(first);
    const es = path.join(dir, "issuer");
    await cli(() => tokenCommand(["keygen", "--alg", "ES256", "--out", es]));
    await expect(tokenCommand(["keygen", "--alg", "EdDSA", "--out", es])).rejects.toThrow(
      `${es}.key and ${es}.pub already exist`,
    );
    const stdout = await cli(() =>
      tokenCommand([
        "issue",
        "--key",
        secret,
        "--principal",
        "acme",
        "--rights",
        "read,submit",
        "--expires",
        "2h",
      ]),
    );
    const claims = decodeJwt(stdout.trim());
    expect(claims.sub).toBe("acme");
    expect(claims.rights).toEqual(["read", "submit"]);
    expect(claims.exp! - claims.iat!).toBe(7200);
    const bad = await consort(
      "token",
      "issue",
      "--key",
      secret,
      "--principal",
      "x",
      "--rights",
      "root",
    ).catch((e: { stderr: string }) => e);
    expect((bad as { stderr: string }).stderr).toMatch(
      /--rights: a comma-separated list of read, submit, admin/,
    );
  });

  it("token issue takes the algorithm from the key file, and refuses a key of another kind", async () => {
    const issue = (key: string, ...alg: string[]) =>
      cli(() => tokenCommand(["issue", "--key", key, "--principal", "p", "--rights", "read", ...alg]));
    const algOf = (token: string) => decodeProtectedHeader(token.trim()).alg;
    const secret = path.join(dir, "infer.secret");
    await cli(() => tokenCommand(["keygen", "--out", secret]));
    for (const alg of ["ES256", "EdDSA"]) {
      const base = path.join(dir, `infer-${alg}`);
      await cli(() => tokenCommand(["keygen", "--alg", alg, "--out", base]));
      // Without --alg a PEM key used to sign HS256 with its text as the secret: no node would accept the token.
      expect(algOf(await issue(`${base}.key`))).toBe(alg);
      expect(algOf(await issue(`${base}.key`, "--alg", alg))).toBe(alg);
      await expect(issue(`${base}.key`, "--alg", "HS256")).rejects.toMatchObject({
        code: "RPC_CONFIG",
        message: `${base}.key holds an ${alg} private key, not an HS256 secret: leave the algorithm out, or give the key file made for it`,
      });
      await expect(issue(`${base}.pub`)).rejects.toMatchObject({
        code: "RPC_CONFIG",
        message: expect.stringContaining(`${base}.pub is PEM but not a private key`),
      });
    }
    expect(algOf(await issue(secret))).toBe("HS256");
    // An HS256 secret given as ES256 was a raw jose TypeError ("pkcs8" must be PKCS#8 formatted string).
    await expect(issue(secret, "--alg", "ES256")).rejects.toMatchObject({
      code: "RPC_CONFIG",
      message: `${secret} holds an HS256 secret, not an ES256 private key: leave the algorithm out, or give the key file made for it`,
    });
    // A private key of a kind tokens do not use (P-384) is named.
    const p384 = path.join(dir, "p384.key");
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "secp384r1" });
    await writeFile(p384, privateKey.export({ type: "pkcs8", format: "pem" }));
    await expect(issue(p384)).rejects.toMatchObject({
      code: "RPC_CONFIG",
      message: `${p384} holds a ec (secp384r1) key: token keys are HS256 secrets, P-256 (ES256) or Ed25519 (EdDSA) private keys`,
    });
  });

  it("ca init + issue: node and client certificates signed by the chain's CA", async () => {
    const ca = path.join(dir, "ca");
    await cli(() => caCommand(["init", "--dir", ca]));
    expect((await stat(path.join(ca, "ca.key"))).mode & 0o777).toBe(0o600);
    const caKey = await readFile(path.join(ca, "ca.key"), "utf8");
    await expect(caCommand(["init", "--dir", ca])).rejects.toThrow(
      "the chain's CA (no certificate it issued",
    );
    expect(await readFile(path.join(ca, "ca.key"), "utf8")).toBe(caKey);
    await cli(() => caCommand(["issue", "--dir", ca, "--node", "node0", "--hosts", "rpc.example,10.0.0.5"]));
    await cli(() => caCommand(["issue", "--dir", ca, "--client", "acme"]));
    const caCert = new X509Certificate(await readFile(path.join(ca, "ca.crt")));
    const node = new X509Certificate(await readFile(path.join(ca, "node0.crt")));
    const client = new X509Certificate(await readFile(path.join(ca, "acme.crt")));
    expect(caCert.ca).toBe(true);
    for (const c of [node, client]) {
      expect(c.verify(caCert.publicKey)).toBe(true);
      expect(c.checkIssued(caCert)).toBe(true);
      expect(c.ca).toBe(false);
    }
    expect(node.subjectAltName).toContain("DNS:rpc.example");
    expect(node.subjectAltName).toContain("IP Address:10.0.0.5");
    expect(node.checkHost("localhost")).toBe("localhost");
    expect(client.subject).toBe("CN=acme");
    expect(node.keyUsage).toContain("1.3.6.1.5.5.7.3.1");
    expect(client.keyUsage).toContain("1.3.6.1.5.5.7.3.2");
  });

  it("testnet --docker --tls writes tokens, certificates and the rpc settings for every node", async () => {
    const out = path.join(dir, "docker");
    await generateTestnet({ ...defaultTestnetOptions, outDir: out, validators: 2, docker: true, tls: true });
    for (const name of ["read", "submit", "admin"]) {
      expect(
        decodeJwt((await readFile(path.join(out, "rpc-tokens", `${name}.jwt`), "utf8")).trim()).sub,
      ).toBe(`testnet-${name}`);
    }
    const caCert = new X509Certificate(await readFile(path.join(out, "tls", "ca.crt")));
    const client = new X509Certificate(await readFile(path.join(out, "tls", "client0.crt")));
    expect(client.verify(caCert.publicKey)).toBe(true);
    for (const i of [0, 1]) {
      const cfg = JSON.parse(await readFile(path.join(out, `node${i}`, "node.json"), "utf8"));
      expect(cfg.rpc.host).toBe("0.0.0.0");
      expect(cfg.rpc.auth).toEqual({ jwt: { algorithm: "HS256", keyFile: "rpc-jwt.secret" } });
      expect(cfg.rpc.tls.clientCerts).toBe("required");
      const cert = new X509Certificate(await readFile(path.join(out, `node${i}`, cfg.rpc.tls.certFile)));
      expect(cert.verify(caCert.publicKey)).toBe(true);
      expect(cert.subjectAltName).toContain(`DNS:node${i}`);
      await stat(path.join(out, `node${i}`, "health.jwt"));
    }
  });
});
