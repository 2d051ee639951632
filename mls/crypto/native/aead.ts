/** AES-GCM and ChaCha20-Poly1305 (16-byte tags) on node:crypto. */
import { createCipheriv, createDecipheriv, type CipherGCMTypes } from "node:crypto";
import type { AeadPrimitive } from "../primitives.js";
import type { AeadParams } from "../suites.js";
import { u8 } from "./bytes.js";

const NODE_NAME = {
  "AES-128-GCM": "aes-128-gcm",
  "AES-256-GCM": "aes-256-gcm",
  ChaCha20Poly1305: "chacha20-poly1305",
} as const satisfies Record<AeadParams["name"], CipherGCMTypes | "chacha20-poly1305">;
const TAG = 16;

export function nativeAead(params: AeadParams): AeadPrimitive {
  // chacha20-poly1305 takes the same options as GCM; the cast picks the AEAD overload.
  const alg = NODE_NAME[params.name] as CipherGCMTypes;
  return {
    seal(key, nonce, aad, plaintext) {
      const c = createCipheriv(alg, key, nonce, { authTagLength: TAG });
      if (aad.length > 0) c.setAAD(aad);
      const head = c.update(plaintext);
      const tail = c.final();
      const out = new Uint8Array(head.length + tail.length + TAG);
      out.set(head, 0);
      out.set(tail, head.length);
      out.set(c.getAuthTag(), head.length + tail.length);
      return out;
    },
    open(key, nonce, aad, ciphertext) {
      const n = ciphertext.length - TAG;
      const d = createDecipheriv(alg, key, nonce, { authTagLength: TAG });
      d.setAuthTag(ciphertext.subarray(n));
      if (aad.length > 0) d.setAAD(aad);
      const head = d.update(ciphertext.subarray(0, n));
      const tail = d.final(); // throws when the tag does not verify
      if (tail.length === 0) return u8(head);
      const out = new Uint8Array(head.length + tail.length);
      out.set(head, 0);
      out.set(tail, head.length);
      return out;
    },
  };
}
