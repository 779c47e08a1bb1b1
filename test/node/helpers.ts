import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { RLP } from "@ethereumjs/rlp";
import { type JsonRpcProvider, type TransactionReceipt, Wallet } from "ethers";
import { type Abi, decodeErrorResult, encodeDeployData, encodeFunctionData, type Hex } from "viem";
import { loadArtifact } from "../../contracts/artifacts.js";
import { Chain } from "../../src/chain/index.js";
import { defaultTestnetOptions, type GeneratedTestnet, generateTestnet } from "../../src/cli/testnet.js";
import { decodeBlock, encodeNativeTx, encodeReceipt, hashHeader } from "../../src/codec/index.js";
import { loadGenesis, type NodeConfig, parseNodeConfig } from "../../src/config/index.js";
import { keccak256, secp256k1Sign } from "../../src/crypto/index.js";
import { DEFAULT_SYSTEM_CONFIG_VALUES, Executor, readAccount } from "../../src/execution/index.js";
import { type Ledger, LevelLedger, type ReceiptLookup } from "../../src/ledger/index.js";
import { ConsortNode } from "../../src/node/index.js";
import type { Address } from "../../src/types/index.js";
import { bigintToBytes, bytesToHex, concatBytes, hexToBytes } from "../../src/util/hex.js";
import { type Logger, silentLogger } from "../../src/util/logger.js";
import { freePort } from "../../src/util/ports.js";

export { freePort };

/** Helpers for the single-node integration tests: an in-process 1-validator node in a temp dir, signing, waits. */

export const CHAIN_ID = 20200n;
export const GROUP_ID = "group0";

export const assetArtifact = loadArtifact("Asset");
export const assetAbi = assetArtifact.abi as Abi;

export interface NodeOverrides {
  txpool?: NodeConfig["txpool"];
  consensus?: { tickMs?: number; viewTimeoutMs?: number; minSealTimeMs?: number };
  rpc?: boolean;
  /** Extra node.json `rpc` fields (syncSend, allowUnprotectedTxs, …). */
  rpcOptions?: Record<string, unknown>;
}

/** A generated 1-validator testnet in a temp dir (keys, genesis, dev accounts); nodes are started from it. */
export class SingleNodeNet {
  private constructor(
    readonly dir: string,
    readonly testnet: GeneratedTestnet,
  ) {}

  static async create(): Promise<SingleNodeNet> {
    const dir = await mkdtemp(path.join(os.tmpdir(), "consort-node-"));
    const testnet = await generateTestnet({
      ...defaultTestnetOptions,
      outDir: dir,
      validators: 1,
      observers: 0,
      rpcPortBase: 8545,
      p2pPortBase: 30300,
      // Dev keys: account 0 is the only governor (RPC stays on 127.0.0.1).
      devKeys: true,
    });
    return new SingleNodeNet(dir, testnet);
  }

  /** Dev account wallets (account 0 is the only governor; each holds 10^24 wei). */
  get accounts(): Wallet[] {
    return this.testnet.accounts.map((a) => new Wallet(a.privateKey));
  }

  get configFile(): string {
    return this.testnet.nodes[0]!.configFile;
  }

  /** node0's config with ephemeral ports (RPC and p2p on port 0), silent logs and the overrides. */
  async config(o: NodeOverrides = {}): Promise<NodeConfig> {
    const json = JSON.parse(await readFile(this.configFile, "utf8")) as Record<string, unknown>;
    json.rpc = { host: "127.0.0.1", port: 0, enabled: o.rpc ?? true, ...o.rpcOptions };
    json.p2p = { listen: ["/ip4/127.0.0.1/tcp/0"], peers: [] };
    json.log = { level: "silent", pretty: false };
    json.metrics = { host: "127.0.0.1", port: 0 };
    if (o.txpool) json.txpool = o.txpool;
    json.consensus = { tickMs: 20, viewTimeoutMs: 3000, minSealTimeMs: 20, ...o.consensus };
    return parseNodeConfig(json, this.configFile);
  }

  async start(o: NodeOverrides = {}, logger: Logger = silentLogger()): Promise<ConsortNode> {
    const node = await ConsortNode.create(await this.config(o), { logger });
    trackCommits(node);
    await node.start(); // a failed start stops what it had started
    return node;
  }

  /**
   * Sets the genesis gas limits (before the first start): tx_gas_limit and, where the chain has one, the block gas
   * limit (block_gas_limit), which is also the cap of eth_call / eth_estimateGas without a gas field.
   */
  async setGasLimits(gas: bigint): Promise<void> {
    const file = this.testnet.genesisFile;
    const genesis = JSON.parse(await readFile(file, "utf8")) as { systemConfig?: Record<string, string> };
    const systemConfig: Record<string, string> = { ...genesis.systemConfig, tx_gas_limit: gas.toString() };
    if ("block_gas_limit" in DEFAULT_SYSTEM_CONFIG_VALUES) systemConfig.block_gas_limit = gas.toString();
    await writeFile(file, JSON.stringify({ ...genesis, systemConfig }));
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function rpcUrl(node: ConsortNode): string {
  if (!node.rpc) throw new Error("RPC disabled");
  return node.rpc.url;
}

/** Polls `check` every `intervalMs` until it is true; throws `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 20,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Height of the last block whose commit listeners ran (the chain's config/validator view is refreshed by then). */
const notified = new WeakMap<ConsortNode, { height: number }>();

function trackCommits(node: ConsortNode): void {
  const seen = { height: node.chain.height() };
  notified.set(node, seen);
  node.chain.onCommit((c) => {
    seen.height = c.block.header.number;
  });
}

/**
 * Waits until every tx hash has a receipt in the node's ledger and the chain has finished committing their blocks
 * (a receipt is readable as soon as the ledger batch lands, slightly before the chain refreshes its system config
 * and validator view and runs its commit listeners); returns them in order.
 */
export async function waitReceipts(
  node: ConsortNode,
  hashes: Uint8Array[],
  timeoutMs: number,
): Promise<ReceiptLookup[]> {
  const found = new Map<number, ReceiptLookup>();
  await waitFor(
    `${hashes.length} receipts (height ${node.chain.height()})`,
    async () => {
      for (let i = 0; i < hashes.length; i++) {
        if (found.has(i)) continue;
        const r = await node.ledger.getReceipt(hashes[i]!);
        if (r === null) return false;
        found.set(i, r);
      }
      return true;
    },
    timeoutMs,
    25,
  );
  const seen = notified.get(node);
  if (seen) {
    const top = Math.max(0, ...[...found.values()].map((r) => r.blockNumber));
    await waitFor(`commit listeners of block ${top}`, () => seen.height >= top, timeoutMs, 5);
  }
  return hashes.map((_, i) => found.get(i)!);
}

/**
 * The receipt of `hash`, polled every 50 ms for at most 30 s. Not ethers' wait(): it checks once, then waits for a
 * NEW block, and a chain that makes no empty blocks may never make one when the tx's block came between that check
 * and the first poll of ethers' block poller (docs/rpc.md); nor waitForDeployment(), which waits the same way.
 */
export async function pollReceipt(provider: JsonRpcProvider, hash: string): Promise<TransactionReceipt> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const receipt = await provider.getTransactionReceipt(hash);
    if (receipt) return receipt;
    if (Date.now() > deadline) throw new Error(`no receipt for ${hash} within 30 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One JSON-RPC call; returns the whole response body (result or error). */
export async function rpcRaw(
  url: string,
  method: string,
  params: unknown[] = [],
): Promise<{ result?: unknown; error?: { code: number; message: string; data?: unknown } }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(15_000),
  });
  return (await res.json()) as { result?: unknown; error?: { code: number; message: string } };
}

export async function rpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const body = await rpcRaw(url, method, params);
  if (body.error) throw new Error(`${method}: ${body.error.message} (${body.error.code})`);
  return body.result as T;
}

// ---------------------------------------------------------------- signing

/**
 * A legacy (type 0, EIP-155) tx signed with the native secp256k1 binding: ~20× faster than ethers, for bulk
 * pre-signing. Equivalence with ethers is checked in singleNode.test.ts.
 */
export function signLegacyFast(
  privateKey: Uint8Array,
  f: {
    nonce: bigint;
    to: Address | null;
    value?: bigint;
    data?: Uint8Array;
    gasLimit?: bigint;
    gasPrice?: bigint;
  },
  chainId = CHAIN_ID,
): Uint8Array {
  const fields = [
    bigintToBytes(f.nonce),
    bigintToBytes(f.gasPrice ?? 0n),
    bigintToBytes(f.gasLimit ?? 21_000n),
    f.to ?? new Uint8Array(0),
    bigintToBytes(f.value ?? 0n),
    f.data ?? new Uint8Array(0),
  ];
  const digest = keccak256(
    RLP.encode([...fields, bigintToBytes(chainId), new Uint8Array(0), new Uint8Array(0)]),
  );
  const { signature, recovery } = secp256k1Sign(digest, privateKey);
  const v = BigInt(recovery) + chainId * 2n + 35n;
  return RLP.encode([
    ...fields,
    bigintToBytes(v),
    strip(signature.subarray(0, 32)),
    strip(signature.subarray(32)),
  ]);
}

function strip(b: Uint8Array): Uint8Array {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
}

/** A native (0x7c) FISCO-style tx: random 16-byte nonce, blockLimit height + 500 unless given. */
export function signNative(
  privateKey: Uint8Array,
  height: number,
  o: {
    to?: Address | null;
    value?: bigint;
    input?: Uint8Array;
    gasLimit?: bigint;
    blockLimit?: number;
    nonce?: Uint8Array;
    chainId?: bigint;
  } = {},
): Uint8Array {
  return encodeNativeTx(
    {
      chainId: o.chainId ?? CHAIN_ID,
      groupId: GROUP_ID,
      nonce: o.nonce ?? new Uint8Array(randomBytes(16)),
      blockLimit: o.blockLimit ?? height + 500,
      to: o.to === undefined ? hexToBytes("0x00000000000000000000000000000000000000aa") : o.to,
      value: o.value ?? 0n,
      input: o.input ?? new Uint8Array(0),
      gasLimit: o.gasLimit ?? 100_000n,
      gasPrice: 0n,
    },
    privateKey,
  );
}

export function keyOf(w: Wallet): Uint8Array {
  return hexToBytes(w.privateKey);
}

export function addrOf(w: Wallet): Address {
  return hexToBytes(w.address);
}

/** Deterministic fresh wallets (not funded at genesis). */
export function freshWallets(n: number, seed: number): Wallet[] {
  return Array.from({ length: n }, (_, i) => {
    const key = new Uint8Array(32);
    key[0] = seed;
    key[30] = (i + 1) >> 8;
    key[31] = (i + 1) & 0xff;
    return new Wallet(bytesToHex(key));
  });
}

export function assetDeployData(supply: bigint): Uint8Array {
  return hexToBytes(
    encodeDeployData({
      abi: assetAbi,
      bytecode: assetArtifact.bytecode as Hex,
      args: ["Token", "TKN", supply],
    }),
  );
}

export function assetTransferData(to: string, amount: bigint): Uint8Array {
  return hexToBytes(
    encodeFunctionData({ abi: assetAbi, functionName: "transfer", args: [to as Hex, amount] }),
  );
}

export function balanceOfData(who: string): Uint8Array {
  return hexToBytes(encodeFunctionData({ abi: assetAbi, functionName: "balanceOf", args: [who as Hex] }));
}

/** Decodes an Error(string) revert payload; throws if it is not one. */
export function decodeErrorString(output: Uint8Array): string {
  const decoded = decodeErrorResult({ abi: [], data: bytesToHex(output) as Hex });
  if (decoded.errorName !== "Error") throw new Error(`not Error(string): ${decoded.errorName}`);
  return decoded.args[0] as string;
}

/** Opens a node's ledger (the node must be closed) from its data dir. */
export async function openLedger(dataDir: string): Promise<LevelLedger> {
  return LevelLedger.open(
    { dataDir: path.join(dataDir, "ledger"), chainId: CHAIN_ID, groupId: GROUP_ID },
    { logger: silentLogger() },
  );
}

/**
 * Replays every committed block of `source` (as stored: payload + certificate) into a fresh LevelDB ledger in
 * `freshDir` through the chain's own path (certificate check against the validators in force, then commit with
 * the payload: decode, execute in verify mode, compare roots, write). Then compares, at every height, the block
 * hash, state root, receipt root and every receipt's encoding with the source. Returns the heights replayed.
 */
export async function replayAndCompare(
  source: Ledger,
  genesisFile: string,
  freshDir: string,
  /** Accounts whose stored state (nonce, balance, code hash) must match after the replay. */
  accounts: Address[] = [],
): Promise<number> {
  const genesis = await loadGenesis(genesisFile);
  const fresh = await LevelLedger.open(
    { dataDir: freshDir, chainId: genesis.chainId, groupId: genesis.groupId },
    { logger: silentLogger() },
  );
  try {
    const chain = new Chain(genesis, {
      ledger: fresh,
      executor: new Executor({}, { logger: silentLogger() }),
      logger: silentLogger(),
    });
    await chain.init();
    const height = source.height();
    const mismatches: string[] = [];
    const check = (
      h: number,
      what: string,
      a: Uint8Array | null | undefined,
      b: Uint8Array | null | undefined,
    ) => {
      if (!a || !b || bytesToHex(a) !== bytesToHex(b)) mismatches.push(`height ${h}: ${what} differs`);
    };
    check(0, "genesis hash", source.genesisHash(), fresh.genesisHash());
    for (let h = 1; h <= height; h++) {
      const payload = await source.getBlockBytes(h);
      if (payload === null) throw new Error(`source has no block ${h}`);
      const block = decodeBlock(payload, { chainId: genesis.chainId });
      const hash = hashHeader(block.header);
      const cert = block.certificate;
      if (cert === null) throw new Error(`block ${h} has no certificate`);
      const verdict = chain.checkCertificate(cert, hash);
      if (!verdict.ok) throw new Error(`block ${h}: certificate rejected (${JSON.stringify(verdict)})`);
      const committed = await chain.commit(hash, cert, payload);
      if (committed === null) throw new Error(`block ${h} was already committed in the fresh store`);
      const [a, b] = await Promise.all([source.getHeader(h), fresh.getHeader(h)]);
      check(h, "block hash", await source.getBlockHash(h), await fresh.getBlockHash(h));
      check(h, "state root", a?.stateRoot, b?.stateRoot);
      check(h, "receipt root", a?.receiptRoot, b?.receiptRoot);
      const [ra, rb] = await Promise.all([source.getBlockReceipts(h), fresh.getBlockReceipts(h)]);
      if (ra.length !== rb.length || ra.length !== block.transactions.length) {
        mismatches.push(
          `height ${h}: ${ra.length} vs ${rb.length} receipts for ${block.transactions.length} txs`,
        );
      }
      for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
        check(h, `receipt ${i}`, encodeReceipt(ra[i]!), encodeReceipt(rb[i]!));
      }
    }
    check(height, "head hash", source.head()?.hash, fresh.head()?.hash);
    for (const a of accounts) {
      const [x, y] = await Promise.all([readAccount(source, a), readAccount(fresh, a)]);
      if (
        x.nonce !== y.nonce ||
        x.balance !== y.balance ||
        bytesToHex(x.codeHash) !== bytesToHex(y.codeHash)
      ) {
        mismatches.push(
          `account ${bytesToHex(a)}: stored state differs (${x.nonce}/${x.balance} vs ${y.nonce}/${y.balance})`,
        );
      }
    }
    if (mismatches.length > 0) throw new Error(`replay differs:\n${mismatches.slice(0, 20).join("\n")}`);
    return height;
  } finally {
    await fresh.close();
  }
}

export { bytesToHex, concatBytes, hexToBytes };
