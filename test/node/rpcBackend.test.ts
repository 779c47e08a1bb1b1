import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Chain, CommittedBlock } from "../../src/chain/index.js";
import { keccak256 } from "../../src/crypto/index.js";
import type { ConsortNode } from "../../src/node/index.js";
import { NodeRpcBackend, type NodeRpcBackendDeps } from "../../src/node/rpcBackend.js";
import { WsClient } from "../rpc/helpers.js";
import {
  bytesToHex,
  hexToBytes,
  keyOf,
  rpc,
  rpcUrl,
  SingleNodeNet,
  signLegacyFast,
  waitFor,
} from "./helpers.js";

describe("NodeRpcBackend new-block events", () => {
  it("an unsubscribe detaches: subscribing and unsubscribing again does not grow the chain's listeners", () => {
    const chainListeners: ((c: CommittedBlock) => void)[] = [];
    const chain = {
      genesis: { chainId: 20200n, groupId: "group0" },
      height: () => 0,
      onCommit: (l: (c: CommittedBlock) => void) => chainListeners.push(l),
    } as unknown as Chain;
    const backend = new NodeRpcBackend({ chain } as unknown as NodeRpcBackendDeps);
    for (let i = 0; i < 5; i++) {
      const off = backend.onNewBlock(() => {});
      expect(backend.newBlockListenerCount).toBe(1);
      off();
      expect(backend.newBlockListenerCount).toBe(0);
    }
    expect(chainListeners).toHaveLength(1);
  });

  describe("on a real node", () => {
    let net: SingleNodeNet;
    let node: ConsortNode;
    beforeAll(async () => {
      net = await SingleNodeNet.create();
      node = await net.start();
    });
    afterAll(async () => {
      await node?.close();
      await net?.remove();
    });

    it("a detached listener hears no more blocks; eth_unsubscribe stops a WebSocket subscription's notifications", async () => {
      const url = rpcUrl(node);
      const backend = (node.rpc as unknown as { backend: NodeRpcBackend }).backend;
      const kept: number[] = [];
      const dropped: number[] = [];
      const offKept = backend.onNewBlock((ev) => kept.push(ev.block.header.number));
      const offDropped = backend.onNewBlock((ev) => dropped.push(ev.block.header.number));
      offDropped();
      const ws = await WsClient.open(url.replace(/^http/, "ws"));
      try {
        const [gone, live] = [
          (await ws.call("eth_subscribe", ["newHeads"])).result,
          (await ws.call("eth_subscribe", ["newHeads"])).result,
        ];
        expect((await ws.call("eth_unsubscribe", [gone])).result).toBe(true);
        const raw = signLegacyFast(keyOf(net.accounts[2]!), {
          nonce: 0n,
          to: hexToBytes("0x00000000000000000000000000000000000000bc"),
          value: 1n,
        });
        await rpc<string>(url, "eth_sendRawTransaction", [bytesToHex(raw)]);
        // The live subscription's notification and the kept listener's event come after the block's commit,
        // so by then the detached ones would have fired too.
        const note = await ws.next((m) => m.params?.subscription === live, 30_000);
        await waitFor(
          "the kept listener's event",
          () => kept.includes(Number(note.params.result.number)),
          30_000,
        );
        expect(dropped).toEqual([]);
        expect(ws.messages.filter((m) => m.params?.subscription === gone)).toEqual([]);
      } finally {
        offKept();
        await ws.close();
      }
    });

    it("eth_call's COINBASE is the no-proposer address, keccak256 of the all-zero node ID, on every call", async () => {
      // Init code run by a call without `to`: COINBASE, PUSH1 0, MSTORE, PUSH1 32, PUSH1 0, RETURN.
      const data = "0x4160005260206000f3";
      const expected = `0x${bytesToHex(keccak256(new Uint8Array(32)).subarray(12))
        .slice(2)
        .padStart(64, "0")}`;
      for (let i = 0; i < 2; i++)
        expect(await rpc<string>(rpcUrl(node), "eth_call", [{ data }, "latest"])).toBe(expected);
    });

    it("newHeads carries the block's real size, as eth_getBlockByNumber reports it", async () => {
      const url = rpcUrl(node);
      const ws = await WsClient.open(url.replace(/^http/, "ws"));
      try {
        const sub = (await ws.call("eth_subscribe", ["newHeads"])).result;
        const raw = signLegacyFast(keyOf(net.accounts[1]!), {
          nonce: 0n,
          to: hexToBytes("0x00000000000000000000000000000000000000bb"),
          value: 1n,
        });
        await rpc<string>(url, "eth_sendRawTransaction", [bytesToHex(raw)]);
        const note = await ws.next((m) => m.params?.subscription === sub, 30_000);
        const head = note.params.result;
        expect(head.size).not.toBe("0x0");
        const block = await rpc<{ size: string; hash: string }>(url, "eth_getBlockByNumber", [
          head.number,
          false,
        ]);
        expect(head.hash).toBe(block.hash);
        expect(head.size).toBe(block.size);
      } finally {
        await ws.close();
      }
    });
  });
});
