import {
  closeSync,
  existsSync,
  fdatasyncSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  truncateSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import path from "node:path";
import { crc32 } from "node:zlib";
import { assert, ConsortError } from "../util/errors.js";
import { parseWithBytes, stringifyWithBytes } from "../util/jsonBytes.js";
import type { HardStateStore } from "./interface.js";
import type { HardState } from "./pbft/core/index.js";

export type HardStateLogErrorCode = "HARD_STATE_CORRUPT" | "HARD_STATE_AHEAD";
export class HardStateLogError extends ConsortError<HardStateLogErrorCode> {}

/** The file the hard state lived in before this log (one JSON document): imported once, then removed. */
export const LEGACY_HARD_STATE_FILE = "consensus-state.json";

/** Record header: payload length (u32 BE), then CRC-32 of the payload (u32 BE). */
const HEADER_BYTES = 8;
/**
 * No record is larger (a hard state is a few KiB even with a prepared certificate of 100 signatures): a header
 * declaring more is damage, not a record cut short by a crash.
 */
const PAYLOAD_BYTES_MAX = 1024 * 1024;

export interface HardStateLogOptions {
  /** Once the log is this large, it is rewritten holding only the latest state (atomic rename). */
  compactBytes: number;
}

export const defaultHardStateLogOptions: HardStateLogOptions = { compactBytes: 1024 * 1024 };

/**
 * The node's hard state (its votes and view) as an append-only log, after etcd's and CometBFT's WALs: each save
 * appends one checksummed record and fdatasyncs it; loading takes the last complete record.
 *
 * Why not one file replaced per save (write temp, fsync, rename, fsync folder): that is eight file operations, each
 * a libuv round trip back through the event loop. Under load (RPC and tx gossip keeping the loop busy) a save took
 * 100–500 ms, and every PBFT phase waits for one before it sends its vote: blocks committed a few times a second at
 * most. Here a save is four synchronous system calls (open, write, fdatasync, close: ~0.2 ms on this machine's disk)
 * that block the loop for their duration, and no round trip at all.
 *
 * Crash safety: `save` returns only after fdatasync, and the driver sends a vote only after its save returned. A crash
 * during a save leaves a torn record at the end: `load` drops it (that vote was never sent) and truncates the file so
 * the next record follows the last good one. A bad record followed by more data is not a torn write but damage:
 * HARD_STATE_CORRUPT, and the node refuses to start rather than forget a vote it may have sent.
 */
export class HardStateLog implements HardStateStore {
  private sizeBytes = 0;

  constructor(
    readonly file: string,
    private readonly opts: HardStateLogOptions = defaultHardStateLogOptions,
  ) {}

  async load(): Promise<HardState | null> {
    if (!existsSync(this.file)) return this.importLegacy();
    const bytes = readFileSync(this.file);
    const { state, validBytes } = parseLog(bytes, this.file);
    if (validBytes < bytes.length) {
      truncateSync(this.file, validBytes);
      syncFile(this.file);
    }
    this.sizeBytes = validBytes;
    return state;
  }

  async save(state: HardState): Promise<void> {
    const record = encodeRecord(state);
    if (this.sizeBytes + record.length > this.opts.compactBytes) {
      replaceFile(this.file, record);
      this.sizeBytes = record.length;
      return;
    }
    const created = this.sizeBytes === 0; // no stat per save: load() measured the file, saves keep count
    const fd = openSync(this.file, "a", 0o600);
    try {
      writeAll(fd, record);
      fdatasyncSync(fd);
    } finally {
      closeSync(fd);
    }
    if (created) syncFile(path.dirname(this.file)); // the new file's entry in its folder is durable too
    this.sizeBytes += record.length;
  }

  /** A data dir from before this log: its JSON file becomes the log's first record, then goes. */
  private importLegacy(): HardState | null {
    const legacy = path.join(path.dirname(this.file), LEGACY_HARD_STATE_FILE);
    if (!existsSync(legacy)) return null;
    const state = parseWithBytes<HardState>(readFileSync(legacy, "utf8"));
    const record = encodeRecord(state);
    replaceFile(this.file, record);
    this.sizeBytes = record.length;
    unlinkSync(legacy);
    syncFile(path.dirname(this.file));
    return state;
  }
}

/** The latest state in a hard state log (for tools and tests); null when the file holds no complete record. */
export function readHardStateLog(file: string): HardState | null {
  return parseLog(readFileSync(file), file).state;
}

function encodeRecord(state: HardState): Uint8Array {
  const payload = Buffer.from(stringifyWithBytes(state), "utf8");
  assert(payload.length <= PAYLOAD_BYTES_MAX, `hard state of ${payload.length} bytes`);
  const record = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  record.writeUInt32BE(payload.length, 0);
  record.writeUInt32BE(crc32(payload), 4);
  payload.copy(record, HEADER_BYTES);
  return record;
}

function parseLog(bytes: Buffer, file: string): { state: HardState | null; validBytes: number } {
  let state: HardState | null = null;
  let offset = 0;
  while (offset < bytes.length) {
    // A crash can leave the file longer than what reached it: the tail reads as zeros.
    if (allZero(bytes, offset)) break;
    if (offset + HEADER_BYTES <= bytes.length && bytes.readUInt32BE(offset) > PAYLOAD_BYTES_MAX) {
      throw corrupt(file, offset, "length");
    }
    const end = recordEnd(bytes, offset);
    if (end === null) break; // torn: the record runs past the end of the file
    const payload = bytes.subarray(offset + HEADER_BYTES, end);
    if (crc32(payload) !== bytes.readUInt32BE(offset + 4)) {
      if (end === bytes.length) break; // torn: the last record's bytes did not all reach the disk
      throw corrupt(file, offset, "checksum");
    }
    try {
      state = parseWithBytes<HardState>(payload.toString("utf8"));
    } catch (err) {
      throw corrupt(file, offset, "not JSON", err);
    }
    offset = end;
  }
  return { state, validBytes: offset };
}

function corrupt(file: string, offset: number, what: string, cause?: unknown): HardStateLogError {
  const message = `${file}: bad record at byte ${offset} (${what}); refusing to start without the votes it holds`;
  return new HardStateLogError("HARD_STATE_CORRUPT", message, { file, offset }, { cause });
}

function allZero(bytes: Buffer, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** Where the record at `offset` ends, or null when its header or payload is cut off by the end of the file. */
function recordEnd(bytes: Buffer, offset: number): number | null {
  if (offset + HEADER_BYTES > bytes.length) return null;
  const end = offset + HEADER_BYTES + bytes.readUInt32BE(offset);
  return end > bytes.length ? null : end;
}

/** Replaces `file` with `data` atomically: temp file, fsync, rename, fsync the folder. */
function replaceFile(file: string, data: Uint8Array): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    writeAll(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  syncFile(path.dirname(file));
}

function writeAll(fd: number, data: Uint8Array): void {
  for (let written = 0; written < data.length; ) {
    written += writeSync(fd, data, written, data.length - written);
  }
}

function syncFile(file: string): void {
  const fd = openSync(file, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
