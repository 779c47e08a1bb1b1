/**
 * The workload: clients that submit native transactions (random nonce + blockLimit, so one account can have many
 * in flight and a lost one never blocks the next) over JSON-RPC, client c to node c mod 4, and wait for the
 * receipt on that node. A tx is acknowledged when its receipt was seen: the checker holds the chain to those.
 */

import { encodeNativeTx } from "../../src/codec/index.js";
import { keccak256 } from "../../src/crypto/index.js";
import { bytesToHex } from "../../src/util/hex.js";
import type { History } from "./history.js";
import { heightOf, neverReached, rpcCall, sleep } from "./rpc.js";

const RECEIPT_WAIT_MS = 20_000;
const RECEIPT_POLL_MS = 250;
const BLOCK_LIMIT_AHEAD = 500;

interface Receipt {
  blockNumber: string;
  blockHash: string;
}

export class Workload {
  private stopping = false;
  private loops: Promise<void>[] = [];
  private readonly knownHeight: number[];
  private readonly counters: number[] = [];
  submitted = 0;

  constructor(
    private readonly urls: string[],
    private readonly history: History,
    private readonly clients: number,
    private readonly runTag: string,
    private readonly chainId: bigint,
    /** The testnet's funded accounts' private keys (fresh for every run): client c uses account 1 + c. */
    private readonly accountKeys: readonly Uint8Array[],
  ) {
    this.knownHeight = urls.map(() => 0);
  }

  start(): void {
    this.stopping = false;
    this.loops = Array.from({ length: this.clients }, (_, c) => this.clientLoop(c));
  }

  /** Stops submitting and waits for the txs in flight (their receipt or their timeout). */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
    this.loops = [];
  }

  private async clientLoop(client: number): Promise<void> {
    const key = this.accountKeys[1 + client];
    if (key === undefined) throw new Error(`no funded account for client ${client}`);
    while (!this.stopping) {
      // Each client keeps to one node: the clients of an isolated or killed node stall, the others keep the load up.
      const node = client % this.urls.length;
      // The counter outlives stop/start: a native nonce is never reused.
      const counter = (this.counters[client] ?? 0) + 1;
      this.counters[client] = counter;
      await this.submitOne(client, node, key, `${this.runTag}/${client}/${counter}`);
      await sleep(20);
    }
  }

  private async submitOne(client: number, node: number, key: Uint8Array, nonceText: string): Promise<void> {
    const url = this.urls[node]!;
    const height = (await heightOf(url, 2000)) ?? this.knownHeight[node]!;
    this.knownHeight[node] = height;
    const raw = encodeNativeTx(
      {
        chainId: this.chainId,
        groupId: "group0",
        nonce: keccak256(new TextEncoder().encode(nonceText)),
        blockLimit: height + BLOCK_LIMIT_AHEAD,
        to: keccak256(new TextEncoder().encode(`to ${nonceText}`)).subarray(12),
        value: 1n,
        input: new Uint8Array(),
        gasLimit: 21_000n,
        gasPrice: 0n,
      },
      key,
    );
    const tx = bytesToHex(keccak256(raw));
    this.history.record({ type: "invoke", client, node, tx });
    this.submitted++;
    try {
      await rpcCall<string>(url, "eth_sendRawTransaction", [bytesToHex(raw)], 5000);
    } catch (err) {
      const definite = neverReached(err) || (err as { answered?: boolean }).answered === true;
      this.history.record({ type: definite ? "fail" : "info", client, node, tx, reason: String(err) });
      if (definite) await sleep(200);
      return;
    }
    const deadline = Date.now() + RECEIPT_WAIT_MS;
    while (Date.now() < deadline) {
      try {
        const r = await rpcCall<Receipt | null>(url, "eth_getTransactionReceipt", [tx], 3000);
        if (r) {
          this.history.record({
            type: "ok",
            client,
            node,
            tx,
            blockNumber: Number(r.blockNumber),
            blockHash: r.blockHash,
          });
          return;
        }
      } catch {}
      // A stop ends the wait early: the tx stays "unknown" (info), which the checker does not count as acknowledged.
      if (this.stopping && Date.now() > deadline - RECEIPT_WAIT_MS / 2) break;
      await sleep(RECEIPT_POLL_MS);
    }
    this.history.record({ type: "info", client, node, tx, reason: "no receipt seen" });
  }
}
