import type { Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertSameChain,
  blockNumber,
  consensusStatus,
  sendRaw,
  signTx,
  waitReceipts,
  wallets,
} from "./chainUtil.js";
import { ProcessTestnet, rpc, waitFor } from "./harness.js";

/**
 * Acceptance: SIGKILL one validator (also the leader): the other three keep committing; the killed one restarts,
 * catches up and rejoins; no committed transaction is lost on any node. Two validators down: the chain halts safely
 * and resumes when one returns.
 */
describe("e2e: crash faults on a 4-validator chain", () => {
  let net: ProcessTestnet;
  let sender: Wallet;
  let nonce = 0;
  const committed: string[] = [];

  const url = (i: number) => net.nodes[i]!.rpcUrl;
  const head = async (i: number) => {
    const b = await rpc<{ number: string; hash: string }>(url(i), "eth_getBlockByNumber", ["latest", false]);
    return { number: Number(b.number), hash: b.hash };
  };

  /** Sends `count` transfers to node `via`; returns their hashes. */
  async function send(via: number, count: number): Promise<string[]> {
    const to = net.testnet.accounts[9]!.address;
    const hashes: string[] = [];
    for (let i = 0; i < count; i++) {
      hashes.push(await sendRaw(url(via), await signTx(sender, { nonce: nonce++, to, value: 1n })));
    }
    return hashes;
  }

  /** Index in `net.nodes` of the validator that leads the next round, as node `ask` sees it. */
  async function leaderIndex(ask: number): Promise<number> {
    const s = await consensusStatus(url(ask));
    const leader = s.leader?.replace(/^0x/, "");
    const i = net.nodes.findIndex((n) => n.nodeId.replace(/^0x/, "") === leader);
    expect(i, `leader ${s.leader}`).toBeGreaterThanOrEqual(0);
    return i;
  }

  /** Restarts node i and returns the ms until it reports the same head (number and hash) as node `ref`. */
  /** Restarts node i; returns the ms from spawn, and from its JSON-RPC answering, until it has `ref`'s head. */
  async function restartAndCatchUp(i: number, ref: number): Promise<string> {
    const target = await head(ref);
    const t0 = performance.now();
    let upAt: number | null = null;
    net.start(i);
    await waitFor(
      `node${i} to catch up to ${target.number}`,
      async () => {
        const h = await head(i);
        upAt ??= performance.now();
        return (
          h.number >= target.number &&
          (await rpc<{ hash: string }>(url(i), "eth_getBlockByNumber", [
            `0x${target.number.toString(16)}`,
            false,
          ]))!.hash === target.hash
        );
      },
      120_000,
    );
    const now = performance.now();
    return `${((now - t0) / 1000).toFixed(2)} s after spawn (${((now - (upAt ?? now)) / 1000).toFixed(2)} s after its RPC answered)`;
  }

  beforeAll(async () => {
    net = await ProcessTestnet.create({ validators: 4 });
    sender = wallets(net.testnet.accounts)[1]!;
    await net.startAll(120_000);
  }, 180_000);

  afterAll(async () => {
    await net?.close();
  }, 60_000);

  it("keeps committing with one validator down, and the killed one catches up and rejoins", async () => {
    const first = await send(0, 10);
    await waitReceipts(url(0), first, 120_000);
    committed.push(...first);

    // 1) SIGKILL a validator that is not the leader.
    const leader = await leaderIndex(0);
    const victim = (leader + 1) % 4;
    await net.kill(victim);
    const live1 = [0, 1, 2, 3].filter((i) => i !== victim);
    // Several rounds, so the victim falls several blocks behind.
    const heightBefore = await blockNumber(url(live1[0]!));
    for (let round = 0; round < 6; round++) {
      const during1 = await send(live1[round % 3]!, 2);
      for (const i of live1) await waitReceipts(url(i), during1, 120_000);
      committed.push(...during1);
    }
    console.log(
      `[figures] node${victim} is ${(await blockNumber(url(live1[0]!))) - heightBefore} blocks behind`,
    );

    const catchUp1 = await restartAndCatchUp(victim, live1[0]!);
    console.log(`[figures] restarted non-leader node${victim} caught up in ${catchUp1}`);

    // 2) SIGKILL a second validator, never the restarted one: the leader, unless the restarted node leads next
    //    (then another one). The three left include the restarted node, and a block needs all three votes
    //    (quorum 3 of 4), so blocks committing now prove it rejoined consensus.
    const leader2 = await leaderIndex(live1[0]!);
    const second = leader2 !== victim ? leader2 : (victim + 1) % 4;
    await net.kill(second);
    const live2 = [0, 1, 2, 3].filter((i) => i !== second);
    expect(live2).toContain(victim);
    const during2 = await send(live2.find((i) => i !== victim)!, 10);
    for (const i of live2) await waitReceipts(url(i), during2, 120_000);
    committed.push(...during2);

    const catchUp2 = await restartAndCatchUp(second, live2[0]!);
    console.log(
      `[figures] restarted node${second} (${second === leader2 ? "the leader" : "the restarted node led"}) caught up in ${catchUp2}`,
    );

    // Everyone, the restarted ones included, still has every committed tx and agrees on the chain.
    const after = await send(second, 5);
    for (let i = 0; i < 4; i++) await waitReceipts(url(i), after, 120_000);
    committed.push(...after);
    for (let i = 0; i < 4; i++) await waitReceipts(url(i), committed, 30_000);
    const h = Math.min(...(await Promise.all([0, 1, 2, 3].map((i) => blockNumber(url(i))))));
    await assertSameChain([0, 1, 2, 3].map(url), h);
  }, 600_000);

  it("halts safely with two validators down and resumes when one returns", async () => {
    const down = [1, 2];
    const up = [0, 3];
    for (const i of down) await net.kill(i);
    const before = await Promise.all(up.map(head));
    const pending = await send(0, 5);

    // No quorum (2 of 4 < 3): no block within a generous window, and the two survivors do not diverge.
    const windowMs = 15_000;
    const deadline = Date.now() + windowMs;
    while (Date.now() < deadline) {
      const now = await Promise.all(up.map(head));
      expect(now.map((x) => x.number)).toEqual(before.map((x) => x.number));
      await new Promise((r) => setTimeout(r, 1000));
    }
    const frozen = await Promise.all(up.map(head));
    expect(frozen[0]!.hash).toBe(frozen[1]!.hash);
    for (const hsh of pending) expect(await rpc(url(0), "eth_getTransactionReceipt", [hsh])).toBeNull();

    // One returns: quorum is back and the pending txs commit.
    const t0 = performance.now();
    net.start(down[0]!);
    for (const i of [...up, down[0]!]) await waitReceipts(url(i), pending, 180_000);
    console.log(
      `[figures] chain resumed ${((performance.now() - t0) / 1000).toFixed(2)} s after a 3rd validator returned`,
    );
    committed.push(...pending);

    // The last one returns and catches up; nothing committed is lost anywhere.
    const catchUp = await restartAndCatchUp(down[1]!, 0);
    console.log(`[figures] node${down[1]} caught up in ${catchUp}`);
    for (let i = 0; i < 4; i++) await waitReceipts(url(i), committed, 30_000);
    const h = Math.min(...(await Promise.all([0, 1, 2, 3].map((i) => blockNumber(url(i))))));
    await assertSameChain([0, 1, 2, 3].map(url), h);
  }, 600_000);
});
