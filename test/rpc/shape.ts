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
  /** A key some elements of an array have and others lack. */
  | "absent"
  /** The element of an empty array: matches any. */
  | "none"
  | { array: Shape }
  | { object: Record<string, Shape> }
  | { oneOf: Shape[] };

/**
 * The shape of `value`. An array's shape is its elements' shapes merged into one (objects key by key, a key some
 * lack becoming `oneOf [absent, …]`), so it does not depend on how many elements of each kind a chain happens to
 * hold in one place.
 */
export function shapeOf(value: unknown): Shape {
  if (value === null) return "null";
  if (value instanceof Uint8Array) return "bytes";
  if (Array.isArray(value)) return { array: value.map(shapeOf).reduce(merge, "none") };
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

const key = (s: Shape) => JSON.stringify(s);

function merge(a: Shape, b: Shape): Shape {
  if (a === "none") return b;
  if (b === "none") return a;
  if (key(a) === key(b)) return a;
  const members = [a, b].flatMap((s) => (typeof s === "object" && "oneOf" in s ? s.oneOf : [s]));
  let object: Shape | null = null;
  let array: Shape | null = null;
  const scalars = new Map<string, Shape>();
  for (const m of members) {
    if (typeof m === "object" && "object" in m) object = object === null ? m : mergeObjects(object, m);
    else if (typeof m === "object" && "array" in m) {
      array = array === null ? m : { array: merge((array as { array: Shape }).array, m.array) };
    } else scalars.set(key(m), m);
  }
  const all = [...scalars.values(), ...(object ? [object] : []), ...(array ? [array] : [])];
  all.sort((x, y) => key(x).localeCompare(key(y)));
  return all.length === 1 ? all[0]! : { oneOf: all };
}

function mergeObjects(a: Shape, b: Shape): Shape {
  const x = (a as { object: Record<string, Shape> }).object;
  const y = (b as { object: Record<string, Shape> }).object;
  const object: Record<string, Shape> = {};
  for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) {
    object[k] = merge(x[k] ?? "absent", y[k] ?? "absent");
  }
  return { object };
}

/** Where `fake` and `real` differ, as paths ("$.header.gasUsed: bigint (fake) vs number (real)"); [] when they match. */
export function shapeDiff(fake: Shape, real: Shape, path = "$"): string[] {
  if (typeof fake === "object" && typeof real === "object") {
    if ("array" in fake && "array" in real) {
      // An empty array on one side has nothing to show: the test arranges non-empty ones where it matters.
      if (fake.array === "none" || real.array === "none") return [];
      return shapeDiff(fake.array, real.array, `${path}[]`);
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
  }
  return key(fake) === key(real) ? [] : [`${path}: ${describe(fake)} (fake) vs ${describe(real)} (real)`];
}

function describe(s: Shape): string {
  if (typeof s === "string") return s;
  if ("oneOf" in s) return s.oneOf.map(describe).join(" | ");
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
