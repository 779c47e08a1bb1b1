import { keccak256, privateKeyToAddress } from "../crypto/index.js";
import { ConfigError } from "./errors.js";
import type { GenesisConfig } from "./genesis.js";

/** How many well-known dev keys exist (the dev chain's funded accounts). */
export const DEV_ACCOUNT_COUNT = 10;

/**
 * Dev account i's private key: keccak256("consort dev account " + i). Deterministic so docs, examples and tools can
 * name them; public knowledge, so TEST-ONLY: the dev chain of `npm start` and the benchmarks use them, nothing else.
 */
export function devAccountKey(index: number): Uint8Array {
  return keccak256(new TextEncoder().encode(`consort dev account ${index}`));
}

/** The dev chain's one governor (dev account 0) as a key file in its testnet folder, for `consort gov --key`. */
export const DEV_GOVERNOR_KEY_FILE = "governor0.key";

/** Lower-case 0x addresses of the dev keys. */
export function devAccountAddresses(): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < DEV_ACCOUNT_COUNT; i++) {
    out.add(`0x${Buffer.from(privateKeyToAddress(devAccountKey(i))).toString("hex")}`);
  }
  return out;
}

/** 127.0.0.0/8, ::1 and localhost: reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * A genesis governed by a public dev key may serve RPC on loopback only: on any other address anyone who reaches
 * the port could propose and pass every change of the chain. Throws CONFIG_INVALID naming the governor and host.
 */
export function assertRpcSafeForGenesis(genesis: GenesisConfig, rpcHost: string, genesisFile: string): void {
  if (isLoopbackHost(rpcHost)) return;
  const dev = devAccountAddresses();
  const publicGovernor = genesis.committee.governors
    .map((g) => `0x${Buffer.from(g.address).toString("hex")}`)
    .find((a) => dev.has(a));
  if (publicGovernor === undefined) return;
  throw new ConfigError(
    "CONFIG_INVALID",
    `${genesisFile}: governor ${publicGovernor} is a public dev key (consort dev / npm start), so this node refuses to serve RPC on ${rpcHost}: anyone reaching it could govern the chain. Bind rpc.host to 127.0.0.1, or make a chain with private governors (consort testnet --governor ADDRESS).`,
    { governor: publicGovernor, rpcHost },
  );
}
