/** CSPRNG bytes from the Web Crypto API (browsers, Node, Deno, Bun). */
const MAX_CHUNK = 65536; // getRandomValues' per-call quota

export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += MAX_CHUNK) {
    globalThis.crypto.getRandomValues(out.subarray(i, Math.min(length, i + MAX_CHUNK)));
  }
  return out;
}
