import { ConfigError } from "./errors.js";

/**
 * A tiny reader for untrusted JSON config: every accessor names the file and the dotted field in its error,
 * so an operator reads "genesis.json: sealers[2].weight: expected a positive integer, got -1".
 */
export class FieldReader {
  constructor(
    private readonly file: string,
    private readonly value: unknown,
    readonly path = "",
  ) {}

  fail(why: string, path = this.path): never {
    throw new ConfigError("CONFIG_INVALID", `${this.file}: ${path || "(root)"}: ${why}`, {
      file: this.file,
      field: path,
    });
  }

  private child(key: string | number): FieldReader {
    const path = typeof key === "number" ? `${this.path}[${key}]` : this.path ? `${this.path}.${key}` : key;
    const obj = this.value as Record<string | number, unknown>;
    return new FieldReader(this.file, obj?.[key], path);
  }

  get raw(): unknown {
    return this.value;
  }

  get isMissing(): boolean {
    return this.value === undefined || this.value === null;
  }

  object(): Record<string, unknown> {
    if (typeof this.value !== "object" || this.value === null || Array.isArray(this.value)) {
      this.fail(`expected an object, got ${describe(this.value)}`);
    }
    return this.value as Record<string, unknown>;
  }

  field(key: string): FieldReader {
    this.object();
    return this.child(key);
  }

  /**
   * An optional object section with known keys: a missing section reads as {} (so every field takes its
   * default), an unknown key inside it is refused.
   */
  section(key: string, knownKeys: readonly string[]): FieldReader {
    const child = this.field(key);
    const section = child.isMissing ? new FieldReader(this.file, {}, child.path) : child;
    section.onlyKeys(knownKeys);
    return section;
  }

  /** Rejects keys the schema doesn't know, so typos don't pass silently. */
  onlyKeys(keys: readonly string[]): void {
    for (const key of Object.keys(this.object())) {
      if (!keys.includes(key))
        this.fail(`unknown field (known: ${keys.join(", ")})`, this.path ? `${this.path}.${key}` : key);
    }
  }

  array(maxLength = 10_000): FieldReader[] {
    if (!Array.isArray(this.value)) this.fail(`expected an array, got ${describe(this.value)}`);
    const arr = this.value as unknown[];
    if (arr.length > maxLength) this.fail(`at most ${maxLength} entries allowed, got ${arr.length}`);
    return arr.map((_, i) => this.child(i));
  }

  string(opts: { pattern?: RegExp; patternHint?: string; maxLength?: number } = {}): string {
    if (typeof this.value !== "string") this.fail(`expected a string, got ${describe(this.value)}`);
    const s = this.value as string;
    if (s.length > (opts.maxLength ?? 4096)) this.fail(`string too long (${s.length} characters)`);
    if (opts.pattern && !opts.pattern.test(s))
      this.fail(`expected ${opts.patternHint ?? opts.pattern.source}, got "${s}"`);
    return s;
  }

  integer(opts: { min?: number; max?: number } = {}): number {
    const v = this.value;
    if (typeof v !== "number" || !Number.isSafeInteger(v))
      this.fail(`expected an integer, got ${describe(v)}`);
    const n = v as number;
    if (opts.min !== undefined && n < opts.min) this.fail(`must be >= ${opts.min}, got ${n}`);
    if (opts.max !== undefined && n > opts.max) this.fail(`must be <= ${opts.max}, got ${n}`);
    return n;
  }

  boolean(): boolean {
    if (typeof this.value !== "boolean") this.fail(`expected true or false, got ${describe(this.value)}`);
    return this.value as boolean;
  }

  /** A non-negative integer given as a JSON number, a decimal string or a 0x-hex string. */
  bigint(): bigint {
    const v = this.value;
    if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
    if (typeof v === "string" && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v) && v.length <= 80) return BigInt(v);
    return this.fail(
      `expected a non-negative integer (number, decimal or 0x-hex string), got ${describe(v)}`,
    );
  }

  hex(bytes: number): string {
    const pattern = new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`);
    return this.string({ pattern, patternHint: `0x followed by ${bytes * 2} hex digits` }).toLowerCase();
  }

  optional<T>(read: (r: FieldReader) => T, fallback: T): T {
    return this.isMissing ? fallback : read(this);
  }
}

function describe(v: unknown): string {
  if (v === undefined) return "nothing (the field is missing)";
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "string") return `"${v.length > 40 ? `${v.slice(0, 40)}…` : v}"`;
  return `${typeof v} ${typeof v === "object" ? "" : String(v)}`.trim();
}
