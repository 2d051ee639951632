/**
 * CSPRNG bytes from node:crypto. Small requests are served from a pooled
 * buffer (one randomFillSync per 4 KiB instead of one per call); served
 * bytes are zeroed in the pool.
 */
import { randomFillSync } from "node:crypto";

const POOL_SIZE = 4096;
const MAX_POOLED = 256;
const pool = new Uint8Array(POOL_SIZE);
let pos = POOL_SIZE;

export function randomBytes(length: number): Uint8Array {
  if (length > MAX_POOLED) return randomFillSync(new Uint8Array(length));
  if (pos + length > POOL_SIZE) {
    randomFillSync(pool);
    pos = 0;
  }
  const out = pool.slice(pos, pos + length);
  pool.fill(0, pos, pos + length);
  pos += length;
  return out;
}
