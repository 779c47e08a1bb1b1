/**
 * Shapes of backend answers, for the fake-vs-real contract test: the same keys, the same kinds of values (bytes as
 * Uint8Array, not hex strings or {"0":…} objects; number vs bigint), the same nullability. Values themselves are
 * left out, so two chains with different content compare equal when their answers have the same form.
 */

export type Shape =
  | "bytes"
  | "bigint"
  | "number"
  | "string"
  | "boolean"
  | "null"
  | "undefined"
  | "function"
  | { array: Shape[] }
  | { object: Record<string, Shape> };

/** The shape of `value`; an array's shape is the distinct shapes of its elements, in first-seen order. */
export function shapeOf(value: unknown): Shape {
  if (value === null) return "null";
  if (value instanceof Uint8Array) return "bytes";
  if (Array.isArray(value)) {
    const seen = new Map<string, Shape>();
    for (const item of value) {
      const s = shapeOf(item);
      seen.set(JSON.stringify(s), s);
    }
    return { array: [...seen.values()] };
  }
  const kind = typeof value;
  if (kind === "object") {
    const object: Record<string, Shape> = {};
    for (const key of Object.keys(value as object).sort()) {
      object[key] = shapeOf((value as Record<string, unknown>)[key]);
    }
    return { object };
  }
  if (kind === "symbol") throw new Error("a symbol in a backend answer");
  return kind as Shape;
}

/**
 * Where `fake` and `real` differ, as paths ("$.header.gasUsed: bigint vs number"); [] when they match. An empty array
 * matches any array (one side had no elements to show); the test arranges non-empty arrays where it matters.
 */
export function shapeDiff(fake: Shape, real: Shape, path = "$"): string[] {
  if (typeof fake === "string" || typeof real === "string") {
    return fake === real ? [] : [`${path}: ${describe(fake)} (fake) vs ${describe(real)} (real)`];
  }
  if ("array" in fake && "array" in real) {
    if (fake.array.length === 0 || real.array.length === 0) return [];
    const key = (s: Shape) => JSON.stringify(s);
    const fakeKeys = new Set(fake.array.map(key));
    const realKeys = new Set(real.array.map(key));
    if (fake.array.length === 1 && real.array.length === 1) {
      return shapeDiff(fake.array[0]!, real.array[0]!, `${path}[]`);
    }
    const same = fakeKeys.size === realKeys.size && [...fakeKeys].every((k) => realKeys.has(k));
    return same ? [] : [`${path}[]: element shapes ${[...fakeKeys]} (fake) vs ${[...realKeys]} (real)`];
  }
  if ("object" in fake && "object" in real) {
    const out: string[] = [];
    const keys = new Set([...Object.keys(fake.object), ...Object.keys(real.object)]);
    for (const k of [...keys].sort()) {
      const f = fake.object[k];
      const r = real.object[k];
      if (f === undefined) out.push(`${path}.${k}: only in the real backend`);
      else if (r === undefined) out.push(`${path}.${k}: only in the fake`);
      else out.push(...shapeDiff(f, r, `${path}.${k}`));
    }
    return out;
  }
  return [`${path}: ${describe(fake)} (fake) vs ${describe(real)} (real)`];
}

function describe(s: Shape): string {
  if (typeof s === "string") return s;
  return "array" in s ? "array" : "object";
}

/** What a backend call did: its answer's shape, or the code of the error it threw. */
export type Outcome = { shape: Shape } | { errorCode: string };

export async function outcomeOf(run: () => unknown): Promise<Outcome> {
  try {
    return { shape: shapeOf(await run()) };
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    return { errorCode: typeof code === "string" ? code : `untyped ${(err as Error).name}` };
  }
}

export function outcomeDiff(fake: Outcome, real: Outcome): string[] {
  if ("errorCode" in fake || "errorCode" in real) {
    const f = "errorCode" in fake ? `error ${fake.errorCode}` : "an answer";
    const r = "errorCode" in real ? `error ${real.errorCode}` : "an answer";
    return f === r ? [] : [`$: ${f} (fake) vs ${r} (real)`];
  }
  return shapeDiff(fake.shape, real.shape);
}
