import { mkdir, stat } from "node:fs/promises";
import path from "node:path";

/**
 * `mkdir -p` that fails where Node's own spins. Node 20's `mkdir(dir, { recursive: true })` loops forever (100 % of
 * a core, no error) when the kernel answers ENOENT for a directory whose parent exists, as procfs does for
 * `/proc/x`: it creates the parent (EEXIST), retries the child, gets ENOENT again. Here each missing component is
 * created once, parents first, and the first refusal is thrown as mkdir gave it (ENOENT, EACCES, EROFS, ENOTDIR…).
 * A component created meanwhile by another process (EEXIST) is fine.
 */
export async function makeDirs(dir: string): Promise<void> {
  const target = path.resolve(dir);
  try {
    await mkdir(target);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST" && (await isDirectory(target))) return;
    const parent = path.dirname(target);
    // ENOENT with the parent present is the kernel's last word (procfs): retrying it is what spins.
    if (code !== "ENOENT" || parent === target || (await isDirectory(parent))) throw err;
    await makeDirs(parent);
  }
  try {
    await mkdir(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST" && (await isDirectory(target))) return;
    throw err;
  }
}

async function isDirectory(file: string): Promise<boolean> {
  const info = await stat(file).catch(() => null);
  return info?.isDirectory() ?? false;
}
