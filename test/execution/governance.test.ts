import { RLP } from "@ethereumjs/rlp";
import {
  type Abi,
  decodeErrorResult,
  decodeEventLog,
  decodeFunctionResult,
  encodeFunctionData,
  type Hex,
  toFunctionSelector,
} from "viem";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadArtifact } from "../../contracts/artifacts.js";
import { NodeKey } from "../../src/crypto/index.js";
import {
  accountStatusKey,
  decodeCommittee,
  decodeProposal,
  decodeSmall,
  encodeCommittee,
  encodeProposal,
  encodeSmall,
  type Proposal,
} from "../../src/execution/governance/layout.js";
import {
  livenessWindowBlocks,
  liveSet,
  observerFirstRefusal,
  quorumRefusal,
} from "../../src/execution/governance/nodeSafety.js";
import { type Change, encodeChangeArgs } from "../../src/execution/governance/proposals.js";
import {
  readAccountStatus,
  readContractStatus,
  readDeployAccess,
  readDeployMode,
  readMethodAccess,
  readMethodMode,
  readProposalCount,
} from "../../src/execution/governance/store.js";
import {
  type GenesisSpec,
  governance,
  readConsensusNodes,
  readSystemConfig,
} from "../../src/execution/index.js";
import { NodeType, type StoredNodeEntry } from "../../src/execution/stateLayout.js";
import type { Receipt, Transaction } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import {
  addr,
  helloArtifact,
  LevelState,
  MemoryState,
  sealerKeys,
  signEth,
  TestChain,
  wallets,
} from "./helpers.js";

/**
 * Issue 12, in process: the committee's thresholds, expiry, revocation and refusals; the validator-change rules;
 * the deploy and method ACLs (msg.sender), account and contract status. The multi-node points are in
 * test/e2e/governance.test.ts.
 */

const { COMMITTEE_ABI, COMMITTEE_ADDRESS, CONTRACT_AUTH_ABI, CONTRACT_AUTH_ADDRESS } = governance;
type W = ReturnType<typeof wallets>[0];
const [g1, g2, g3, alice, bob] = wallets(5) as [W, W, W, W, W];
const governors = [g1, g2, g3];
const alloc = [g1, g2, g3, alice, bob].map((w) => ({ address: addr(w), balance: 10n ** 20n }));
const hex = (b: Uint8Array) => bytesToHex(b) as Hex;

function spec(): GenesisSpec {
  return {
    chainId: 20200n,
    groupId: "group0",
    sealers: sealerKeys.map((k) => ({ nodeId: k.nodeId, weight: 1 })),
    observers: [],
    committee: { governors: governors.map((w) => ({ address: addr(w), weight: 1 })) },
    alloc,
    systemConfig: { tx_gas_limit: 300_000_000, block_gas_limit: 30_000_000_000 },
  };
}

let chain: TestChain;
let nonces: Map<string, number>;

beforeEach(async () => {
  chain = await TestChain.create(new MemoryState(), spec());
  nonces = new Map();
});

function send(from: W, to: Uint8Array | null, data: Hex, gasLimit = 1_000_000n): Promise<Transaction> {
  const nonce = nonces.get(from.address) ?? 0;
  nonces.set(from.address, nonce + 1);
  return signEth(from, { to, nonce, data: hexToBytes(data), gasLimit });
}

const committee = (from: W, functionName: string, args: unknown[]) =>
  send(from, COMMITTEE_ADDRESS, encodeFunctionData({ abi: COMMITTEE_ABI, functionName, args } as never));
const propose = (from: W, functionName: string, args: unknown[], interval = 0n) =>
  committee(from, functionName, [...args, interval]);
const vote = (from: W, id: bigint, agree = true) => committee(from, "voteProposal", [id, agree]);

function reason(r: Receipt): string {
  expect(r.status, "expected a revert").toBe(0);
  return decodeErrorResult({ abi: [], data: hex(r.output) }).args[0] as string;
}

function events(r: Receipt): string[] {
  return r.logs.map((l) => {
    const abi = bytesToHex(l.address) === hex(COMMITTEE_ADDRESS) ? COMMITTEE_ABI : CONTRACT_AUTH_ABI;
    return decodeEventLog({ abi, topics: l.topics.map(hex) as [Hex, ...Hex[]], data: hex(l.data) }).eventName;
  });
}

async function one(tx: Promise<Transaction>): Promise<Receipt> {
  const out = await chain.block([await tx]);
  expect(out.rejected, JSON.stringify(out.rejected.map((x) => x.reason))).toHaveLength(0);
  return out.receipts[0]!;
}

/** A ContractAuth call (`functionName` with `args`) sent by `from`, in a block of its own. */
function acl(from: W, functionName: string, args: unknown[]): Promise<Receipt> {
  return one(
    send(
      from,
      CONTRACT_AUTH_ADDRESS,
      encodeFunctionData({ abi: CONTRACT_AUTH_ABI, functionName, args } as never),
    ),
  );
}

/** Proposes with g1 and votes with g2: passes (2 of 3). */
async function pass(functionName: string, args: unknown[]): Promise<void> {
  const created = await one(propose(g1, functionName, args));
  expect(created.status, reasonOrOk(created)).toBe(1);
  const id = BigInt(hex(created.logs[0]!.topics[1]!));
  const voted = await one(vote(g2, id));
  expect(voted.status, reasonOrOk(voted)).toBe(1);
  expect(events(voted)).toContain("ProposalExecuted");
}

function reasonOrOk(r: Receipt): string {
  return r.status === 1 ? "ok" : reason(r);
}

describe("committee: thresholds, expiry, revocation", () => {
  it("3 governors of weight 1: a proposal passes with 2 of 3 votes, not with 1, and executes in that block", async () => {
    const created = await one(propose(g1, "createSetSysConfigProposal", ["tx_count_limit", "7"]));
    expect(events(created)).toEqual(["ProposalCreated"]);
    expect((await readSystemConfig(chain.state, chain.number + 1)).txCountLimit).toBe(1000);
    const voted = await one(vote(g2, 1n));
    expect(events(voted)).toEqual(["ProposalVoted", "ProposalExecuted"]);
    // Executed in block `chain.number`: in force from the next height.
    expect((await readSystemConfig(chain.state, chain.number)).txCountLimit).toBe(1000);
    expect((await readSystemConfig(chain.state, chain.number + 1)).txCountLimit).toBe(7);
    expect(reason(await one(vote(g3, 1n)))).toBe("committee: proposal 1 is executed");
  });

  it("two votes against reject it; a governor votes once", async () => {
    await one(propose(g1, "createSetSysConfigProposal", ["tx_count_limit", "7"]));
    expect(reason(await one(vote(g1, 1n)))).toMatch(/already voted on proposal 1/);
    expect(events(await one(vote(g2, 1n, false)))).toEqual(["ProposalVoted"]);
    expect(events(await one(vote(g3, 1n, false)))).toEqual(["ProposalVoted", "ProposalRejected"]);
    expect((await readSystemConfig(chain.state, chain.number + 1)).txCountLimit).toBe(1000);
  });

  it("an expired proposal cannot be executed; a revoked one neither; only its proposer revokes", async () => {
    // Interval 1: created in block 1, votes until block 2.
    await one(propose(g1, "createSetSysConfigProposal", ["tx_count_limit", "7"], 1n));
    await one(send(alice, addr(bob), "0x", 21_000n)); // block 2
    expect(reason(await one(vote(g2, 1n)))).toBe("committee: proposal 1 expired at block 2");
    expect((await readSystemConfig(chain.state, chain.number + 1)).txCountLimit).toBe(1000);

    await one(propose(g1, "createSetSysConfigProposal", ["tx_count_limit", "8"]));
    expect(reason(await one(committee(g2, "revokeProposal", [2n])))).toMatch(
      /only the proposer .* may revoke/,
    );
    expect(events(await one(committee(g1, "revokeProposal", [2n])))).toEqual(["ProposalRevoked"]);
    expect(reason(await one(vote(g2, 2n)))).toBe("committee: proposal 2 is revoked");
    expect((await readSystemConfig(chain.state, chain.number + 1)).txCountLimit).toBe(1000);
  });

  it("a non-governor can neither propose nor vote", async () => {
    const notGovernor = `committee: ${alice.address.toLowerCase()} is not a governor, only governors may propose, vote or revoke`;
    expect(reason(await one(propose(alice, "createSetSysConfigProposal", ["tx_count_limit", "7"])))).toBe(
      notGovernor,
    );
    await one(propose(g1, "createSetSysConfigProposal", ["tx_count_limit", "7"]));
    expect(reason(await one(vote(alice, 1n)))).toBe(notGovernor);
  });

  it("governors and rates change by proposal (weights count at each vote)", async () => {
    await pass("createUpdateGovernorProposal", [alice.address, 2n]);
    const info = await chain.executor.call(
      chain.state,
      {
        to: COMMITTEE_ADDRESS,
        data: hexToBytes(encodeFunctionData({ abi: COMMITTEE_ABI, functionName: "getCommitteeInfo" })),
      },
      chain.callCtx(),
    );
    expect(info.status).toBe(1);
    // Total weight 5 now: 2 of 5 is below the 51% participation; alice's weight 2 passes it.
    const rates = await one(propose(g1, "createSetRateProposal", [100, 100]));
    const rateId = BigInt(hex(rates.logs[0]!.topics[1]!));
    expect(events(await one(vote(g2, rateId)))).toEqual(["ProposalVoted"]);
    // Rates 100/100 from the next proposal on: every governor must vote for.
    expect(events(await one(vote(alice, rateId)))).toEqual(["ProposalVoted", "ProposalExecuted"]);
    const created = await one(propose(g1, "createSetSysConfigProposal", ["tx_count_limit", "9"]));
    const id = BigInt(hex(created.logs[0]!.topics[1]!));
    expect(events(await one(vote(g2, id)))).toEqual(["ProposalVoted"]);
    expect(events(await one(vote(g3, id)))).toEqual(["ProposalVoted"]);
    expect(events(await one(vote(alice, id)))).toEqual(["ProposalVoted", "ProposalExecuted"]);
  });
});

describe("committee: what a proposal may ask for", () => {
  it("each malformed or unsafe proposal is refused when created, naming the rule; the bounds themselves pass", async () => {
    const eoa = bob.address;
    const fresh = "0x00000000000000000000000000000000000000f1"; // no account at all
    const contract = (await one(send(alice, null, helloArtifact().bytecode as Hex, 2_000_000n)))
      .contractAddress!;
    const refusals: [string, unknown[], string][] = [
      [
        "createUpdateGovernorProposal",
        [alice.address, 1001n],
        "governor weight must be between 0 (remove) and 1000",
      ],
      [
        "createUpdateGovernorProposal",
        [alice.address, 10n ** 12n],
        "governor weight must be between 0 (remove) and 1000",
      ],
      [
        "createUpdateGovernorProposal",
        [alice.address, 0n],
        `${alice.address.toLowerCase()} is not a governor`,
      ],
      ["createSetRateProposal", [101, 50], "rates are percentages from 0 to 100"],
      ["createSetRateProposal", [50, 101], "rates are percentages from 0 to 100"],
      [
        "createSetDeployAuthTypeProposal",
        [3],
        "deploy ACL mode must be 0 (open), 1 (allow-list) or 2 (deny-list)",
      ],
      ["createResetAdminProposal", [alice.address, eoa], `${eoa.toLowerCase()} is not a contract`],
      ["createSetAccountStatusProposal", [eoa, 3], "status must be 0 (normal), 1 (frozen) or 2 (abolished)"],
      ["createSetAccountStatusProposal", [eoa, 0], `account ${eoa.toLowerCase()} is already normal`],
      ["createSetContractStatusProposal", [eoa, 1], `${eoa.toLowerCase()} is not a contract`],
      ["createAddObserverProposal", ["0x1234"], "nodeId must be 0x + 64 hex digits (Ed25519 public key)"],
      ["createAddSealerProposal", ["0x1234", 1n], "nodeId must be 0x + 64 hex digits (Ed25519 public key)"],
      ["createResetAdminProposal", [alice.address, fresh], `${fresh} is not a contract`],
      ["createSetContractStatusProposal", [hex(contract), 0], `contract ${hex(contract)} is already normal`],
      [
        "createRmNodeProposal",
        [bytesToHex(new Uint8Array(32).fill(9))],
        "the node is not in the consensus node list",
      ],
    ];
    for (const [fn, args, why] of refusals) {
      const r = await one(propose(g1, fn, args));
      if (why.startsWith("nodeId")) expect(reason(r), fn).toBe(`committee: ${why}`);
      else expect(reason(r), fn).toBe(`committee: refused: ${why}`);
    }
    expect(
      reason(await one(propose(g1, "createSetSysConfigProposal", ["tx_count_limit", "7"], 1_000_001n))),
    ).toBe("committee: blockNumberInterval must be at most 1000000");
    // The bounds are allowed: weight 1000, rates 0 and 100, interval 1000000.
    const created: [string, unknown[], bigint][] = [
      ["createUpdateGovernorProposal", [alice.address, 1000n], 0n],
      ["createSetRateProposal", [100, 0], 0n],
      ["createSetRateProposal", [0, 100], 0n],
      ["createSetSysConfigProposal", ["tx_count_limit", "7"], 1_000_000n],
      ["createSetDeployAuthTypeProposal", [0], 0n],
      ["createSetWeightProposal", [bytesToHex(sealerKeys[0]!.nodeId), 1_000_000n], 0n],
    ];
    for (const [fn, args, interval] of created) {
      expect(events(await one(propose(g1, fn, args, interval))), fn).toEqual(["ProposalCreated"]);
    }
  });

  it("the committee: a governor's weight changes in place, the last one cannot leave, a frozen account cannot join", async () => {
    const info = async () => {
      const r = await chain.executor.call(
        chain.state,
        {
          to: COMMITTEE_ADDRESS,
          data: hexToBytes(encodeFunctionData({ abi: COMMITTEE_ABI, functionName: "getCommitteeInfo" })),
        },
        chain.callCtx(),
      );
      const [, , list, weights] = decodeFunctionResult({
        abi: COMMITTEE_ABI,
        functionName: "getCommitteeInfo",
        data: hex(r.output),
      });
      return list.map((a, i) => [a.toLowerCase(), weights[i]]);
    };
    await pass("createUpdateGovernorProposal", [g3.address, 5n]);
    expect(await info()).toEqual([
      [g1.address.toLowerCase(), 1n],
      [g2.address.toLowerCase(), 1n],
      [g3.address.toLowerCase(), 5n],
    ]);
    // g3 alone now holds 5 of 7: it removes g1 and g2 by itself.
    for (const w of [g1, g2]) {
      const r = await one(propose(g3, "createUpdateGovernorProposal", [w.address, 0n]));
      expect(events(r)).toEqual(["ProposalCreated", "ProposalExecuted"]);
    }
    expect(await info()).toEqual([[g3.address.toLowerCase(), 5n]]);
    expect(reason(await one(propose(g3, "createUpdateGovernorProposal", [g3.address, 0n])))).toBe(
      "committee: refused: the last governor cannot be removed",
    );
    expect(events(await one(propose(g3, "createSetAccountStatusProposal", [alice.address, 1])))).toContain(
      "ProposalExecuted",
    );
    expect(reason(await one(propose(g3, "createUpdateGovernorProposal", [alice.address, 1n])))).toBe(
      `committee: refused: ${alice.address.toLowerCase()} is frozen or abolished and cannot be a governor`,
    );
    expect(reason(await one(propose(g3, "createSetAccountStatusProposal", [alice.address, 1])))).toBe(
      `committee: refused: account ${alice.address.toLowerCase()} is already frozen`,
    );
  });

  it("a proposal changes nothing until it passes", async () => {
    const contract = hex(
      (await one(send(alice, null, helloArtifact().bytecode as Hex, 2_000_000n))).contractAddress!,
    );
    const open: [string, unknown[]][] = [
      ["createSetDeployAuthTypeProposal", [2]],
      ["createModifyDeployAuthProposal", [bob.address, false]],
      ["createResetAdminProposal", [alice.address, contract]],
      ["createSetAccountStatusProposal", [bob.address, 1]],
      ["createSetContractStatusProposal", [contract, 1]],
      ["createUpdateGovernorProposal", [alice.address, 1n]],
      ["createSetRateProposal", [10, 10]],
      ["createAddObserverProposal", [bytesToHex(new Uint8Array(32).fill(7))]],
    ];
    for (const [fn, args] of open)
      expect(events(await one(propose(g1, fn, args))), fn).toEqual(["ProposalCreated"]);
    const get = async (k: string) => (await chain.state.getState(hexToBytes(k))) ?? null;
    expect(await readDeployMode(get)).toBe(0);
    expect(await readDeployAccess(get, addr(bob))).toBe(0);
    expect(await readAccountStatus(get, addr(bob))).toBe(0);
    expect(await readContractStatus(get, hexToBytes(contract))).toBe(0);
    const call = (to: Uint8Array, abi: Abi, functionName: string, args: unknown[] = []) =>
      chain.executor.call(
        chain.state,
        { to, data: hexToBytes(encodeFunctionData({ abi, functionName, args } as never)) },
        chain.callCtx(),
      );
    const admin = await call(CONTRACT_AUTH_ADDRESS, CONTRACT_AUTH_ABI, "getAdmin", [contract]);
    expect(hex(admin.output)).toBe(`0x${"0".repeat(64)}`);
    const info = await call(COMMITTEE_ADDRESS, COMMITTEE_ABI, "getCommitteeInfo");
    expect(
      decodeFunctionResult({ abi: COMMITTEE_ABI, functionName: "getCommitteeInfo", data: hex(info.output) }),
    ).toEqual([51, 51, governors.map((w) => w.address), [1n, 1n, 1n]]);
    expect((await readConsensusNodes(chain.state, chain.number + 1)).observers).toHaveLength(0);
  });

  it("a governor votes once, whichever side it took; ids outside 1…2^63 are no proposal", async () => {
    await one(propose(g1, "createSetSysConfigProposal", ["tx_count_limit", "7"]));
    expect(events(await one(vote(g2, 1n, false)))).toEqual(["ProposalVoted"]);
    const twice = (w: W) => `committee: ${w.address.toLowerCase()} already voted on proposal 1`;
    expect(reason(await one(vote(g2, 1n)))).toBe(twice(g2));
    expect(reason(await one(vote(g1, 1n, false)))).toBe(twice(g1));
    for (const id of [0n, 2n ** 64n, 2n ** 64n + 1n]) {
      expect(reason(await one(vote(g3, id))), String(id)).toBe(`committee: proposal ${id} does not exist`);
    }
  });

  it("a lone governor may change its own weight (only removing it is refused)", async () => {
    chain = await TestChain.create(new MemoryState(), {
      ...spec(),
      committee: { governors: [{ address: addr(g1), weight: 1 }] },
    });
    expect(events(await one(propose(g1, "createUpdateGovernorProposal", [g1.address, 5n])))).toEqual([
      "ProposalCreated",
      "ProposalExecuted",
    ]);
    expect(reason(await one(propose(g1, "createUpdateGovernorProposal", [g1.address, 0n])))).toBe(
      "committee: refused: the last governor cannot be removed",
    );
  });

  it("a committee of 100 is full: a new governor is refused, an existing one's weight may still change", async () => {
    const many = wallets(100, 7);
    const by = many[0]!;
    chain = await TestChain.create(new MemoryState(), {
      ...spec(),
      committee: {
        governors: many.map((w) => ({ address: addr(w), weight: 1 })),
        participationRate: 0,
        winRate: 0,
      },
      alloc: [...alloc, { address: addr(by), balance: 10n ** 20n }],
    });
    expect(reason(await one(propose(by, "createUpdateGovernorProposal", [alice.address, 1n])))).toBe(
      "committee: refused: the committee is full (100)",
    );
    for (const [who, weight] of [
      [many[99]!.address, 2n],
      [many[99]!.address, 0n],
      [alice.address, 1n],
    ] as const) {
      const r = await one(propose(by, "createUpdateGovernorProposal", [who, weight]));
      expect(events(r), `${who} ${weight}`).toEqual(["ProposalCreated", "ProposalExecuted"]);
    }
  });

  it("a contract that is a governor may still be frozen as a contract; a status back to normal is deleted", async () => {
    const contract = hex(
      (await one(send(alice, null, helloArtifact().bytecode as Hex, 2_000_000n))).contractAddress!,
    );
    await pass("createUpdateGovernorProposal", [contract, 1n]);
    // 4 governors now: 3 votes pass.
    const pass3 = async (fn: string, args: unknown[]) => {
      const id = BigInt(hex((await one(propose(g1, fn, args))).logs[0]!.topics[1]!));
      await one(vote(g2, id));
      expect(events(await one(vote(g3, id))), fn).toContain("ProposalExecuted");
    };
    await pass3("createSetContractStatusProposal", [contract, 1]);
    await pass3("createSetAccountStatusProposal", [alice.address, 1]);
    const key = hexToBytes(accountStatusKey(addr(alice)));
    expect(await chain.state.getState(key)).toBeDefined();
    await pass3("createSetAccountStatusProposal", [alice.address, 0]);
    expect(await chain.state.getState(key)).toBeUndefined();
  });

  it("a vote in the proposal's last block still counts; a proposal that passes but cannot execute reverts the vote", async () => {
    // Interval 1, created in block 1: block 2 is its last.
    await one(propose(g1, "createSetSysConfigProposal", ["tx_count_limit", "7"], 1n));
    expect(events(await one(vote(g2, 1n)))).toEqual(["ProposalVoted", "ProposalExecuted"]);
    // Two proposals to set the same governor's status: the second can no longer execute once the first did.
    await one(propose(g1, "createSetAccountStatusProposal", [alice.address, 1])); // 2
    await one(propose(g1, "createSetAccountStatusProposal", [alice.address, 1])); // 3
    await one(vote(g2, 2n));
    expect(reason(await one(vote(g2, 3n)))).toBe(
      `committee: proposal 3 passed but cannot be executed now: account ${alice.address.toLowerCase()} is already frozen`,
    );
    // The vote was reverted with it: g2 may vote again (against), and the proposal is still open.
    expect(events(await one(vote(g2, 3n, false)))).toEqual(["ProposalVoted"]);
  });
});

describe("safe validator changes", () => {
  const unknown = bytesToHex(NodeKey.fromSeed(new Uint8Array(32).fill(9)).nodeId);
  const ids = sealerKeys.map((k) => bytesToHex(k.nodeId));

  it("the halting change addSealer(<unknown node>, 2) on 4 weight-1 sealers is refused with a reason", async () => {
    const r = await one(propose(g1, "createAddSealerProposal", [unknown, 2n]));
    expect(reason(r)).toMatch(
      /committee: refused: node 0x.* is not an observer: a node becomes a sealer only after/,
    );
    // As an observer first: weight 2 would make the quorum 5 of 6 with 4 live: refused too. Weight 1 is fine.
    await pass("createAddObserverProposal", [unknown]);
    const heavy = await one(propose(g1, "createAddSealerProposal", [unknown, 2n]));
    expect(reason(heavy)).toBe(
      "committee: refused: quorum unreachable: after this change the sealers' total weight is 6 and a commit needs 5, but the sealers that proposed recent blocks hold only 4",
    );
    await pass("createAddSealerProposal", [unknown, 1n]);
    expect((await readConsensusNodes(chain.state, chain.number + 1)).sealers).toHaveLength(5);
  });

  it("liveness comes from the recent proposers: with one sealer silent, removing a live one is refused", async () => {
    chain.recentProposers = sealerKeys.slice(0, 3).map((k) => k.nodeId);
    // Removing live sealer 0 leaves 3 (quorum 3) of which 2 are live.
    const r = await one(propose(g1, "createRmNodeProposal", [ids[0]!]));
    expect(reason(r)).toMatch(/quorum unreachable: .* total weight is 3 and a commit needs 3, .* only 2/);
    // Removing the silent one is fine (3 live of 3).
    await pass("createRmNodeProposal", [ids[3]!]);
    expect((await readConsensusNodes(chain.state, chain.number + 1)).sealers).toHaveLength(3);
    // Weights are bounded.
    expect(reason(await one(propose(g1, "createSetWeightProposal", [ids[0]!, 1_000_001n])))).toMatch(
      /weight must be between 1 and 1000000/,
    );
  });
});

describe("node safety rules over the stored node list", () => {
  const id = (i: number) => new Uint8Array(32).fill(i);
  const entry = (i: number, e: Partial<StoredNodeEntry>): StoredNodeEntry => ({
    nodeId: id(i),
    type: NodeType.Sealer,
    weight: 1,
    enableNumber: 0,
    prevType: NodeType.None,
    prevWeight: 0,
    ...e,
  });
  const hexes = (...is: number[]) => new Set(is.map((i) => bytesToHex(id(i))));

  it("quorum weight (PBFT), and a liveness window of 4 blocks per sealer within [8, 256]", () => {
    expect([0, -1, 1, 2, 3, 4, 5, 6, 7].map(governance.quorumWeightOf)).toEqual([0, 0, 1, 2, 3, 3, 4, 5, 5]);
    expect([0, 1, 2, 3, 50, 64, 65, 1000].map(livenessWindowBlocks)).toEqual([
      8, 8, 8, 12, 200, 256, 256, 256,
    ]);
  });

  it("a change enabled at a later height counts by its previous type and weight until then", () => {
    // Node 2 becomes a sealer of weight 5 at height 10 (an observer before); node 3 stops being a sealer at 10.
    const entries = [
      entry(1, {}),
      entry(2, { weight: 5, enableNumber: 10, prevType: NodeType.Observer }),
      entry(3, {
        type: NodeType.None,
        weight: 0,
        enableNumber: 10,
        prevType: NodeType.Sealer,
        prevWeight: 2,
      }),
    ];
    expect(liveSet(entries, 9, null)).toEqual(hexes(1, 3));
    expect(liveSet(entries, 10, null)).toEqual(hexes(1, 2));
    expect(liveSet(entries, 9, [id(3), id(2), id(9)])).toEqual(hexes(3));
    expect(observerFirstRefusal(entries, 8, id(2))).toBeNull(); // still an observer at 8
    expect(observerFirstRefusal(entries, 10, id(2))).toBe(`node ${bytesToHex(id(2))} is already a sealer`);
    expect(observerFirstRefusal(entries, 9, id(3))).toBe(`node ${bytesToHex(id(3))} is already a sealer`);
    expect(observerFirstRefusal(entries, 10, id(3))).toMatch(
      /is not an observer: a node becomes a sealer only after/,
    );
    // The quorum over the list in force at blockNumber + 1: at 9 → 10, weights 1 + 5 = 6 (quorum 5).
    expect(quorumRefusal(entries, 9, hexes(2))).toBeNull(); // exactly the quorum
    expect(quorumRefusal(entries, 9, hexes(1))).toBe(
      "quorum unreachable: after this change the sealers' total weight is 6 and a commit needs 5, but the sealers that proposed recent blocks hold only 1",
    );
    // At 8 → 9: weights 1 + 2 = 3 (quorum 3): node 2 (not yet a sealer) counts for nothing.
    expect(quorumRefusal(entries, 8, hexes(1, 2))).toMatch(
      /total weight is 3 and a commit needs 3, .* only 1$/,
    );
    expect(quorumRefusal([entry(1, { type: NodeType.Observer })], 0, hexes(1))).toBe(
      "the last sealer cannot be removed",
    );
  });
});

describe("safe validator changes: which changes are checked, over which window", () => {
  const ids = sealerKeys.map((k) => bytesToHex(k.nodeId));
  const newcomer = bytesToHex(new Uint8Array(32).fill(7));

  it("raising a silent sealer's weight is refused (the quorum it needs is not live); an observer comes and goes freely", async () => {
    chain.recentProposers = sealerKeys.slice(0, 3).map((k) => k.nodeId);
    expect(reason(await one(propose(g1, "createSetWeightProposal", [ids[3]!, 10n])))).toBe(
      "committee: refused: quorum unreachable: after this change the sealers' total weight is 13 and a commit needs 9, but the sealers that proposed recent blocks hold only 3",
    );
    // Only 2 of 4 sealers live: no sealer change could pass, but observers are not sealers.
    chain.recentProposers = sealerKeys.slice(0, 2).map((k) => k.nodeId);
    await pass("createAddObserverProposal", [newcomer]);
    expect(reason(await one(propose(g1, "createAddObserverProposal", [newcomer])))).toBe(
      "committee: refused: the node is already an observer",
    );
    expect(reason(await one(propose(g1, "createAddObserverProposal", [ids[0]!])))).toBe(
      `committee: refused: node ${ids[0]} is a sealer: demoting it is a remove-node proposal`,
    );
    await pass("createRmNodeProposal", [newcomer]);
    expect((await readConsensusNodes(chain.state, chain.number + 1)).observers).toHaveLength(0);
  });

  it("the liveness window asked for is 4 blocks per current sealer (observers not counted)", async () => {
    await pass("createAddObserverProposal", [newcomer]);
    const asked: number[] = [];
    const tx = await propose(g1, "createSetWeightProposal", [ids[0]!, 2n]);
    const out = await chain.executor.executeBlock(
      chain.state,
      {
        ...chain.ctx(),
        recentProposers: async (count: number) => {
          asked.push(count);
          return sealerKeys.map((k) => k.nodeId);
        },
      },
      [tx],
      "build",
    );
    await chain.commit(out);
    expect(out.receipts[0]!.status).toBe(1);
    expect(asked).toEqual([16]);
  });
});

describe("permissions", () => {
  const hello = helloArtifact();
  const caller = loadArtifact("SystemCaller");

  it("deploy ACL (allow-list): a listed account deploys, others are refused naming the rule", async () => {
    await pass("createSetDeployAuthTypeProposal", [1]);
    const refused = await one(send(alice, null, hello.bytecode as Hex, 2_000_000n));
    expect(reason(refused)).toBe(
      `deploy ACL: ${alice.address.toLowerCase()} may not deploy contracts (allow-list mode, the account is not on the list)`,
    );
    await pass("createModifyDeployAuthProposal", [alice.address, true]);
    const ok = await one(send(alice, null, hello.bytecode as Hex, 2_000_000n));
    expect(ok.status).toBe(1);
    // Deny-list mode: bob closed, alice still fine.
    await pass("createSetDeployAuthTypeProposal", [2]);
    await pass("createModifyDeployAuthProposal", [bob.address, false]);
    expect(reason(await one(send(bob, null, hello.bytecode as Hex, 2_000_000n)))).toMatch(
      /deploy ACL: .* \(deny-list mode, the account is on the list\)/,
    );
  });

  it("deploy ACL checks msg.sender: a factory contract needs its own right", async () => {
    const factory = await one(send(alice, null, caller.bytecode as Hex, 3_000_000n));
    const factoryAddress = factory.contractAddress!;
    await pass("createSetDeployAuthTypeProposal", [1]);
    await pass("createModifyDeployAuthProposal", [alice.address, true]);
    const data = encodeFunctionData({
      abi: caller.abi as Abi,
      functionName: "create",
      args: [hello.bytecode],
    });
    // alice may deploy, but the CREATE's msg.sender is the factory.
    expect(reason(await one(send(alice, factoryAddress, data, 3_000_000n)))).toBe(
      `deploy ACL: ${bytesToHex(factoryAddress)} may not deploy contracts (allow-list mode, the account is not on the list)`,
    );
    await pass("createModifyDeployAuthProposal", [bytesToHex(factoryAddress), true]);
    expect((await one(send(bob, factoryAddress, data, 3_000_000n))).status).toBe(1);
  });

  it("method ACL: the contract's admin blocks a selector for one account and not another; msg.sender counts", async () => {
    const deployed = await one(send(alice, null, hello.bytecode as Hex, 2_000_000n));
    const contract = deployed.contractAddress!;
    const setSel = toFunctionSelector("function set(string)");
    const auth = (from: W, functionName: string, args: unknown[]) =>
      send(
        from,
        CONTRACT_AUTH_ADDRESS,
        encodeFunctionData({ abi: CONTRACT_AUTH_ABI, functionName, args } as never),
      );
    // No admin yet: alice cannot set the ACL.
    expect(reason(await one(auth(alice, "setMethodAuthType", [hex(contract), setSel, 2])))).toMatch(
      /method ACL: .* is not the admin of/,
    );
    await pass("createResetAdminProposal", [alice.address, hex(contract)]);
    expect(events(await one(auth(alice, "setMethodAuthType", [hex(contract), setSel, 2])))).toEqual([
      "MethodAuthChanged",
    ]);
    await one(auth(alice, "closeMethodAuth", [hex(contract), setSel, bob.address]));
    const setData = encodeFunctionData({ abi: hello.abi as Abi, functionName: "set", args: ["x"] });
    expect(reason(await one(send(bob, contract, setData)))).toBe(
      `method ACL: ${bob.address.toLowerCase()} may not call ${setSel} on ${bytesToHex(contract)} (deny-list mode, the account is on the list)`,
    );
    expect((await one(send(g3, contract, setData))).status).toBe(1);
    // Other selectors are not affected.
    const getData = encodeFunctionData({ abi: hello.abi as Abi, functionName: "get" });
    expect((await one(send(bob, contract, getData))).status).toBe(1);
    // Through a contract, msg.sender is the contract: closing it blocks the forwarded call, whoever signs.
    const proxy = (await one(send(g3, null, caller.bytecode as Hex, 3_000_000n))).contractAddress!;
    const fwd = encodeFunctionData({
      abi: caller.abi as Abi,
      functionName: "forward",
      args: [hex(contract), setData],
    });
    expect((await one(send(bob, proxy, fwd))).status).toBe(1);
    await one(auth(alice, "closeMethodAuth", [hex(contract), setSel, hex(proxy)]));
    expect(reason(await one(send(g3, proxy, fwd)))).toMatch(
      new RegExp(`method ACL: ${bytesToHex(proxy)} may not call`),
    );
    // eth_call reports the same refusal.
    const call = await chain.executor.call(
      chain.state,
      { from: addr(bob), to: contract, data: hexToBytes(setData) },
      chain.callCtx(),
    );
    expect(call.status).toBe(0);
    expect(decodeErrorResult({ abi: [], data: hex(call.output) }).args[0]).toMatch(/^method ACL: /);
  });

  it("a frozen account's txs are refused until unfrozen; a governor cannot be frozen; a frozen contract refuses calls", async () => {
    await pass("createSetAccountStatusProposal", [alice.address, 1]);
    const refused = await chain.block([await send(alice, addr(bob), "0x", 21_000n)]);
    expect(refused.rejected[0]).toMatchObject({
      code: "ACCOUNT_NOT_NORMAL",
      reason: `account status: ${alice.address.toLowerCase()} is frozen, its transactions are refused`,
    });
    nonces.set(alice.address, 0);
    await pass("createSetAccountStatusProposal", [alice.address, 0]);
    expect((await one(send(alice, addr(bob), "0x", 21_000n))).status).toBe(1);
    expect(reason(await one(propose(g1, "createSetAccountStatusProposal", [g2.address, 1])))).toMatch(
      /is a governor: remove it from the committee before freezing it/,
    );

    const contract = (await one(send(bob, null, hello.bytecode as Hex, 2_000_000n))).contractAddress!;
    await pass("createSetContractStatusProposal", [hex(contract), 1]);
    const setData = encodeFunctionData({ abi: hello.abi as Abi, functionName: "set", args: ["x"] });
    expect(reason(await one(send(bob, contract, setData)))).toBe(
      `contract status: ${bytesToHex(contract)} is frozen`,
    );
    await pass("createSetContractStatusProposal", [hex(contract), 2]);
    expect(reason(await one(propose(g1, "createSetContractStatusProposal", [hex(contract), 0])))).toMatch(
      /is abolished: that is final/,
    );
  });
});

describe("system contracts reached by DELEGATECALL or STATICCALL", () => {
  /**
   * Init code of a contract that forwards its calldata to `target` with DELEGATECALL (0xf4) or STATICCALL (0xfa) and
   * returns or reverts with what came back (hand-assembled: no Solidity source for a delegating caller).
   */
  function forwarder(op: 0xf4 | 0xfa, target: Uint8Array): Hex {
    const t = bytesToHex(target).slice(2);
    const o = op.toString(16);
    const runtime = `3660006000376000600036600073${t}5a${o}3d600060003e6031573d6000fd5b3d6000f3`;
    expect(runtime.length / 2).toBe(0x36);
    return `0x6036600c60003960366000f3${runtime}`;
  }
  const deploy = async (op: 0xf4 | 0xfa, target: Uint8Array) =>
    (await one(send(g1, null, forwarder(op, target), 1_000_000n))).contractAddress!;
  const proposal = encodeFunctionData({
    abi: COMMITTEE_ABI,
    functionName: "createSetSysConfigProposal",
    args: ["tx_count_limit", "7", 0n],
  });

  it("the committee refuses a proposal made by DELEGATECALL or STATICCALL, and answers reads through them", async () => {
    const delegating = await deploy(0xf4, COMMITTEE_ADDRESS);
    const staticCaller = await deploy(0xfa, COMMITTEE_ADDRESS);
    expect(reason(await one(send(g1, delegating, proposal)))).toBe(
      "committee: system contracts cannot be delegate-called",
    );
    expect(reason(await one(send(g1, staticCaller, proposal)))).toBe(
      "committee: a proposal or vote cannot be made in a static call",
    );
    const count = encodeFunctionData({ abi: COMMITTEE_ABI, functionName: "proposalCount" });
    const read = await chain.executor.call(
      chain.state,
      { from: addr(g1), to: staticCaller, data: hexToBytes(count) },
      chain.callCtx(),
    );
    expect(read.status).toBe(1);
    const n = decodeFunctionResult({
      abi: COMMITTEE_ABI,
      functionName: "proposalCount",
      data: hex(read.output),
    });
    expect(n).toBe(0n);
    expect((await readSystemConfig(chain.state, chain.number + 1)).txCountLimit).toBe(1000);
  });

  it("ContractAuth refuses an ACL change by DELEGATECALL or STATICCALL, even from the contract's admin", async () => {
    const contract = (await one(send(alice, null, helloArtifact().bytecode as Hex, 2_000_000n)))
      .contractAddress!;
    const delegating = await deploy(0xf4, CONTRACT_AUTH_ADDRESS);
    const staticCaller = await deploy(0xfa, CONTRACT_AUTH_ADDRESS);
    // The forwarders themselves are the admin: the refusal is for the kind of call, not the caller.
    for (const forwarderAddress of [delegating, staticCaller]) {
      await pass("createResetAdminProposal", [hex(forwarderAddress), hex(contract)]);
      const change = encodeFunctionData({
        abi: CONTRACT_AUTH_ABI,
        functionName: "setMethodAuthType",
        args: [hex(contract), toFunctionSelector("function set(string)"), 2],
      });
      expect(reason(await one(send(g1, forwarderAddress, change)))).toBe(
        "method ACL: cannot be changed in a static or delegate call",
      );
    }
  });
});

describe("tally: the verdict at each threshold's boundary", () => {
  const [a, b, c] = [addr(g1), addr(g2), addr(g3)];
  const of = (weights: number[], participationPct: number, winPct: number) => ({
    governors: weights.map((weight, i) => ({ address: [a, b, c][i]!, weight })),
    participationPct,
    winPct,
  });

  it("counts weights, a non-governor's vote as 0, and passes, rejects or leaves open by the two rates", () => {
    expect(governance.tally(of([1, 2, 4], 51, 51), [c, addr(alice)], [a])).toEqual({
      totalWeight: 7,
      votedWeight: 5,
      forWeight: 4,
      verdict: "passed",
    });
    // 1 of 3 voted for: below participation, and the others could still carry it.
    expect(governance.tally(of([1, 1, 1], 51, 51), [a], []).verdict).toBe("open");
    expect(governance.tally(of([1, 1, 1], 51, 51), [a, b], []).verdict).toBe("passed");
    expect(governance.tally(of([1, 1, 1], 51, 51), [a], [b, c]).verdict).toBe("rejected");
  });

  it("participation and win rates are met with equality; rejection needs strictly less than the win rate", () => {
    // 1 of 2 voted: exactly 50 % participation, all for.
    expect(governance.tally(of([1, 1], 50, 50), [a], []).verdict).toBe("passed");
    expect(governance.tally(of([1, 1], 51, 50), [a], []).verdict).toBe("open");
    // Both voted, one for: exactly 50 % of the voters' weight.
    expect(governance.tally(of([1, 1], 0, 50), [a], [b]).verdict).toBe("passed");
    expect(governance.tally(of([1, 1], 0, 51), [a], [b]).verdict).toBe("rejected");
    // One against, one not voted: the other could still bring exactly 50 % for: open, not rejected.
    expect(governance.tally(of([1, 1], 100, 50), [], [a]).verdict).toBe("open");
    expect(governance.tally(of([1, 1], 100, 51), [], [a]).verdict).toBe("rejected");
  });

  it("nothing passes without a vote for, even at rates 0; every vote against rejects even at win rate 0", () => {
    expect(governance.tally(of([1, 1], 0, 0), [], []).verdict).toBe("open");
    expect(governance.tally(of([1, 1], 0, 0), [], [a, b]).verdict).toBe("rejected");
    expect(governance.tally(of([1, 1], 0, 0), [], [a]).verdict).toBe("open");
  });
});

describe("proposal changes: stored args and summaries", () => {
  const K = governance.ProposalKind;
  const node = new Uint8Array(32).fill(0xab);
  const nodeHex = bytesToHex(node);
  const [a, b] = [addr(alice), addr(bob)];
  const [ah, bh] = [bytesToHex(a), bytesToHex(b)];
  const cases: [Change, string][] = [
    [{ kind: K.SetSysConfig, key: "tx_count_limit", value: "7" }, "set system config tx_count_limit = 7"],
    [{ kind: K.AddObserver, nodeId: node }, `add observer ${nodeHex}`],
    [{ kind: K.RemoveNode, nodeId: node }, `remove node ${nodeHex}`],
    [{ kind: K.AddSealer, nodeId: node, weight: 3 }, `make observer ${nodeHex} a sealer with weight 3`],
    [{ kind: K.SetWeight, nodeId: node, weight: 300 }, `set the weight of sealer ${nodeHex} to 300`],
    [{ kind: K.UpdateGovernor, account: a, weight: 0 }, `remove governor ${ah}`],
    [{ kind: K.UpdateGovernor, account: a, weight: 2 }, `set governor ${ah} weight 2`],
    [{ kind: K.SetRate, participationPct: 60, winPct: 70 }, "set participation rate 60% and win rate 70%"],
    [{ kind: K.SetDeployAuthType, mode: 0 }, "set the deploy ACL mode to open"],
    [{ kind: K.SetDeployAuthType, mode: 1 }, "set the deploy ACL mode to allow-list"],
    [{ kind: K.SetDeployAuthType, mode: 2 }, "set the deploy ACL mode to deny-list"],
    [{ kind: K.SetDeployAuthType, mode: 7 }, "set the deploy ACL mode to 7"],
    [{ kind: K.ModifyDeployAuth, account: a, open: true }, `open deployment for ${ah}`],
    [{ kind: K.ModifyDeployAuth, account: a, open: false }, `close deployment for ${ah}`],
    [{ kind: K.ResetAdmin, admin: a, contract: b }, `make ${ah} the method ACL admin of contract ${bh}`],
    [{ kind: K.SetAccountStatus, address: a, status: 0 }, `set account ${ah} normal`],
    [{ kind: K.SetAccountStatus, address: a, status: 1 }, `set account ${ah} frozen`],
    [{ kind: K.SetAccountStatus, address: a, status: 9 }, `set account ${ah} 9`],
    [{ kind: K.SetContractStatus, address: b, status: 2 }, `set contract ${bh} abolished`],
  ];

  it.each(cases.map(([change, text]) => [text, change] as const))(
    "%s: decodes from its stored args as it was",
    (text, change) => {
      const args = encodeChangeArgs(change);
      expect(args.every((x) => x instanceof Uint8Array)).toBe(true);
      expect(governance.decodeChange(change.kind, args)).toEqual(change);
      expect(governance.describeChange(change)).toBe(text);
    },
  );

  it("the stored args are the raw bytes getProposalInfo returns; an unknown kind does not decode", () => {
    expect(encodeChangeArgs({ kind: K.SetRate, participationPct: 0, winPct: 100 })).toEqual([
      new Uint8Array(0),
      new Uint8Array([100]),
    ]);
    expect(encodeChangeArgs({ kind: K.ModifyDeployAuth, account: a, open: true })).toEqual([
      a,
      new Uint8Array([1]),
    ]);
    expect(() => governance.decodeChange(13, [])).toThrow("unknown proposal kind 13");
  });
});

describe("stored governance records: a corrupt one is refused, never misread", () => {
  const a = addr(alice);
  const b20 = new Uint8Array(20).fill(1);
  const proposal: Proposal = {
    id: 5n,
    proposer: a,
    kind: 3,
    args: [new Uint8Array(32).fill(2), new Uint8Array([7])],
    createdAt: 10,
    expiresAt: 20,
    status: 2,
    forVoters: [a],
    againstVoters: [b20],
  };
  const n = (x: number) => (x === 0 ? new Uint8Array(0) : new Uint8Array([x]));
  const fields = () => [a, n(3), [n(1)], n(10), n(20), n(2), [a], [b20]] as unknown[];
  const withField = (i: number, v: unknown) => RLP.encode(fields().map((f, j) => (j === i ? v : f)) as never);
  const corrupt = (what: string) =>
    expect.objectContaining({ code: "EXEC_STATE_CORRUPT", message: `cannot decode stored ${what}` });
  const thrown = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return err;
    }
    return "no error";
  };

  it("a committee: round trip; not RLP, not a list of 3, a governor not [address(20), weight], a rate not a number", () => {
    const c = { governors: [{ address: a, weight: 3 }], participationPct: 60, winPct: 0 };
    expect(decodeCommittee(encodeCommittee(c))).toEqual(c);
    const bad = [
      new Uint8Array([0xf9, 0x01]), // truncated RLP
      RLP.encode(n(1)), // not a list
      RLP.encode([[], n(1)]),
      RLP.encode([[], n(1), n(1), n(1)]),
      RLP.encode([n(1), n(1), n(1)]), // governors not a list
      RLP.encode([[[a]], n(1), n(1)]),
      RLP.encode([[[a, n(1), n(1)]], n(1), n(1)]),
      RLP.encode([[n(1)], n(1), n(1)]), // a governor not a list
      RLP.encode([[[a.subarray(1), n(1)]], n(1), n(1)]), // a 19-byte address
      RLP.encode([[[[a], n(1)]], n(1), n(1)]), // an address that is a list
      RLP.encode([[], [], n(1)]),
      RLP.encode([[], n(1), []]),
    ];
    for (const raw of bad)
      expect(
        thrown(() => decodeCommittee(raw)),
        bytesToHex(raw),
      ).toEqual(corrupt("committee"));
    // A weight that is a list or beyond 2^53: named as the governor weight.
    for (const w of [[], new Uint8Array(7).fill(0xff)]) {
      expect(thrown(() => decodeCommittee(RLP.encode([[[a, w]], n(1), n(1)])))).toEqual(
        corrupt("governor weight"),
      );
    }
  });

  it("a proposal: round trip; each field of the wrong shape, a status beyond revoked", () => {
    expect(decodeProposal(5n, encodeProposal(proposal))).toEqual(proposal);
    expect(decodeProposal(5n, RLP.encode(fields() as never)).status).toBe(2);
    expect(decodeProposal(5n, withField(5, n(3))).status).toBe(3);
    const bad = [
      new Uint8Array([0xf9, 0x01]),
      RLP.encode(n(1)),
      RLP.encode(fields().slice(0, 7) as never),
      RLP.encode([...fields(), n(1)] as never),
      withField(0, a.subarray(2)), // proposer of 18 bytes
      withField(1, []), // kind a list
      withField(2, n(1)), // args not a list
      withField(2, [[n(1)]]), // an arg that is a list
      withField(3, []),
      withField(4, []),
      withField(5, n(4)), // status 4: no such status
      withField(5, []),
      withField(6, n(1)), // voters not a list
      withField(7, n(0)), // voters an empty byte string, not an empty list
      withField(6, [n(1)]), // a voter not an address
      withField(7, [a, a.subarray(1)]),
    ];
    for (const raw of bad)
      expect(
        thrown(() => decodeProposal(5n, raw)),
        bytesToHex(raw),
      ).toEqual(corrupt("proposal"));
  });

  it("each stored small value names itself when corrupt", async () => {
    const get = async () => RLP.encode([]);
    const sel = new Uint8Array(4);
    const reads: [string, () => Promise<unknown>][] = [
      ["deploy mode", () => readDeployMode(get)],
      ["deploy list", () => readDeployAccess(get, a)],
      ["method ACL mode", () => readMethodMode(get, a, sel)],
      ["method ACL list", () => readMethodAccess(get, a, sel, a)],
      ["account status", () => readAccountStatus(get, a)],
      ["contract status", () => readContractStatus(get, a)],
      ["proposal count", () => readProposalCount(get)],
    ];
    for (const [what, read] of reads) await expect(read(), what).rejects.toEqual(corrupt(what));
  });

  it("a small number: absent is 0; not RLP, a list or beyond 2^53 is refused, named", () => {
    expect(decodeSmall(null, "deploy mode")).toBe(0);
    expect(decodeSmall(encodeSmall(0), "deploy mode")).toBe(0);
    expect(decodeSmall(encodeSmall(2 ** 53 - 1), "deploy mode")).toBe(2 ** 53 - 1);
    for (const raw of [new Uint8Array([0xb8]), RLP.encode([]), RLP.encode(new Uint8Array(7).fill(0xff))]) {
      expect(
        thrown(() => decodeSmall(raw, "deploy mode")),
        bytesToHex(raw),
      ).toEqual(corrupt("deploy mode"));
    }
  });
});

describe("reads of the committee and ContractAuth", () => {
  const hello = helloArtifact();
  const ZERO = "0x0000000000000000000000000000000000000000";

  /** An eth_call of a system contract's view function, decoded. */
  async function view(
    to: Uint8Array,
    abi: Abi,
    functionName: string,
    args: unknown[] = [],
  ): Promise<unknown> {
    const r = await chain.executor.call(
      chain.state,
      { to, data: hexToBytes(encodeFunctionData({ abi, functionName, args } as never)) },
      chain.callCtx(),
    );
    expect(r.status, functionName).toBe(1);
    return decodeFunctionResult({ abi, functionName, data: hex(r.output) } as never);
  }
  const info = (fn: string, args: unknown[] = []) => view(COMMITTEE_ADDRESS, COMMITTEE_ABI, fn, args);
  const auth = (fn: string, args: unknown[] = []) => view(CONTRACT_AUTH_ADDRESS, CONTRACT_AUTH_ABI, fn, args);
  const addressOf = (w: W) => w.address; // viem decodes addresses checksummed, as ethers makes them

  it("getCommitteeInfo, proposalCount and getProposalInfo report what the proposals stored", async () => {
    expect(await info("getCommitteeInfo")).toEqual([51, 51, governors.map(addressOf), [1n, 1n, 1n]]);
    expect(await info("proposalCount")).toBe(0n);
    expect(await info("getProposalInfo", [1n])).toEqual([ZERO, 0, 0, 0n, 0n, [], [], []]);
    await one(propose(g1, "createSetSysConfigProposal", ["tx_count_limit", "7"], 5n)); // block 1
    await one(vote(g2, 1n, false)); // block 2
    expect(await info("proposalCount")).toBe(1n);
    expect(await info("getProposalInfo", [1n])).toEqual([
      addressOf(g1),
      governance.ProposalKind.SetSysConfig,
      0, // open
      1n,
      6n, // created in block 1, interval 5
      [addressOf(g1)],
      [addressOf(g2)],
      [hex(new TextEncoder().encode("tx_count_limit")), hex(new TextEncoder().encode("7"))],
    ]);
    await one(vote(g3, 1n, false));
    expect(((await info("getProposalInfo", [1n])) as unknown[])[2]).toBe(2); // rejected
    await pass("createUpdateGovernorProposal", [alice.address, 3n]);
    expect(await info("proposalCount")).toBe(2n);
    const [, kind, status, createdAt, expiresAt] = (await info("getProposalInfo", [2n])) as bigint[];
    expect([kind, status]).toEqual([governance.ProposalKind.UpdateGovernor, 1]); // executed
    expect(expiresAt! - createdAt!).toBe(10_000n); // interval 0: the default lifetime
    expect(await info("getCommitteeInfo")).toEqual([
      51,
      51,
      [...governors, alice].map(addressOf),
      [1n, 1n, 1n, 3n],
    ]);
    expect(await info("getProposalInfo", [3n])).toEqual([ZERO, 0, 0, 0n, 0n, [], [], []]);
  });

  it("ContractAuth's reads: admin, method ACL type and check, deploy type and right, account and contract status", async () => {
    const contract = hex((await one(send(alice, null, hello.bytecode as Hex, 2_000_000n))).contractAddress!);
    const setSel = toFunctionSelector("function set(string)");
    expect(await auth("getAdmin", [contract])).toBe(ZERO);
    expect(await auth("getMethodAuthType", [contract, setSel])).toBe(0);
    expect(await auth("checkMethodAuth", [contract, setSel, bob.address])).toBe(true);
    expect(await auth("deployType")).toBe(0);
    expect(await auth("hasDeployAuth", [bob.address])).toBe(true);
    expect(await auth("getAccountStatus", [bob.address])).toBe(0);
    expect(await auth("getContractStatus", [contract])).toBe(0);

    await pass("createResetAdminProposal", [alice.address, contract]);
    await acl(alice, "setMethodAuthType", [contract, setSel, 1]); // allow-list
    await acl(alice, "openMethodAuth", [contract, setSel, bob.address]);
    expect(await auth("getAdmin", [contract])).toBe(addressOf(alice));
    expect(await auth("getMethodAuthType", [contract, setSel])).toBe(1);
    expect(await auth("checkMethodAuth", [contract, setSel, bob.address])).toBe(true);
    expect(await auth("checkMethodAuth", [contract, setSel, g3.address])).toBe(false);

    await pass("createSetDeployAuthTypeProposal", [1]);
    await pass("createModifyDeployAuthProposal", [bob.address, true]);
    expect(await auth("deployType")).toBe(1);
    expect(await auth("hasDeployAuth", [bob.address])).toBe(true);
    expect(await auth("hasDeployAuth", [alice.address])).toBe(false);

    await pass("createSetAccountStatusProposal", [bob.address, 1]);
    await pass("createSetContractStatusProposal", [contract, 2]);
    expect(await auth("getAccountStatus", [bob.address])).toBe(1);
    expect(await auth("getContractStatus", [contract])).toBe(2);
  });
});

describe("permissions: the edges", () => {
  const hello = helloArtifact();

  it("a call of just a selector (4 bytes) is checked; shorter input is not a method call", async () => {
    const contract = (await one(send(alice, null, hello.bytecode as Hex, 2_000_000n))).contractAddress!;
    await pass("createResetAdminProposal", [alice.address, hex(contract)]);
    const getData = encodeFunctionData({ abi: hello.abi as Abi, functionName: "get" });
    expect(hexToBytes(getData)).toHaveLength(4);
    await acl(alice, "setMethodAuthType", [hex(contract), getData, 1]); // allow-list, bob not on it
    expect(reason(await one(send(bob, contract, getData)))).toBe(
      `method ACL: ${bob.address.toLowerCase()} may not call ${getData} on ${bytesToHex(contract)} (allow-list mode, the account is not on the list)`,
    );
    // 3 bytes of that selector: no method, so no method ACL; the contract itself reverts, without a reason.
    const short = await one(send(bob, contract, getData.slice(0, 8) as Hex));
    expect([short.status, short.output.length]).toEqual([0, 0]);
  });

  it("an abolished account or contract is named so; a DELEGATECALL runs a frozen contract's code unchecked", async () => {
    const contract = (await one(send(alice, null, hello.bytecode as Hex, 2_000_000n))).contractAddress!;
    const setData = encodeFunctionData({ abi: hello.abi as Abi, functionName: "set", args: ["x"] });
    await pass("createSetContractStatusProposal", [hex(contract), 2]);
    expect(reason(await one(send(bob, contract, setData)))).toBe(
      `contract status: ${bytesToHex(contract)} is abolished`,
    );
    // The frozen code in the caller's own context: the delegating contract's storage, not the frozen one's.
    const runtime = `3660006000376000600036600073${bytesToHex(contract).slice(2)}5af43d600060003e6031573d6000fd5b3d6000f3`;
    const delegating = (await one(send(bob, null, `0x6036600c60003960366000f3${runtime}`, 1_000_000n)))
      .contractAddress!;
    expect((await one(send(bob, delegating, setData))).status).toBe(1);

    await pass("createSetAccountStatusProposal", [alice.address, 2]);
    const refused = await chain.block([await send(alice, addr(bob), "0x", 21_000n)]);
    expect(refused.rejected[0]).toMatchObject({
      code: "ACCOUNT_NOT_NORMAL",
      reason: `account status: ${alice.address.toLowerCase()} is abolished, its transactions are refused`,
    });
  });
});

describe("gas and results of the system contracts", () => {
  /** Intrinsic gas of a call with this data (EIP-2028): the system contract gets the rest of the gas limit. */
  const intrinsic = (data: Hex) =>
    21_000n + [...hexToBytes(data)].reduce((g, b) => g + (b === 0 ? 4n : 16n), 0n);
  const callWith = (to: Uint8Array, data: Hex, gas: bigint, from = addr(alice)) =>
    chain.executor.call(
      chain.state,
      { from, to, data: hexToBytes(data), gasLimit: intrinsic(data) + gas },
      chain.callCtx(),
    );
  const errorOf = (out: Uint8Array) => decodeErrorResult({ abi: [], data: hex(out) }).args[0];

  it("a read needs 5000 gas, a write 50000: with one less each reverts 'out of gas'", async () => {
    const count = encodeFunctionData({ abi: COMMITTEE_ABI, functionName: "proposalCount" });
    const low = await callWith(COMMITTEE_ADDRESS, count, 4_999n);
    expect([low.status, errorOf(low.output)]).toEqual([0, "out of gas"]);
    expect((await callWith(COMMITTEE_ADDRESS, count, 5_000n)).status).toBe(1);
    const status = encodeFunctionData({ abi: CONTRACT_AUTH_ABI, functionName: "deployType" });
    const lowAuth = await callWith(CONTRACT_AUTH_ADDRESS, status, 4_999n);
    expect([lowAuth.status, errorOf(lowAuth.output)]).toEqual([0, "out of gas"]);
    expect((await callWith(CONTRACT_AUTH_ADDRESS, status, 5_000n)).status).toBe(1);
    // Writes: the gas check comes before the admin check, so enough gas gets the admin refusal instead.
    const acl = encodeFunctionData({
      abi: CONTRACT_AUTH_ABI,
      functionName: "setMethodAuthType",
      args: [bob.address as Hex, "0x12345678", 1],
    });
    expect(errorOf((await callWith(CONTRACT_AUTH_ADDRESS, acl, 49_999n)).output)).toBe("out of gas");
    expect(errorOf((await callWith(CONTRACT_AUTH_ADDRESS, acl, 50_000n)).output)).toMatch(
      /is not the admin of/,
    );
    const proposal = encodeFunctionData({
      abi: COMMITTEE_ABI,
      functionName: "createSetSysConfigProposal",
      args: ["tx_count_limit", "7", 0n],
    });
    expect(errorOf((await callWith(COMMITTEE_ADDRESS, proposal, 49_999n, addr(g1))).output)).toBe(
      "out of gas",
    );
    expect((await callWith(COMMITTEE_ADDRESS, proposal, 50_000n, addr(g1))).status).toBe(1);
  });

  it("a read sent as a transaction logs nothing; an unknown function reverts naming it", async () => {
    const count = encodeFunctionData({ abi: COMMITTEE_ABI, functionName: "proposalCount" });
    const r = await one(send(alice, COMMITTEE_ADDRESS, count));
    expect([r.status, r.logs]).toEqual([1, []]);
    const r2 = await one(
      send(
        alice,
        CONTRACT_AUTH_ADDRESS,
        encodeFunctionData({ abi: CONTRACT_AUTH_ABI, functionName: "deployType" }),
      ),
    );
    expect([r2.status, r2.logs]).toEqual([1, []]);
    expect(reason(await one(send(alice, COMMITTEE_ADDRESS, "0x12345678")))).toBe(
      "unknown function or bad arguments",
    );
    expect(reason(await one(send(alice, CONTRACT_AUTH_ADDRESS, "0x12345678")))).toBe(
      "unknown function or bad arguments",
    );
  });
});

describe("ContractAuth: only the admin, only valid modes, per contract and selector", () => {
  const hello = helloArtifact();
  const read = async (functionName: string, args: unknown[]) => {
    const r = await chain.executor.call(
      chain.state,
      {
        to: CONTRACT_AUTH_ADDRESS,
        data: hexToBytes(encodeFunctionData({ abi: CONTRACT_AUTH_ABI, functionName, args } as never)),
      },
      chain.callCtx(),
    );
    return decodeFunctionResult({ abi: CONTRACT_AUTH_ABI, functionName, data: hex(r.output) } as never);
  };

  it("another account cannot change the ACL once an admin is set; authType 3 is refused; 0 (open) is a valid mode", async () => {
    const a = hex((await one(send(alice, null, hello.bytecode as Hex, 2_000_000n))).contractAddress!);
    const b = hex((await one(send(alice, null, hello.bytecode as Hex, 2_000_000n))).contractAddress!);
    const setSel = toFunctionSelector("function set(string)");
    const getSel = toFunctionSelector("function get()");
    await pass("createResetAdminProposal", [alice.address, a]);
    // The contract is named as the call gave it (viem checksums it).
    expect(reason(await acl(bob, "setMethodAuthType", [a, setSel, 2])).toLowerCase()).toBe(
      `method acl: ${bob.address.toLowerCase()} is not the admin of ${a} (the committee appoints it: set-admin proposal)`,
    );
    expect(reason(await acl(bob, "openMethodAuth", [a, setSel, bob.address]))).toMatch(/is not the admin of/);
    expect(reason(await acl(alice, "setMethodAuthType", [a, setSel, 3]))).toBe(
      "method ACL: authType must be 0 (open), 1 (allow-list) or 2 (deny-list)",
    );
    await acl(alice, "setMethodAuthType", [a, setSel, 1]);
    // Per contract and per selector: b has no admin, a's get() stays open.
    expect(await read("getAdmin", [b])).toBe("0x0000000000000000000000000000000000000000");
    expect(await read("getMethodAuthType", [a, getSel])).toBe(0);
    expect(await read("getMethodAuthType", [b, setSel])).toBe(0);
    expect(await read("checkMethodAuth", [a, getSel, bob.address])).toBe(true);
    expect(await read("checkMethodAuth", [a, setSel, bob.address])).toBe(false);
    const open = await acl(alice, "setMethodAuthType", [a, setSel, 0]);
    expect(open.status).toBe(1);
    expect(
      decodeEventLog({
        abi: CONTRACT_AUTH_ABI,
        topics: open.logs[0]!.topics.map(hex) as [Hex, ...Hex[]],
        data: hex(open.logs[0]!.data),
      }).args,
    ).toMatchObject({ value: 0 });
    expect(await read("checkMethodAuth", [a, setSel, bob.address])).toBe(true);
    // A frozen contract does not freeze another.
    await pass("createSetContractStatusProposal", [a, 1]);
    const setData = encodeFunctionData({ abi: hello.abi as Abi, functionName: "set", args: ["x"] });
    expect((await one(send(bob, hexToBytes(b), setData))).status).toBe(1);
    expect(await read("getContractStatus", [b])).toBe(0);
  });
});

describe("determinism", () => {
  const hello = helloArtifact();
  let level: LevelState | null = null;
  afterEach(async () => {
    await level?.close();
    level = null;
  });

  it("replaying the governance blocks into a fresh LevelDB store gives the same state roots", async () => {
    const blocks: Transaction[][] = [];
    const record = async (txs: Promise<Transaction>[]) => {
      const list = await Promise.all(txs);
      blocks.push(list);
      await chain.block(list);
    };
    await record([propose(g1, "createSetDeployAuthTypeProposal", [1])]);
    await record([
      vote(g2, 1n),
      propose(g1, "createAddObserverProposal", [bytesToHex(new Uint8Array(32).fill(7))]),
    ]);
    await record([vote(g3, 2n), propose(g2, "createSetAccountStatusProposal", [bob.address, 1])]);
    await record([vote(g1, 3n), send(alice, null, hello.bytecode as Hex, 2_000_000n)]);
    const rootA = chain.stateRoot;

    level = await LevelState.open();
    const replay = await TestChain.create(level, spec());
    for (const txs of blocks) await replay.block(txs, "verify");
    expect(bytesToHex(replay.stateRoot)).toBe(bytesToHex(rootA));
  });
});
