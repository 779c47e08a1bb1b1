import path from "node:path";
import { Wallet } from "ethers";
import { Chain } from "../../src/chain/index.js";
import { decodeTransaction, encodeNativeTx } from "../../src/codec/index.js";
import type { GenesisConfig } from "../../src/config/index.js";
import { commitDigest } from "../../src/consensus/index.js";
import { keccak256, type NodeKey } from "../../src/crypto/index.js";
import { Executor } from "../../src/execution/index.js";
import { type LedgerOpenOptions, LevelLedger } from "../../src/ledger/index.js";
import type { Address, CommitCertificate, Hash, NodeId, Transaction } from "../../src/types/index.js";
import { bytesToHex, hexToBytes } from "../../src/util/hex.js";
import { type Logger, silentLogger } from "../../src/util/logger.js";
import { testAdminKey, testGenesis } from "../fixtures/genesis.js";

export const ADMIN_KEY = testAdminKey("chain test admin");
export const CHAIN_ID = 20200n;
export const GROUP_ID = "group0";

export function makeGenesis(sealer: NodeKey, timestampMs = 1_700_000_000_000): GenesisConfig {
  return testGenesis([sealer], ADMIN_KEY, { timestampMs });
}

/** A commit certificate signed by the one sealer of the test chains. */
export function certify(key: NodeKey, height: number, view: number, blockHash: Hash): CommitCertificate {
  return {
    height,
    view,
    blockHash,
    signatures: [
      { nodeId: key.nodeId, signature: key.sign(commitDigest(keccak256, height, view, blockHash)) },
    ],
  };
}

/** A native tx of the funded admin: by default a transfer of 5 to 0x0707…07. */
export function nativeTx(
  nonce: Uint8Array,
  blockLimit: number,
  fields: { gasLimit?: bigint; to?: Address; input?: Uint8Array; value?: bigint } = {},
): Transaction {
  return decodeTransaction(
    encodeNativeTx(
      {
        chainId: CHAIN_ID,
        groupId: GROUP_ID,
        nonce,
        blockLimit,
        to: fields.to ?? new Uint8Array(20).fill(7),
        value: fields.value ?? 5n,
        input: fields.input ?? new Uint8Array(),
        gasLimit: fields.gasLimit ?? 21000n,
        gasPrice: 0n,
      },
      ADMIN_KEY,
    ),
  );
}

/** A legacy Ethereum tx of the funded admin (account nonce `nonce`); `to` null creates a contract. */
export async function ethTx(fields: {
  nonce: number;
  to: Address | null;
  value?: bigint;
  data?: Uint8Array;
  gasLimit?: bigint;
}): Promise<Transaction> {
  const raw = await new Wallet(bytesToHex(ADMIN_KEY)).signTransaction({
    type: 0,
    chainId: CHAIN_ID,
    nonce: fields.nonce,
    to: fields.to === null ? null : bytesToHex(fields.to),
    value: fields.value ?? 0n,
    data: bytesToHex(fields.data ?? new Uint8Array()),
    gasLimit: fields.gasLimit ?? 100_000n,
    gasPrice: 0n,
  });
  return decodeTransaction(hexToBytes(raw));
}

/** A fake "txs" fetch: serves raw txs by hash from another chain (pool-less here: its executed cache and ledger). */
export function fetchFrom(source: Chain, asked: string[][] = []) {
  return async (hashes: Hash[], _proposer: NodeId): Promise<Uint8Array[]> => {
    asked.push(hashes.map(bytesToHex));
    const out: Uint8Array[] = [];
    for (const h of hashes) {
      const tx = await source.findTransaction(h);
      if (tx) out.push(tx.raw);
    }
    return out;
  };
}

export interface ExtraDeps {
  poolTx?: (hash: Hash) => Transaction | undefined;
  fetchTxs?: (hashes: Hash[], proposer: NodeId) => Promise<Uint8Array[]>;
  executor?: Executor;
  logger?: Logger;
  /** Ledger options beyond the data dir, chain and group. */
  ledger?: Omit<LedgerOpenOptions, "dataDir" | "chainId" | "groupId">;
}

/** A chain on a real LevelDB store in `dir/sub`, its genesis committed; the ledger is pushed onto `open`. */
export async function openChainIn(
  dir: string,
  open: LevelLedger[],
  sub: string,
  genesis: GenesisConfig,
  extra: ExtraDeps = {},
): Promise<{ chain: Chain; ledger: LevelLedger }> {
  const { ledger: ledgerOpts, ...deps } = extra;
  const ledger = await LevelLedger.open(
    { dataDir: path.join(dir, sub), chainId: CHAIN_ID, groupId: GROUP_ID, ...ledgerOpts },
    { logger: silentLogger() },
  );
  open.push(ledger);
  const chain = new Chain(genesis, {
    ledger,
    executor: new Executor({}, { logger: silentLogger() }),
    logger: silentLogger(),
    ...deps,
  });
  await chain.init();
  return { chain, ledger };
}
