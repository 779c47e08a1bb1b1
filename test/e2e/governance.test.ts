import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { Contract, ContractFactory, Interface, JsonRpcProvider, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadArtifact } from "../../contracts/artifacts.js";
import { addTestnetNode } from "../../src/cli/addNode.js";
import { spawnNode } from "../../src/cli/dev.js";
import { NodeKey } from "../../src/crypto/index.js";
import { governance } from "../../src/execution/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import {
  assertSameChain,
  blockNumber,
  keepBlockPoller,
  signTx,
  waitAllAtLeast,
  waitReceipts,
} from "./chainUtil.js";
import { freeTestnetPorts, ProcessTestnet, rpc, waitFor } from "./harness.js";

/**
 * Acceptance of issue 12 on a real 4-validator testnet with 3 governors (weights 1/1/1): 2-of-3 proposals, expiry,
 * revocation, non-governors (reasons decoded by ethers), a fifth node that joins as observer, syncs and becomes a
 * sealer by proposal (the PBFT set changes at the next height on every node), the halting change and any
 * quorum-breaking change refused, deploy and method ACLs through ethers, freeze/unfreeze at RPC, governance state
 * after a restart of every node, and the newcomer's replay from genesis giving the same state roots.
 */

const COMMITTEE = bytesToHex(governance.COMMITTEE_ADDRESS);
const CONTRACT_AUTH = bytesToHex(governance.CONTRACT_AUTH_ADDRESS);
const committeeAbi = new Interface(loadArtifact("ICommitteeManager").abi as never);
const authAbi = new Interface(loadArtifact("IContractAuth").abi as never);
const hello = loadArtifact("HelloWorld");

describe("e2e: committee governance and permissions", () => {
  let net: ProcessTestnet;
  let newcomer: ChildProcess | null = null;
  let newcomerUrl = "";
  let newcomerId = "";
  let newcomerConfig = "";
  let urls: string[] = [];
  let provider: JsonRpcProvider;
  let governors: Wallet[];
  let users: Wallet[];

  const startNewcomer = () => {
    newcomer = spawnNode(newcomerConfig, path.join(path.dirname(newcomerConfig), "node.log"), {
      FORCE_COLOR: "0",
    });
  };
  const stopNewcomer = async () => {
    const child = newcomer;
    newcomer = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  };

  beforeAll(async () => {
    net = await ProcessTestnet.create({ validators: 4, governors: 3 });
    urls = net.nodes.map((n) => n.rpcUrl);
    governors = net.testnet.governors.map((g) => new Wallet(g.privateKey!));
    users = net.testnet.accounts.map((a) => new Wallet(a.privateKey));
    // The fifth node, as an operator makes one (`consort testnet add-node`): a fresh key, a config that dials the
    // validators; they refuse it until it is on the node list.
    const ports = await freeTestnetPorts(1);
    const added = await addTestnetNode({
      dir: net.testnet.outDir,
      rpcPort: ports.rpcPortBase,
      p2pPort: ports.p2pPortBase,
      metricsPort: ports.metricsPortBase,
    });
    expect(added.name).toBe("node4");
    newcomerId = added.nodeId;
    newcomerConfig = added.configFile;
    newcomerUrl = added.rpcUrl;
    await net.startAll(120_000);
    startNewcomer();
    provider = new JsonRpcProvider(urls[0], undefined, { cacheTimeout: -1, staticNetwork: true });
    provider.pollingInterval = 200;
    await keepBlockPoller(provider);
  }, 240_000);

  afterAll(async () => {
    provider?.destroy();
    await stopNewcomer();
    await net?.close();
  }, 60_000);

  /** Signs with an explicit pending nonce, sends to node0, waits for the receipt (status checked by the caller). */
  async function sendTx(wallet: Wallet, to: string | null, data: string, via = urls[0]!) {
    const nonce = Number(await rpc<string>(via, "eth_getTransactionCount", [wallet.address, "pending"]));
    const hash = await rpc<string>(via, "eth_sendRawTransaction", [
      await signTx(wallet, { nonce, to, data, gasLimit: 500_000n }),
    ]);
    const [receipt] = await waitReceipts(via, [hash], 120_000);
    return receipt!;
  }
  const propose = (g: Wallet, fn: string, args: unknown[], interval = 0n) =>
    sendTx(g, COMMITTEE, committeeAbi.encodeFunctionData(fn, [...args, interval]));
  const vote = (g: Wallet, id: bigint, agree = true) =>
    sendTx(g, COMMITTEE, committeeAbi.encodeFunctionData("voteProposal", [id, agree]));
  const lastId = async () => BigInt(await committeeAs(governors[0]!).getFunction("proposalCount")());
  const committeeAs = (w: Wallet) => new Contract(COMMITTEE, committeeAbi, w.connect(provider));
  const status = async (id: bigint) =>
    Number((await committeeAs(governors[0]!).getFunction("getProposalInfo")(id))[2]);
  /** g0 proposes, g1 votes: executed by the vote (2 of 3). */
  async function governed(fn: string, args: unknown[]) {
    expect((await propose(governors[0]!, fn, args)).status).toBe("0x1");
    const id = await lastId();
    expect(await status(id)).toBe(0);
    expect((await vote(governors[1]!, id)).status).toBe("0x1");
    expect(await status(id)).toBe(1);
  }
  const transfer = (w: Wallet) => sendTx(w, users[9]!.address, "0x");

  it("governs the chain: proposals, validator changes, ACLs, freeze, restart, replay", async () => {
    const [g0, g1, g2] = governors as [Wallet, Wallet, Wallet];
    const outsider = users[0]!;

    // 1) The fifth node asks to join: the validators refuse it (not on the node list).
    await waitFor(
      "a validator to refuse node4",
      async () =>
        Number(await rpc<string>(newcomerUrl, "net_peerCount")) === 0 &&
        (await blockNumber(newcomerUrl)) === 0,
      120_000,
    );

    // 2) add-observer: one vote of three is not enough; the second executes it.
    expect((await propose(g0, "createAddObserverProposal", [newcomerId])).status).toBe("0x1");
    const addId = await lastId();
    expect(await status(addId)).toBe(0);
    expect(await rpc<string[]>(urls[0]!, "getObserverList", ["group0", ""])).toEqual([]);
    expect((await vote(g1, addId)).status).toBe("0x1");
    expect(await status(addId)).toBe(1);
    expect(await rpc<string[]>(urls[0]!, "getObserverList", ["group0", ""])).toEqual([newcomerId.slice(2)]);

    // 3) A non-governor can neither propose nor vote: ethers decodes the reason.
    const notGovernor = `committee: ${outsider.address.toLowerCase()} is not a governor, only governors may propose, vote or revoke`;
    await expect(
      committeeAs(outsider).getFunction("voteProposal").staticCall(addId, true),
    ).rejects.toMatchObject({ reason: notGovernor });
    await expect(
      committeeAs(outsider).getFunction("createSetSysConfigProposal").staticCall("tx_count_limit", "5", 0n),
    ).rejects.toMatchObject({ reason: notGovernor });

    // 4) Expired (interval 1 block) and revoked proposals cannot be executed.
    expect((await propose(g0, "createSetSysConfigProposal", ["tx_count_limit", "5"], 1n)).status).toBe("0x1");
    const expiring = await lastId();
    await transfer(users[1]!);
    await transfer(users[1]!);
    await expect(
      committeeAs(g1).getFunction("voteProposal").staticCall(expiring, true),
    ).rejects.toMatchObject({
      reason: expect.stringMatching(new RegExp(`^committee: proposal ${expiring} expired at block \\d+$`)),
    });
    expect((await vote(g1, expiring)).status).toBe("0x0");
    expect((await propose(g0, "createSetSysConfigProposal", ["tx_count_limit", "6"])).status).toBe("0x1");
    const revoked = await lastId();
    expect(
      (await sendTx(g0, COMMITTEE, committeeAbi.encodeFunctionData("revokeProposal", [revoked]))).status,
    ).toBe("0x1");
    await expect(committeeAs(g2).getFunction("voteProposal").staticCall(revoked, true)).rejects.toMatchObject(
      {
        reason: `committee: proposal ${revoked} is revoked`,
      },
    );
    expect(
      await rpc<{ value: string }>(urls[0]!, "getSystemConfigByKey", ["group0", "", "tx_count_limit"]),
    ).toMatchObject({
      value: "1000",
    });

    // 5) The observer connects and syncs from genesis.
    await waitFor(
      "node4 to sync to the validators' head",
      async () => (await blockNumber(newcomerUrl)) >= (await blockNumber(urls[0]!)),
      120_000,
    );

    // 6) The halting change and any quorum-breaking one are refused with a reason.
    const unknownNode = bytesToHex(NodeKey.generate().nodeId);
    await expect(
      committeeAs(g0).getFunction("createAddSealerProposal").staticCall(unknownNode, 2n, 0n),
    ).rejects.toMatchObject({
      reason: expect.stringMatching(
        /^committee: refused: node 0x[0-9a-f]{64} is not an observer: a node becomes a sealer only after it has been an observer/,
      ),
    });
    // Blocks from every sealer first (proposers are the liveness evidence); then the observer with weight 2:
    // quorum 5 of 6, but the live sealers hold 4.
    for (let i = 0; i < 4; i++) await transfer(users[2]!);
    await expect(
      committeeAs(g0).getFunction("createAddSealerProposal").staticCall(newcomerId, 2n, 0n),
    ).rejects.toMatchObject({
      reason: expect.stringMatching(/^committee: refused: quorum unreachable: .* needs 5, .* only 4$/),
    });

    // 7) observer → sealer by proposal: the PBFT set has 5 sealers at the next height on every node.
    await governed("createAddSealerProposal", [newcomerId, 1n]);
    const changedAt = await blockNumber(urls[0]!);
    const allUrls = [...urls, newcomerUrl];
    await waitAllAtLeast(allUrls, changedAt, 120_000);
    for (const url of allUrls) {
      const sealers = await rpc<{ nodeID: string }[]>(url, "getSealerList", ["group0", ""]);
      expect(sealers.map((s) => s.nodeID)).toContain(newcomerId.slice(2));
      expect(sealers).toHaveLength(5);
    }
    // Blocks keep committing with 5 sealers (quorum 4), node4 voting; every node's PBFT runs with the 5.
    for (let i = 0; i < 3; i++) await transfer(users[3]!);
    for (const url of allUrls) {
      await waitFor(
        `${url} to run PBFT with 5 sealers past height ${changedAt}`,
        async () => {
          const c = await rpc<{ consensusNodesNum: number; blockNumber: number }>(url, "getConsensusStatus", [
            "group0",
            "",
          ]);
          return c.consensusNodesNum === 5 && c.blockNumber > changedAt;
        },
        60_000,
      );
    }
    await waitFor(
      "node4 to report itself a sealer",
      async () =>
        (await rpc<{ index: number }>(newcomerUrl, "getConsensusStatus", ["group0", ""])).index === 4,
      60_000,
    );

    // 8) Deploy ACL (allow-list): users[4] is refused with the rule, through ethers; users[5] is opened.
    await governed("createSetDeployAuthTypeProposal", [1]);
    await governed("createModifyDeployAuthProposal", [users[5]!.address, true]);
    const factory = (w: Wallet) =>
      new ContractFactory(hello.abi as never, hello.bytecode, w.connect(provider));
    await expect(factory(users[4]!).deploy()).rejects.toThrow(
      new RegExp(
        `deploy ACL: ${users[4]!.address.toLowerCase()} may not deploy contracts \\(allow-list mode`,
      ),
    );
    const deployed = await (await factory(users[5]!).deploy()).waitForDeployment();
    const helloAddress = await deployed.getAddress();

    // 9) Method ACL: the committee appoints users[5] admin of the contract; it closes set(string) for users[6].
    await governed("createResetAdminProposal", [users[5]!.address, helloAddress]);
    const setSelector = new Interface(hello.abi as never).getFunction("set")!.selector;
    const auth = new Contract(CONTRACT_AUTH, authAbi, users[5]!.connect(provider));
    await (await auth.setMethodAuthType!(helloAddress, setSelector, 2)).wait(1, 60_000);
    await (await auth.closeMethodAuth!(helloAddress, setSelector, users[6]!.address)).wait(1, 60_000);
    const helloAs = (w: Wallet) => new Contract(helloAddress, hello.abi as never, w.connect(provider));
    await expect(helloAs(users[6]!).set!("blocked")).rejects.toThrow(
      /method ACL: .* may not call .* \(deny-list mode/,
    );
    await (await helloAs(users[7]!).set!("allowed")).wait(1, 60_000);
    expect(await helloAs(users[6]!).get!()).toBe("allowed");

    // 10) A frozen account's tx is refused at RPC with the rule; accepted again after unfreeze.
    const frozen = users[8]!;
    await governed("createSetAccountStatusProposal", [frozen.address, 1]);
    await expect(
      frozen.connect(provider).sendTransaction({ to: users[9]!.address, value: 1n, gasLimit: 21_000n }),
    ).rejects.toThrow(new RegExp(`account status: ${frozen.address.toLowerCase()} is frozen`));
    await governed("createSetAccountStatusProposal", [frozen.address, 0]);
    expect((await transfer(frozen)).status).toBe("0x1");

    // 11) Restart every node: governance state is read back from disk; blocks keep committing.
    await stopNewcomer();
    for (let i = 0; i < net.nodes.length; i++) await net.stop(i);
    await net.startAll(120_000);
    startNewcomer();
    await waitFor("node4 RPC", () => blockNumber(newcomerUrl).then(() => true), 120_000);
    const info = await committeeAs(g0).getFunction("getCommitteeInfo")();
    expect(info[2].map((a: string) => a.toLowerCase())).toEqual(net.testnet.governors.map((g) => g.address));
    expect(Number(await new Contract(CONTRACT_AUTH, authAbi, provider).deployType!())).toBe(1);
    await expect(helloAs(users[6]!).set!.staticCall("again")).rejects.toThrow(/method ACL/);
    expect((await rpc<unknown[]>(urls[2]!, "getSealerList", ["group0", ""])).length).toBe(5);
    expect((await transfer(users[1]!)).status).toBe("0x1");

    // 12) node4 replayed every block from genesis into its own fresh store: same hashes and state roots.
    const head = await blockNumber(urls[0]!);
    await waitAllAtLeast(allUrls, head, 120_000);
    await assertSameChain(allUrls, head);
  }, 900_000);
});
