import { open, rename } from "node:fs/promises";
import path from "node:path";

/**
 * Replace `file` with `data` so that after a crash the file holds either the old or the new bytes, never a mix:
 * write a temp file, fsync it, rename over the target, fsync the folder (the rename itself must be durable).
 */
export async function writeFileAtomic(file: string, data: Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${file}.tmp`;
  const handle = await open(tmp, "w", mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, file);
  const dir = await open(path.dirname(file), "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
