import path from "node:path";
import { generateTokenKey, issueToken } from "../rpc/auth.js";
import type { JwtAlgorithm } from "../rpc/options.js";
import { isRight, type Right } from "../rpc/rights.js";
import { CliError, parseFlags, refuseToOverwrite, requireFlag } from "./args.js";

export const TOKEN_USAGE = `  consort token keygen --out FILE [--alg HS256|ES256|EdDSA]
                                       HS256: a shared secret file; ES256/EdDSA: FILE.key (issuer) + FILE.pub (node)
  consort token issue --key FILE --principal NAME --rights read,submit [--alg ALG] [--expires 30d]
                                       print a JWT bearer token (rights: read, submit, admin; the
                                       algorithm is the key file's: an HS256 secret or FILE.key)`;

export const CA_USAGE = `  consort ca init --dir DIR [--name NAME]
                                       the chain's CA for JSON-RPC TLS: DIR/ca.crt, DIR/ca.key (keep it offline)
  consort ca issue --dir DIR (--node NAME [--hosts h1,h2] | --client NAME) [--out DIR2] [--days 730]
                                       a node (server) or client certificate: DIR2/NAME.crt, DIR2/NAME.key`;

const ALGORITHMS: readonly JwtAlgorithm[] = ["HS256", "ES256", "EdDSA"];
const UNIT_S: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

function algorithm(alg: string): JwtAlgorithm {
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
export async function tokenCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseFlags(
    argv,
    {
      out: { type: "string" },
      alg: { type: "string" },
      key: { type: "string" },
      principal: { type: "string" },
      rights: { type: "string" },
      expires: { type: "string", default: "30d" },
    },
    TOKEN_USAGE,
  );
  const sub = positionals[0];
  if (sub === "keygen") {
    const alg = algorithm(values.alg ?? "HS256");
    const base = path.resolve(requireFlag(values.out, "out"));
    refuseToOverwrite(
      alg === "HS256" ? [base] : [`${base}.key`, `${base}.pub`],
      "a token signing key (every token signed with it would stop working)",
    );
    const files = await generateTokenKey(alg, base);
    console.log(`signing key (keep it with the issuer): ${files.signingKeyFile}`);
    console.log(`verification key (node.json rpc.auth.jwt.keyFile): ${files.verifyKeyFile}`);
    return;
  }
  if (sub === "issue") {
    const token = await issueToken({
      ...(values.alg === undefined ? {} : { algorithm: algorithm(values.alg) }),
      keyFile: path.resolve(requireFlag(values.key, "key")),
      principal: requireFlag(values.principal, "principal"),
      rights: parseRights(requireFlag(values.rights, "rights")),
      expiresInS: parseDuration(values.expires),
    });
    console.log(token);
    return;
  }
  throw new CliError("CLI_USAGE", `usage:\n${TOKEN_USAGE}`);
}

/** `consort ca init|issue`. */
export async function caCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseFlags(
    argv,
    {
      dir: { type: "string" },
      name: { type: "string", default: "consort-rpc-ca" },
      node: { type: "string" },
      client: { type: "string" },
      hosts: { type: "string" },
      out: { type: "string" },
      days: { type: "string", default: "730" },
    },
    CA_USAGE,
  );
  const sub = positionals[0];
  if (sub !== "init" && sub !== "issue") throw new CliError("CLI_USAGE", `usage:\n${CA_USAGE}`);
  const dir = path.resolve(requireFlag(values.dir, "dir"));
  // Loaded here: the X.509 library takes seconds to load, which other commands (start) should not pay.
  const { CA_CERT_FILE, CA_KEY_FILE, initCa, issueCertificate } = await import("../rpc/ca.js");
  if (sub === "init") {
    refuseToOverwrite(
      [path.join(dir, CA_KEY_FILE), path.join(dir, CA_CERT_FILE)],
      "the chain's CA (no certificate it issued would verify)",
    );
    const files = await initCa(dir, values.name);
    console.log(`CA certificate: ${files.certFile}\nCA private key (keep it offline): ${files.keyFile}`);
    return;
  }
  if ((values.node === undefined) === (values.client === undefined)) {
    throw new CliError("CLI_USAGE", "consort ca issue needs exactly one of --node NAME or --client NAME");
  }
  const kind = values.node !== undefined ? "node" : "client";
  const validDays = Number(values.days);
  if (!Number.isSafeInteger(validDays) || validDays < 1 || validDays > 36_500) {
    throw new CliError("CLI_USAGE", `--days must be an integer from 1 to 36500, got ${values.days}`);
  }
  const files = await issueCertificate({
    caDir: dir,
    kind,
    name: requireFlag(values[kind], kind),
    outDir: path.resolve(values.out ?? dir),
    hosts: values.hosts?.split(",").filter((h) => h.length > 0) ?? [],
    validDays,
  });
  console.log(`${kind} certificate: ${files.certFile}\nprivate key: ${files.keyFile}`);
}
