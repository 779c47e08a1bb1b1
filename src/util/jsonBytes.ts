/**
 * JSON with byte strings and bigints: Uint8Array ↔ {"$bytes":"0x…"}, bigint ↔ {"$bigint":"…"}.
 * For small local state files (the consensus hard state), where readability beats compactness.
 */
export function stringifyWithBytes(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v instanceof Uint8Array) return { $bytes: `0x${Buffer.from(v).toString("hex")}` };
    if (typeof v === "bigint") return { $bigint: v.toString() };
    return v;
  });
}

export function parseWithBytes<T>(text: string): T {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      if (typeof o.$bytes === "string" && Object.keys(o).length === 1) {
        return new Uint8Array(Buffer.from(o.$bytes.slice(2), "hex"));
      }
      if (typeof o.$bigint === "string" && Object.keys(o).length === 1) return BigInt(o.$bigint);
    }
    return v;
  }) as T;
}
