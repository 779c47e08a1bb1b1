/**
 * The fields of `o` that are set (not undefined). Options are merged as `{ ...defaults, ...definedOnly(set) }`:
 * a plain spread would let an unset field (undefined) overwrite its default.
 */
export function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
