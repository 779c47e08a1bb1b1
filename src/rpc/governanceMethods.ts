import type { Hex } from "viem";
import { decodeFunctionResult, encodeFunctionData } from "viem/utils";
import { governance } from "../execution/index.js";
import { ReceiptStatus } from "../types/index.js";
import { bytesToHex, hexToBytes } from "../util/hex.js";
import { backendCall } from "./callLimit.js";
import { type CallContext, method } from "./context.js";
import { RpcError } from "./errors.js";
import { type ParamParser, p } from "./params.js";

/**
 * FISCO-style read methods of the committee, proposals and ACLs ([groupId, nodeName, …] params, like
 * fiscoMethods.ts). Each reads the governance system contracts (0x…10001, 0x…1005) with a view call on the head
 * state, so they show exactly what execution enforces. Writes are transactions (`consort gov`).
 */

const { COMMITTEE_ABI, CONTRACT_AUTH_ABI, PROPOSAL_KIND_NAMES, PROPOSAL_STATUS_NAMES } = governance;
const COMMITTEE = governance.COMMITTEE_ADDRESS;
const CONTRACT_AUTH = governance.CONTRACT_AUTH_ADDRESS;
const MODES = ["open", "allow-list", "deny-list"];
const STATUSES = ["normal", "frozen", "abolished"];
const LIST_MAX = 100;

const group = (): ParamParser<string> => p.string("groupId", 64);
const nodeName = (): ParamParser<string | undefined> => p.optString("nodeName", 256);

function checkGroup(ctx: CallContext, g: string): void {
  if (g !== ctx.backend.groupId) {
    throw new RpcError(
      "RPC_GROUP_NOT_FOUND",
      `group ${g} does not exist (this node serves ${ctx.backend.groupId})`,
    );
  }
}

/** A view call of a governance contract on the head state; its decoded result. */
async function view<T>(
  ctx: CallContext,
  to: Uint8Array,
  abi: readonly unknown[],
  functionName: string,
  args: unknown[] = [],
) {
  const data = hexToBytes(encodeFunctionData({ abi, functionName, args } as never));
  const res = await ctx.calls.run(() =>
    backendCall(ctx.backend, { from: null, to, data, value: 0n, gasLimit: null, gasPrice: null }, "latest"),
  );
  if (res.status !== ReceiptStatus.Success)
    throw new RpcError("RPC_EXECUTION_FAILED", `${functionName} failed: ${res.error}`);
  return decodeFunctionResult({ abi, functionName, data: bytesToHex(res.output) as Hex } as never) as T;
}

async function proposalInfo(ctx: CallContext, id: bigint) {
  const [proposer, kind, status, createdAt, expiresAt, agree, against, args] = await view<
    readonly [string, number, number, bigint, bigint, readonly string[], readonly string[], readonly Hex[]]
  >(ctx, COMMITTEE, COMMITTEE_ABI, "getProposalInfo", [id]);
  if (kind === 0) throw new RpcError("RPC_NOT_FOUND", `proposal ${id} does not exist`);
  let state: string = PROPOSAL_STATUS_NAMES[status] ?? String(status);
  // A vote lands in the next block at the earliest: past expiresAt an open proposal can never execute.
  if (state === "open" && ctx.backend.headNumber() + 1 > Number(expiresAt)) state = "expired";
  const change = governance.decodeChange(
    kind,
    args.map((a) => hexToBytes(a)),
  );
  return {
    id: Number(id),
    type: PROPOSAL_KIND_NAMES[kind] ?? String(kind),
    change: governance.describeChange(change),
    status: state,
    proposer: proposer.toLowerCase(),
    createdAt: Number(createdAt),
    expiresAt: Number(expiresAt),
    agreeVoters: agree.map((a) => a.toLowerCase()),
    againstVoters: against.map((a) => a.toLowerCase()),
  };
}

export const governanceMethods = {
  /** Governors, weights and the two rates (percent). */
  getCommitteeInfo: method([group(), nodeName()] as const, async ([g], ctx) => {
    checkGroup(ctx, g);
    const [participationRate, winRate, governors, weights] = await view<
      readonly [number, number, readonly string[], readonly bigint[]]
    >(ctx, COMMITTEE, COMMITTEE_ABI, "getCommitteeInfo");
    return {
      participationRate,
      winRate,
      governors: governors.map((address, i) => ({
        address: address.toLowerCase(),
        weight: Number(weights[i]),
      })),
    };
  }),
  /** One proposal: type, readable change, status (open / executed / rejected / revoked / expired), votes. */
  getProposalInfo: method([group(), nodeName(), p.uint("proposalId")] as const, async ([g, , id], ctx) => {
    checkGroup(ctx, g);
    return proposalInfo(ctx, BigInt(id));
  }),
  /** Proposals newest first: up to `count` (≤ 100) from `fromId` (default: the newest). */
  getProposalList: method(
    [group(), nodeName(), p.optUint("fromId"), p.optUint("count")] as const,
    async ([g, , fromId, count], ctx) => {
      checkGroup(ctx, g);
      const total = await view<bigint>(ctx, COMMITTEE, COMMITTEE_ABI, "proposalCount");
      const from = fromId === undefined ? total : BigInt(Math.min(fromId, Number(total)));
      const n = Math.min(count ?? 20, LIST_MAX);
      const out = [];
      for (let id = from; id >= 1n && out.length < n; id--) out.push(await proposalInfo(ctx, id));
      return { total: Number(total), proposals: out };
    },
  ),
  /** Deploy ACL mode, and with an account whether it may deploy now. */
  getDeployAuth: method(
    [group(), nodeName(), p.optString("account", 42)] as const,
    async ([g, , account], ctx) => {
      checkGroup(ctx, g);
      const mode = await view<number>(ctx, CONTRACT_AUTH, CONTRACT_AUTH_ABI, "deployType");
      const out: Record<string, unknown> = { mode: MODES[mode] ?? mode };
      if (account !== undefined) {
        out.account = account.toLowerCase();
        out.allowed = await view<boolean>(ctx, CONTRACT_AUTH, CONTRACT_AUTH_ABI, "hasDeployAuth", [account]);
      }
      return out;
    },
  ),
  /** A contract function's method ACL: admin, mode, and with an account whether it may call it. */
  getMethodAuth: method(
    [
      group(),
      nodeName(),
      p.address("contract"),
      p.string("selector", 10),
      p.optString("account", 42),
    ] as const,
    async ([g, , contract, selector, account], ctx) => {
      checkGroup(ctx, g);
      if (!/^0x[0-9a-fA-F]{8}$/.test(selector))
        throw new RpcError("RPC_INVALID_PARAMS", "selector: expected 0x + 8 hex digits");
      const c = bytesToHex(contract);
      const [admin, mode] = await Promise.all([
        view<string>(ctx, CONTRACT_AUTH, CONTRACT_AUTH_ABI, "getAdmin", [c]),
        view<number>(ctx, CONTRACT_AUTH, CONTRACT_AUTH_ABI, "getMethodAuthType", [c, selector]),
      ]);
      const out: Record<string, unknown> = {
        contract: c,
        selector,
        admin: admin.toLowerCase(),
        mode: MODES[mode] ?? mode,
      };
      if (account !== undefined) {
        out.account = account.toLowerCase();
        out.allowed = await view<boolean>(ctx, CONTRACT_AUTH, CONTRACT_AUTH_ABI, "checkMethodAuth", [
          c,
          selector,
          account,
        ]);
      }
      return out;
    },
  ),
  /** Account and contract status of an address: normal, frozen or abolished. */
  getAccountStatus: method(
    [group(), nodeName(), p.address("address")] as const,
    async ([g, , address], ctx) => {
      checkGroup(ctx, g);
      const a = bytesToHex(address);
      const [account, contract] = await Promise.all([
        view<number>(ctx, CONTRACT_AUTH, CONTRACT_AUTH_ABI, "getAccountStatus", [a]),
        view<number>(ctx, CONTRACT_AUTH, CONTRACT_AUTH_ABI, "getContractStatus", [a]),
      ]);
      return { address: a, account: STATUSES[account] ?? account, contract: STATUSES[contract] ?? contract };
    },
  ),
};
