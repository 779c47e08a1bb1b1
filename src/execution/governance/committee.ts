import type { ExecResult, PrecompileFunc } from "@ethereumjs/evm";
import type { Hex } from "viem";
import { decodeFunctionData, encodeAbiParameters, encodeEventTopics, encodeFunctionResult } from "viem/utils";
import type { Address } from "../../types/index.js";
import { bytesToHex, hexToBytes } from "../../util/hex.js";
import {
  cappedGas,
  parseNodeId,
  revertWith,
  SYSTEM_READ_GAS,
  SYSTEM_WRITE_GAS,
  type SystemPrecompileContext,
} from "../systemContracts.js";
import { COMMITTEE_ABI, COMMITTEE_ADDRESS, ProposalKind } from "./abi.js";
import { type Proposal, ProposalStatus } from "./layout.js";
import { type Change, checkOrApply, decodeChange, encodeChangeArgs } from "./proposals.js";
import {
  governorWeight,
  readCommittee,
  readProposal,
  readProposalCount,
  writeProposal,
  writeProposalCount,
} from "./store.js";
import { tally } from "./tally.js";

/** Proposal lifetime in blocks when the caller passes 0, and the longest allowed. */
export const DEFAULT_PROPOSAL_EXPIRY_BLOCKS = 10_000;
export const PROPOSAL_EXPIRY_BLOCKS_MAX = 1_000_000;

type Log = [Uint8Array, Uint8Array[], Uint8Array];
type CommitteeCall = ReturnType<typeof decodeFunctionData<typeof COMMITTEE_ABI>>;

function outOfGas(gasLimit: bigint): ExecResult {
  return revertWith(gasLimit, "out of gas");
}

function result(gas: bigint, data: Hex, logs: Log[] = []): ExecResult {
  return { executionGasUsed: gas, returnValue: hexToBytes(data), logs };
}

function event(name: string, args: Record<string, unknown>, data: Hex = "0x"): Log {
  const topics = encodeEventTopics({ abi: COMMITTEE_ABI, eventName: name as never, args: args as never });
  return [COMMITTEE_ADDRESS, topics.map((t) => hexToBytes(t as string)), hexToBytes(data)];
}

const u256 = (x: bigint) => encodeAbiParameters([{ type: "uint256" }], [x]);

/** The change a create*Proposal call asks for, or the reason its arguments are malformed. */
function changeOf(call: CommitteeCall): { change: Change; interval: bigint } | string {
  const node = (s: string) => parseNodeId(s) ?? "nodeId must be 0x + 64 hex digits (Ed25519 public key)";
  const addr = (a: string) => hexToBytes(a);
  const small = (x: bigint) => (x > 1_000_000_000n ? Number.NaN : Number(x));
  switch (call.functionName) {
    case "createSetSysConfigProposal":
      return {
        change: { kind: ProposalKind.SetSysConfig, key: call.args[0], value: call.args[1] },
        interval: call.args[2],
      };
    case "createAddObserverProposal":
    case "createRmNodeProposal": {
      const nodeId = node(call.args[0]);
      if (typeof nodeId === "string") return nodeId;
      const kind =
        call.functionName === "createAddObserverProposal"
          ? ProposalKind.AddObserver
          : ProposalKind.RemoveNode;
      return { change: { kind, nodeId }, interval: call.args[1] };
    }
    case "createAddSealerProposal":
    case "createSetWeightProposal": {
      const nodeId = node(call.args[0]);
      if (typeof nodeId === "string") return nodeId;
      const kind =
        call.functionName === "createAddSealerProposal" ? ProposalKind.AddSealer : ProposalKind.SetWeight;
      return { change: { kind, nodeId, weight: small(call.args[1]) }, interval: call.args[2] };
    }
    case "createUpdateGovernorProposal":
      return {
        change: {
          kind: ProposalKind.UpdateGovernor,
          account: addr(call.args[0]),
          weight: small(call.args[1]),
        },
        interval: call.args[2],
      };
    case "createSetRateProposal":
      return {
        change: { kind: ProposalKind.SetRate, participationPct: call.args[0], winPct: call.args[1] },
        interval: call.args[2],
      };
    case "createSetDeployAuthTypeProposal":
      return { change: { kind: ProposalKind.SetDeployAuthType, mode: call.args[0] }, interval: call.args[1] };
    case "createModifyDeployAuthProposal":
      return {
        change: { kind: ProposalKind.ModifyDeployAuth, account: addr(call.args[0]), open: call.args[1] },
        interval: call.args[2],
      };
    case "createResetAdminProposal":
      return {
        change: { kind: ProposalKind.ResetAdmin, admin: addr(call.args[0]), contract: addr(call.args[1]) },
        interval: call.args[2],
      };
    case "createSetAccountStatusProposal":
    case "createSetContractStatusProposal": {
      const kind =
        call.functionName === "createSetAccountStatusProposal"
          ? ProposalKind.SetAccountStatus
          : ProposalKind.SetContractStatus;
      return { change: { kind, address: addr(call.args[0]), status: call.args[1] }, interval: call.args[2] };
    }
    default:
      return "not a proposal";
  }
}

/**
 * CommitteeManager (FISCO BCOS 3.x) at 0x…10001: governors with weights create proposals for every governed change,
 * vote, revoke; a proposal executes in the transaction (so the block) whose vote meets both thresholds, and every
 * step emits an event. Reads: getCommitteeInfo, proposalCount, getProposalInfo.
 */
export function committeePrecompile(ctx: SystemPrecompileContext): PrecompileFunc {
  return async ({ data, gasLimit }) => {
    let call: CommitteeCall;
    try {
      call = decodeFunctionData({ abi: COMMITTEE_ABI, data: bytesToHex(data) as Hex });
    } catch {
      return revertWith(cappedGas(gasLimit), "unknown function or bad arguments");
    }
    const store = {
      get: (k: string) => ctx.overlay.get(k),
      put: (k: string, v: Uint8Array | null) => ctx.overlay.put(k, v),
    };
    if (
      call.functionName === "getCommitteeInfo" ||
      call.functionName === "proposalCount" ||
      call.functionName === "getProposalInfo"
    ) {
      if (gasLimit < SYSTEM_READ_GAS) return outOfGas(gasLimit);
      return result(SYSTEM_READ_GAS, await read(store.get, call));
    }
    if (gasLimit < SYSTEM_WRITE_GAS) return outOfGas(gasLimit);
    const msg = ctx.currentMessage();
    if (msg === undefined || msg.isStatic)
      return revertWith(SYSTEM_WRITE_GAS, "committee: a proposal or vote cannot be made in a static call");
    if (msg.delegatecall)
      return revertWith(SYSTEM_WRITE_GAS, "committee: system contracts cannot be delegate-called");
    const sender = msg.caller.bytes;
    const committee = await readCommittee(store.get);
    if (governorWeight(committee, sender) === 0) {
      return revertWith(
        SYSTEM_WRITE_GAS,
        `committee: ${bytesToHex(sender)} is not a governor, only governors may propose, vote or revoke`,
      );
    }
    const changeCtx = { store, blockNumber: ctx.blockNumber, recentProposers: ctx.recentProposers };
    const fail = (reason: string) => revertWith(SYSTEM_WRITE_GAS, `committee: ${reason}`);

    if (call.functionName === "voteProposal" || call.functionName === "revokeProposal") {
      const id = call.args[0];
      const p = await readProposal(store.get, id);
      if (p === null) return fail(`proposal ${id} does not exist`);
      if (p.status !== ProposalStatus.Open)
        return fail(`proposal ${id} is ${["open", "executed", "rejected", "revoked"][p.status]}`);
      if (ctx.blockNumber > p.expiresAt) return fail(`proposal ${id} expired at block ${p.expiresAt}`);
      if (call.functionName === "revokeProposal") {
        if (bytesToHex(p.proposer) !== bytesToHex(sender))
          return fail(`only the proposer ${bytesToHex(p.proposer)} may revoke proposal ${id}`);
        writeProposal(store, { ...p, status: ProposalStatus.Revoked });
        return result(SYSTEM_WRITE_GAS, "0x", [
          event("ProposalRevoked", { proposalId: id, proposer: bytesToHex(sender) }),
        ]);
      }
      const h = bytesToHex(sender);
      if ([...p.forVoters, ...p.againstVoters].some((v) => bytesToHex(v) === h))
        return fail(`${h} already voted on proposal ${id}`);
      const agree = call.args[1];
      const voted: Proposal = agree
        ? { ...p, forVoters: [...p.forVoters, sender] }
        : { ...p, againstVoters: [...p.againstVoters, sender] };
      const logs = [
        event(
          "ProposalVoted",
          { proposalId: id, voter: h },
          encodeAbiParameters([{ type: "bool" }], [agree]),
        ),
      ];
      return settle(changeCtx, voted, logs, fail);
    }

    const parsed = changeOf(call);
    if (typeof parsed === "string") return fail(parsed);
    const interval = parsed.interval === 0n ? BigInt(DEFAULT_PROPOSAL_EXPIRY_BLOCKS) : parsed.interval;
    if (interval > BigInt(PROPOSAL_EXPIRY_BLOCKS_MAX))
      return fail(`blockNumberInterval must be at most ${PROPOSAL_EXPIRY_BLOCKS_MAX}`);
    const refusal = await checkOrApply(changeCtx, parsed.change, false);
    if (refusal !== null) return fail(`refused: ${refusal}`);
    const id = (await readProposalCount(store.get)) + 1n;
    writeProposalCount(store, id);
    // The proposer's own vote is "for" (as FISCO): with one governor, or low rates, the proposal executes at once.
    const p: Proposal = {
      id,
      proposer: sender,
      kind: parsed.change.kind,
      args: encodeChangeArgs(parsed.change),
      createdAt: ctx.blockNumber,
      expiresAt: ctx.blockNumber + Number(interval),
      status: ProposalStatus.Open,
      forVoters: [sender],
      againstVoters: [],
    };
    const logs = [
      event(
        "ProposalCreated",
        { proposalId: id, proposer: bytesToHex(sender) },
        encodeAbiParameters([{ type: "uint8" }, { type: "uint256" }], [p.kind, BigInt(p.expiresAt)]),
      ),
    ];
    const settled = await settle(changeCtx, p, logs, fail);
    if (settled.exceptionError !== undefined) return settled;
    return { ...settled, returnValue: hexToBytes(u256(id)) };
  };
}

/** Stores the proposal after a vote; executes it when it passed (a failed execution reverts the vote). */
async function settle(
  ctx: Parameters<typeof checkOrApply>[0],
  p: Proposal,
  logs: Log[],
  fail: (reason: string) => ExecResult,
): Promise<ExecResult> {
  const t = tally(await readCommittee(ctx.store.get), p.forVoters, p.againstVoters);
  if (t.verdict === "passed") {
    const refusal = await checkOrApply(ctx, decodeChange(p.kind, p.args), true);
    if (refusal !== null) return fail(`proposal ${p.id} passed but cannot be executed now: ${refusal}`);
    writeProposal(ctx.store, { ...p, status: ProposalStatus.Executed });
    logs.push(event("ProposalExecuted", { proposalId: p.id }));
  } else if (t.verdict === "rejected") {
    writeProposal(ctx.store, { ...p, status: ProposalStatus.Rejected });
    logs.push(event("ProposalRejected", { proposalId: p.id }));
  } else {
    writeProposal(ctx.store, p);
  }
  return result(SYSTEM_WRITE_GAS, "0x", logs);
}

async function read(get: (k: string) => Promise<Uint8Array | null>, call: CommitteeCall): Promise<Hex> {
  switch (call.functionName) {
    case "getCommitteeInfo": {
      const c = await readCommittee(get);
      return encodeFunctionResult({
        abi: COMMITTEE_ABI,
        functionName: "getCommitteeInfo",
        result: [
          c.participationPct,
          c.winPct,
          c.governors.map((g) => bytesToHex(g.address) as Hex),
          c.governors.map((g) => BigInt(g.weight)),
        ],
      });
    }
    case "proposalCount":
      return encodeFunctionResult({
        abi: COMMITTEE_ABI,
        functionName: "proposalCount",
        result: await readProposalCount(get),
      });
    case "getProposalInfo": {
      const p = await readProposal(get, call.args[0]);
      const zero = "0x0000000000000000000000000000000000000000" as Hex;
      return encodeFunctionResult({
        abi: COMMITTEE_ABI,
        functionName: "getProposalInfo",
        result:
          p === null
            ? [zero, 0, 0, 0n, 0n, [], [], []]
            : [
                bytesToHex(p.proposer) as Hex,
                p.kind,
                p.status,
                BigInt(p.createdAt),
                BigInt(p.expiresAt),
                p.forVoters.map((a: Address) => bytesToHex(a) as Hex),
                p.againstVoters.map((a: Address) => bytesToHex(a) as Hex),
                p.args.map((a) => bytesToHex(a) as Hex),
              ],
      });
    }
    default:
      return "0x";
  }
}
