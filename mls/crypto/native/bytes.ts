/** Buffer <-> Uint8Array helpers for node:crypto results. */

/**
 * A plain Uint8Array with the bytes of a node:crypto result: a view when the
 * Buffer owns its whole ArrayBuffer, else a copy (so small results never pin
 * Node's shared 8 KiB allocation pool).
 */
export function u8(b: Uint8Array): Uint8Array {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return new Uint8Array(b.buffer, 0, b.byteLength);
  return new Uint8Array(b);
}

/** A Buffer view (no copy) over `b`, for Buffer-only APIs such as toString("base64url"). */
export function buf(b: Uint8Array): Buffer {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function b64u(b: Uint8Array): string {
  return buf(b).toString("base64url");
}

export function fromB64u(s: string): Uint8Array {
  return u8(Buffer.from(s, "base64url"));
}
