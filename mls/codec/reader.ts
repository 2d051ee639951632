import { fail } from "../errors.js";
import { readVarint } from "./varint.js";

export type Decoder<T> = (r: Reader) => T;

/**
 * Cursor over bytes in the TLS presentation language (RFC 9420 §2.1). Reads
 * never go past `end`, so a vector's items cannot spill beyond the vector.
 * Byte strings returned alias the input; decoded values are never mutated.
 */
export class Reader {
  private pos: number;
  private end: number;

  constructor(
    private readonly bytes: Uint8Array,
    start = 0,
    end = bytes.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  get offset(): number {
    return this.pos;
  }

  private take(n: number, what: string): number {
    if (this.pos + n > this.end) fail("Truncated", `${what}: need ${n} bytes, ${this.end - this.pos} left`);
    const p = this.pos;
    this.pos += n;
    return p;
  }

  u8(): number {
    return this.bytes[this.take(1, "uint8")]!;
  }

  u16(): number {
    const p = this.take(2, "uint16");
    return (this.bytes[p]! << 8) | this.bytes[p + 1]!;
  }

  u32(): number {
    const p = this.take(4, "uint32");
    const b = this.bytes;
    return b[p]! * 0x1000000 + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
  }

  u64(): bigint {
    const hi = this.u32();
    const lo = this.u32();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  varint(): number {
    // The one-byte form inline: most lengths are short, and a decoder reads one per field.
    const pos = this.pos;
    if (pos < this.end) {
      const first = this.bytes[pos]!;
      if (first < 0x40) {
        this.pos = pos + 1;
        return first;
      }
    }
    const [v, p] = readVarint(this.bytes, pos, this.end);
    this.pos = p;
    return v;
  }

  /** Fixed-size raw bytes (a view: `new Uint8Array(buffer, ...)` is about twice as fast as subarray() in V8). */
  raw(n: number): Uint8Array {
    const p = this.take(n, "bytes");
    return new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + p, n);
  }

  /** opaque data<V>. */
  opaque(): Uint8Array {
    const len = this.varint();
    if (len > this.remaining) fail("Truncated", `vector of ${len} bytes, ${this.remaining} left`);
    return this.raw(len);
  }

  /** T items<V>. */
  vector<T>(dec: Decoder<T>): T[] {
    // limited() inlined: vectors of many small items (an UpdatePath's ciphertexts) are the hot case.
    const len = this.varint();
    if (len > this.end - this.pos) fail("Truncated", `vector of ${len} bytes, ${this.end - this.pos} left`);
    const outerEnd = this.end;
    this.end = this.pos + len;
    const out: T[] = [];
    try {
      while (this.pos < this.end) out.push(dec(this));
    } finally {
      this.end = outerEnd;
    }
    return out;
  }

  /** Reads a varint length, then runs `body` confined to that many bytes, which it must consume. */
  limited<T>(body: () => T): T {
    const len = this.varint();
    if (len > this.remaining) fail("Truncated", `vector of ${len} bytes, ${this.remaining} left`);
    const outerEnd = this.end;
    this.end = this.pos + len;
    try {
      const v = body();
      if (this.pos !== this.end) fail("TrailingBytes", "vector content not fully consumed");
      return v;
    } finally {
      this.end = outerEnd;
    }
  }

  /** optional<T> (§2.1.1): presence octets other than 0 or 1 are malformed. */
  optional<T>(dec: Decoder<T>): T | undefined {
    const present = this.u8();
    if (present === 0) return undefined;
    if (present !== 1) fail("InvalidOptional", `presence octet ${present}`);
    return dec(this);
  }

  /** Bytes from `start` (an earlier offset) to the current position. */
  since(start: number): Uint8Array {
    return this.bytes.subarray(start, this.pos);
  }

  /** Asserts everything was consumed. */
  done(): void {
    if (this.pos !== this.end) fail("TrailingBytes", `${this.end - this.pos} bytes after the value`);
  }
}

/** Decodes exactly one value from `bytes`; trailing bytes are an error. */
export function decode<T>(dec: Decoder<T>, bytes: Uint8Array): T {
  const r = new Reader(bytes);
  const v = dec(r);
  r.done();
  return v;
}
