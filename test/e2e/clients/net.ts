import { readFile } from "node:fs/promises";
import path from "node:path";
import { ProcessTestnet, rpc, waitFor } from "../harness.js";

/**
 * One real 4-validator testnet shared by the client suites of clients.test.ts (ethers, viem, web3.js, Hardhat, hostile
 * requests). Each suite uses its own dev account so that nonces never collide.
 *
 * For quick iteration against an already running testnet (`consort testnet` + `consort start`), set
 * CONSORT_CLIENTS_RPC=http://127.0.0.1:PORT and CONSORT_CLIENTS_ACCOUNTS=DIR/accounts.json: no process is started.
 */
export interface ClientNet {
  /** HTTP JSON-RPC of node 0. */
  url: string;
  /** WebSocket JSON-RPC of node 0 (same port, path /). */
  wsUrl: string;
  /** HTTP JSON-RPC of every node. */
  urls: string[];
  chainId: number;
  accounts: { address: string; privateKey: string }[];
  /** contracts/build/Asset.json (ERC20-like, custom error + require reasons). */
  asset: { abi: unknown[]; bytecode: `0x${string}` };
  /** null when running against an external testnet. */
  testnet: ProcessTestnet | null;
  close(): Promise<void>;
}

/** Which dev account each suite signs with (account 0 is the chain admin: left alone). */
export const ACCOUNT = { ethers: 1, viem: 2, web3: 3, hardhat: 4, hostile: 5, recipient: 9 } as const;

export const CHAIN_ID = 20200;

const REPO = path.join(import.meta.dirname, "../../..");

export async function loadAsset(): Promise<ClientNet["asset"]> {
  const json = JSON.parse(await readFile(path.join(REPO, "contracts/build/Asset.json"), "utf8")) as {
    abi: unknown[];
    bytecode: string;
  };
  return { abi: json.abi, bytecode: json.bytecode as `0x${string}` };
}

export async function startClientNet(): Promise<ClientNet> {
  const asset = await loadAsset();
  const externalUrl = process.env.CONSORT_CLIENTS_RPC;
  if (externalUrl) {
    const file = process.env.CONSORT_CLIENTS_ACCOUNTS;
    if (!file)
      throw new Error("CONSORT_CLIENTS_RPC needs CONSORT_CLIENTS_ACCOUNTS (the testnet's accounts.json)");
    const { accounts } = JSON.parse(await readFile(file, "utf8")) as { accounts: ClientNet["accounts"] };
    return {
      url: externalUrl,
      wsUrl: externalUrl.replace(/^http/, "ws"),
      urls: [externalUrl],
      chainId: CHAIN_ID,
      accounts,
      asset,
      testnet: null,
      close: async () => {},
    };
  }
  const testnet = await ProcessTestnet.create({ validators: 4 });
  try {
    await testnet.startAll(120_000);
    const urls = testnet.nodes.map((n) => n.rpcUrl);
    // Consensus needs the validators connected before the first transaction can commit.
    await waitFor(
      "all validators connected",
      async () => {
        const counts = await Promise.all(urls.map((u) => rpc<string>(u, "net_peerCount")));
        return counts.every((c) => Number(c) >= 3);
      },
      90_000,
    );
    const url = urls[0]!;
    return {
      url,
      wsUrl: url.replace(/^http/, "ws"),
      urls,
      chainId: CHAIN_ID,
      accounts: testnet.testnet.accounts,
      asset,
      testnet,
      close: () => testnet.close(),
    };
  } catch (err) {
    await testnet.close();
    throw err;
  }
}

/** `promise`, or a rejection naming `what` after `timeoutMs`: every wait in these tests is bounded. */
export function within<T>(what: string, timeoutMs: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A promise plus its resolve function, for event callbacks. */
export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Calls `send` (e.g. submit a transaction and wait for it) and again every `everyMs` until `event` settles, bounded by
 * `timeoutMs`. Subscriptions are installed asynchronously by the clients; a first transaction may commit before the
 * subscription is live, and blocks are sealed only when transactions are pending, so the event is provoked again.
 */
export async function untilEvent<T>(
  what: string,
  event: Promise<T>,
  send: () => Promise<unknown>,
  opts: { everyMs?: number; timeoutMs?: number } = {},
): Promise<T> {
  const everyMs = opts.everyMs ?? 5_000;
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let done = false;
  const settled = event.finally(() => {
    done = true;
  });
  for (;;) {
    await send();
    const left = deadline - Date.now();
    if (left <= 0) return within(what, 1, settled);
    const winner = await Promise.race([
      settled.then(() => true),
      sleep(Math.min(everyMs, left)).then(() => done),
    ]);
    if (winner) return settled;
    if (Date.now() >= deadline) return within(what, 1, settled);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
