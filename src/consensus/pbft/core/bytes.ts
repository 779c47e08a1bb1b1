/** Small byte helpers for the pure core (no Buffer, no node:*). */

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));

export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]!];
  return s;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Scratch buffer shared by all writers (single-threaded; every digest is hashed before the next write). */
let scratch = new Uint8Array(1024);

/**
 * Byte writer for canonical digests. It writes into a shared scratch buffer: finish() returns a view that is
 * valid until the next ByteWriter is created, which is enough to hash it at once.
 */
export class ByteWriter {
  private buf = scratch;
  private len = 0;

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    scratch = next;
  }

  ascii(s: string): this {
    this.reserve(s.length);
    for (let i = 0; i < s.length; i++) this.buf[this.len++] = s.charCodeAt(i) & 0x7f;
    return this;
  }

  /** u64 big-endian of a non-negative safe integer. */
  u64(n: number): this {
    this.reserve(8);
    const hi = Math.floor(n / 0x1_0000_0000);
    const lo = n >>> 0;
    for (let i = 3; i >= 0; i--) this.buf[this.len++] = (hi >>> (i * 8)) & 0xff;
    for (let i = 3; i >= 0; i--) this.buf[this.len++] = (lo >>> (i * 8)) & 0xff;
    return this;
  }

  u8(n: number): this {
    this.reserve(1);
    this.buf[this.len++] = n & 0xff;
    return this;
  }

  /** Length-prefixed (u32be) bytes. */
  bytes(b: Uint8Array): this {
    this.reserve(4 + b.length);
    const n = b.length;
    this.buf[this.len++] = (n >>> 24) & 0xff;
    this.buf[this.len++] = (n >>> 16) & 0xff;
    this.buf[this.len++] = (n >>> 8) & 0xff;
    this.buf[this.len++] = n & 0xff;
    this.buf.set(b, this.len);
    this.len += n;
    return this;
  }

  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

/** Exhaustiveness guard for switches over discriminated unions (unreachable for type-checked input). */
export function unreachable(value: never): never {
  throw new Error(`unreachable: ${JSON.stringify(value)}`);
}
