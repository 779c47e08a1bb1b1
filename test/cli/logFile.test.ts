import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { finished } from "node:stream/promises";
import { afterEach, describe, expect, it } from "vitest";
import { RotatingLogFile } from "../../src/cli/logFile.js";

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function tempLog(): string {
  dir = mkdtempSync(path.join(tmpdir(), "consort-log-"));
  return path.join(dir, "node.log");
}

/** Writes `chunks` (as a child's pipe would hand them over) and waits until the file is closed. */
async function writeAll(out: RotatingLogFile, chunks: string[]): Promise<void> {
  for (const c of chunks) out.write(c);
  out.end();
  await finished(out);
}

const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : null);

describe("RotatingLogFile", () => {
  it("rotates at a line's end once the file reaches its bound, keeping filesKept files, the oldest lines dropped", async () => {
    const file = tempLog();
    const out = new RotatingLogFile(file, { fileBytesMax: 20, filesKept: 3 });
    // Lines of 10 bytes; the third line arrives split over two chunks.
    const lines = Array.from({ length: 9 }, (_, i) => `line ${i}...\n`); // 10 bytes each
    await writeAll(out, [lines[0]!, lines[1]!, lines[2]!.slice(0, 4), lines[2]!.slice(4), ...lines.slice(3)]);
    // 20 bytes reached after two lines: each file holds two, the current one the last, .3 never exists.
    expect(read(file)).toBe(lines[8]);
    expect(read(`${file}.1`)).toBe(lines[6]! + lines[7]!);
    expect(read(`${file}.2`)).toBe(lines[4]! + lines[5]!);
    expect(read(`${file}.3`)).toBeNull();
  });

  it("never splits a line: a long line past the bound ends in the file it started in", async () => {
    const file = tempLog();
    const out = new RotatingLogFile(file, { fileBytesMax: 8, filesKept: 2 });
    await writeAll(out, ["a".repeat(30), "\nb\n"]);
    expect(read(`${file}.1`)).toBe(`${"a".repeat(30)}\n`);
    expect(read(file)).toBe("b\n");
  });

  it("appends to the file a resumed chain already has, counting its size", async () => {
    const file = tempLog();
    writeFileSync(file, "old line\n".repeat(3)); // 27 bytes: over the bound already
    await writeAll(new RotatingLogFile(file, { fileBytesMax: 20, filesKept: 2 }), ["new 1\n", "new 2\n"]);
    expect(read(`${file}.1`)).toBe(`${"old line\n".repeat(3)}new 1\n`);
    expect(read(file)).toBe("new 2\n");
  });

  it("with one file kept, starts over in the same file", async () => {
    const file = tempLog();
    await writeAll(new RotatingLogFile(file, { fileBytesMax: 4, filesKept: 1 }), ["12345\n", "678\n", "9\n"]);
    expect(read(file)).toBe("9\n");
    expect(read(`${file}.1`)).toBeNull();
  });

  it("refuses options that would keep nothing", () => {
    const file = tempLog();
    expect(() => new RotatingLogFile(file, { fileBytesMax: 0, filesKept: 2 })).toThrow(
      /invalid log file options/,
    );
    expect(() => new RotatingLogFile(file, { fileBytesMax: 10, filesKept: 0 })).toThrow(
      /invalid log file options/,
    );
  });
});
