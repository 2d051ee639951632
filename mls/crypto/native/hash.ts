/**
 * SHA-2 and HMAC on node:crypto. Short inputs use the one-shot crypto.hash
 * and compute HMAC (RFC 2104) from two one-shot hashes, which costs about
 * half of a createHmac object; long inputs stream through createHash/createHmac.
 */
import { createHash, createHmac, hash as oneShot } from "node:crypto";
import type { HashName } from "../provider.js";
import type { HashPrimitive } from "../primitives.js";
import { u8 } from "./bytes.js";

const NODE_NAME = { "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" } as const;
const BLOCK = { "SHA-256": 64, "SHA-384": 128, "SHA-512": 128 } as const;
/** Above this many bytes of input, the streaming APIs are used (no extra copy). */
const SHORT = 1024;

export function nativeHash(name: HashName): HashPrimitive {
  const alg = NODE_NAME[name];
  const block = BLOCK[name];
  const digest = (data: Uint8Array): Uint8Array =>
    u8(data.length <= SHORT ? oneShot(alg, data, "buffer") : createHash(alg).update(data).digest());
  return {
    digest,
    mac(key, data) {
      if (data.length > SHORT) return u8(createHmac(alg, key).update(data).digest());
      // HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)), K' = K (or H(K) if longer than a block), zero-padded.
      const k = key.length > block ? digest(key) : key;
      const inner = new Uint8Array(block + data.length);
      inner.fill(0x36, 0, block);
      for (let i = 0; i < k.length; i++) inner[i] ^= k[i]!;
      inner.set(data, block);
      const ih = oneShot(alg, inner, "buffer");
      const outer = new Uint8Array(block + ih.length);
      outer.fill(0x5c, 0, block);
      for (let i = 0; i < k.length; i++) outer[i] ^= k[i]!;
      outer.set(ih, block);
      return u8(oneShot(alg, outer, "buffer"));
    },
  };
}
