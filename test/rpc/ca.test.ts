import "reflect-metadata";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import * as x509 from "@peculiar/x509";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CA_CERT_FILE, CA_KEY_FILE, initCa, issueCertificate } from "../../src/rpc/ca.js";

/**
 * The chain's CA for JSON-RPC over TLS (src/rpc/ca.ts): what `consort ca init` and `consort ca issue` write, read
 * back with Node's X509Certificate and @peculiar/x509 (test/cli/rpcAuth.test.ts runs the commands; a TLS handshake
 * with these certificates is in test/node/rpcAccess.test.ts).
 */

const DAY_MS = 86_400_000;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "consort-ca-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const days = (c: X509Certificate) => (Date.parse(c.validTo) - Date.parse(c.validFrom)) / DAY_MS;
const usages = (pem: string) =>
  new x509.X509Certificate(pem).getExtension(x509.KeyUsagesExtension)?.usages ?? 0;

describe("the chain's CA", () => {
  it("init: a self-signed CA certificate (CA:true, signs certificates) and its key, 0600, as PKCS#8 PEM", async () => {
    const ca = path.join(dir, "ca");
    const files = await initCa(ca, "chain-ca");
    expect(files).toEqual({ certFile: path.join(ca, CA_CERT_FILE), keyFile: path.join(ca, CA_KEY_FILE) });
    const pem = await readFile(files.certFile, "utf8");
    const cert = new X509Certificate(pem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe("CN=chain-ca");
    expect(cert.issuer).toBe("CN=chain-ca");
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(days(cert)).toBeCloseTo(3651, 3); // from a day back, 3650 days ahead
    expect(Date.parse(cert.validFrom)).toBeLessThan(Date.now() - DAY_MS + 60_000);
    expect(usages(pem)).toBe(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
    expect(Number.parseInt(cert.serialNumber.slice(0, 2), 16)).toBeLessThan(0x80);
    expect((await stat(files.keyFile)).mode & 0o777).toBe(0o600);
    const key = await readFile(files.keyFile, "utf8");
    const lines = key.trimEnd().split("\n");
    expect(lines[0]).toBe("-----BEGIN PRIVATE KEY-----");
    expect(lines.at(-1)).toBe("-----END PRIVATE KEY-----");
    expect(
      lines.slice(1, -1).every((l, i, all) => (i < all.length - 1 ? l.length === 64 : l.length <= 64)),
    ).toBe(true);
    expect(key.endsWith("-----END PRIVATE KEY-----\n")).toBe(true);

    const short = await initCa(path.join(dir, "ca-short"), "short", 10);
    expect(days(new X509Certificate(await readFile(short.certFile, "utf8")))).toBeCloseTo(11, 3);
  });

  it("issue: node certificates for serverAuth with the loopback names and given hosts; client ones for clientAuth", async () => {
    const ca = path.join(dir, "ca2");
    await initCa(ca, "chain-ca");
    const caCert = new X509Certificate(await readFile(path.join(ca, CA_CERT_FILE), "utf8"));
    const out = path.join(dir, "issued");
    const node = await issueCertificate({
      caDir: ca,
      kind: "node",
      name: "node0",
      outDir: out,
      hosts: ["rpc.example", "10.0.0.5", "localhost"],
    });
    expect(node).toEqual({ certFile: path.join(out, "node0.crt"), keyFile: path.join(out, "node0.key") });
    const nodePem = await readFile(node.certFile, "utf8");
    const n = new X509Certificate(nodePem);
    expect(n.subjectAltName).toBe(
      "DNS:node0, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:rpc.example, IP Address:10.0.0.5",
    );
    expect(n.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]); // serverAuth only
    expect(usages(nodePem)).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement);
    expect(n.ca).toBe(false);
    expect(n.checkIssued(caCert)).toBe(true);
    expect(n.verify(caCert.publicKey)).toBe(true);
    expect(days(n)).toBeCloseTo(731, 3);
    expect((await stat(node.keyFile)).mode & 0o777).toBe(0o600);

    const client = await issueCertificate({
      caDir: ca,
      kind: "client",
      name: "acme",
      outDir: out,
      validDays: 5,
    });
    const clientPem = await readFile(client.certFile, "utf8");
    const c = new X509Certificate(clientPem);
    expect(c.subject).toBe("CN=acme");
    expect(c.subjectAltName).toBeUndefined();
    expect(c.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]); // clientAuth only
    expect(c.verify(caCert.publicKey)).toBe(true);
    expect(days(c)).toBeCloseTo(6, 3);
    // Two certificates never share a serial.
    expect(c.serialNumber).not.toBe(n.serialNumber);
  });

  it("names are letters, digits, '.', '_', '-' (at most 64, not starting with a sign); a missing or broken CA is named", async () => {
    const ca = path.join(dir, "ca3");
    await initCa(ca, "a");
    for (const name of ["", "-x", ".x", "a b", "a/b", "x".repeat(65), "é"]) {
      await expect(initCa(path.join(dir, "bad"), name), name).rejects.toThrow(
        `"${name}" is not a usable name: letters, digits, ".", "_", "-" (at most 64)`,
      );
      await expect(
        issueCertificate({ caDir: ca, kind: "client", name, outDir: path.join(dir, "bad") }),
        name,
      ).rejects.toThrow("is not a usable name");
    }
    await initCa(path.join(dir, "ca-long"), `A0._-${"x".repeat(59)}`);
    const missing = path.join(dir, "no-ca");
    await expect(
      issueCertificate({ caDir: missing, kind: "client", name: "x", outDir: dir }),
    ).rejects.toThrow(`cannot load the CA from ${missing} (ca.crt, ca.key; made by consort ca init): `);
    await writeFile(
      path.join(ca, CA_KEY_FILE),
      "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    await expect(
      issueCertificate({ caDir: ca, kind: "client", name: "x", outDir: dir }),
    ).rejects.toMatchObject({
      code: "RPC_CONFIG",
    });
  });
});

describe("the chain's CA: what the certificates say", () => {
  const ext = <T extends x509.Extension>(pem: string, type: new (raw: ArrayBuffer) => T) =>
    new x509.X509Certificate(pem).getExtension(type);

  it("the critical flags, CA:false on issued ones, and a node certificate without extra hosts", async () => {
    const ca = path.join(dir, "ca4");
    const caFiles = await initCa(ca, "chain-ca");
    const caPem = await readFile(caFiles.certFile, "utf8");
    expect(ext(caPem, x509.BasicConstraintsExtension)).toMatchObject({
      ca: true,
      pathLength: 0,
      critical: true,
    });
    expect(ext(caPem, x509.KeyUsagesExtension)?.critical).toBe(true);

    const node = await issueCertificate({
      caDir: ca,
      kind: "node",
      name: "n1",
      outDir: path.join(dir, "issued4"),
    });
    const pem = await readFile(node.certFile, "utf8");
    expect(new X509Certificate(pem).subjectAltName).toBe(
      "DNS:n1, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
    );
    const basic = ext(pem, x509.BasicConstraintsExtension);
    expect(basic?.ca).toBe(false);
    expect(basic?.critical).toBe(true);
    expect(ext(pem, x509.KeyUsagesExtension)?.critical).toBe(true);
    expect(ext(pem, x509.ExtendedKeyUsageExtension)?.critical).toBe(false);
    expect(ext(pem, x509.SubjectAlternativeNameExtension)?.critical).toBe(false);
  });

  it("a bad name or a broken CA is a config error (RPC_CONFIG)", async () => {
    await expect(initCa(path.join(dir, "bad2"), "-x")).rejects.toMatchObject({ code: "RPC_CONFIG" });
    await expect(
      issueCertificate({ caDir: path.join(dir, "no-ca-2"), kind: "client", name: "x", outDir: dir }),
    ).rejects.toMatchObject({ code: "RPC_CONFIG" });
  });
});
