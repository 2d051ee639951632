/** X25519/X448 (RFC 7748) and NIST-curve ECDH on node:crypto. */
import { diffieHellman } from "node:crypto";
import type { DhPrimitive } from "../primitives.js";
import type { DhGroup } from "../suites.js";
import { u8 } from "./bytes.js";
import { ecdh, ecPublicOf, okpPrivateKey, okpPublicKey, okpPublicOf } from "./keys.js";

export function nativeDh(group: DhGroup): DhPrimitive {
  if (group === "X25519" || group === "X448") {
    return {
      // OpenSSL fails the derivation when the result is all-zero (RFC 7748 §6).
      dh: (sk, pk) =>
        u8(diffieHellman({ privateKey: okpPrivateKey(group, sk), publicKey: okpPublicKey(group, pk) })),
      publicKey: (sk) => okpPublicOf(group, sk),
    };
  }
  return {
    // computeSecret checks that the point is on the curve and returns the x-coordinate, left-padded to the field size.
    dh: (sk, pk) => u8(ecdh(group, sk).computeSecret(pk)),
    publicKey: (sk) => ecPublicOf(group, sk),
  };
}
