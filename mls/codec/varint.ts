import { fail } from "../errors.js";

/** Largest value a variable-size vector length header can carry (RFC 9420 §2.1.2). */
export const MAX_VARINT = 0x3fffffff;

/** Number of bytes the minimal varint encoding of `n` takes. */
export function varintSize(n: number): 1 | 2 | 4 {
  if (n < 0x40) return 1;
  if (n < 0x4000) return 2;
  if (n <= MAX_VARINT) return 4;
  return fail("LengthOverflow", `length ${n} exceeds 2^30-1`);
}

/** Writes the minimal varint for `n` at `out[pos]`, returns the new position. */
export function writeVarint(out: Uint8Array, pos: number, n: number): number {
  switch (varintSize(n)) {
    case 1:
      out[pos] = n;
      return pos + 1;
    case 2:
      out[pos] = 0x40 | (n >>> 8);
      out[pos + 1] = n & 0xff;
      return pos + 2;
    case 4:
      out[pos] = 0x80 | (n >>> 24);
      out[pos + 1] = (n >>> 16) & 0xff;
      out[pos + 2] = (n >>> 8) & 0xff;
      out[pos + 3] = n & 0xff;
      return pos + 4;
  }
}

/**
 * Reads a varint at `bytes[pos]` (not beyond `end`). Returns [value, newPos].
 * Rejects the reserved 0b11 prefix and non-minimal encodings (§2.1.2).
 */
export function readVarint(bytes: Uint8Array, pos: number, end: number): [number, number] {
  if (pos >= end) fail("Truncated", "varint: no bytes left");
  const first = bytes[pos]!;
  const prefix = first >>> 6;
  if (prefix === 3) fail("InvalidVarint", "varint prefix 0b11 is reserved");
  const len = 1 << prefix;
  if (pos + len > end) fail("Truncated", "varint: header cut short");
  let v = first & 0x3f;
  for (let i = 1; i < len; i++) v = v * 256 + bytes[pos + i]!;
  if (prefix >= 1 && v < 2 ** (8 * (len / 2) - 2)) {
    fail("NonMinimalVarint", `value ${v} encoded in ${len} bytes`);
  }
  return [v, pos + len];
}
