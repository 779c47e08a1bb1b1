import { readFileSync, writeFileSync } from "node:fs";
import { Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendRaw, signTx, waitReceipts, wallets } from "./chainUtil.js";
import { ProcessTestnet, rpc } from "./harness.js";

/**
 * Acceptance (issue 11, fair pool): on a real 4-validator testnet whose nodes give each sender a share of
 * SHARE pending txs, one sender sends 10× its share to one node while 20 other senders send a transfer each to the
 * four nodes. The flooder is refused past its share with "account limit exceeded: SHARE pending"; every one of the
 * 20 transfers commits.
 */
const SHARE = 20;
const FLOOD = 10 * SHARE;
const OTHERS = 20;

interface Answer {
  id: number;
  result?: string;
  error?: { code: number; message: string };
}

/** One JSON-RPC batch of eth_sendRawTransaction; per-call answers (errors included), in request order. */
async function sendBatch(url: string, raws: string[]): Promise<Answer[]> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(
      raws.map((raw, id) => ({ jsonrpc: "2.0", id, method: "eth_sendRawTransaction", params: [raw] })),
    ),
    signal: AbortSignal.timeout(60_000),
  });
  const answers = (await res.json()) as Answer[];
  return answers.sort((a, b) => a.id - b.id);
}

describe("e2e: a pool flood from one sender", () => {
  let net: ProcessTestnet;

  beforeAll(async () => {
    net = await ProcessTestnet.create({ validators: 4 });
    for (const n of net.nodes) {
      const cfg = JSON.parse(readFileSync(n.configFile, "utf8")) as Record<string, unknown>;
      cfg.txpool = { ...(cfg.txpool as object), senderCountMax: SHARE };
      writeFileSync(n.configFile, JSON.stringify(cfg, null, 2));
    }
    await net.startAll(120_000);
    // Warm-up: the first block after a cold start is slow; commit one tx first.
    const ws = wallets(net.testnet.accounts);
    const warm = await sendRaw(net.nodes[0]!.rpcUrl, await signTx(ws[9]!, { nonce: 0, to: ws[0]!.address }));
    await waitReceipts(net.nodes[0]!.rpcUrl, [warm], 120_000);
  }, 300_000);

  afterAll(async () => {
    await net?.close();
  }, 60_000);

  it("refuses the flooder past its share with a clear error; 20 other senders' transfers all commit", async () => {
    const urls = net.nodes.map((n) => n.rpcUrl);
    const flooder = wallets(net.testnet.accounts)[1]!;
    const sink = wallets(net.testnet.accounts)[2]!.address;
    const flood = await Promise.all(
      Array.from({ length: FLOOD }, (_, nonce) => signTx(flooder, { nonce, to: sink, value: 1n })),
    );
    // Fresh, unfunded senders: a zero-value transfer costs them nothing on this zero-fee chain.
    const others = Array.from(
      { length: OTHERS },
      (_, i) => new Wallet(`0x${(0xf100 + i).toString(16).padStart(64, "0")}`),
    );
    const transfers = await Promise.all(others.map((w) => signTx(w, { nonce: 0, to: sink })));

    const t0 = performance.now();
    // The flood, in two batches to node 0 one after the other (in nonce order: two concurrent batches could be
    // admitted interleaved, filling the share with txs behind a nonce gap that rightly never seal), and meanwhile
    // the others' transfers spread over the four nodes.
    const floodInOrder = async () => {
      const first = await sendBatch(urls[0]!, flood.slice(0, FLOOD / 2));
      const second = await sendBatch(urls[0]!, flood.slice(FLOOD / 2));
      return [...first, ...second.map((a) => ({ ...a, id: a.id + FLOOD / 2 }))];
    };
    const [floodAnswers, otherHashes] = await Promise.all([
      floodInOrder(),
      Promise.all(transfers.map((raw, i) => sendRaw(urls[i % urls.length]!, raw))),
    ]);

    const accepted = floodAnswers.filter((a) => a.result !== undefined);
    const refused = floodAnswers.filter((a) => a.error !== undefined);
    expect(accepted.length + refused.length).toBe(FLOOD);
    // Every refusal is the per-sender share, in geth's words, with the number pending.
    expect(new Set(refused.map((a) => `${a.error!.code} ${a.error!.message}`))).toEqual(
      new Set([`-32000 account limit exceeded: ${SHARE} pending`]),
    );
    // The share is filled first; only what committed meanwhile frees room for more.
    expect(accepted.length).toBeGreaterThanOrEqual(SHARE);
    // Sent in nonce order, the first SHARE nonces are accepted, without a gap. (A tx accepted later, once a commit
    // freed room, sits behind the refused nonces: it rightly waits for them and is not expected to commit.)
    const firstRefused = floodAnswers.findIndex((a) => a.result === undefined);
    expect(firstRefused).toBeGreaterThanOrEqual(SHARE);
    const sealable = floodAnswers.slice(0, firstRefused);
    const committedDuringFlood = Number(
      await rpc<string>(urls[0]!, "eth_getTransactionCount", [flooder.address, "latest"]),
    );
    expect(accepted.length).toBeLessThanOrEqual(SHARE + committedDuringFlood);
    expect(refused.length).toBeGreaterThanOrEqual(FLOOD - SHARE - committedDuringFlood);

    // Every other sender's transfer commits, on every node.
    const receipts = await waitReceipts(urls[3]!, otherHashes, 60_000);
    expect(receipts.every((r) => r.status === "0x1")).toBe(true);
    const committedS = (performance.now() - t0) / 1000;
    // And the flooder's accepted txs before the gap commit too (nothing was lost).
    await waitReceipts(
      urls[0]!,
      sealable.map((a) => a.result!),
      60_000,
    );
    console.log(
      `[figures] pool flood: ${accepted.length} of ${FLOOD} accepted (${committedDuringFlood} committed during the flood), ` +
        `${refused.length} refused; ${OTHERS} other senders' transfers committed in ${committedS.toFixed(2)} s`,
    );
  }, 180_000);
});
