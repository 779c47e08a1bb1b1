import { mkdir, stat } from "node:fs/promises";
import path from "node:path";

/**
 * `mkdir -p` that fails where Node's own spins. Node 20's `mkdir(dir, { recursive: true })` loops forever (100 % of
 * a core, no error) when the kernel answers ENOENT for a directory whose parent exists, as procfs does for
 * `/proc/x`: it creates the parent (EEXIST), retries the child, gets ENOENT again. Here each missing component is
 * created once, from the deepest existing ancestor down, and the first error is thrown as the system gave it
 * (ENOENT, EACCES, EROFS, ENOTDIR…). A component created meanwhile by another process (EEXIST) is fine.
 */
export async function makeDirs(dir: string): Promise<void> {
  const missing: string[] = [];
  let current = path.resolve(dir);
  for (;;) {
    const info = await stat(current).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return null;
      throw err;
    });
    if (info !== null) {
      if (!info.isDirectory()) throw notADirectory(current);
      break;
    }
    missing.push(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const component of missing.reverse()) {
    try {
      await mkdir(component);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST" && (await stat(component)).isDirectory()) continue;
      throw err;
    }
  }
}

function notADirectory(file: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`ENOTDIR: not a directory, mkdir '${file}'`);
  err.code = "ENOTDIR";
  err.syscall = "mkdir";
  err.path = file;
  return err;
}
