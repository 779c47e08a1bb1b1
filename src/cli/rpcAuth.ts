import path from "node:path";
import { generateTokenKey, issueToken } from "../rpc/auth.js";
import { initCa, issueCertificate } from "../rpc/ca.js";
import type { JwtAlgorithm } from "../rpc/options.js";
import { isRight, type Right } from "../rpc/rights.js";
import { CliError, flagString } from "./args.js";

type Flags = Map<string, string | true>;

export const TOKEN_USAGE = `  consort token keygen --out FILE [--alg HS256|ES256|EdDSA]
                                       HS256: a shared secret file; ES256/EdDSA: FILE.key (issuer) + FILE.pub (node)
  consort token issue --key FILE --principal NAME --rights read,submit [--alg HS256] [--expires 30d]
                                       print a JWT bearer token (rights: read, submit, admin)`;

export const CA_USAGE = `  consort ca init --dir DIR [--name NAME]
                                       the chain's CA for JSON-RPC TLS: DIR/ca.crt, DIR/ca.key (keep it offline)
  consort ca issue --dir DIR (--node NAME [--hosts h1,h2] | --client NAME) [--out DIR2] [--days 730]
                                       a node (server) or client certificate: DIR2/NAME.crt, DIR2/NAME.key`;

const ALGORITHMS: readonly JwtAlgorithm[] = ["HS256", "ES256", "EdDSA"];
const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

function algorithm(flags: Flags): JwtAlgorithm {
  const alg = flagString(flags, "alg", "HS256");
  if (!(ALGORITHMS as readonly string[]).includes(alg)) {
    throw new CliError("CLI_USAGE", `--alg must be one of ${ALGORITHMS.join(", ")}, got ${alg}`);
  }
  return alg as JwtAlgorithm;
}

/** "90s", "15m", "12h", "30d" → seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,7})([smhd])$/.exec(text);
  if (!m)
    throw new CliError(
      "CLI_USAGE",
      `--expires: expected a duration such as 3600s, 15m, 12h or 30d, got ${text}`,
    );
  return Number(m[1]) * UNIT_S[m[2]!]!;
}

function parseRights(text: string): Right[] {
  const rights = text.split(",").map((r) => r.trim());
  if (rights.length === 0 || !rights.every(isRight)) {
    throw new CliError("CLI_USAGE", `--rights: a comma-separated list of read, submit, admin; got ${text}`);
  }
  return [...new Set(rights)] as Right[];
}

/** `consort token keygen|issue`. */
export async function tokenCommand(sub: string | undefined, flags: Flags): Promise<void> {
  if (sub === "keygen") {
    const files = await generateTokenKey(algorithm(flags), path.resolve(flagString(flags, "out")));
    console.log(`signing key (keep it with the issuer): ${files.signingKeyFile}`);
    console.log(`verification key (node.json rpc.auth.jwt.keyFile): ${files.verifyKeyFile}`);
    return;
  }
  if (sub === "issue") {
    const token = await issueToken({
      algorithm: algorithm(flags),
      keyFile: path.resolve(flagString(flags, "key")),
      principal: flagString(flags, "principal"),
      rights: parseRights(flagString(flags, "rights")),
      expiresInS: parseDuration(flagString(flags, "expires", "30d")),
    });
    console.log(token);
    return;
  }
  throw new CliError("CLI_USAGE", `usage:\n${TOKEN_USAGE}`);
}

/** `consort ca init|issue`. */
export async function caCommand(sub: string | undefined, flags: Flags): Promise<void> {
  const dir = path.resolve(flagString(flags, "dir"));
  if (sub === "init") {
    const files = await initCa(dir, flagString(flags, "name", "consort-rpc-ca"));
    console.log(`CA certificate: ${files.certFile}\nCA private key (keep it offline): ${files.keyFile}`);
    return;
  }
  if (sub === "issue") {
    const node = flags.get("node");
    const client = flags.get("client");
    if ((node === undefined) === (client === undefined)) {
      throw new CliError("CLI_USAGE", "consort ca issue needs exactly one of --node NAME or --client NAME");
    }
    const kind = node !== undefined ? "node" : "client";
    const hosts = flags.get("hosts");
    const files = await issueCertificate({
      caDir: dir,
      kind,
      name: flagString(flags, kind),
      outDir: path.resolve(flagString(flags, "out", dir)),
      hosts: typeof hosts === "string" ? hosts.split(",").filter((h) => h.length > 0) : [],
      validDays: Number(flagString(flags, "days", "730")),
    });
    console.log(`${kind} certificate: ${files.certFile}\nprivate key: ${files.keyFile}`);
    return;
  }
  throw new CliError("CLI_USAGE", `usage:\n${CA_USAGE}`);
}
