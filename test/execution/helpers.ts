import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Wallet } from "ethers";
import { Level } from "level";
import { loadArtifact } from "../../contracts/artifacts.js";
import { decodeTransaction, encodeNativeTx } from "../../src/codec/index.js";
import { NodeKey } from "../../src/crypto/index.js";
import {
  type BlockContext,
  type ExecutedBlock,
  Executor,
  type ExecutorOptions,
  type GenesisSpec,
  genesisState,
  type StateChange,
  type StateReader,
} from "../../src/execution/index.js";
import type { Address, Hash, Transaction } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { silentLogger } from "../../src/util/logger.js";

export const CHAIN_ID = 20200n;
export const GROUP_ID = "group0";

/** Flat state in memory: a StateReader plus apply(changes), like the ledger's state bucket. */
export class MemoryState implements StateReader {
  readonly map = new Map<string, Uint8Array>();
  async getState(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.map.get(bytesToHex(key));
  }
  async apply(changes: readonly StateChange[]): Promise<void> {
    for (const [k, v] of changes) {
      if (v === null) this.map.delete(bytesToHex(k));
      else this.map.set(bytesToHex(k), v);
    }
  }
}

/** Flat state in a real LevelDB (`level`, as the ledger opens it) in a temp dir: what the ledger does, minus blocks. */
export class LevelState implements StateReader {
  private constructor(
    private readonly db: Level<Uint8Array, Uint8Array>,
    private readonly dir: string,
  ) {}
  static async open(): Promise<LevelState> {
    const dir = await mkdtemp(join(tmpdir(), "consort-exec-"));
    const db = new Level<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
    await db.open();
    return new LevelState(db, dir);
  }
  async getState(key: Uint8Array): Promise<Uint8Array | undefined> {
    return (await this.db.get(key)) ?? undefined;
  }
  /** One LevelDB getMany, as the ledger's getManyState. */
  async getManyState(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    return (await this.db.getMany(keys)).map((v) => v ?? undefined);
  }
  async apply(changes: readonly StateChange[]): Promise<void> {
    await this.db.batch(
      changes.map(([key, value]) => (value === null ? { type: "del", key } : { type: "put", key, value })),
      { sync: true },
    );
  }
  async close(): Promise<void> {
    await this.db.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export type AppliableState = StateReader & { apply(changes: readonly StateChange[]): Promise<void> };

/** Deterministic test accounts. */
export function wallets(n: number, seed = 1): Wallet[] {
  return Array.from({ length: n }, (_, i) => {
    const key = new Uint8Array(32);
    key[31] = (i + 1) & 0xff;
    key[30] = (i + 1) >> 8;
    key[0] = seed;
    return new Wallet(bytesToHex(key));
  });
}

export function addr(w: Wallet): Address {
  return hexToBytes(w.address);
}

export function privateKey(w: Wallet): Uint8Array {
  return hexToBytes(w.privateKey);
}

/** Signs with ethers (an independent implementation) and decodes with our codec: the real path. */
export async function signEth(
  w: Wallet,
  fields: {
    to: Address | null;
    nonce: number;
    value?: bigint;
    data?: Uint8Array;
    gasLimit?: bigint;
    type?: 0 | 2;
    chainId?: bigint;
  },
): Promise<Transaction> {
  const raw = await w.signTransaction({
    type: fields.type ?? 2,
    chainId: fields.chainId ?? CHAIN_ID,
    nonce: fields.nonce,
    to: fields.to === null ? null : bytesToHex(fields.to),
    value: fields.value ?? 0n,
    data: bytesToHex(fields.data ?? new Uint8Array(0)),
    gasLimit: fields.gasLimit ?? 1_000_000n,
    ...(fields.type === 0 ? { gasPrice: 0n } : { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n }),
  });
  return decodeTransaction(hexToBytes(raw));
}

export function signNative(
  w: Wallet,
  fields: { to: Address | null; value?: bigint; data?: Uint8Array; gasLimit?: bigint; blockLimit?: number },
): Transaction {
  const raw = encodeNativeTx(
    {
      chainId: CHAIN_ID,
      groupId: GROUP_ID,
      nonce: new Uint8Array(randomBytes(16)),
      blockLimit: fields.blockLimit ?? 500,
      to: fields.to,
      value: fields.value ?? 0n,
      input: fields.data ?? new Uint8Array(0),
      gasLimit: fields.gasLimit ?? 1_000_000n,
      gasPrice: 0n,
    },
    privateKey(w),
  );
  return decodeTransaction(raw);
}

export const sealerKeys = [1, 2, 3, 4].map((i) => NodeKey.fromSeed(new Uint8Array(32).fill(i)));

/** Genesis with these governors (weight 1 each; the default 51% rates: one governor of one passes alone). */
export function genesisSpec(
  governors: Address[],
  alloc: { address: Address; balance: bigint }[],
): GenesisSpec {
  return {
    chainId: CHAIN_ID,
    groupId: GROUP_ID,
    sealers: sealerKeys.map((k) => ({ nodeId: k.nodeId, weight: 1 })),
    observers: [],
    committee: { governors: governors.map((address) => ({ address, weight: 1 })) },
    alloc,
    // Roomy blocks: these tests execute blocks of hundreds of txs (the defaults are in systemContracts.ts).
    systemConfig: { tx_count_limit: 1000, tx_gas_limit: 300_000_000, block_gas_limit: 30_000_000_000 },
  };
}

/** A little chain: genesis applied to `state`, then blocks executed and applied in order. */
export class TestChain {
  number = 0;
  stateRoot: Hash;
  readonly executor: Executor;

  constructor(
    readonly state: AppliableState,
    genesisRoot: Hash,
    executorOptions: Partial<ExecutorOptions> = {},
  ) {
    this.stateRoot = genesisRoot;
    this.executor = new Executor(executorOptions, { logger: silentLogger() });
  }

  static async create(
    state: AppliableState,
    spec: GenesisSpec,
    executorOptions: Partial<ExecutorOptions> = {},
  ): Promise<TestChain> {
    const g = genesisState(spec);
    await state.apply(g.stateChanges);
    return new TestChain(state, g.stateRoot, executorOptions);
  }

  /** Liveness evidence for the committee's quorum rule (BlockContext.recentProposers); unset = none given. */
  recentProposers: Uint8Array[] | null = null;

  ctx(): BlockContext {
    const proposers = this.recentProposers;
    return {
      ...(proposers === null ? {} : { recentProposers: async () => proposers }),
      number: this.number + 1,
      timestampMs: 1_700_000_000_000 + (this.number + 1) * 1000,
      coinbase: new Uint8Array(20),
      chainId: CHAIN_ID,
      groupId: GROUP_ID,
      gasLimit: 30_000_000_000n,
      parentStateRoot: this.stateRoot,
    };
  }

  /** Executes (build mode by default) and commits the block. */
  async block(txs: Transaction[], mode: "build" | "verify" = "build"): Promise<ExecutedBlock> {
    const out = await this.executor.executeBlock(this.state, this.ctx(), txs, mode);
    await this.commit(out);
    return out;
  }

  /** Commits a block executed on this chain's head (however it was read): its changes applied, the head moved. */
  async commit(out: ExecutedBlock): Promise<void> {
    await this.state.apply(out.stateChanges);
    this.number++;
    this.stateRoot = out.stateRoot;
  }

  callCtx(): BlockContext {
    return this.ctx();
  }
}

export const assetArtifact = () => loadArtifact("Asset");
export const helloArtifact = () => loadArtifact("HelloWorld");
