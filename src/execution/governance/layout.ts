import { RLP } from "@ethereumjs/rlp";
import type { Address } from "../../types/index.js";
import { bigintToBytes, bytesToBigint } from "../../util/hex.js";
import { ExecutionError } from "../errors.js";

/**
 * Flat-state keys of governance (see stateLayout.ts for the rest; values are RLP, integers big-endian minimal):
 *
 *   0x12                                  → committee: RLP [[[governor(20), weight], …], participationPct, winPct]
 *   0x13                                  → proposal count (the last proposal id; ids start at 1)
 *   0x14 ‖ id(8 B BE)                     → proposal: RLP [proposer, kind, [arg, …], createdAt, expiresAt, status,
 *                                            [for voter, …], [against voter, …]]
 *   0x15                                  → deploy ACL mode: 0 open, 1 allow-list, 2 deny-list (absent = open)
 *   0x16 ‖ account(20)                    → deploy access of the account: 1 open, 2 closed (absent = neither)
 *   0x17 ‖ contract(20)                   → method ACL admin of the contract (20 B)
 *   0x18 ‖ contract(20) ‖ selector(4)     → method ACL mode of that function: 1 allow-list, 2 deny-list
 *   0x19 ‖ contract ‖ selector ‖ account  → that account's access to that function: 1 open, 2 closed
 *   0x1a ‖ account(20)                    → account status: 1 frozen, 2 abolished (absent = normal)
 *   0x1b ‖ contract(20)                   → contract status: 1 frozen, 2 abolished (absent = normal)
 */
export const GOV_PREFIX = {
  committee: 0x12,
  proposalCount: 0x13,
  proposal: 0x14,
  deployMode: 0x15,
  deployList: 0x16,
  contractAdmin: 0x17,
  methodMode: 0x18,
  methodList: 0x19,
  accountStatus: 0x1a,
  contractStatus: 0x1b,
} as const;

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");
const prefix = (p: number) => p.toString(16).padStart(2, "0");

export const COMMITTEE_KEY = prefix(GOV_PREFIX.committee);
export const PROPOSAL_COUNT_KEY = prefix(GOV_PREFIX.proposalCount);
export const DEPLOY_MODE_KEY = prefix(GOV_PREFIX.deployMode);
export const proposalKey = (id: bigint) =>
  `${prefix(GOV_PREFIX.proposal)}${id.toString(16).padStart(16, "0")}`;
export const deployListKey = (a: Address) => `${prefix(GOV_PREFIX.deployList)}${hex(a)}`;
export const contractAdminKey = (c: Address) => `${prefix(GOV_PREFIX.contractAdmin)}${hex(c)}`;
export const methodModeKey = (c: Address, sel: Uint8Array) =>
  `${prefix(GOV_PREFIX.methodMode)}${hex(c)}${hex(sel)}`;
export const methodListKey = (c: Address, sel: Uint8Array, a: Address) =>
  `${prefix(GOV_PREFIX.methodList)}${hex(c)}${hex(sel)}${hex(a)}`;
export const accountStatusKey = (a: Address) => `${prefix(GOV_PREFIX.accountStatus)}${hex(a)}`;
export const contractStatusKey = (c: Address) => `${prefix(GOV_PREFIX.contractStatus)}${hex(c)}`;

/** ACL modes (FISCO: 1 white list, 2 black list). */
export const AclMode = { Open: 0, AllowList: 1, DenyList: 2 } as const;
export type AclMode = (typeof AclMode)[keyof typeof AclMode];
/** Account and contract status (FISCO 3.1: 0 normal, 1 frozen, 2 abolished). */
export const Status = { Normal: 0, Frozen: 1, Abolished: 2 } as const;
export type Status = (typeof Status)[keyof typeof Status];

export const ProposalStatus = { Open: 0, Executed: 1, Rejected: 2, Revoked: 3 } as const;
export type ProposalStatus = (typeof ProposalStatus)[keyof typeof ProposalStatus];
export const PROPOSAL_STATUS_NAMES = ["open", "executed", "rejected", "revoked"] as const;

export interface Governor {
  address: Address;
  weight: number;
}

export interface Committee {
  governors: Governor[];
  /** Percent (0–100) of the total governor weight that must have voted. */
  participationPct: number;
  /** Percent (0–100) of the voters' weight that must have voted for. */
  winPct: number;
}

export interface Proposal {
  id: bigint;
  proposer: Address;
  kind: number;
  /** The governed change's arguments, each as bytes (see proposals.ts for each kind's encoding). */
  args: Uint8Array[];
  createdAt: number;
  /** Last block in which a vote may still be cast (and the proposal executed). */
  expiresAt: number;
  status: ProposalStatus;
  forVoters: Address[];
  againstVoters: Address[];
}

function corrupt(what: string, cause?: unknown): ExecutionError {
  return new ExecutionError("EXEC_STATE_CORRUPT", `cannot decode stored ${what}`, { what }, { cause });
}

const num = (n: number | bigint) => bigintToBytes(BigInt(n));

function small(b: unknown, what: string): number {
  if (!(b instanceof Uint8Array)) throw corrupt(what);
  const n = bytesToBigint(b);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(what);
  return Number(n);
}

function addresses(list: unknown, what: string): Address[] {
  if (!Array.isArray(list)) throw corrupt(what);
  for (const a of list) if (!(a instanceof Uint8Array) || a.length !== 20) throw corrupt(what);
  return list as Address[];
}

function decode(raw: Uint8Array, what: string): unknown[] {
  let d: unknown;
  try {
    d = RLP.decode(raw);
  } catch (err) {
    throw corrupt(what, err);
  }
  if (!Array.isArray(d)) throw corrupt(what);
  return d;
}

export function encodeCommittee(c: Committee): Uint8Array {
  return RLP.encode([
    c.governors.map((g) => [g.address, num(g.weight)]),
    num(c.participationPct),
    num(c.winPct),
  ]);
}

export function decodeCommittee(raw: Uint8Array): Committee {
  const d = decode(raw, "committee");
  if (d.length !== 3 || !Array.isArray(d[0])) throw corrupt("committee");
  const governors = (d[0] as unknown[]).map((g) => {
    if (!Array.isArray(g) || g.length !== 2) throw corrupt("committee");
    const [address] = addresses([g[0]], "committee");
    return { address: address!, weight: small(g[1], "governor weight") };
  });
  return { governors, participationPct: small(d[1], "committee"), winPct: small(d[2], "committee") };
}

export function encodeProposal(p: Proposal): Uint8Array {
  return RLP.encode([
    p.proposer,
    num(p.kind),
    p.args,
    num(p.createdAt),
    num(p.expiresAt),
    num(p.status),
    p.forVoters,
    p.againstVoters,
  ]);
}

export function decodeProposal(id: bigint, raw: Uint8Array): Proposal {
  const d = decode(raw, "proposal");
  if (d.length !== 8 || !Array.isArray(d[2])) throw corrupt("proposal");
  const [proposer] = addresses([d[0]], "proposal");
  const args = d[2] as unknown[];
  for (const a of args) if (!(a instanceof Uint8Array)) throw corrupt("proposal");
  const status = small(d[5], "proposal");
  if (status > 3) throw corrupt("proposal");
  return {
    id,
    proposer: proposer!,
    kind: small(d[1], "proposal"),
    args: args as Uint8Array[],
    createdAt: small(d[3], "proposal"),
    expiresAt: small(d[4], "proposal"),
    status: status as ProposalStatus,
    forVoters: addresses(d[6], "proposal"),
    againstVoters: addresses(d[7], "proposal"),
  };
}

export function encodeSmall(n: number | bigint): Uint8Array {
  return RLP.encode(num(n));
}

export function decodeSmall(raw: Uint8Array | null, what: string): number {
  if (raw === null) return 0;
  let d: unknown;
  try {
    d = RLP.decode(raw);
  } catch (err) {
    throw corrupt(what, err);
  }
  return small(d, what);
}

/**
 * An account's entry on a deploy or method list (FISCO's open/close): in allow-list mode only `Open` accounts may,
 * in deny-list mode only `Closed` accounts may not; the entry keeps its meaning when the mode changes.
 */
export const Access = { None: 0, Open: 1, Closed: 2 } as const;
export type Access = (typeof Access)[keyof typeof Access];

/** null when `mode` lets an account with `access` through, else the rule's wording. */
export function aclRefusal(mode: number, access: number): string | null {
  if (mode === AclMode.AllowList && access !== Access.Open)
    return "allow-list mode, the account is not on the list";
  if (mode === AclMode.DenyList && access === Access.Closed)
    return "deny-list mode, the account is on the list";
  return null;
}
