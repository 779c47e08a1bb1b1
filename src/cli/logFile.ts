import { closeSync, existsSync, openSync, renameSync, rmSync, statSync, writeSync } from "node:fs";
import { Writable } from "node:stream";

/** How `consort dev` keeps a node's log: files of at most `fileBytesMax`, `filesKept` of them (the docker way). */
export interface LogFileOptions {
  fileBytesMax: number;
  /** The current file and its predecessors (FILE.1 the newest of those); the oldest is deleted past this count. */
  filesKept: number;
}

/** 32 MiB × 3: a week of a loaded chain's info lines per node, never more than 96 MiB of disk. */
export const DEFAULT_LOG_FILE_OPTIONS: LogFileOptions = { fileBytesMax: 32 * 1024 * 1024, filesKept: 3 };

const NEWLINE = 0x0a;

/**
 * A node's log file that rotates (FILE → FILE.1 → FILE.2 …) at the end of the line that reaches `fileBytesMax`, so a
 * testnet left running for weeks does not fill the disk. Appends to what the file already holds (a resumed chain).
 * Writes are synchronous: the writer is one child's piped output, and a line reaches the file before the
 * supervisor reads the file's end to say why a node stopped.
 */
export class RotatingLogFile extends Writable {
  private fd: number;
  private bytes: number;

  constructor(
    private readonly file: string,
    private readonly opts: LogFileOptions = DEFAULT_LOG_FILE_OPTIONS,
  ) {
    super();
    if (!(opts.fileBytesMax > 0) || !Number.isInteger(opts.filesKept) || opts.filesKept < 1) {
      throw new RangeError(`invalid log file options: ${JSON.stringify(opts)}`);
    }
    this.fd = openSync(file, "a");
    this.bytes = statSync(file).size;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (err?: Error | null) => void): void {
    try {
      this.append(chunk);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _final(done: (err?: Error | null) => void): void {
    try {
      closeSync(this.fd);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private append(chunk: Buffer): void {
    let rest = chunk;
    while (rest.length > 0) {
      // The line that reaches the bound ends this file (a line longer than the bound is never split).
      const lineEnd = rest.indexOf(NEWLINE, Math.max(0, this.opts.fileBytesMax - this.bytes - 1));
      if (lineEnd < 0) {
        this.writeAll(rest);
        return;
      }
      this.writeAll(rest.subarray(0, lineEnd + 1));
      this.rotate();
      rest = rest.subarray(lineEnd + 1);
    }
  }

  private writeAll(bytes: Buffer): void {
    let off = 0;
    while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    this.bytes += bytes.length;
  }

  private rotate(): void {
    closeSync(this.fd);
    const kept = this.opts.filesKept;
    if (kept === 1) rmSync(this.file, { force: true });
    else {
      // A rename replaces its target: FILE.(kept - 1), the oldest, goes first.
      for (let i = kept - 2; i >= 1; i--) {
        if (existsSync(`${this.file}.${i}`)) renameSync(`${this.file}.${i}`, `${this.file}.${i + 1}`);
      }
      renameSync(this.file, `${this.file}.1`);
    }
    this.fd = openSync(this.file, "a");
    this.bytes = 0;
  }
}
