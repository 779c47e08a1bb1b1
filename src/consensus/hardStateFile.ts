import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "../util/atomicFile.js";
import { parseWithBytes, stringifyWithBytes } from "../util/jsonBytes.js";
import type { HardStateStore } from "./interface.js";
import type { HardState } from "./pbft/core/index.js";

/** The node's hard state store: one JSON file, replaced atomically and fsynced on every save. */
export class HardStateFile implements HardStateStore {
  constructor(readonly file: string) {}

  async load(): Promise<HardState | null> {
    let text: string;
    try {
      text = await readFile(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
    return parseWithBytes<HardState>(text);
  }

  async save(state: HardState): Promise<void> {
    await writeFileAtomic(this.file, new TextEncoder().encode(stringifyWithBytes(state)));
  }
}
