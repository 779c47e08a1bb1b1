import { createPrivateKey, type KeyObject, randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import type { TLSSocket } from "node:tls";
import {
  type CryptoKey,
  exportPKCS8,
  exportSPKI,
  generateKeyPair,
  importPKCS8,
  importSPKI,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from "jose";
import { errorMessage } from "../util/errors.js";
import { RpcError } from "./errors.js";
import type { JwtAlgorithm, RpcJwtOptions, RpcTlsOptions } from "./options.js";
import { ANONYMOUS, type Principal } from "./principal.js";
import { isRight, type Right } from "./rights.js";

/** An HS256 secret shorter than this is refused (RFC 7518 §3.2: at least the hash size). */
const HS256_SECRET_MIN_BYTES = 32;
/** Tolerated clock skew between the token issuer and this node. */
const CLOCK_TOLERANCE_S = 5;
const PRINCIPAL_MAX_CHARS = 128;
const TOKEN_MAX_CHARS = 8192;

type VerifyKey = CryptoKey | Uint8Array;

/** What a request presents: a bearer token (header or ?token=) and, over TLS, the peer's certificate. */
export interface Credentials {
  authorization: string | undefined;
  queryToken: string | undefined;
  tlsSocket: TLSSocket | null;
}

/**
 * Turns a request's credentials into a principal: a valid bearer token first, else a client certificate the chain's
 * CA signed, else the anonymous principal when the server requires no auth. Anything else is RPC_UNAUTHORIZED.
 */
export class Authenticator {
  private constructor(
    private readonly jwt: { algorithm: JwtAlgorithm; key: VerifyKey } | null,
    private readonly tls: RpcTlsOptions | null,
  ) {}

  static async load(jwt: RpcJwtOptions | null, tls: RpcTlsOptions | null): Promise<Authenticator> {
    return new Authenticator(jwt ? { algorithm: jwt.algorithm, key: await loadVerifyKey(jwt) } : null, tls);
  }

  get required(): boolean {
    return this.jwt !== null || this.tls?.clientCerts === "required";
  }

  async authenticate(c: Credentials): Promise<Principal> {
    // A node that asks for no credentials ignores any (a client's Basic auth for a proxy in front of it included).
    if (!this.required) return ANONYMOUS;
    const token = bearer(c.authorization) ?? c.queryToken;
    if (token !== undefined) {
      if (!this.jwt) throw unauthorized("bearer tokens are not enabled on this node (rpc.auth.jwt)");
      return this.verifyToken(token);
    }
    const cert = this.certificatePrincipal(c.tlsSocket);
    if (cert) return cert;
    throw unauthorized(
      this.jwt
        ? "missing credentials: send Authorization: Bearer <token> (WebSocket: or ?token=<token>)"
        : "missing credentials: a client certificate from the chain's CA is required",
    );
  }

  private async verifyToken(token: string): Promise<Principal> {
    const jwt = this.jwt!;
    if (token.length > TOKEN_MAX_CHARS) throw unauthorized("invalid token: too long");
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, jwt.key, {
        algorithms: [jwt.algorithm],
        requiredClaims: ["sub", "exp"],
        clockTolerance: CLOCK_TOLERANCE_S,
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw unauthorized("token expired");
      if (err instanceof joseErrors.JOSEError) throw unauthorized(`invalid token: ${err.message}`);
      throw unauthorized(`invalid token: ${errorMessage(err)}`);
    }
    const sub = payload.sub;
    if (typeof sub !== "string" || sub.length === 0 || sub.length > PRINCIPAL_MAX_CHARS) {
      throw unauthorized("invalid token: sub must name the principal");
    }
    const rights = payload.rights;
    if (!Array.isArray(rights) || !rights.every(isRight)) {
      throw unauthorized('invalid token: the "rights" claim must list read, submit and/or admin');
    }
    return {
      id: sub,
      rights: new Set(rights),
      via: "token",
      expiresAtMs: typeof payload.exp === "number" ? payload.exp * 1000 : null,
    };
  }

  private certificatePrincipal(socket: TLSSocket | null): Principal | null {
    if (!socket || !this.tls || this.tls.clientCerts !== "required" || !socket.authorized) return null;
    const cert = socket.getPeerCertificate();
    const cn = cert?.subject?.CN;
    const id = Array.isArray(cn) ? cn[0] : cn;
    if (!id) return null;
    const rights = this.tls.clientRights[id] ?? this.tls.clientRights["*"] ?? [];
    const validToMs = Date.parse(cert.valid_to);
    return {
      id,
      rights: new Set(rights),
      via: "certificate",
      expiresAtMs: Number.isFinite(validToMs) ? validToMs : null,
    };
  }
}

function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m) throw unauthorized('malformed Authorization header: expected "Bearer <token>"');
  return m[1];
}

function unauthorized(message: string): RpcError {
  return new RpcError("RPC_UNAUTHORIZED", `unauthorized: ${message}`);
}

async function readKeyFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw new RpcError("RPC_CONFIG", `cannot read the ${what} ${file}: ${errorMessage(err)}`);
  }
}

async function loadVerifyKey(jwt: RpcJwtOptions): Promise<VerifyKey> {
  if (jwt.algorithm === "HS256")
    return hmacSecret(await readKeyFile(jwt.keyFile, "JWT secret file"), jwt.keyFile);
  const pem = await readKeyFile(jwt.keyFile, "JWT public key file");
  try {
    return await importSPKI(pem, jwt.algorithm);
  } catch (err) {
    throw new RpcError(
      "RPC_CONFIG",
      `${jwt.keyFile}: not a ${jwt.algorithm} public key (SPKI PEM): ${errorMessage(err)}`,
    );
  }
}

function hmacSecret(text: string, file: string): Uint8Array {
  const secret = new TextEncoder().encode(text.trim());
  if (secret.length < HS256_SECRET_MIN_BYTES) {
    throw new RpcError(
      "RPC_CONFIG",
      `${file}: an HS256 secret needs at least ${HS256_SECRET_MIN_BYTES} bytes (consort token keygen makes one)`,
    );
  }
  return secret;
}

export interface IssueTokenOptions {
  /** Default: what the key file holds (signingAlgorithm); given, it must be that. */
  algorithm?: JwtAlgorithm;
  /** HS256: the secret file; ES256/EdDSA: the private key (PKCS#8 PEM). */
  keyFile: string;
  principal: string;
  rights: Right[];
  expiresInS: number;
  nowMs?: number;
}

/**
 * What a token signing key file holds: a PEM private key (P-256: ES256, Ed25519: EdDSA, as `generateTokenKey`
 * writes them) or, anything else, an HS256 secret.
 */
function signingAlgorithm(text: string, keyFile: string): JwtAlgorithm {
  if (!text.includes("-----BEGIN")) return "HS256";
  let key: KeyObject;
  try {
    key = createPrivateKey(text);
  } catch {
    throw new RpcError(
      "RPC_CONFIG",
      `${keyFile} is PEM but not a private key: tokens are signed with FILE.key of \`consort token keygen\` (FILE.pub is the node's)`,
    );
  }
  if (key.asymmetricKeyType === "ed25519") return "EdDSA";
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") return "ES256";
  const curve = key.asymmetricKeyDetails?.namedCurve;
  throw new RpcError(
    "RPC_CONFIG",
    `${keyFile} holds a ${key.asymmetricKeyType}${curve === undefined ? "" : ` (${curve})`} key: token keys are HS256 secrets, P-256 (ES256) or Ed25519 (EdDSA) private keys`,
  );
}

function keyKind(algorithm: JwtAlgorithm): string {
  return algorithm === "HS256" ? "an HS256 secret" : `an ${algorithm} private key`;
}

/** Sign a bearer token for `principal` with `rights`, valid for expiresInS seconds. */
export async function issueToken(o: IssueTokenOptions): Promise<string> {
  if (o.principal.length === 0 || o.principal.length > PRINCIPAL_MAX_CHARS) {
    throw new RpcError("RPC_CONFIG", `the principal must have 1 to ${PRINCIPAL_MAX_CHARS} characters`);
  }
  const text = await readKeyFile(o.keyFile, "JWT signing key file");
  const algorithm = signingAlgorithm(text, o.keyFile);
  if (o.algorithm !== undefined && o.algorithm !== algorithm) {
    // A PEM file taken as an HS256 secret would sign tokens no node accepts, without a word.
    throw new RpcError(
      "RPC_CONFIG",
      `${o.keyFile} holds ${keyKind(algorithm)}, not ${keyKind(o.algorithm)}: leave the algorithm out, or give the key file made for it`,
    );
  }
  const key = algorithm === "HS256" ? hmacSecret(text, o.keyFile) : await importPKCS8(text, algorithm);
  const nowS = Math.floor((o.nowMs ?? Date.now()) / 1000);
  return new SignJWT({ rights: o.rights })
    .setProtectedHeader({ alg: algorithm, typ: "JWT" })
    .setSubject(o.principal)
    .setIssuedAt(nowS)
    .setExpirationTime(nowS + o.expiresInS)
    .sign(key);
}

/**
 * Make a token key: HS256 writes one secret file (64 hex chars, mode 0600) used by the node and the issuer;
 * ES256/EdDSA write `<base>.key` (private, 0600, for `consort token issue`) and `<base>.pub` (for the node).
 */
export async function generateTokenKey(
  algorithm: JwtAlgorithm,
  base: string,
): Promise<{ signingKeyFile: string; verifyKeyFile: string }> {
  if (algorithm === "HS256") {
    await writeFile(base, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
    return { signingKeyFile: base, verifyKeyFile: base };
  }
  const { privateKey, publicKey } = await generateKeyPair(algorithm, {
    extractable: true,
    ...(algorithm === "EdDSA" ? { crv: "Ed25519" } : {}),
  });
  await writeFile(`${base}.key`, await exportPKCS8(privateKey), { mode: 0o600 });
  await writeFile(`${base}.pub`, await exportSPKI(publicKey));
  return { signingKeyFile: `${base}.key`, verifyKeyFile: `${base}.pub` };
}
