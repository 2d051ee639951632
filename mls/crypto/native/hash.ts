/**
 * SHA-2 and HMAC on node:crypto. Digests of short inputs use the one-shot
 * crypto.hash (about 3x cheaper than a createHash object); HMAC uses
 * createHmac (an HMAC built from two one-shot hashes measured no faster).
 */
import { createHash, createHmac, hash as oneShot } from "node:crypto";
import type { HashName } from "../provider.js";
import type { HashPrimitive } from "../primitives.js";
import { u8 } from "./bytes.js";

const NODE_NAME = { "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" } as const;
/** Node documents crypto.hash as the faster choice for inputs up to a few MiB. */
const SHORT = 1 << 20;

export function nativeHash(name: HashName): HashPrimitive {
  const alg = NODE_NAME[name];
  return {
    digest: (data) => u8(data.length <= SHORT ? oneShot(alg, data, "buffer") : createHash(alg).update(data).digest()),
    mac(key, data) {
      const h = createHmac(alg, key);
      if (data instanceof Uint8Array) h.update(data);
      else for (const part of data) h.update(part);
      return u8(h.digest());
    },
  };
}
