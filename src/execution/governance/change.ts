/**
 * What a governance proposal changes, as data: the change kinds, their stored form (the args `getProposalInfo`
 * returns) and a readable summary. No state and no EVM here: the CLI decodes proposals with this alone; applying a
 * change is proposals.ts.
 */
import type { Address, NodeId } from "../../types/index.js";
import { bigintToBytes, bytesToBigint, bytesToHex } from "../../util/hex.js";
import { ProposalKind } from "./abi.js";

/** One governed change: what a proposal carries and executes once its votes pass. */
export type Change =
  | { kind: typeof ProposalKind.SetSysConfig; key: string; value: string }
  | { kind: typeof ProposalKind.AddObserver | typeof ProposalKind.RemoveNode; nodeId: NodeId }
  | { kind: typeof ProposalKind.AddSealer | typeof ProposalKind.SetWeight; nodeId: NodeId; weight: number }
  | { kind: typeof ProposalKind.UpdateGovernor; account: Address; weight: number }
  | { kind: typeof ProposalKind.SetRate; participationPct: number; winPct: number }
  | { kind: typeof ProposalKind.SetDeployAuthType; mode: number }
  | { kind: typeof ProposalKind.ModifyDeployAuth; account: Address; open: boolean }
  | { kind: typeof ProposalKind.ResetAdmin; admin: Address; contract: Address }
  | {
      kind: typeof ProposalKind.SetAccountStatus | typeof ProposalKind.SetContractStatus;
      address: Address;
      status: number;
    };

const n = (x: number | bigint) => bigintToBytes(BigInt(x));
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"));
const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

/** The stored args of a change (kept as bytes so `getProposalInfo` can return them). */
export function encodeChangeArgs(c: Change): Uint8Array[] {
  switch (c.kind) {
    case ProposalKind.SetSysConfig:
      return [utf8(c.key), utf8(c.value)];
    case ProposalKind.AddObserver:
    case ProposalKind.RemoveNode:
      return [c.nodeId];
    case ProposalKind.AddSealer:
    case ProposalKind.SetWeight:
      return [c.nodeId, n(c.weight)];
    case ProposalKind.UpdateGovernor:
      return [c.account, n(c.weight)];
    case ProposalKind.SetRate:
      return [n(c.participationPct), n(c.winPct)];
    case ProposalKind.SetDeployAuthType:
      return [n(c.mode)];
    case ProposalKind.ModifyDeployAuth:
      return [c.account, n(c.open ? 1 : 0)];
    case ProposalKind.ResetAdmin:
      return [c.admin, c.contract];
    case ProposalKind.SetAccountStatus:
    case ProposalKind.SetContractStatus:
      return [c.address, n(c.status)];
  }
}

export function decodeChange(kind: number, a: Uint8Array[]): Change {
  const num = (b: Uint8Array | undefined) => Number(bytesToBigint(b ?? new Uint8Array(0)));
  switch (kind) {
    case ProposalKind.SetSysConfig:
      return { kind, key: text(a[0]!), value: text(a[1]!) };
    case ProposalKind.AddObserver:
    case ProposalKind.RemoveNode:
      return { kind, nodeId: a[0]! };
    case ProposalKind.AddSealer:
    case ProposalKind.SetWeight:
      return { kind, nodeId: a[0]!, weight: num(a[1]) };
    case ProposalKind.UpdateGovernor:
      return { kind, account: a[0]!, weight: num(a[1]) };
    case ProposalKind.SetRate:
      return { kind, participationPct: num(a[0]), winPct: num(a[1]) };
    case ProposalKind.SetDeployAuthType:
      return { kind, mode: num(a[0]) };
    case ProposalKind.ModifyDeployAuth:
      return { kind, account: a[0]!, open: num(a[1]) === 1 };
    case ProposalKind.ResetAdmin:
      return { kind, admin: a[0]!, contract: a[1]! };
    case ProposalKind.SetAccountStatus:
    case ProposalKind.SetContractStatus:
      return { kind, address: a[0]!, status: num(a[1]) };
    default:
      throw new Error(`unknown proposal kind ${kind}`);
  }
}

/** A readable one-line summary (events, CLI, RPC). */
export function describeChange(c: Change): string {
  const hex = bytesToHex;
  switch (c.kind) {
    case ProposalKind.SetSysConfig:
      return `set system config ${c.key} = ${c.value}`;
    case ProposalKind.AddObserver:
      return `add observer ${hex(c.nodeId)}`;
    case ProposalKind.RemoveNode:
      return `remove node ${hex(c.nodeId)}`;
    case ProposalKind.AddSealer:
      return `make observer ${hex(c.nodeId)} a sealer with weight ${c.weight}`;
    case ProposalKind.SetWeight:
      return `set the weight of sealer ${hex(c.nodeId)} to ${c.weight}`;
    case ProposalKind.UpdateGovernor:
      return c.weight === 0
        ? `remove governor ${hex(c.account)}`
        : `set governor ${hex(c.account)} weight ${c.weight}`;
    case ProposalKind.SetRate:
      return `set participation rate ${c.participationPct}% and win rate ${c.winPct}%`;
    case ProposalKind.SetDeployAuthType:
      return `set the deploy ACL mode to ${["open", "allow-list", "deny-list"][c.mode] ?? c.mode}`;
    case ProposalKind.ModifyDeployAuth:
      return `${c.open ? "open" : "close"} deployment for ${hex(c.account)}`;
    case ProposalKind.ResetAdmin:
      return `make ${hex(c.admin)} the method ACL admin of contract ${hex(c.contract)}`;
    case ProposalKind.SetAccountStatus:
      return `set account ${hex(c.address)} ${["normal", "frozen", "abolished"][c.status] ?? c.status}`;
    case ProposalKind.SetContractStatus:
      return `set contract ${hex(c.address)} ${["normal", "frozen", "abolished"][c.status] ?? c.status}`;
  }
}
