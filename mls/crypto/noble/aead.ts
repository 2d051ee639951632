/** AES-GCM and ChaCha20-Poly1305 on @noble/ciphers. */
import { gcm } from "@noble/ciphers/aes.js";
import { chacha20poly1305 } from "@noble/ciphers/chacha.js";
import type { AeadPrimitive } from "../primitives.js";
import type { AeadParams } from "../suites.js";

export function nobleAead(params: AeadParams): AeadPrimitive {
  const cipher = params.name === "ChaCha20Poly1305" ? chacha20poly1305 : gcm;
  return {
    seal: (key, nonce, aad, plaintext) => cipher(key, nonce, aad).encrypt(plaintext),
    open: (key, nonce, aad, ciphertext) => cipher(key, nonce, aad).decrypt(ciphertext),
  };
}
