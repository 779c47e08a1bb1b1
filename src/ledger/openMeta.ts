import { Level } from "level";
import { decodeHeader, hashHeader } from "../codec/index.js";
import type { Hash } from "../types/index.js";
import { makeDirs } from "../util/dirs.js";
import { errorMessage } from "../util/errors.js";
import { bigintToBytes, bytesEqual, bytesToBigint } from "../util/hex.js";
import { Bucket, HEAD_KEY, MetaKey, metaKey, numberKey, SCHEMA_VERSION } from "./buckets.js";
import { LedgerError } from "./errors.js";
import type { LedgerOptions } from "./options.js";
import {
  decodeHash,
  decodeHeadRecord,
  decodeNumber,
  decodeU32,
  encodeU32,
  type HeadRecord,
} from "./records.js";
import { corruptError, type Db, levelCode, view } from "./store.js";

// Opening checks of a ledger store: open errors, metadata (schema, chain, group), head pointer, history floor.

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** Checks the options, creates `dataDir` if needed and opens its LevelDB store (errors: LEDGER_OPEN_FAILED, _LOCKED…). */
export async function openDb(opts: LedgerOptions): Promise<Db> {
  const { dataDir } = opts;
  if (!Number.isSafeInteger(opts.stateHistoryBlocks) || opts.stateHistoryBlocks < 0) {
    throw new LedgerError(
      "LEDGER_OPEN_FAILED",
      `invalid stateHistoryBlocks ${opts.stateHistoryBlocks}: expected an integer >= 0 (0 disables the history)`,
      { dataDir },
    );
  }
  if (!Number.isSafeInteger(opts.stateCacheBytes) || opts.stateCacheBytes < 0) {
    throw new LedgerError(
      "LEDGER_OPEN_FAILED",
      `invalid stateCacheBytes ${opts.stateCacheBytes}: expected an integer >= 0 (0 disables the cache)`,
      { dataDir },
    );
  }
  try {
    await makeDirs(dataDir);
  } catch (err) {
    throw new LedgerError(
      "LEDGER_OPEN_FAILED",
      `cannot create data directory ${dataDir}: ${errorMessage(err)}`,
      { dataDir },
      { cause: err },
    );
  }
  const db: Db = new Level<Uint8Array, Uint8Array>(dataDir, {
    keyEncoding: "view",
    valueEncoding: "view",
  });
  try {
    await db.open();
  } catch (err) {
    throw openError(dataDir, err);
  }
  return db;
}

export function openError(dataDir: string, err: unknown): LedgerError {
  const { code, causeCode } = levelCode(err);
  const detail = errorMessage((err as { cause?: unknown })?.cause ?? err);
  if (code === "LEVEL_LOCKED" || causeCode === "LEVEL_LOCKED") {
    return new LedgerError(
      "LEDGER_LOCKED",
      `data directory ${dataDir} is locked: another process (another consort node?) or another ledger in this ` +
        `process has it open (${detail})`,
      { dataDir },
      { cause: err },
    );
  }
  if (code === "LEVEL_CORRUPTION" || causeCode === "LEVEL_CORRUPTION") {
    return new LedgerError(
      "LEDGER_CORRUPT",
      `LevelDB store in data directory ${dataDir} is corrupt: ${detail}`,
      { dataDir },
      { cause: err },
    );
  }
  return new LedgerError(
    "LEDGER_OPEN_FAILED",
    `cannot open the ledger in data directory ${dataDir}: ${detail}`,
    { dataDir },
    { cause: err },
  );
}

/** Checks (or, on an empty store, writes) schema version, chain id and group id; returns the genesis hash if any. */
export async function loadOrInitMeta(db: Db, opts: LedgerOptions): Promise<Hash | null> {
  const { dataDir } = opts;
  const schemaKey = metaKey(MetaKey.schemaVersion);
  const chainKey = metaKey(MetaKey.chainId);
  const groupKey = metaKey(MetaKey.groupId);
  const genesisKey = metaKey(MetaKey.genesisHash);
  const [schemaB, chainB, groupB, genesisB] = (
    await db.getMany([schemaKey, chainKey, groupKey, genesisKey])
  ).map((v) => (v === undefined ? undefined : view(v)));
  if (schemaB === undefined) {
    const anyKey = await db.keys({ limit: 1 }).all();
    if (anyKey.length > 0) {
      throw corruptError(dataDir, schemaKey, "the directory holds a LevelDB store without Consort metadata");
    }
    await db.batch(
      [
        { type: "put", key: schemaKey, value: encodeU32(SCHEMA_VERSION) },
        { type: "put", key: chainKey, value: bigintToBytes(opts.chainId) },
        { type: "put", key: groupKey, value: textEncoder.encode(opts.groupId) },
      ],
      { sync: true },
    );
    return null;
  }
  const decode = <T>(key: Uint8Array, v: Uint8Array | undefined, f: (b: Uint8Array) => T): T => {
    if (v === undefined) throw corruptError(dataDir, key, "record is missing");
    try {
      return f(v);
    } catch (err) {
      throw corruptError(dataDir, key, errorMessage(err), err);
    }
  };
  const schema = decode(schemaKey, schemaB, decodeU32);
  if (schema !== SCHEMA_VERSION) {
    throw new LedgerError(
      "LEDGER_SCHEMA_MISMATCH",
      `data directory ${dataDir} uses ledger layout version ${schema}, this node reads version ${SCHEMA_VERSION}`,
      { dataDir, schema, expected: SCHEMA_VERSION },
    );
  }
  const chainId = decode(chainKey, chainB, bytesToBigint);
  const groupId = decode(groupKey, groupB, (b) => textDecoder.decode(b));
  if (chainId !== opts.chainId) {
    throw new LedgerError(
      "LEDGER_CHAIN_MISMATCH",
      `data directory ${dataDir} was written by chain id ${chainId}, this node is configured for chain id ` +
        `${opts.chainId}: use another data directory or the genesis of chain ${chainId}`,
      { dataDir, storedChainId: chainId.toString(), chainId: opts.chainId.toString() },
    );
  }
  if (groupId !== opts.groupId) {
    throw new LedgerError(
      "LEDGER_CHAIN_MISMATCH",
      `data directory ${dataDir} was written by group "${groupId}" (chain id ${chainId}), this node is configured ` +
        `for group "${opts.groupId}": use another data directory or the genesis of group "${groupId}"`,
      { dataDir, storedGroupId: groupId, groupId: opts.groupId },
    );
  }
  return genesisB === undefined ? null : decode(genesisKey, genesisB, decodeHash);
}

/** meta/stateHistoryFrom, or head + 1 (no history) in a store written before it existed. */
export async function loadHistoryFrom(db: Db, opts: LedgerOptions, head: HeadRecord | null): Promise<number> {
  const key = metaKey(MetaKey.stateHistoryFrom);
  const next = (head?.number ?? -1) + 1;
  const raw = await db.get(key);
  if (raw === undefined) return next;
  let from: number;
  try {
    from = decodeNumber(view(raw));
  } catch (err) {
    throw corruptError(opts.dataDir, key, errorMessage(err), err);
  }
  if (from > next)
    throw corruptError(opts.dataDir, key, `history starts at ${from}, above head + 1 (${next})`);
  return from;
}

/** Reads the head pointer and checks that the head block's header and hash index are there. */
export async function loadHead(
  db: Db,
  opts: LedgerOptions,
  genesis: Hash | null,
): Promise<HeadRecord | null> {
  const { dataDir } = opts;
  const raw = await db.get(HEAD_KEY);
  if (raw === undefined) {
    if (genesis !== null)
      throw corruptError(dataDir, HEAD_KEY, "genesis is recorded but the head pointer is missing");
    return null;
  }
  let head: HeadRecord;
  try {
    head = decodeHeadRecord(view(raw));
  } catch (err) {
    throw corruptError(dataDir, HEAD_KEY, errorMessage(err), err);
  }
  const headerKey = numberKey(Bucket.header, head.number);
  const hashKey = numberKey(Bucket.numberToHash, head.number);
  const [headerB, hashB] = await db.getMany([headerKey, hashKey]);
  if (headerB === undefined)
    throw corruptError(dataDir, headerKey, `head block ${head.number} has no header`);
  if (hashB === undefined)
    throw corruptError(dataDir, hashKey, `head block ${head.number} has no hash index`);
  let headerHash: Hash;
  try {
    headerHash = hashHeader(decodeHeader(view(headerB)));
  } catch (err) {
    throw corruptError(dataDir, headerKey, errorMessage(err), err);
  }
  if (!bytesEqual(headerHash, head.hash) || !bytesEqual(view(hashB), head.hash)) {
    throw corruptError(
      dataDir,
      HEAD_KEY,
      `head hash does not match the stored header of block ${head.number}`,
    );
  }
  if (genesis === null)
    throw corruptError(dataDir, metaKey(MetaKey.genesisHash), "head exists but genesis hash is missing");
  return head;
}
