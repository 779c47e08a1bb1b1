import {
  type Abi,
  decodeErrorResult,
  decodeEventLog,
  encodeFunctionData,
  type Hex,
  toFunctionSelector,
} from "viem";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadArtifact } from "../../contracts/artifacts.js";
import { NodeKey } from "../../src/crypto/index.js";
import {
  type GenesisSpec,
  governance,
  readConsensusNodes,
  readSystemConfig,
} from "../../src/execution/index.js";
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
