import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { getCreateAddress } from "ethers";
import { decodeFunctionResult, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EMPTY_CODE_HASH, encodeAccount } from "../../src/execution/stateLayout.js";
import { LevelLedger } from "../../src/ledger/index.js";
import type { ConsortNode } from "../../src/node/index.js";
import { NodeRpcBackend, type NodeRpcBackendDeps } from "../../src/node/rpcBackend.js";
import { RpcError } from "../../src/rpc/index.js";
import { silentLogger } from "../../src/util/logger.js";
import { buildCommit } from "../ledger/helpers.js";
import {
  addrOf,
  assetAbi,
  assetDeployData,
  assetTransferData,
  balanceOfData,
  CHAIN_ID,
  freshWallets,
  GROUP_ID,
  hexToBytes,
  keyOf,
  rpc,
  rpcRaw,
  rpcUrl,
  SingleNodeNet,
  signLegacyFast,
  waitReceipts,
} from "./helpers.js";

/**
 * Historical state over JSON-RPC: balances, nonces, code and eth_call at past block numbers come from the ledger's
 * undo log (the last stateHistoryBlocks blocks), not the head.
 */

const toQuantity = (n: number | bigint) => `0x${n.toString(16)}`;

describe("state at past blocks over JSON-RPC", () => {
  let net: SingleNodeNet;
  let node: ConsortNode | null = null;

  beforeAll(async () => {
    net = await SingleNodeNet.create();
    node = await net.start();
  });

  afterAll(async () => {
    await node?.close();
    await net?.remove();
  });

  it("answers eth_getBalance, eth_getTransactionCount, eth_getCode and eth_call as they were at each height", async () => {
    const n = node!;
    const url = rpcUrl(n);
    const [sender] = net.accounts;
    const senderAddress = sender!.address;
    const [receiver] = freshWallets(1, 41);
    const receiverAddress = receiver!.address;
    const startBalance = BigInt(await rpc<string>(url, "eth_getBalance", [senderAddress, "latest"]));
    const startNonce = BigInt(await rpc<string>(url, "eth_getTransactionCount", [senderAddress, "latest"]));

    /** After each tx, in its own block: height, receiver balance, sender nonce. */
    const points: { height: number; received: bigint; nonce: bigint }[] = [
      { height: n.chain.height(), received: 0n, nonce: startNonce },
    ];
    let received = 0n;
    let nonce = startNonce;
    const send = async (raw: Uint8Array) => {
      const tx = await n.txpool.add(raw);
      const [r] = await waitReceipts(n, [tx.hash], 20_000);
      nonce += 1n;
      return r!;
    };
    for (let i = 1; i <= 4; i++) {
      const value = BigInt(i) * 1000n;
      const r = await send(signLegacyFast(keyOf(sender!), { nonce, to: addrOf(receiver!), value }));
      received += value;
      points.push({ height: r.blockNumber, received, nonce });
    }
    // A token deployed, then a transfer to the receiver: eth_call balanceOf before / after it.
    const token = getCreateAddress({ from: senderAddress, nonce });
    const deployed = await send(
      signLegacyFast(keyOf(sender!), {
        nonce,
        to: null,
        data: assetDeployData(1_000_000n),
        gasLimit: 1_000_000n,
      }),
    );
    const transferred = await send(
      signLegacyFast(keyOf(sender!), {
        nonce,
        to: hexToBytes(token),
        data: assetTransferData(receiverAddress, 777n),
        gasLimit: 100_000n,
      }),
    );
    expect(transferred.blockNumber).toBeGreaterThan(deployed.blockNumber);
    const heights = points.map((p) => p.height);
    expect(new Set(heights).size).toBe(heights.length);

    for (const p of points) {
      const tag = toQuantity(p.height);
      expect(
        BigInt(await rpc<string>(url, "eth_getBalance", [receiverAddress, tag])),
        `balance at ${tag}`,
      ).toBe(p.received);
      expect(BigInt(await rpc<string>(url, "eth_getBalance", [senderAddress, tag])), `sender at ${tag}`).toBe(
        startBalance - p.received, // gas is free (gasPrice 0)
      );
      expect(
        BigInt(await rpc<string>(url, "eth_getTransactionCount", [senderAddress, tag])),
        `nonce at ${tag}`,
      ).toBe(p.nonce);
    }
    // The block just before the first transfer, and a height between two transfers, equal the earlier point.
    const before = points[1]!.height - 1;
    expect(BigInt(await rpc<string>(url, "eth_getBalance", [receiverAddress, toQuantity(before)]))).toBe(0n);

    // earliest (block 0, within the window): the genesis allocation.
    expect(BigInt(await rpc<string>(url, "eth_getBalance", [receiverAddress, "earliest"]))).toBe(0n);
    expect(BigInt(await rpc<string>(url, "eth_getBalance", [senderAddress, "earliest"]))).toBe(10n ** 24n);
    expect(BigInt(await rpc<string>(url, "eth_getTransactionCount", [senderAddress, "earliest"]))).toBe(0n);

    // Code: absent before the deploy block, present from it on.
    const codeBefore = await rpc<string>(url, "eth_getCode", [token, toQuantity(deployed.blockNumber - 1)]);
    const codeAt = await rpc<string>(url, "eth_getCode", [token, toQuantity(deployed.blockNumber)]);
    expect(codeBefore).toBe("0x");
    expect(codeAt.length).toBeGreaterThan(100);
    expect(codeAt).toBe(await rpc<string>(url, "eth_getCode", [token, "latest"]));

    // eth_call runs on the past state: the receiver's token balance before and after the transfer block.
    const balanceOf = async (tag: string) => {
      const out = await rpc<Hex>(url, "eth_call", [
        { to: token, data: `0x${Buffer.from(balanceOfData(receiverAddress)).toString("hex")}` },
        tag,
      ]);
      return decodeFunctionResult({ abi: assetAbi, functionName: "balanceOf", data: out }) as bigint;
    };
    expect(await balanceOf(toQuantity(transferred.blockNumber - 1))).toBe(0n);
    expect(await balanceOf(toQuantity(transferred.blockNumber))).toBe(777n);
    expect(await balanceOf("latest")).toBe(777n);
    // Before the deploy: no code at the address, the call returns nothing.
    const empty = await rpc<Hex>(url, "eth_call", [
      { to: token, data: `0x${Buffer.from(balanceOfData(receiverAddress)).toString("hex")}` },
      toQuantity(deployed.blockNumber - 1),
    ]);
    expect(empty).toBe("0x");

    // A block above the head is still "header not found".
    const future = await rpcRaw(url, "eth_getBalance", [receiverAddress, toQuantity(n.chain.height() + 100)]);
    expect(future.error?.message).toContain("header not found");
  });
});

describe("state outside the history window", () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "consort-history-rpc-"));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is refused with RPC_STATE_UNAVAILABLE naming the window", async () => {
    const ledger = await LevelLedger.open(
      { dataDir: dir, chainId: CHAIN_ID, groupId: GROUP_ID, stateHistoryBlocks: 3 },
      { logger: silentLogger() },
    );
    try {
      const address = hexToBytes("0x00000000000000000000000000000000000000aa");
      const accountKey = hexToBytes(`0x01${"00".repeat(19)}aa`);
      let parent: Uint8Array | null = null;
      for (let h = 0; h <= 8; h++) {
        const input = buildCommit(h, parent, [], {
          stateChanges: [
            [
              accountKey,
              encodeAccount({ nonce: BigInt(h), balance: BigInt(h) * 10n, codeHash: EMPTY_CODE_HASH }),
            ],
          ],
        });
        await ledger.commitBlock(input);
        parent = (await ledger.getBlockHash(h))!;
      }
      // Only what getBalance / getNonce touch of the chain: the ledger and the head.
      const chain = {
        genesis: { chainId: CHAIN_ID, groupId: GROUP_ID },
        ledger,
        height: () => ledger.height(),
      };
      const backend = new NodeRpcBackend({ chain } as unknown as NodeRpcBackendDeps);
      expect(await backend.getBalance(address, 5)).toBe(50n);
      expect(await backend.getNonce(address, 6)).toBe(6n);
      expect(await backend.getBalance(address, "latest")).toBe(80n);
      const err = await backend.getBalance(address, 4).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RpcError);
      expect((err as RpcError).code).toBe("RPC_STATE_UNAVAILABLE");
      expect((err as RpcError).message).toContain("last 3 blocks");
      expect((err as RpcError).message).toContain("blocks 5..8");
    } finally {
      await ledger.close();
    }
  });
});
