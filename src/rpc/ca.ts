/**
 * The chain's certificate authority for JSON-RPC over TLS (`consort ca init`, `consort ca issue`), as FISCO BCOS issues
 * SDK certificates per member agency. X.509 with @peculiar/x509 over Node's WebCrypto: pure TypeScript, no OpenSSL
 * binary needed (the container image has none), ECDSA P-256 keys (fast to make, accepted by every TLS stack).
 */
// @peculiar/x509 2.x resolves its parsers through tsyringe, which needs the Reflect metadata API loaded first.
import "reflect-metadata";
import { webcrypto } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import path from "node:path";
import * as x509 from "@peculiar/x509";
import { makeDirs } from "../util/dirs.js";
import { errorMessage } from "../util/errors.js";
import { RpcError } from "./errors.js";

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const KEY_ALGORITHM = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING_ALGORITHM = { name: "ECDSA", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const CA_CERT_FILE = "ca.crt";
export const CA_KEY_FILE = "ca.key";

export interface IssuedFiles {
  certFile: string;
  keyFile: string;
}

/** Create a CA in `dir`: ca.crt (public, give it to nodes and clients) and ca.key (mode 0600, keep it offline). */
export async function initCa(dir: string, name: string, validDays = 3650): Promise<IssuedFiles> {
  checkName(name);
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + validDays * DAY_MS),
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  await makeDirs(dir);
  const files = { certFile: path.join(dir, CA_CERT_FILE), keyFile: path.join(dir, CA_KEY_FILE) };
  await writeFile(files.keyFile, await privateKeyPem(keys.privateKey), { mode: 0o600 });
  await writeFile(files.certFile, cert.toString("pem"));
  return files;
}

export interface IssueOptions {
  caDir: string;
  kind: "node" | "client";
  /** The subject CN: a node's name, or the client principal (its rights come from rpc.tls.clientRights). */
  name: string;
  outDir: string;
  /** Node certificates: DNS names and IP addresses clients reach the node by (loopback names always included). */
  hosts?: string[];
  validDays?: number;
}

/** Issue a node (server) or client certificate signed by the CA in caDir: <outDir>/<name>.crt and <name>.key. */
export async function issueCertificate(o: IssueOptions): Promise<IssuedFiles> {
  checkName(o.name);
  const ca = await loadCa(o.caDir);
  const keys = await newKeys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
    new x509.ExtendedKeyUsageExtension(
      [o.kind === "node" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
      false,
    ),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert, false),
  ];
  if (o.kind === "node") {
    const hosts = [...new Set([o.name, "localhost", "127.0.0.1", "::1", ...(o.hosts ?? [])])];
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        hosts.map((h) => ({ type: isIP(h) ? ("ip" as const) : ("dns" as const), value: h })),
        false,
      ),
    );
  }
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${o.name}`,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + (o.validDays ?? 730) * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    signingAlgorithm: SIGNING_ALGORITHM,
    extensions,
  });
  await makeDirs(o.outDir);
  const files = {
    certFile: path.join(o.outDir, `${o.name}.crt`),
    keyFile: path.join(o.outDir, `${o.name}.key`),
  };
  await writeFile(files.keyFile, await privateKeyPem(keys.privateKey), { mode: 0o600 });
  await writeFile(files.certFile, cert.toString("pem"));
  return files;
}

async function loadCa(dir: string): Promise<{ cert: x509.X509Certificate; privateKey: CryptoKey }> {
  try {
    const cert = new x509.X509Certificate(await readFile(path.join(dir, CA_CERT_FILE), "utf8"));
    const pem = await readFile(path.join(dir, CA_KEY_FILE), "utf8");
    const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
    const privateKey = await webcrypto.subtle.importKey("pkcs8", der, KEY_ALGORITHM, false, ["sign"]);
    return { cert, privateKey };
  } catch (err) {
    throw new RpcError(
      "RPC_CONFIG",
      `cannot load the CA from ${dir} (${CA_CERT_FILE}, ${CA_KEY_FILE}; made by consort ca init): ${errorMessage(err)}`,
    );
  }
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(KEY_ALGORITHM, true, ["sign", "verify"])) as CryptoKeyPair;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  const body = der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .trimEnd();
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;
}

/**
 * A positive 16-byte serial: top bit clear, and a first byte never 0 (DER drops a leading zero byte, so one time in
 * 128 the serial was 15 bytes, its next byte first: test/rpc/ca.test.ts saw 0xdb there).
 */
function serial(): string {
  const b = webcrypto.getRandomValues(new Uint8Array(16));
  b[0] = b[0]! & 0x7f || 0x01;
  return Buffer.from(b).toString("hex");
}

function checkName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new RpcError(
      "RPC_CONFIG",
      `"${name}" is not a usable name: letters, digits, ".", "_", "-" (at most 64)`,
    );
  }
}
