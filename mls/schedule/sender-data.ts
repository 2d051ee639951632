/** Sender data key and nonce (RFC 9420 §6.3.2). */
import type { CipherSuite } from "../crypto/provider.js";
import { expandWithLabel } from "../crypto/labels.js";

/**
 * ciphertext_sample = ciphertext[0..KDF.Nh-1] (the whole ciphertext if shorter);
 * sender_data_key = ExpandWithLabel(sender_data_secret, "key", sample, AEAD.Nk);
 * sender_data_nonce = ExpandWithLabel(sender_data_secret, "nonce", sample, AEAD.Nn).
 */
export function senderDataKeyNonce(
  cs: CipherSuite,
  senderDataSecret: Uint8Array,
  ciphertext: Uint8Array,
): { readonly key: Uint8Array; readonly nonce: Uint8Array } {
  const sample = ciphertext.length > cs.kdf.nh ? ciphertext.subarray(0, cs.kdf.nh) : ciphertext;
  return {
    key: expandWithLabel(cs, senderDataSecret, "key", sample, cs.aead.nk),
    nonce: expandWithLabel(cs, senderDataSecret, "nonce", sample, cs.aead.nn),
  };
}
