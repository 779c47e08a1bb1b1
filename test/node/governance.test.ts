import { encodeFunctionData } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { governance } from "../../src/execution/index.js";
import type { ConsortNode } from "../../src/node/index.js";
import { TxPoolError } from "../../src/txpool/index.js";
import { ReceiptStatus } from "../../src/types/index.js";
import {
  assetDeployData,
  hexToBytes,
  keyOf,
  rpcRaw,
  rpcUrl,
  SingleNodeNet,
  signLegacyFast,
  waitReceipts,
} from "./helpers.js";

/**
 * Issue 12 at the pool: what admission can decide alone is refused there, naming the rule (frozen sender, deploy
 * ACL), and through RPC as -32000 with the same text. One governor (dev account 0): each proposal executes at once.
 */
describe("single node: permissions refused at pool admission", () => {
  let net: SingleNodeNet;
  let node: ConsortNode;
  let nonce = 0n;

  beforeAll(async () => {
    net = await SingleNodeNet.create();
    node = await net.start();
  });
  afterAll(async () => {
    await node?.close();
    await net?.remove();
  });

  async function propose(functionName: string, args: unknown[]) {
    const data = encodeFunctionData({
      abi: governance.COMMITTEE_ABI,
      functionName,
      args: [...args, 0n],
    } as never);
    const tx = await node.txpool.add(
      signLegacyFast(keyOf(net.accounts[0]!), {
        nonce: nonce++,
        to: governance.COMMITTEE_ADDRESS,
        data: hexToBytes(data),
        gasLimit: 1_000_000n,
      }),
    );
    const [r] = await waitReceipts(node, [tx.hash], 20_000);
    expect(r!.receipt.status).toBe(ReceiptStatus.Success);
  }

  const refusal = (raw: Uint8Array) =>
    node.txpool.add(raw).then(
      () => null,
      (e: unknown) => e,
    );

  it("a frozen sender is refused at admission and over RPC; accepted after unfreeze", async () => {
    const user = net.accounts[3]!;
    await propose("createSetAccountStatusProposal", [user.address, 1]);
    const raw = signLegacyFast(keyOf(user), {
      nonce: 0n,
      to: hexToBytes(net.accounts[4]!.address),
      value: 1n,
    });
    const err = await refusal(raw);
    expect(err).toBeInstanceOf(TxPoolError);
    expect(err).toMatchObject({
      code: "TXPOOL_NOT_PERMITTED",
      message: `account status: ${user.address.toLowerCase()} is frozen, its transactions are refused`,
    });
    const body = await rpcRaw(rpcUrl(node), "eth_sendRawTransaction", [
      `0x${Buffer.from(raw).toString("hex")}`,
    ]);
    expect(body.error).toMatchObject({ code: -32000, message: expect.stringContaining("account status:") });
    await propose("createSetAccountStatusProposal", [user.address, 0]);
    const ok = await node.txpool.add(raw);
    const [r] = await waitReceipts(node, [ok.hash], 20_000);
    expect(r!.receipt.status).toBe(ReceiptStatus.Success);
  });

  it("the deploy ACL refuses a top-level deployment at admission", async () => {
    await propose("createSetDeployAuthTypeProposal", [1]);
    const deployer = net.accounts[5]!;
    const raw = signLegacyFast(keyOf(deployer), {
      nonce: 0n,
      to: null,
      data: assetDeployData(1000n),
      gasLimit: 1_000_000n,
    });
    expect(await refusal(raw)).toMatchObject({
      code: "TXPOOL_NOT_PERMITTED",
      message: `deploy ACL: ${deployer.address.toLowerCase()} may not deploy contracts (allow-list mode, the account is not on the list)`,
    });
    await propose("createModifyDeployAuthProposal", [deployer.address, true]);
    const tx = await node.txpool.add(raw);
    const [r] = await waitReceipts(node, [tx.hash], 20_000);
    expect(r!.receipt.status).toBe(ReceiptStatus.Success);
  });
});
