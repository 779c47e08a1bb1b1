import { existsSync } from "node:fs";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeDirs } from "../../src/util/dirs.js";

describe("makeDirs", () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), "consort-dirs-"));
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("creates every missing component, and is a no-op on an existing directory", async () => {
    const deep = path.join(root, "a", "b", "c");
    await makeDirs(deep);
    expect((await stat(deep)).isDirectory()).toBe(true);
    await makeDirs(deep);
    await makeDirs(root);
    expect((await stat(deep)).isDirectory()).toBe(true);
  });

  it("refuses a file in the way as mkdir does (ENOTDIR, EEXIST)", async () => {
    const file = path.join(root, "file");
    await writeFile(file, "x");
    await expect(makeDirs(file)).rejects.toMatchObject({ code: "EEXIST", syscall: "mkdir" });
    await expect(makeDirs(path.join(file, "sub", "dir"))).rejects.toMatchObject({
      code: "ENOTDIR",
      syscall: "mkdir",
    });
  });

  it.runIf(process.platform === "linux" && existsSync("/proc/self"))(
    "fails under /proc, where Node's recursive mkdir spins forever",
    async () => {
      // procfs answers ENOENT to mkdir /proc/x although /proc exists: Node 20's `{ recursive: true }` retries it
      // without end (this test would time out, a libuv thread left spinning).
      await expect(makeDirs("/proc/consort-no-such-dir/node0")).rejects.toMatchObject({
        code: "ENOENT",
        syscall: "mkdir",
      });
    },
  );
});
