import { fail } from "../errors.js";
import { MAX_VARINT, varintSize, writeVarint } from "./varint.js";

export type Encoder<T> = (w: Writer, value: T) => void;

/**
 * One spare buffer that encode() writes into and keeps between calls. Fresh
 * memory is what large encodings cost: the first touch of a new 256 KiB
 * buffer (the page faults) takes ~100 µs, as long as hashing it, and a
 * Writer growing by doubling touches twice the final size. A warm buffer
 * is written at memcpy speed; only the exact-size result is new.
 */
let spare: Uint8Array | undefined;
/** Buffers above this are not kept (a ratchet tree of 10,000 members encodes to ~2.5 MB). */
const SPARE_MAX = 8 << 20;

/** Growable output buffer for the TLS presentation language of RFC 9420 §2.1. */
export class Writer {
  private buf: Uint8Array;
  private pos = 0;

  /** `initialSize`, or a buffer to write into (taken over: the Writer grows it by replacing it). */
  constructor(initial: number | Uint8Array = 256) {
    this.buf = typeof initial === "number" ? new Uint8Array(initial) : initial;
  }

  get length(): number {
    return this.pos;
  }

  /** Makes room for `n` more bytes (one growth for a body whose size is known). */
  reserve(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf.fill(0, 0, this.pos); // the outgrown buffer is wiped too (see release())
    this.buf = next;
  }

  u8(v: number): this {
    this.reserve(1);
    this.buf[this.pos++] = v;
    return this;
  }

  u16(v: number): this {
    this.reserve(2);
    this.buf[this.pos++] = v >>> 8;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u32(v: number): this {
    this.reserve(4);
    this.buf[this.pos++] = v >>> 24;
    this.buf[this.pos++] = (v >>> 16) & 0xff;
    this.buf[this.pos++] = (v >>> 8) & 0xff;
    this.buf[this.pos++] = v & 0xff;
    return this;
  }

  u64(v: bigint): this {
    if (v < 0n || v > 0xffffffffffffffffn) fail("InvalidValue", `uint64 out of range: ${v}`);
    this.u32(Number(v >> 32n));
    this.u32(Number(v & 0xffffffffn));
    return this;
  }

  /** Raw bytes, no length prefix (fixed-size fields). */
  raw(bytes: Uint8Array): this {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
    return this;
  }

  varint(n: number): this {
    this.reserve(4);
    this.pos = writeVarint(this.buf, this.pos, n);
    return this;
  }

  /** opaque data<V>. */
  opaque(bytes: Uint8Array): this {
    this.varint(bytes.length);
    return this.raw(bytes);
  }

  /** T items<V>: a varint byte length, then the encoded items. */
  vector<T>(items: readonly T[], enc: Encoder<T>): this {
    return this.lengthPrefixed(() => {
      for (const item of items) enc(this, item);
    });
  }

  /** Runs `body`, then prefixes what it wrote with its varint byte length. */
  lengthPrefixed(body: () => void): this {
    // Reserve the largest header, write the body, then close the gap.
    this.reserve(4);
    const start = this.pos;
    this.pos += 4;
    body();
    const len = this.pos - start - 4;
    if (len > MAX_VARINT) fail("LengthOverflow", `vector of ${len} bytes exceeds 2^30-1`);
    const hdr = varintSize(len);
    if (hdr !== 4) this.buf.copyWithin(start + hdr, start + 4, this.pos);
    writeVarint(this.buf, start, len);
    this.pos -= 4 - hdr;
    return this;
  }

  /** optional<T> (§2.1.1). */
  optional<T>(value: T | undefined, enc: Encoder<T>): this {
    if (value === undefined) return this.u8(0);
    this.u8(1);
    enc(this, value);
    return this;
  }

  /** What was written since offset `start`, not copied: valid until the next write or release(). */
  viewSince(start: number): Uint8Array {
    return this.buf.subarray(start, this.pos);
  }

  /** A copy of what was written since offset `start`. */
  copySince(start: number): Uint8Array {
    return this.buf.slice(start, this.pos);
  }

  /** The encoded bytes (a copy sized exactly). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /**
   * Hands the buffer back to encode() for the next call, wiped (encodings
   * carry secrets: GroupSecrets, persisted state). The Writer is unusable after.
   */
  release(): void {
    const b = this.buf;
    b.fill(0, 0, this.pos);
    this.buf = new Uint8Array(0);
    this.pos = 0;
    if (b.length <= SPARE_MAX && (spare === undefined || spare.length < b.length)) spare = b;
  }
}

/**
 * Runs `f` with a Writer on the spare buffer (see `spare`), then takes the
 * buffer back: what `f` returns must not be a view of it (finish() and
 * copySince() copy; viewSince() does not).
 */
export function withWriter<R>(sizeHint: number, f: (w: Writer) => R): R {
  // A nested call (an encoder encoding a part on its own) finds no spare and allocates.
  const scratch = spare !== undefined && spare.length >= sizeHint ? spare : new Uint8Array(Math.max(sizeHint, spare?.length ?? 0));
  spare = undefined;
  const w = new Writer(scratch);
  try {
    return f(w);
  } finally {
    w.release();
  }
}

/** Encodes one value to bytes. */
export function encode<T>(enc: Encoder<T>, value: T, sizeHint = 256): Uint8Array {
  return withWriter(sizeHint, (w) => {
    enc(w, value);
    return w.finish();
  });
}
