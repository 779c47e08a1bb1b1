import { readFile } from "node:fs/promises";
import path from "node:path";
import { type AbstractProvider, Interface, Wallet } from "ethers";
import { rpc, waitFor } from "./harness.js";

/** Helpers shared by the e2e tests: signing with ethers, JSON-RPC batches, chain comparison across nodes. */

export const CHAIN_ID = 20200n;

/**
 * ethers' `tx.wait()` polls for the receipt once and only then starts its block poller, whose first poll just records
 * the height: a block committed between the two is never announced. This chain seals no empty blocks, so on an idle
 * chain that wait hangs until its timeout (seen in CI). One block listener for the provider's life keeps the poller
 * running from before the first send, so every commit is announced (docs/rpc.md, "Client notes").
 */
export async function keepBlockPoller(provider: AbstractProvider): Promise<void> {
  await provider.on("block", () => {});
}
export const GAS_PRICE = 1_000_000_000n;
/** Committee governance (src/execution/governance): node changes are proposals. */
export const COMMITTEE = "0x0000000000000000000000000000000000010001";
export const committeeAbi = new Interface([
  "function createAddObserverProposal(string nodeId, uint256 blockNumberInterval) returns (uint256)",
  "function createRmNodeProposal(string nodeId, uint256 blockNumberInterval) returns (uint256)",
]);

export function wallets(accounts: { privateKey: string }[]): Wallet[] {
  return accounts.map((a) => new Wallet(a.privateKey));
}

/** A pre-signed legacy transaction with an explicit nonce (no provider round trips). */
export function signTx(
  wallet: Wallet,
  tx: { nonce: number; to?: string | null; value?: bigint; data?: string; gasLimit?: bigint },
): Promise<string> {
  return wallet.signTransaction({
    type: 0,
    chainId: CHAIN_ID,
    nonce: tx.nonce,
    to: tx.to ?? null,
    value: tx.value ?? 0n,
    data: tx.data ?? "0x",
    gasLimit: tx.gasLimit ?? 21_000n,
    gasPrice: GAS_PRICE,
  });
}

/** One JSON-RPC batch; throws on any per-call error. Results in request order. */
export async function rpcBatch<T = unknown>(url: string, calls: [string, unknown[]][]): Promise<T[]> {
  if (calls.length === 0) return [];
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(calls.map(([method, params], id) => ({ jsonrpc: "2.0", id, method, params }))),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as { id: number; result?: T; error?: { code: number; message: string } }[];
  if (!Array.isArray(body)) throw new Error(`batch answered with ${JSON.stringify(body).slice(0, 300)}`);
  const out: T[] = new Array(calls.length);
  for (const r of body) {
    if (r.error) throw new Error(`${calls[r.id]?.[0]}: ${r.error.message} (${r.error.code})`);
    out[r.id] = r.result as T;
  }
  return out;
}

export async function sendRaw(url: string, raw: string): Promise<string> {
  return rpc<string>(url, "eth_sendRawTransaction", [raw]);
}

export interface RpcReceipt {
  transactionHash: string;
  blockNumber: string;
  blockHash: string;
  status: string;
  contractAddress: string | null;
}

/** Polls until every hash has a receipt on `url`; returns them in order. */
export async function waitReceipts(url: string, hashes: string[], timeoutMs: number): Promise<RpcReceipt[]> {
  const found = new Map<string, RpcReceipt>();
  await waitFor(
    // Evaluated at timeout: how far it got and which txs never committed (to look up in the nodes' logs).
    () =>
      `${hashes.length} receipts on ${url} (${found.size} found; missing: ${hashes
        .filter((h) => !found.has(h))
        .slice(0, 5)
        .join(", ")}…)`,
    async () => {
      const missing = hashes.filter((h) => !found.has(h));
      for (let i = 0; i < missing.length; i += 200) {
        const chunk = missing.slice(i, i + 200);
        const rs = await rpcBatch<RpcReceipt | null>(
          url,
          chunk.map((h) => ["eth_getTransactionReceipt", [h]]),
        );
        rs.forEach((r, j) => {
          if (r) found.set(chunk[j]!, r);
        });
      }
      return found.size === hashes.length;
    },
    timeoutMs,
  );
  return hashes.map((h) => found.get(h)!);
}

export async function blockNumber(url: string): Promise<number> {
  return Number(await rpc<string>(url, "eth_blockNumber"));
}

export interface BlockSummary {
  number: number;
  hash: string;
  stateRoot: string;
  miner: string;
  txs: number;
}

/** Hash, state root and proposer of every block 0..to (batched). */
export async function blockSummaries(url: string, to: number, from = 0): Promise<BlockSummary[]> {
  const out: BlockSummary[] = [];
  for (let h = from; h <= to; h += 200) {
    const last = Math.min(to, h + 199);
    const calls: [string, unknown[]][] = [];
    for (let n = h; n <= last; n++) calls.push(["eth_getBlockByNumber", [`0x${n.toString(16)}`, false]]);
    const blocks = await rpcBatch<{
      number: string;
      hash: string;
      stateRoot: string;
      miner: string;
      transactions: unknown[];
    } | null>(url, calls);
    blocks.forEach((b, i) => {
      if (!b) throw new Error(`${url} has no block ${h + i}`);
      out.push({
        number: Number(b.number),
        hash: b.hash,
        stateRoot: b.stateRoot,
        miner: b.miner,
        txs: b.transactions.length,
      });
    });
  }
  return out;
}

/** Waits until every url reports at least `height`. */
export async function waitAllAtLeast(urls: string[], height: number, timeoutMs: number): Promise<void> {
  await waitFor(
    `all of ${urls.length} nodes at height >= ${height}`,
    async () => (await Promise.all(urls.map(blockNumber))).every((n) => n >= height),
    timeoutMs,
  );
}

/**
 * Asserts every node has the same block hash and state root at every height 0..height (each must be at least there).
 * Returns the summaries of the first node.
 */
export async function assertSameChain(urls: string[], height: number): Promise<BlockSummary[]> {
  const all = await Promise.all(urls.map((u) => blockSummaries(u, height)));
  const ref = all[0]!;
  for (let i = 1; i < all.length; i++) {
    for (let h = 0; h <= height; h++) {
      const a = ref[h]!;
      const b = all[i]![h]!;
      if (a.hash !== b.hash || a.stateRoot !== b.stateRoot) {
        throw new Error(
          `divergence at height ${h}: ${urls[0]} ${a.hash}/${a.stateRoot} vs ${urls[i]} ${b.hash}/${b.stateRoot}`,
        );
      }
    }
  }
  return ref;
}

export async function readLog(nodeDir: string): Promise<string> {
  try {
    return await readFile(path.join(nodeDir, "node.log"), "utf8");
  } catch {
    return "";
  }
}

export function consensusStatus(url: string) {
  return rpc<{
    leader: string | null;
    leaderIndex: number;
    view: number;
    blockNumber: number;
    index: number;
  }>(url, "getConsensusStatus", ["group0", ""]);
}
