/** SHA-2 and HMAC on @noble/hashes. */
import { hmac } from "@noble/hashes/hmac.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import type { HashName } from "../provider.js";
import type { HashPrimitive } from "../primitives.js";

const HASHES = { "SHA-256": sha256, "SHA-384": sha384, "SHA-512": sha512 } as const;

export function nobleHash(name: HashName): HashPrimitive {
  const h = HASHES[name];
  return {
    digest: (data) => h(data),
    mac(key, data) {
      if (data instanceof Uint8Array) return hmac(h, key, data);
      const m = hmac.create(h, key);
      for (const part of data) m.update(part);
      return m.digest();
    },
  };
}
