import type { Level } from "level";
import { errorMessage, isDiskFull } from "../util/errors.js";
import { bytesToHex } from "../util/hex.js";
import { describeKey } from "./buckets.js";
import { LedgerError } from "./errors.js";

/** The store, opened through `level` (in Node: classic-level's LevelDB binding). */
export type Db = Level<Uint8Array, Uint8Array>;
export type BatchOp = { type: "put"; key: Uint8Array; value: Uint8Array } | { type: "del"; key: Uint8Array };

/** Level returns Buffers; hand out plain Uint8Array views (same memory, no copy). */
export function view(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function levelCode(err: unknown): { code?: string; causeCode?: string } {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | null;
  return {
    code: typeof e?.code === "string" ? e.code : undefined,
    causeCode: typeof e?.cause?.code === "string" ? e.cause.code : undefined,
  };
}

export function corruptError(dataDir: string, key: Uint8Array, reason: string, cause?: unknown): LedgerError {
  const name = describeKey(key);
  return new LedgerError(
    "LEDGER_CORRUPT",
    `corrupt ledger record ${name} in data directory ${dataDir}: ${reason}`,
    { key: name, keyHex: bytesToHex(key), dataDir },
    cause === undefined ? undefined : { cause },
  );
}

/**
 * The LevelDB handle of one ledger with its raw reads, record decoding and error mapping (corruption, closed). Raw
 * reads do no closed check (a commit that started before close() finishes); the ledger's entry points check.
 */
export class LedgerStore {
  readonly db: Db;
  readonly dataDir: string;
  private closedFlag = false;

  constructor(db: Db, dataDir: string) {
    this.db = db;
    this.dataDir = dataDir;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  markClosed(): void {
    this.closedFlag = true;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    try {
      const v = await this.db.get(key);
      return v === undefined ? undefined : view(v);
    } catch (err) {
      throw this.ioError(err);
    }
  }

  /**
   * A read answered on the calling thread (LevelDB's memtable, block cache or the OS page cache): for the small, hot
   * state keys that execution and admission read one at a time, the async get's worker-thread round trip costs about
   * 15x the CPU of the lookup itself (~20 µs vs ~1.3 µs). A cold key blocks the event loop for one disk read.
   */
  getSync(key: Uint8Array): Uint8Array | undefined {
    try {
      const v = this.db.getSync(key);
      return v === undefined ? undefined : view(v);
    } catch (err) {
      throw this.ioError(err);
    }
  }

  async getMany(keys: Uint8Array[]): Promise<(Uint8Array | undefined)[]> {
    try {
      const values = await this.db.getMany(keys);
      return values.map((v) => (v === undefined ? undefined : view(v)));
    } catch (err) {
      throw this.ioError(err);
    }
  }

  /**
   * Writes `ops` in ONE LevelDB batch (atomic), synced to disk when `sync`. Through a chained batch: each op goes
   * straight to the native WriteBatch, where abstract-level's array form clones every op with the options, looks up
   * its encodings and has the binding read the op objects back (~10x the main-thread CPU for a block's batch).
   */
  async writeBatch(ops: readonly BatchOp[], opts: { sync: boolean }): Promise<void> {
    const batch = this.db.batch();
    try {
      for (const op of ops) {
        if (op.type === "put") batch.put(op.key, op.value);
        else batch.del(op.key);
      }
    } catch (err) {
      await batch.close().catch(() => {});
      throw this.ioError(err);
    }
    try {
      await batch.write({ sync: opts.sync });
    } catch (err) {
      throw this.ioError(err);
    }
  }

  /** The entries of a key range (iterator().all()), errors mapped. */
  async range(opts: {
    gte: Uint8Array;
    lte: Uint8Array;
    limit?: number;
  }): Promise<[Uint8Array, Uint8Array][]> {
    try {
      return await this.db.iterator(opts).all();
    } catch (err) {
      throw this.ioError(err);
    }
  }

  decodeRecord<T>(key: Uint8Array, bytes: Uint8Array, decode: (b: Uint8Array) => T): T {
    try {
      return decode(bytes);
    } catch (err) {
      throw corruptError(this.dataDir, key, errorMessage(err), err);
    }
  }

  required(key: Uint8Array, value: Uint8Array | undefined): Uint8Array {
    if (value === undefined) throw corruptError(this.dataDir, key, "record is missing");
    return value;
  }

  corrupt(key: Uint8Array, reason: string): LedgerError {
    return corruptError(this.dataDir, key, reason);
  }

  ensureOpen(): void {
    if (this.closedFlag) throw this.closedError();
  }

  closedError(): LedgerError {
    return new LedgerError("LEDGER_CLOSED", `the ledger of ${this.dataDir} is closed`, {
      dataDir: this.dataDir,
    });
  }

  ioError(err: unknown): unknown {
    const { code } = levelCode(err);
    if (code === "LEVEL_DATABASE_NOT_OPEN" && this.closedFlag) return this.closedError();
    if (isDiskFull(err)) {
      return new LedgerError(
        "LEDGER_DISK_FULL",
        `no space left on the data directory ${this.dataDir}: free space, then restart the node (what is on disk is intact)`,
        { dataDir: this.dataDir },
        { cause: err },
      );
    }
    if (code === "LEVEL_CORRUPTION") {
      return new LedgerError(
        "LEDGER_CORRUPT",
        `LevelDB reports corruption in data directory ${this.dataDir}: ${errorMessage(err)}`,
        { dataDir: this.dataDir },
        { cause: err },
      );
    }
    return err;
  }
}
