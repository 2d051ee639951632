/** X25519/X448 (RFC 7748) and NIST-curve ECDH on @noble/curves. */
import { x25519 } from "@noble/curves/ed25519.js";
import { x448 } from "@noble/curves/ed448.js";
import { p256, p384, p521 } from "@noble/curves/nist.js";
import type { DhPrimitive } from "../primitives.js";
import type { DhGroup } from "../suites.js";

const NIST = { "P-256": p256, "P-384": p384, "P-521": p521 } as const;

export function nobleDh(group: DhGroup): DhPrimitive {
  if (group === "X25519" || group === "X448") {
    const c = group === "X25519" ? x25519 : x448;
    return {
      dh: (sk, pk) => c.getSharedSecret(sk, pk),
      publicKey: (sk) => c.getPublicKey(sk),
    };
  }
  const c = NIST[group];
  return {
    // The shared point in compressed form is 0x02/0x03 || x: Ndh is its x-coordinate (RFC 9180 §4.1).
    dh: (sk, pk) => c.getSharedSecret(sk, pk, true).subarray(1),
    publicKey: (sk) => c.getPublicKey(sk, false),
  };
}
