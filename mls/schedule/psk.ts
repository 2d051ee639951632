/** psk_secret from a list of pre-shared keys (RFC 9420 §8.4). */
import { Writer } from "../codec/writer.js";
import type { CipherSuite } from "../crypto/provider.js";
import { expandWithLabel } from "../crypto/labels.js";
import { fail } from "../errors.js";
import { encodePreSharedKeyID, type PreSharedKeyID } from "../messages/psk-id.js";

/** One PSK as injected: its PreSharedKeyID and the resolved secret value. */
export interface ResolvedPsk {
  readonly id: PreSharedKeyID;
  readonly psk: Uint8Array;
}

/**
 * §8.4: psk_secret_[0] = 0; for each PSK i (in Commit / GroupSecrets order)
 *   psk_extracted = Extract(0, psk_[i])
 *   psk_input     = ExpandWithLabel(psk_extracted, "derived psk", PSKLabel(id, i, n), Nh)
 *   psk_secret_[i+1] = Extract(salt=psk_input, ikm=psk_secret_[i])
 * With no PSK the result is the all-zero vector of Nh bytes.
 */
export function pskSecret(cs: CipherSuite, psks: readonly ResolvedPsk[]): Uint8Array {
  const nh = cs.kdf.nh;
  const zero = new Uint8Array(nh);
  const count = psks.length;
  if (count > 0xffff) fail("InvalidPsk", `${count} PSKs exceed the uint16 count of PSKLabel`);
  let secret: Uint8Array = zero;
  for (let i = 0; i < count; i++) {
    const { id, psk } = psks[i]!;
    const extracted = cs.kdf.extract(zero, psk);
    // struct { PreSharedKeyID id; uint16 index; uint16 count; } PSKLabel;
    const w = new Writer(128);
    encodePreSharedKeyID(w, id);
    w.u16(i).u16(count);
    const input = expandWithLabel(cs, extracted, "derived psk", w.finish(), nh);
    secret = cs.kdf.extract(input, secret);
  }
  return secret;
}
