import type { Address } from "../../types/index.js";
import { bytesToHex } from "../../util/hex.js";
import { accountKey, decodeAccount, EMPTY_CODE_HASH } from "../stateLayout.js";
import {
  accountStatusKey,
  COMMITTEE_KEY,
  type Committee,
  contractAdminKey,
  contractStatusKey,
  DEPLOY_MODE_KEY,
  decodeCommittee,
  decodeProposal,
  decodeSmall,
  deployListKey,
  encodeCommittee,
  encodeProposal,
  encodeSmall,
  methodListKey,
  methodModeKey,
  PROPOSAL_COUNT_KEY,
  type Proposal,
  proposalKey,
} from "./layout.js";

/** Reads of the flat state (the block's overlay, or the ledger through readerGetter). */
export type KeyGetter = (key: string) => Promise<Uint8Array | null>;
/** Reads and writes of a block's overlay (value null = delete). */
export interface GovStore {
  get: KeyGetter;
  put(key: string, value: Uint8Array | null): void;
}

const EMPTY_COMMITTEE: Committee = { governors: [], participationPct: 0, winPct: 0 };

export async function readCommittee(get: KeyGetter): Promise<Committee> {
  const raw = await get(COMMITTEE_KEY);
  return raw === null ? EMPTY_COMMITTEE : decodeCommittee(raw);
}

export function writeCommittee(store: GovStore, c: Committee): void {
  store.put(COMMITTEE_KEY, encodeCommittee(c));
}

export function governorWeight(c: Committee, address: Address): number {
  const h = bytesToHex(address);
  return c.governors.find((g) => bytesToHex(g.address) === h)?.weight ?? 0;
}

export async function readProposalCount(get: KeyGetter): Promise<bigint> {
  return BigInt(decodeSmall(await get(PROPOSAL_COUNT_KEY), "proposal count"));
}

export function writeProposalCount(store: GovStore, n: bigint): void {
  store.put(PROPOSAL_COUNT_KEY, encodeSmall(n));
}

export async function readProposal(get: KeyGetter, id: bigint): Promise<Proposal | null> {
  if (id < 1n || id > 2n ** 63n) return null;
  const raw = await get(proposalKey(id));
  return raw === null ? null : decodeProposal(id, raw);
}

export function writeProposal(store: GovStore, p: Proposal): void {
  store.put(proposalKey(p.id), encodeProposal(p));
}

const readSmall = async (get: KeyGetter, key: string, what: string) => decodeSmall(await get(key), what);
const putSmall = (store: GovStore, key: string, n: number) => store.put(key, n === 0 ? null : encodeSmall(n));

export const readDeployMode = (get: KeyGetter) => readSmall(get, DEPLOY_MODE_KEY, "deploy mode");
export const writeDeployMode = (s: GovStore, mode: number) => putSmall(s, DEPLOY_MODE_KEY, mode);
export const readDeployAccess = (get: KeyGetter, a: Address) =>
  readSmall(get, deployListKey(a), "deploy list");
export const writeDeployAccess = (s: GovStore, a: Address, access: number) =>
  putSmall(s, deployListKey(a), access);
export const readMethodMode = (get: KeyGetter, c: Address, sel: Uint8Array) =>
  readSmall(get, methodModeKey(c, sel), "method ACL mode");
export const writeMethodMode = (s: GovStore, c: Address, sel: Uint8Array, mode: number) =>
  putSmall(s, methodModeKey(c, sel), mode);
export const readMethodAccess = (get: KeyGetter, c: Address, sel: Uint8Array, a: Address) =>
  readSmall(get, methodListKey(c, sel, a), "method ACL list");
export const writeMethodAccess = (s: GovStore, c: Address, sel: Uint8Array, a: Address, access: number) =>
  putSmall(s, methodListKey(c, sel, a), access);
export const readAccountStatus = (get: KeyGetter, a: Address) =>
  readSmall(get, accountStatusKey(a), "account status");
export const writeAccountStatus = (s: GovStore, a: Address, st: number) =>
  putSmall(s, accountStatusKey(a), st);
export const readContractStatus = (get: KeyGetter, c: Address) =>
  readSmall(get, contractStatusKey(c), "contract status");
export const writeContractStatus = (s: GovStore, c: Address, st: number) =>
  putSmall(s, contractStatusKey(c), st);

export async function readContractAdmin(get: KeyGetter, c: Address): Promise<Address | null> {
  const raw = await get(contractAdminKey(c));
  return raw === null || raw.length !== 20 ? null : raw;
}

export function writeContractAdmin(s: GovStore, c: Address, admin: Address): void {
  s.put(contractAdminKey(c), admin);
}

/** True when `address` holds contract code. */
export async function hasCode(get: KeyGetter, address: Address): Promise<boolean> {
  const raw = await get(accountKey(address));
  if (raw === null) return false;
  const codeHash = decodeAccount(raw).codeHash;
  return bytesToHex(codeHash) !== bytesToHex(EMPTY_CODE_HASH);
}
