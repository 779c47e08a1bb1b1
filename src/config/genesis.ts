import { readFile } from "node:fs/promises";
import type { GenesisSpec } from "../execution/genesis.js";
import type { NodeId } from "../types/index.js";
import { hexToBytes } from "../util/hex.js";
import { ConfigError } from "./errors.js";
import { FieldReader } from "./validate.js";

/**
 * The chain's genesis: identical on every node of the consortium (its hash is the chain's identity). The fields
 * are execution's (GenesisSpec: sealers, observers, the governance committee, alloc); the file fixes what
 * execution leaves open.
 */
export interface GenesisConfig extends GenesisSpec {
  /** The genesis block's timestamp (ms). Fixed so every node derives the same genesis hash. */
  timestampMs: number;
  /**
   * System config keys → values (strings, as FISCO stores them): only what the file sets. Execution owns the keys,
   * their rules and their defaults (`DEFAULT_SYSTEM_CONFIG_VALUES` in src/execution/systemContracts.ts) and fills
   * the rest when it builds the genesis state.
   */
  systemConfig: Record<string, string>;
}

const GENESIS_KEYS = [
  "chainId",
  "groupId",
  "timestampMs",
  "sealers",
  "observers",
  "committee",
  "alloc",
  "systemConfig",
];

export function parseGenesis(json: unknown, file = "genesis.json"): GenesisConfig {
  const root = new FieldReader(file, json);
  if (json !== null && typeof json === "object" && "admins" in json) {
    root.fail(
      'replaced by "committee": { "governors": [{ "address": "0x…", "weight": 1 }] } (changes are now committee proposals)',
      "admins",
    );
  }
  root.onlyKeys(GENESIS_KEYS);
  const chainId = root.field("chainId").bigint();
  if (chainId === 0n || chainId > 2n ** 53n) root.fail("must be between 1 and 2^53", "chainId");
  const sealers = root
    .field("sealers")
    .array(1000)
    .map((s) => {
      s.onlyKeys(["nodeId", "weight"]);
      return {
        nodeId: hexToBytes(s.field("nodeId").hex(32)),
        weight: s.field("weight").optional((w) => w.integer({ min: 1, max: 1_000_000 }), 1),
      };
    });
  if (sealers.length === 0) root.fail("at least one sealer is required", "sealers");
  const observers = root
    .field("observers")
    .optional((o) => o.array(1000).map((x) => hexToBytes(x.hex(32))), []);
  assertUniqueNodes(root, [...sealers.map((s) => s.nodeId), ...observers]);
  const alloc = Object.entries(root.field("alloc").optional((a) => a.object(), {})).map(
    ([address, entry]) => {
      const r = new FieldReader(file, entry, `alloc.${address}`);
      if (!/^0x[0-9a-fA-F]{40}$/.test(address)) r.fail("the key must be a 0x-prefixed 20-byte address");
      r.onlyKeys(["balance"]);
      return { address: hexToBytes(address), balance: r.field("balance").bigint() };
    },
  );
  const systemConfig: Record<string, string> = {};
  for (const [key, value] of Object.entries(root.field("systemConfig").optional((s) => s.object(), {}))) {
    systemConfig[key] = new FieldReader(file, value, `systemConfig.${key}`).string({ maxLength: 256 });
  }
  return {
    chainId,
    groupId: root
      .field("groupId")
      .optional(
        (g) => g.string({ pattern: /^[A-Za-z0-9_-]{1,64}$/, patternHint: "1-64 letters, digits, _ or -" }),
        "group0",
      ),
    timestampMs: root.field("timestampMs").optional((t) => t.integer({ min: 0 }), 0),
    sealers,
    observers,
    committee: parseCommittee(root),
    alloc,
    systemConfig,
  };
}

function parseCommittee(root: FieldReader): GenesisConfig["committee"] {
  const c = root.field("committee");
  c.onlyKeys(["governors", "participationRate", "winRate"]);
  const governors = c
    .field("governors")
    .array(100)
    .map((g) => {
      g.onlyKeys(["address", "weight"]);
      return {
        address: hexToBytes(g.field("address").hex(20)),
        weight: g.field("weight").optional((w) => w.integer({ min: 1, max: 1000 }), 1),
      };
    });
  if (governors.length === 0) root.fail("at least one governor is required", "committee.governors");
  const seen = new Set(governors.map((g) => Buffer.from(g.address).toString("hex")));
  if (seen.size !== governors.length) root.fail("a governor is listed twice", "committee.governors");
  const rate = (name: string) => c.field(name).optional((r) => r.integer({ min: 0, max: 100 }), undefined);
  const participationRate = rate("participationRate");
  const winRate = rate("winRate");
  return {
    governors,
    ...(participationRate === undefined ? {} : { participationRate }),
    ...(winRate === undefined ? {} : { winRate }),
  };
}

function assertUniqueNodes(root: FieldReader, ids: NodeId[]): void {
  const seen = new Set<string>();
  for (const id of ids) {
    const key = Buffer.from(id).toString("hex");
    if (seen.has(key))
      root.fail(`node 0x${key} is listed twice (sealers and observers must be distinct)`, "sealers");
    seen.add(key);
  }
}

export async function loadGenesis(file: string): Promise<GenesisConfig> {
  return parseGenesis(await readJsonFile(file), file);
}

export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new ConfigError("CONFIG_FILE_MISSING", `${file}: no such file`, { file });
    throw new ConfigError("CONFIG_FILE_UNREADABLE", `${file}: cannot read (${code ?? String(err)})`, {
      file,
    });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError("CONFIG_FILE_UNREADABLE", `${file}: not valid JSON (${(err as Error).message})`, {
      file,
    });
  }
}

/** The JSON form written by `consort testnet` (bigints as decimal strings, bytes as 0x-hex). */
export function genesisToJson(g: GenesisConfig): Record<string, unknown> {
  const hex = (b: Uint8Array) => `0x${Buffer.from(b).toString("hex")}`;
  return {
    chainId: Number(g.chainId),
    groupId: g.groupId,
    timestampMs: g.timestampMs,
    sealers: g.sealers.map((s) => ({ nodeId: hex(s.nodeId), weight: s.weight })),
    observers: g.observers.map(hex),
    committee: {
      governors: g.committee.governors.map((x) => ({ address: hex(x.address), weight: x.weight })),
      ...(g.committee.participationRate === undefined
        ? {}
        : { participationRate: g.committee.participationRate }),
      ...(g.committee.winRate === undefined ? {} : { winRate: g.committee.winRate }),
    },
    alloc: Object.fromEntries(g.alloc.map((a) => [hex(a.address), { balance: a.balance.toString() }])),
    systemConfig: g.systemConfig,
  };
}
