import { getCreateAddress } from "ethers";
import { type Abi, decodeErrorResult, decodeFunctionResult, encodeFunctionData, type Hex } from "viem";
import { beforeEach, describe, expect, it } from "vitest";
import { loadArtifact } from "../../contracts/artifacts.js";
import { NodeKey } from "../../src/crypto/index.js";
import {
  CONSENSUS_NODES_ABI,
  CONSENSUS_NODES_ADDRESS,
  governance,
  ONLY_COMMITTEE_REASON,
  readConsensusNodes,
  readSystemConfig,
  SYSTEM_CONFIG_ABI,
  SYSTEM_CONFIG_ADDRESS,
} from "../../src/execution/index.js";
import type { Receipt, Transaction } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import {
  addr,
  genesisSpec,
  MemoryState,
  sealerKeys,
  signEth,
  signNative,
  TestChain,
  wallets,
} from "./helpers.js";

const [admin, mallory] = wallets(2) as [ReturnType<typeof wallets>[0], ReturnType<typeof wallets>[0]];
const alloc = [admin, mallory].map((w) => ({ address: addr(w), balance: 10n ** 20n }));
const newNode = NodeKey.fromSeed(new Uint8Array(32).fill(9)).nodeId;

let chain: TestChain;
let adminNonce: number;

beforeEach(async () => {
  chain = await TestChain.create(new MemoryState(), genesisSpec([addr(admin)], alloc));
  adminNonce = 0;
});

const COMMITTEE = governance.COMMITTEE_ADDRESS;
const NOT_GOVERNOR = (a: string) =>
  `committee: ${a.toLowerCase()} is not a governor, only governors may propose, vote or revoke`;

/** A proposal by the only governor: it executes in the same tx. */
function setConfig(key: string, value: string): Promise<Transaction> {
  return signEth(admin, {
    to: COMMITTEE,
    nonce: adminNonce++,
    data: hexToBytes(
      encodeFunctionData({
        abi: governance.COMMITTEE_ABI,
        functionName: "createSetSysConfigProposal",
        args: [key, value, 0n],
      }),
    ),
  });
}

const NODE_PROPOSALS = {
  addSealer: "createAddSealerProposal",
  addObserver: "createAddObserverProposal",
  remove: "createRmNodeProposal",
  setWeight: "createSetWeightProposal",
} as const;

function nodeProposal(op: keyof typeof NODE_PROPOSALS, id: string, weight?: bigint): Hex {
  return encodeFunctionData({
    abi: governance.COMMITTEE_ABI,
    functionName: NODE_PROPOSALS[op],
    args: (weight === undefined ? [id, 0n] : [id, weight, 0n]) as never,
  });
}

function nodesCall(
  data: Hex,
  from: ReturnType<typeof wallets>[0] = admin,
  nonce: number | undefined = undefined,
): Promise<Transaction> {
  return signEth(from, {
    to: COMMITTEE,
    nonce: nonce ?? adminNonce++,
    data: hexToBytes(data),
  });
}

function revertReason(r: Receipt): string {
  expect(r.status).toBe(0);
  const e = decodeErrorResult({ abi: [], data: bytesToHex(r.output) as Hex });
  return e.args[0] as string;
}

describe("SystemConfig precompile (0x1000) through committee proposals", () => {
  it("an executed proposal takes effect from the next block", async () => {
    const before = await readSystemConfig(chain.state, 1);
    expect(before.txCountLimit).toBe(1000);
    const out = await chain.block([await setConfig("tx_count_limit", "2")]);
    expect(out.receipts[0]!.status).toBe(1);
    expect(out.configChanged).toBe(true);
    expect(out.validatorsChanged).toBe(false);
    // State after block 1: block 1 itself ran with 1000, block 2 runs with 2.
    expect((await readSystemConfig(chain.state, 1)).txCountLimit).toBe(1000);
    const next = await readSystemConfig(chain.state, 2);
    expect(next.txCountLimit).toBe(2);
    expect(next.entries.tx_count_limit).toEqual({ value: "2", enableNumber: 2 });

    // Block 2 enforces it: only 2 of 3 txs fit.
    const txs = [];
    for (let i = 0; i < 3; i++) txs.push(await signEth(mallory, { to: addr(admin), nonce: i, value: 1n }));
    const b2 = await chain.block(txs);
    expect(b2.transactions).toHaveLength(2);
    expect(b2.rejected[0]).toMatchObject({ code: "BLOCK_TX_COUNT_LIMIT_REACHED", retryable: true });
    expect(b2.configChanged).toBe(false);

    // getValueByKey through the EVM sees the value in force.
    const r = await chain.executor.call(
      chain.state,
      {
        to: SYSTEM_CONFIG_ADDRESS,
        data: hexToBytes(
          encodeFunctionData({
            abi: SYSTEM_CONFIG_ABI,
            functionName: "getValueByKey",
            args: ["tx_count_limit"],
          }),
        ),
      },
      chain.callCtx(),
    );
    expect(r.status).toBe(1);
    expect(
      decodeFunctionResult({
        abi: SYSTEM_CONFIG_ABI,
        functionName: "getValueByKey",
        data: bytesToHex(r.output) as Hex,
      }),
    ).toEqual(["2", 2n]);
  });

  it("two changes in one block: the last wins, the previous in-force value is kept", async () => {
    await chain.block([await setConfig("tx_gas_limit", "200000"), await setConfig("tx_gas_limit", "300000")]);
    expect((await readSystemConfig(chain.state, 1)).txGasLimit).toBe(300_000_000n);
    expect((await readSystemConfig(chain.state, 2)).txGasLimit).toBe(300_000n);
    const b2 = await chain.block([await signEth(mallory, { to: addr(admin), nonce: 0, gasLimit: 400_000n })]);
    expect(b2.rejected[0]!.code).toBe("TX_GAS_LIMIT_EXCEEDED");
  });

  it("block_gas_limit changes like tx_gas_limit, and neither may leave a tx larger than a block", async () => {
    // The test genesis: tx_gas_limit 300000000, block_gas_limit 30000000000.
    const out = await chain.block([
      await setConfig("block_gas_limit", "299999999"),
      await setConfig("tx_gas_limit", "30000000001"),
      await setConfig("block_gas_limit", "400000000"),
      await setConfig("tx_gas_limit", "400000000"),
      await setConfig("block_gas_limit", "399999999"),
    ]);
    expect(revertReason(out.receipts[0]!)).toBe(
      "committee: refused: tx_gas_limit (300000000) may not exceed block_gas_limit (299999999)",
    );
    expect(revertReason(out.receipts[1]!)).toBe(
      "committee: refused: tx_gas_limit (30000000001) may not exceed block_gas_limit (30000000000)",
    );
    expect(out.receipts.slice(2, 4).map((r) => r.status)).toEqual([1, 1]);
    // Checked against the values set earlier in the same block (in force together from the next one).
    expect(revertReason(out.receipts[4]!)).toBe(
      "committee: refused: tx_gas_limit (400000000) may not exceed block_gas_limit (399999999)",
    );
    expect((await readSystemConfig(chain.state, 1)).blockGasLimit).toBe(30_000_000_000n);
    const next = await readSystemConfig(chain.state, 2);
    expect([next.txGasLimit, next.blockGasLimit]).toEqual([400_000_000n, 400_000_000n]);
  });

  it("non-governors, direct writes, unknown keys and invalid values are reverted with a reason", async () => {
    const byMallory = await signEth(mallory, {
      to: COMMITTEE,
      nonce: 0,
      data: hexToBytes(
        encodeFunctionData({
          abi: governance.COMMITTEE_ABI,
          functionName: "createSetSysConfigProposal",
          args: ["tx_count_limit", "5", 0n],
        }),
      ),
    });
    const direct = await signEth(admin, {
      to: SYSTEM_CONFIG_ADDRESS,
      nonce: adminNonce++,
      data: hexToBytes(
        encodeFunctionData({
          abi: SYSTEM_CONFIG_ABI,
          functionName: "setValueByKey",
          args: ["tx_count_limit", "5"],
        }),
      ),
    });
    const out = await chain.block([
      byMallory,
      direct,
      await setConfig("no_such_key", "1"),
      await setConfig("tx_count_limit", "0"),
      await setConfig("tx_gas_limit", "99999"),
      await setConfig("consensus_leader_period", "abc"),
    ]);
    const reasons = out.receipts.map(revertReason);
    expect(reasons[0]).toBe(NOT_GOVERNOR(mallory.address));
    expect(reasons[1]).toBe(`setValueByKey: ${ONLY_COMMITTEE_REASON}`);
    expect(reasons[2]).toMatch(/^committee: refused: unknown system config key/);
    expect(reasons[3]).toMatch(/^committee: refused: tx_count_limit must be between 1/);
    expect(reasons[4]).toMatch(/^committee: refused: tx_gas_limit must be between 100000/);
    expect(reasons[5]).toMatch(/decimal integer/);
    expect(out.configChanged).toBe(false);
    expect((await readSystemConfig(chain.state, 2)).txCountLimit).toBe(1000);
  });

  it("a native tx from the governor works too (the governor check is msg.sender)", async () => {
    const tx = signNative(admin, {
      to: COMMITTEE,
      data: hexToBytes(
        encodeFunctionData({
          abi: governance.COMMITTEE_ABI,
          functionName: "createSetSysConfigProposal",
          args: ["consensus_leader_period", "5", 0n],
        }),
      ),
    });
    const out = await chain.block([tx]);
    expect(out.receipts[0]!.status).toBe(1);
    expect((await readSystemConfig(chain.state, 2)).consensusLeaderPeriod).toBe(5);
  });
});

describe("ConsensusNodes (0x1003) through committee proposals", () => {
  const hex = (id: Uint8Array) => bytesToHex(id) as string;

  it("addObserver → addSealer / setWeight / remove change readConsensusNodes at the next height", async () => {
    const genesisIds = sealerKeys.map((k) => hex(k.nodeId));
    await chain.block([await nodesCall(nodeProposal("addObserver", hex(newNode)))]);
    const add = await nodesCall(nodeProposal("addSealer", hex(newNode), 1n));
    const out = await chain.block([add]);
    expect(out.receipts[0]!.status).toBe(1);
    expect(out.validatorsChanged).toBe(true);
    const at1 = await readConsensusNodes(chain.state, 2);
    expect(at1.sealers.map((s) => hex(s.nodeId))).toEqual(genesisIds);
    const at2 = await readConsensusNodes(chain.state, 3);
    expect(at2.sealers.map((s) => [hex(s.nodeId), s.weight])).toEqual([
      ...genesisIds.map((id) => [id, 1]),
      [hex(newNode), 1],
    ]);

    // getSealers via the EVM in block 2 sees the new sealer.
    const r = await chain.executor.call(
      chain.state,
      {
        to: CONSENSUS_NODES_ADDRESS,
        data: hexToBytes(encodeFunctionData({ abi: CONSENSUS_NODES_ABI, functionName: "getSealers" })),
      },
      chain.callCtx(),
    );
    const [ids, weights] = decodeFunctionResult({
      abi: CONSENSUS_NODES_ABI,
      functionName: "getSealers",
      data: bytesToHex(r.output) as Hex,
    }) as readonly [readonly string[], readonly bigint[]];
    expect(ids).toEqual([...genesisIds, hex(newNode)]);
    expect(weights).toEqual([1n, 1n, 1n, 1n, 1n]);

    const b2 = await chain.block([
      await nodesCall(nodeProposal("setWeight", hex(newNode), 2n)),
      // A sealer is not demoted by add-observer: that is a remove.
      await nodesCall(nodeProposal("addObserver", genesisIds[0]!)),
      await nodesCall(nodeProposal("remove", genesisIds[0]!)),
    ]);
    expect(b2.receipts.map((x) => x.status)).toEqual([1, 0, 1]);
    expect(revertReason(b2.receipts[1]!)).toMatch(/is a sealer: demoting it is a remove-node proposal/);
    const at3 = await readConsensusNodes(chain.state, 4);
    expect(at3.sealers.map((s) => [hex(s.nodeId), s.weight])).toEqual([
      ...genesisIds.slice(1).map((id) => [id, 1]),
      [hex(newNode), 2],
    ]);
    // At height 3 the state after block 3 still answers with the set in force then.
    expect((await readConsensusNodes(chain.state, 3)).sealers).toHaveLength(5);

    await chain.block([await nodesCall(nodeProposal("remove", hex(newNode)))]);
    const at4 = await readConsensusNodes(chain.state, 5);
    expect(at4.sealers.map((s) => hex(s.nodeId))).toEqual(genesisIds.slice(1));
    expect(at4.observers).toEqual([]);
  });

  it("refuses bad node IDs, duplicates, weights out of bounds, non-governors, and quorum-breaking removals", async () => {
    const ids = sealerKeys.map((k) => hex(k.nodeId));
    const txs = [
      // 4 weight-1 sealers: removing one leaves 3 (quorum 3 of 3), a second would leave 2 live of 2: fine in
      // weight terms. The removals run in one block: each sees the list the previous one left.
      await nodesCall(nodeProposal("remove", ids[0]!)),
      await nodesCall(nodeProposal("remove", ids[1]!)),
      await nodesCall(nodeProposal("remove", ids[2]!)),
      await nodesCall(nodeProposal("remove", ids[3]!)),
      await nodesCall(nodeProposal("addSealer", "0x1234", 1n)),
      await nodesCall(nodeProposal("addSealer", ids[3]!, 1n)),
      await nodesCall(nodeProposal("addSealer", hex(newNode), 0n)),
      await nodesCall(nodeProposal("addSealer", hex(newNode), 1n), mallory, 0),
    ];
    const out = await chain.block(txs);
    expect(out.receipts.slice(0, 3).map((r) => r.status)).toEqual([1, 1, 1]);
    const reasons = out.receipts.slice(3).map(revertReason);
    expect(reasons).toEqual([
      "committee: refused: the last sealer cannot be removed",
      expect.stringMatching(/64 hex digits/),
      expect.stringMatching(/is already a sealer/),
      expect.stringMatching(/weight must be between 1/),
      NOT_GOVERNOR(mallory.address),
    ]);
    const at2 = await readConsensusNodes(chain.state, 2);
    expect(at2.sealers.map((s) => hex(s.nodeId))).toEqual([ids[3]]);
  });

  it("a write without enough gas runs out of gas and changes nothing", async () => {
    const tx = await signEth(admin, {
      to: COMMITTEE,
      nonce: adminNonce++,
      gasLimit: 40_000n,
      data: hexToBytes(nodeProposal("addObserver", hex(newNode))),
    });
    const out = await chain.block([tx]);
    expect(out.receipts[0]!.status).toBe(0);
    expect(out.validatorsChanged).toBe(false);
    expect((await readConsensusNodes(chain.state, 2)).observers).toHaveLength(0);
  });
});

describe("system precompiles called from a contract", () => {
  const caller = loadArtifact("SystemCaller");
  const abi = caller.abi as Abi;

  it("msg.sender is the contract; an outer revert undoes the change; STATICCALL cannot write", async () => {
    // The contract deployed at nonce 0 is itself the genesis governor.
    const contract = hexToBytes(getCreateAddress({ from: admin.address, nonce: 0 }));
    chain = await TestChain.create(new MemoryState(), genesisSpec([contract], alloc));
    const deploy = await signEth(admin, {
      to: null,
      nonce: 0,
      data: hexToBytes(caller.bytecode),
      gasLimit: 2_000_000n,
    });
    const call = (nonce: number, fn: string, args: string[]) =>
      signEth(mallory, {
        to: contract,
        nonce,
        data: hexToBytes(encodeFunctionData({ abi, functionName: fn, args })),
      });
    const out = await chain.block([
      deploy,
      await call(0, "setThenRevert", ["tx_count_limit", "7"]),
      await call(1, "staticSet", ["tx_count_limit", "8"]),
    ]);
    expect(out.receipts.map((r) => r.status)).toEqual([1, 0, 1]);
    expect(revertReason(out.receipts[1]!)).toBe("rolled back");
    expect(out.configChanged).toBe(false);
    const st = await chain.executor.call(
      chain.state,
      {
        to: contract,
        data: hexToBytes(
          encodeFunctionData({ abi, functionName: "staticSet", args: ["tx_count_limit", "8"] }),
        ),
      },
      chain.callCtx(),
    );
    expect(decodeFunctionResult({ abi, functionName: "staticSet", data: bytesToHex(st.output) as Hex })).toBe(
      false,
    );

    const b2 = await chain.block([await call(2, "set", ["tx_count_limit", "9"])]);
    expect(b2.receipts[0]!.status).toBe(1);
    expect(b2.configChanged).toBe(true);
    expect((await readSystemConfig(chain.state, 3)).txCountLimit).toBe(9);

    // The deployer EOA itself is not a governor of this chain.
    const direct = await signEth(admin, {
      to: COMMITTEE,
      nonce: 1,
      data: hexToBytes(
        encodeFunctionData({
          abi: governance.COMMITTEE_ABI,
          functionName: "createSetSysConfigProposal",
          args: ["tx_count_limit", "3", 0n],
        }),
      ),
    });
    expect(revertReason((await chain.block([direct])).receipts[0]!)).toBe(NOT_GOVERNOR(admin.address));
  });
});
